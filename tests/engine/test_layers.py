"""The engine, device and audio-service layers: no private access across objects, and
imports only downwards (devices < engine < audio; none of them imports the session layer)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import callaudio

SRC = Path(callaudio.__file__).resolve().parent
MODULES = sorted(
    [
        *(SRC / "engine").glob("*.py"),
        *(SRC / "devices").glob("*.py"),
        *(SRC / "audio").glob("*.py"),
        SRC / "simulation" / "room.py",
    ]
)
# sounddevice documents its private _terminate/_initialize as the way to re-scan devices,
# and _StreamBase as the class that takes a raw C callback (python-rtmixer's mechanism).
ALLOWED_PRIVATE = {
    ("sounddevice_backend.py", "sd._terminate"),
    ("sounddevice_backend.py", "sd._initialize"),
    ("sounddevice_backend.py", "sd._StreamBase"),
}
SESSION = {"session", "client", "controller", "call", "rules", "interruption", "events", "tones"}
FORBIDDEN = {
    "devices": SESSION | {"engine", "audio"},
    "engine": SESSION | {"audio"},
    "audio": SESSION,
    "simulation": SESSION | {"engine", "audio", "devices"},
}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_private_member_of_another_object(path: Path) -> None:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            text = ast.unparse(node)
            if (path.name, text) not in ALLOWED_PRIVATE:
                found.append(f"{path.name}:{node.lineno} {text}")
    assert found == []


def _imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    package = path.parent.name
    layers = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] == "callaudio" and len(parts) > 1:
                    layers.add(parts[1])
            elif node.level == 1:
                layers.add(package)
            elif node.level == 2:
                if node.module:
                    layers.add(node.module.split(".")[0])
                else:
                    layers.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "callaudio" and len(parts) > 1:
                    layers.add(parts[1])
    return layers


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_each_layer_imports_only_below_itself(path: Path) -> None:
    layer = path.parent.name
    bad = _imported_layers(path) & FORBIDDEN[layer]
    if path == SRC / "engine" / "__init__.py":
        bad -= {"audio"}  # the compatibility names EngineBackend/make_backend, resolved lazily
    assert bad == set()


def test_each_package_docstring_says_what_it_may_import() -> None:
    for name in ("engine", "devices", "audio"):
        doc = ast.get_docstring(ast.parse((SRC / name / "__init__.py").read_text())) or ""
        assert "May import" in doc, name
