"""A fresh clone installs and tests with nothing on PATH but Python and the system's tools.

The test clones this repository (its committed HEAD) into a temporary folder and runs, under
``env -i`` with a minimal ``PATH`` (the real interpreter's folder, ``/usr/bin``, ``/bin``):
``make install`` (the install step of ``make test``), then one test through ``make test``
itself: ``tests/test_static.py::test_cython_lint``, whose cython-lint runs ``pycodestyle``,
a tool installed in ``.venv/bin``. A Makefile whose recipes do not find the tools they
installed fails here, as it does on a new machine (your own shell, with a venv activated,
hides that class of defect). Then a second ``make`` builds nothing.

pip keeps the developer's package sources and cache (``PIP_*`` variables and the user's
pip.conf are carried over), so the install costs what installing the wheels costs; the
extension modules are compiled once, unoptimised (``CALLAUDIO_OPT=0``: what is checked here
is the plumbing, and the one test run needs no compiled kernel; about 15 s instead of a
minute on two cores).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUARD = "CALLAUDIO_IN_FRESH_CLONE"  # set in the clone's environment: no recursion

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get(GUARD)), reason="already inside a fresh clone"),
    pytest.mark.skipif(
        not (ROOT / ".git").exists(), reason="not a git checkout (an sdist has no history)"
    ),
    pytest.mark.skipif(
        shutil.which("git") is None or shutil.which("make") is None, reason="needs git and make"
    ),
    pytest.mark.skipif(sys.platform == "win32", reason="make and a POSIX shell"),
]


def _real_python_dir(tmp: Path) -> Path:
    """A folder whose ``python3`` is the interpreter this venv was made from.

    ``sys._base_executable`` is that interpreter (not a pyenv shim, not the venv's link);
    its own folder is used when it holds a ``python3``, else a folder with a link to it.
    """
    base = Path(getattr(sys, "_base_executable", "") or sys.executable)
    if not base.is_file():
        base = Path(sys.base_prefix) / "bin" / "python3"
    if (base.parent / "python3").is_file():
        return base.parent
    where = tmp / "python-bin"
    where.mkdir()
    (where / "python3").symlink_to(base)
    return where


def _clean_env(home: Path, python_dir: Path) -> dict[str, str]:
    env = {
        "HOME": str(home),
        "PATH": os.pathsep.join([str(python_dir), "/usr/bin", "/bin"]),
        GUARD: "1",
        "CALLAUDIO_OPT": "0",
    }
    # The developer's package sources and cache: the same wheels, no second download.
    env.update({k: v for k, v in os.environ.items() if k.startswith("PIP_")})
    cache = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=False
    )
    if cache.returncode == 0 and cache.stdout.strip():
        env.setdefault("PIP_CACHE_DIR", cache.stdout.strip())
    for rel in (".config/pip/pip.conf", ".pip/pip.conf"):
        conf = Path.home() / rel
        if conf.is_file():
            (home / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(conf, home / rel)
    return env


def _make(clone: Path, env: dict[str, str], *args: str) -> str:
    r = subprocess.run(
        ["make", "-C", str(clone), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=1500,
        check=False,
    )
    assert r.returncode == 0, f"make {' '.join(args)} failed in a fresh clone:\n{r.stdout[-6000:]}"
    return r.stdout


def test_a_fresh_clone_installs_and_runs_a_test_with_a_minimal_path(tmp_path: Path) -> None:
    clone = tmp_path / "callaudio"
    subprocess.run(
        ["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, capture_output=True
    )
    home = tmp_path / "home"
    home.mkdir()
    env = _clean_env(home, _real_python_dir(tmp_path))
    assert shutil.which("pycodestyle", path=env["PATH"]) is None  # only the venv will have it
    _make(clone, env, "install")
    assert (clone / ".venv" / "bin" / "pycodestyle").is_file()
    out = _make(clone, env, "test", "TESTS=tests/test_static.py::test_cython_lint")
    assert "1 passed" in out, out[-3000:]
    # Nothing left to do: no install, no build (the extension modules were built once).
    again = _make(clone, env, "-n", "install")
    assert "-m pip" not in again and "build_ext" not in again, again
