"""Batch's error rows say what batch needs, not what ``callaudio process`` does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from callaudio.batch import run

soundfile = pytest.importorskip("soundfile")
pytest.importorskip("pyarrow")


def test_rate_errors_are_true_for_batch(tmp_path: Path) -> None:
    """The far file at another rate is refused by batch (``process`` accepts it): the row
    said only "rates differ"; a 7999 Hz file's row named "the range callaudio process
    accepts"."""
    tone = 0.1 * np.sin(np.arange(1600) * 0.3)
    soundfile.write(str(tmp_path / "mic.wav"), tone, 16000)
    soundfile.write(str(tmp_path / "far48.wav"), np.repeat(tone, 3), 48000)
    soundfile.write(str(tmp_path / "low.wav"), tone, 7999)
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,mic,far\npair,mic.wav,far48.wav\nlow,low.wav,\n")
    table = run(manifest, tmp_path / "o", workers=0, plots=False, audio=False)
    rows = {r["id"]: r for r in table.to_pylist()}
    pair, low = rows["pair"]["error"], rows["low"]["error"]
    assert "rates differ (mic 16000 Hz, far 48000 Hz)" in pair
    assert "batch needs an item's files at one rate" in pair
    assert "7999 Hz is outside 8000..192000 Hz" in low
    assert "process" not in low


def test_a_small_real_time_factor_keeps_its_digits(tmp_path: Path) -> None:
    """summary.md showed a real-time factor of 0.0123 as "0.01"."""
    import pyarrow as pa

    from callaudio.batch.report import write_summary
    from callaudio.batch.results import COLUMNS

    rows = []
    for k, rtf in enumerate((0.0123, 0.0125, 0.0552)):
        row: dict[str, object] = dict.fromkeys(name for name, _ in COLUMNS)
        row.update(id=f"i{k}", processor="callaudio", config="default", status="ok")
        row.update(duration_s=10.0, rtf=rtf)
        rows.append(row)
    write_summary(pa.Table.from_pylist(rows), str(tmp_path))
    line = next(
        ln for ln in (tmp_path / "summary.md").read_text().splitlines() if "real-time" in ln
    )
    assert line.startswith("| real-time factor | 3 | 0.0267 | 0.0125 | "), line
    assert "i2 (0.0552)" in line, line


LOCAL_WORKER = r"""
import logging, signal
from callaudio.batch.local_worker import dask_setup
dask_setup(None)
seen = []
class Keep(logging.Handler):
    def emit(self, record):
        seen.append(record.getMessage())
log = logging.getLogger("distributed.worker.state_machine")
log.addHandler(Keep())
log.warning("Async instruction for <Task cancelled> ended with CancelledError")
log.warning("another warning")
print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN, seen)
"""


def test_a_local_worker_leaves_ctrl_c_to_the_run(tmp_path: Path) -> None:
    """Ctrl-C in the terminal reached the local cluster's workers too: each printed a
    KeyboardInterrupt traceback (and a CancelledError warning) around the run's line."""
    import os
    import subprocess
    import sys

    from callaudio.batch import runner

    src = str(Path(runner.__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run(
        [sys.executable, "-c", LOCAL_WORKER], capture_output=True, text=True, env=env, timeout=60
    )
    assert p.stdout.strip() == "True ['another warning']", p.stderr


def test_the_local_cluster_runs_the_worker_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    distributed = pytest.importorskip("distributed")
    from callaudio.batch import runner

    got: dict[str, object] = {}

    def refuse(self: object, **kwargs: object) -> None:
        got.update(kwargs)
        raise OSError("no cluster in this test")

    monkeypatch.setattr(distributed.LocalCluster, "__init__", refuse)
    monkeypatch.setattr(runner, "_abandon", lambda cluster: None)  # (it silences loggers)
    with pytest.raises(OSError, match="no cluster"):
        runner._dask_client(None, None, 1, False)
    assert got["preload"] == ["callaudio.batch.local_worker"]


def test_closing_the_local_cluster_does_not_warn_of_a_slow_worker_exit(caplog) -> None:
    """A clean run on a loaded machine ended with Dask's "distributed.nanny - WARNING -
    Worker process still alive after 4.0 seconds, killing" after its summary lines (every
    row was written by then); the run holds that back while it closes what it made, and
    leaves the logger's level as it was."""
    import logging

    from callaudio.batch import runner

    nanny = logging.getLogger("distributed.nanny")
    closed: list[str] = []

    class SlowToExit:
        def close(self) -> None:
            nanny.warning("Worker process still alive after 4.0 seconds, killing")
            nanny.error("a real failure")
            closed.append("cluster")

    before = nanny.level
    with caplog.at_level(logging.DEBUG):
        nanny.setLevel(logging.NOTSET)
        runner._close_owned([SlowToExit()])
    assert closed == ["cluster"]
    messages = [r.getMessage() for r in caplog.records if r.name == "distributed.nanny"]
    assert messages == ["a real failure"]
    assert nanny.level == logging.NOTSET
    nanny.setLevel(before)
