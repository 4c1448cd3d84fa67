"""Helpers for the ``callaudio`` command's tests: run it in process, check its one-line errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")

from callaudio import cli  # noqa: E402

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """``run(*argv)``: the real entry point in process; returns (status, stdout, stderr)."""

    def _run(*argv: str) -> tuple[int, str, str]:
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


def one_error_line(code: int, err: str, *mention: str) -> str:
    """Assert a failure reported as one ``callaudio: error:`` line; return that line."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code != 0
    assert len(lines) == 1, err
    assert lines[0].startswith("callaudio: error:"), lines[0]
    assert "Traceback" not in err
    for m in mention:
        assert m in lines[0], (m, lines[0])
    return lines[0]


def write(path: Path, x: np.ndarray, rate: int, subtype: str = "PCM_16", **kw: str) -> Path:
    soundfile.write(str(path), x, rate, subtype=subtype, **kw)
    return path


def no_temp_files(folder: Path) -> bool:
    """No leftover of an atomic write (``.name.XXXX``) in ``folder``."""
    return not [p for p in folder.iterdir() if p.name.startswith(".")]
