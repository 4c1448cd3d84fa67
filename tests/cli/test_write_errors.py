"""Failures while the output is written (a full disk, a file size limit): one error line
naming the output and the system's reason, nothing left behind."""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .conftest import Run, no_temp_files, one_error_line, soundfile, write


@contextlib.contextmanager
def file_size_limit(nbytes: int) -> Iterator[None]:
    """RLIMIT_FSIZE for this process (Python ignores SIGXFSZ: a write past it is EFBIG),
    as a full disk is met half-way through a file."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_a_write_error_mid_file_is_one_line_with_the_reason(tmp_path: Path, run: Run) -> None:
    """libsndfile's "System error." escaped as a traceback, the errno lost."""
    src = write(tmp_path / "in.wav", np.zeros(8000 * 4, np.float32), 8000)
    old = tmp_path / "old.wav"
    old.write_bytes(b"mine")
    for name in ("out.wav", "old.wav"):
        with file_size_limit(20_000):
            code, _, err = run("process", str(src), "-o", str(tmp_path / name), "--quiet")
        one_error_line(code, err, name, "cannot write", "File too large")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "old.wav"]
    assert old.read_bytes() == b"mine"
    assert no_temp_files(tmp_path)


def test_file_names_that_are_not_utf8_are_read_and_written(tmp_path: Path, run: Run) -> None:
    """Valid Linux names (bytes 0xFE, 0xFF) were refused: soundfile encoded the str path
    strictly ("surrogates not allowed")."""
    folder = os.fsencode(tmp_path)
    src = os.fsdecode(os.path.join(folder, b"in\xfe.wav"))
    out = os.fsdecode(os.path.join(folder, b"out\xff.wav"))
    write(tmp_path / "a.wav", 0.1 * np.ones(8000, np.float32), 8000).rename(src)
    code, _, err = run("process", src, "-o", out, "--quiet")
    assert (code, err) == (0, "")
    assert os.path.getsize(out) > 8000
    assert no_temp_files(tmp_path)


def test_output_to_a_closed_stdout_is_refused_before_processing(tmp_path: Path) -> None:
    """``process in.wav -o - >&-``: the whole file was processed, then an AttributeError
    traceback ('NoneType' object has no attribute 'flush')."""
    import subprocess
    import sys

    src = write(tmp_path / "in.wav", np.zeros(800, np.float32), 8000)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    p = subprocess.run(
        [sys.executable, "-m", "callaudio", "process", str(src), "-o", "-", "--quiet"],
        preexec_fn=lambda: os.close(1),
        capture_output=False,
        stderr=subprocess.PIPE,
        env=env,
        timeout=120,
    )
    one_error_line(p.returncode, p.stderr.decode(), "-: standard output is closed")


def test_output_names_up_to_the_longest_the_folder_takes_are_written(
    tmp_path: Path, run: Run
) -> None:
    """A valid name of 246..255 bytes was refused ("File name too long"): the temporary
    name ``.NAME.XXXXXXXX`` beside it was 10 bytes longer."""
    src = write(tmp_path / "in.wav", np.zeros(800, np.float32), 8000)
    for name in ("a" * 251 + ".wav", "b" * 255):
        for _ in range(2):  # a new file, then replacing it
            code, _, err = run("process", str(src), "-o", str(tmp_path / name), "--quiet")
            assert (code, err) == (0, "")
            assert soundfile.info(str(tmp_path / name)).frames == 800
    assert no_temp_files(tmp_path)
