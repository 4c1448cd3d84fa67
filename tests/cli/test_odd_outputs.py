"""Outputs in odd places: a mistyped device in /dev, a full device, a virtual file system."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from .conftest import Run, one_error_line, write


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return write(tmp_path / "in.wav", np.zeros(1600), 16000)


def test_a_mistyped_device_is_not_made_a_file_in_dev(src: Path, run: Run) -> None:
    """``-o /dev/sda`` where there is no such device created a regular file in /dev."""
    target = Path(f"/dev/callaudio-no-such-device-{os.getpid()}")
    try:
        code, stdout, err = run("process", str(src), "-o", str(target), "--quiet")
        one_error_line(code, err, str(target), "no such device")
        assert code == 1 and stdout == ""
        assert not os.path.lexists(target)
    finally:
        if target.is_file() and not target.is_symlink():
            target.unlink()  # what the old code left


def test_a_full_device_says_no_space(src: Path, run: Run) -> None:
    """``-o /dev/full`` said only libsndfile's "(System error.)"."""
    if not (os.path.exists("/dev/full") and stat.S_ISCHR(os.stat("/dev/full").st_mode)):
        pytest.skip("no /dev/full here")
    code, _, err = run("process", str(src), "-o", "/dev/full", "--quiet")
    line = one_error_line(code, err, "/dev/full", "No space left on device")
    assert "System error" not in line


def test_a_virtual_file_system_is_not_said_to_be_missing(src: Path, run: Run) -> None:
    """``-o /proc/x.wav`` said "No such file or directory" of /proc, which exists."""
    if not os.path.isdir("/proc/self"):
        pytest.skip("no /proc here")
    code, _, err = run("process", str(src), "-o", "/proc/callaudio-x.wav", "--quiet")
    line = one_error_line(code, err, "'/proc'", "does not allow new files")
    assert "No such file" not in line
