"""The package's layout rules, checked on the source tree (issue: the Python layer redrawn).

- No module reaches into another module's private members (``obj._name`` where ``obj`` is
  not ``self``/``cls``), except the short allow-list below, each entry with its reason.
- No module in ``src/callaudio`` is longer than ``MAX_LINES``.
- Every package folder's ``__init__`` has a docstring saying what the layer may import.
- The import layering of the design holds: the session layer imports no audio I/O and no
  DSP; devices know no session; the compiled core and ``processing`` know no session, call
  or device; no import cycles between modules.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "callaudio"
MAX_LINES = 700

# (module path relative to src/callaudio, "expr._attr") -> why it is allowed.
ALLOWED_PRIVATE: dict[tuple[str, str], str] = {
    ("devices/sounddevice_backend.py", "sd._terminate"): "PortAudio re-initialisation after a "
    "media-services reset: python-sounddevice has no public API for it",
    ("devices/sounddevice_backend.py", "sd._initialize"): "the other half of the same",
    ("devices/sounddevice_backend.py", "sd._StreamBase"): "the documented base class for "
    "a raw C callback (python-rtmixer's mechanism): no public class takes a C pointer",
    ("offline.py", "vp._run_block"): "process_arrays is the block "
    "form of VoiceProcessor and runs the chain on its whole signal at once",
    ("cli/writer.py", "sf._ffi"): "the errno of libsndfile's failed write to a device: "
    "soundfile reports it only as 'System error.' and has no public way to it",
    ("cli/__init__.py", "os._exit"): "the exit of a command whose main thread is stuck in "
    "C on a signal: nothing else ends a process from another thread",
}

# module prefix -> module prefixes it must not import (directly or lazily)
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "callaudio.session": (
        "callaudio.engine",
        "callaudio.audio",
        "callaudio.devices",
        "callaudio.processing",
        "callaudio._dsp",
        "callaudio.client",
        "callaudio.controller",
        "callaudio.rules",
        "callaudio.cli",
        "sounddevice",
    ),
    "callaudio.call": (
        "callaudio.engine",
        "callaudio.audio",
        "callaudio.devices",
        "callaudio.processing",
        "callaudio._dsp",
        "callaudio.session",
        "callaudio.client",
        "sounddevice",
    ),
    "callaudio.devices": (
        "callaudio.session",
        "callaudio.call",
        "callaudio.client",
        "callaudio.controller",
        "callaudio.rules",
        "callaudio.audio",
        "callaudio.cli",
    ),
    "callaudio.engine": (
        "callaudio.session",
        "callaudio.call",
        "callaudio.client",
        "callaudio.controller",
        "callaudio.rules",
        "callaudio.audio",
        "callaudio.cli",
    ),
    "callaudio.processing": (
        "callaudio.session",
        "callaudio.call",
        "callaudio.client",
        "callaudio.controller",
        "callaudio.engine",
        "callaudio.audio",
        "callaudio.devices",
        "callaudio.cli",
    ),
    "callaudio.offline": (
        "callaudio.session",
        "callaudio.call",
        "callaudio.client",
        "callaudio.controller",
        "callaudio.engine",
        "callaudio.audio",
        "callaudio.devices",
        "callaudio.cli",
    ),
    "callaudio.simulation": (
        "callaudio.session",
        "callaudio.call",
        "callaudio.client",
        "callaudio.controller",
        "callaudio.rules",
        "callaudio.engine",
        "callaudio.audio",
        "callaudio.devices",
        "callaudio.cli",
    ),
    "callaudio.cli": ("callaudio._dsp", "callaudio.integrations"),
    # nothing but the bridge's own tests imports the integrations (aiortc stays optional)
    "callaudio.client": ("callaudio.integrations",),
    "callaudio.rules": ("callaudio.integrations",),
    "callaudio.audio": ("callaudio.integrations",),
    "callaudio.batch": (
        "callaudio.session",
        "callaudio.call",
        "callaudio.client",
        "callaudio.controller",
        "callaudio.rules",
        "callaudio.engine",
        "callaudio.audio",
        "callaudio.devices",
    ),
    "callaudio.config": (
        "callaudio.session",
        "callaudio.engine",
        "callaudio.audio",
        "callaudio.devices",
        "callaudio.client",
        "callaudio.processing",
    ),
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    """ids of the nodes under ``if TYPE_CHECKING:`` (imports for annotations only)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                out.update(id(n) for n in ast.walk(child))
    return out


def _imports(name: str, path: Path, *, runtime_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skip = _type_checking_nodes(tree) if runtime_only else set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            for alias in node.names:  # `from . import x` may name a submodule
                if f"{mod}.{alias.name}" in MODULES:
                    found.add(f"{mod}.{alias.name}")
    return found


def _is_under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_no_private_member_access_across_modules():
    offenders = []
    for path in MODULES.values():
        rel = str(path.relative_to(SRC))
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            attr = node.attr
            if not attr.startswith("_") or (attr.startswith("__") and attr.endswith("__")):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls", "mcs"):
                continue
            text = f"{ast.unparse(owner)}.{attr}"
            if (rel, text) in ALLOWED_PRIVATE:
                continue
            offenders.append(f"{rel}:{node.lineno}: {text}")
    assert not offenders, "private members used across objects:\n" + "\n".join(offenders)


def test_modules_stay_small():
    big = {
        str(p.relative_to(SRC)): n
        for p in MODULES.values()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_every_package_says_what_it_may_import():
    missing = []
    for init in sorted(SRC.rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        if "import" not in doc.lower():
            missing.append(str(init.relative_to(SRC)))
    assert not missing, f"package docstrings that do not state their imports: {missing}"


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_import_layering(layer):
    bad = []
    for name, path in MODULES.items():
        if not _is_under(name, layer):
            continue
        for imported in _imports(name, path):
            for forbidden in FORBIDDEN[layer]:
                if _is_under(imported, forbidden):
                    bad.append(f"{name} imports {imported}")
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in MODULES.items():
        for imported in _imports(name, path, runtime_only=True):
            # resolve to the longest known module name
            target = imported
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("callaudio"):
                # a package importing its own submodules (re-exports) is not a cycle
                if _is_under(target, name):
                    continue
                graph[name].add(target)
    # Tarjan's strongly connected components
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in list(MODULES):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"
