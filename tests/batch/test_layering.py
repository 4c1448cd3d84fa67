"""The batch package's import rule: processing, config, errors, simulation and the command
line's file helpers; never the session layer, the client, the engine, audio or devices.
Dask, pyarrow and matplotlib only inside functions (``import callaudio.batch`` needs none)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import callaudio

BATCH = Path(callaudio.__file__).resolve().parent / "batch"
FORBIDDEN = (
    "callaudio.session",
    "callaudio.client",
    "callaudio.call",
    "callaudio.controller",
    "callaudio.rules",
    "callaudio.engine",
    "callaudio.audio",
    "callaudio.devices",
)
ALLOWED_CLI = ("callaudio.cli.files",)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = "callaudio.batch" if node.level == 1 else "callaudio" if node.level == 2 else ""
            found.add(".".join(p for p in (base, node.module or "") if p))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_batch_imports_only_what_its_docstring_allows() -> None:
    bad = []
    for path in sorted(BATCH.glob("*.py")):
        for mod in _imports(path):
            if any(mod == f or mod.startswith(f + ".") for f in FORBIDDEN):
                bad.append(f"{path.name} imports {mod}")
            if mod.startswith("callaudio.cli") and mod not in ALLOWED_CLI:
                bad.append(f"{path.name} imports {mod}")
    assert not bad, bad


def test_importing_batch_loads_neither_dask_nor_pyarrow() -> None:
    code = (
        "import sys, callaudio.batch, callaudio.cli.batch; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('dask', 'distributed', 'pyarrow', 'matplotlib')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"
