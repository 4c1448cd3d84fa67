"""Text inputs (``--config`` TOML files, batch manifests) read through ``files.text_lines``:
a device, a FIFO or a file far larger than any real one is refused before it is read into
memory, and what the parsers raise besides their own decode errors (deep nesting, an
integer of more than 4300 digits) is one error line, never a traceback."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from callaudio.cli import files
from callaudio.cli.process import CONFIG_MAX_BYTES, CONFIG_MAX_LINE, load_config
from callaudio.errors import ConfigError

from .conftest import Run, one_error_line, write


def _writer_later(fifo: Path) -> threading.Timer:
    """On a regression (the FIFO opened for reading), a writer comes after 5 s and ends the
    wait: the test fails instead of hanging."""
    timer = threading.Timer(5.0, lambda: open(fifo, "wb").close())
    timer.daemon = True
    timer.start()
    return timer


ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _cap_memory() -> None:  # 1.5 GB of address space: reading /dev/zero to the end fails
    resource.setrlimit(resource.RLIMIT_AS, (3 << 29, 3 << 29))


def test_endless_devices_are_refused_before_any_read(tmp_path: Path) -> None:
    """``--config /dev/zero`` and a manifest symlinked to it were read until the OOM killer
    came (23 GB); in a subprocess with a memory cap, so a regression fails, not the runner."""
    link = tmp_path / "m.jsonl"
    link.symlink_to("/dev/zero")
    script = textwrap.dedent(
        f"""
        from callaudio.batch import load_items
        from callaudio.cli.process import load_config
        from callaudio.errors import ConfigError
        for read, path in ((load_config, "/dev/zero"), (load_items, {str(link)!r})):
            try:
                read(path)
            except ConfigError as exc:
                print(exc)
        """
    )
    r = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=ENV,
        preexec_fn=_cap_memory,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr[-500:]
    assert r.stdout.count("not a regular file") == 2, r.stdout


def test_a_fifo_config_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "c.toml"
    os.mkfifo(fifo)
    timer = _writer_later(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(str(fifo))  # opening it would block until a writer came
    timer.cancel()
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(str(tmp_path))


def test_text_lines_stops_at_its_limit(tmp_path: Path) -> None:
    f = tmp_path / "t.txt"
    f.write_text("ab\ncd\n")
    assert list(files.text_lines(f, limit=6, what="x")) == ["ab\n", "cd\n"]
    with pytest.raises(ConfigError, match="larger than 5 bytes"):
        list(files.text_lines(f, limit=5, what="x"))


@pytest.mark.parametrize(
    ("text", "mention"),
    [
        ("# " + "x" * CONFIG_MAX_BYTES + "\n", "larger than"),
        ("x." * (CONFIG_MAX_LINE // 2) + "y = 1\n", ":1: longer than"),  # tomllib: quadratic
        ("a = " + "[\n" * 5000 + "]\n" * 5000, "nested too deeply"),
    ],
)
def test_hostile_config_files_are_one_line(
    tmp_path: Path, run: Run, text: str, mention: str
) -> None:
    src = write(tmp_path / "in.wav", np.zeros(1600), 16000)
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    out = tmp_path / "o.wav"
    code, _, err = run("process", str(src), "-o", str(out), "--config", str(cfg), "--quiet")
    one_error_line(code, err, "c.toml", mention)
    assert not out.exists()


def test_an_integer_too_long_to_convert_is_one_config_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[noise_suppressor]\nlevel_db = " + "9" * 1000 + "\n")
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(640)  # the interpreter's own limit (4300 by default)
    try:
        with pytest.raises(ConfigError, match="not valid TOML"):
            load_config(str(cfg))
    finally:
        sys.set_int_max_str_digits(old)
