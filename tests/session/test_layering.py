"""The session layer's import rules and privacy, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import callaudio

SRC = Path(callaudio.__file__).parent
SESSION_FILES = sorted((SRC / "session").glob("*.py"))
OWN_FILES = [
    *SESSION_FILES,
    *(
        SRC / f
        for f in ("rules.py", "client.py", "controller.py", "events.py", "clock.py", "call.py")
    ),
]
#: What callaudio.session may import from the rest of the package (its __init__ says so).
SESSION_MAY_IMPORT = {"errors", "config", "events", "clock", "call"}


def _callaudio_imports(path: Path) -> set[str]:
    """The callaudio modules ``path`` imports, as top-level names under callaudio."""
    package = path.parent.relative_to(SRC.parent).parts  # ("callaudio", "session")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                parts = base + (node.module.split(".") if node.module else [])
            else:
                parts = (node.module or "").split(".")
            if parts and parts[0] == "callaudio" and len(parts) > 1:
                found.add(".".join(parts[1:3]) if parts[1] == "session" else parts[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "callaudio" and len(parts) > 1:
                    found.add(parts[1])
    return found


def test_the_session_package_imports_no_audio() -> None:
    assert SESSION_FILES
    for path in SESSION_FILES:
        outside = {m for m in _callaudio_imports(path) if not m.startswith("session")}
        assert outside <= SESSION_MAY_IMPORT, (path.name, outside - SESSION_MAY_IMPORT)


def test_call_events_and_clock_import_no_session_and_no_audio() -> None:
    for name in ("call.py", "events.py", "clock.py"):
        assert _callaudio_imports(SRC / name) <= {"errors", "clock"}, name


def test_no_private_member_access_across_objects() -> None:
    for path in OWN_FILES:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                owner = node.value
                assert isinstance(owner, ast.Name) and owner.id in ("self", "cls"), (
                    f"{path.name}:{node.lineno}: {ast.unparse(node)}"
                )


def test_modules_stay_small() -> None:
    for path in OWN_FILES:
        assert len(path.read_text().splitlines()) <= 700, path.name


def test_every_row_of_the_table_has_its_method() -> None:
    from callaudio.rules import ROWS, SessionRules

    assert sorted(ROWS) == list(range(1, 10))
    for row, name in ROWS.items():
        method = getattr(SessionRules, name)
        assert callable(method) and f"Row {row}" in (method.__doc__ or ""), name
