"""The results store: atomic parts, one row per key, merging."""

from __future__ import annotations

from pathlib import Path

import pytest

from callaudio.batch import COLUMNS, ResultsStore

pytest.importorskip("pyarrow")


def _row(i: str, proc: str = "callaudio", status: str = "ok", erle: float | None = 30.0) -> dict:
    return {"id": i, "processor": proc, "config": "default", "status": status, "erle_db": erle}


def test_parts_read_as_one_table_with_the_last_row_per_key(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    assert not store.exists() and store.read().num_rows == 0
    store.append([_row("b10"), _row("b2", erle=1.0)])
    store.append([])  # no part for no rows
    store.append([_row("b2", erle=2.0), _row("a", "webrtc", "error", None)])
    assert len(list((tmp_path / "results.parquet").glob("part-*.parquet"))) == 2
    assert store.appended == 4
    table = store.read()
    assert table.column_names == [name for name, _ in COLUMNS]
    rows = table.to_pylist()
    assert [(r["id"], r["processor"]) for r in rows] == [
        ("a", "webrtc"),
        ("b2", "callaudio"),
        ("b10", "callaudio"),
    ]
    assert rows[1]["erle_db"] == 2.0 and rows[0]["status"] == "error"
    assert store.keys() == {
        ("a", "webrtc", "default"),
        ("b2", "callaudio", "default"),
        ("b10", "callaudio", "default"),
    }


def test_merge_keeps_every_key_once_and_drops_stray_temporaries(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.append([_row("x")])
    store.append([_row("y")])
    stray = tmp_path / "results.parquet" / ".part-00000003.123.tmp"
    stray.write_bytes(b"half a parquet file")
    before = store.read()
    store.compact()
    parts = list((tmp_path / "results.parquet").iterdir())
    assert [p.name for p in parts] == ["part-00000003.parquet"]
    assert store.read() == before
    assert store.appended == 2  # a merge is not new rows


def test_histograms_count_whole_items(tmp_path: Path, monkeypatch) -> None:
    """The metric histograms' item axis has integer ticks (8 items: no '0.5 items')."""
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from callaudio.batch.report import METRICS, write_plots

    ticks: dict[str, list[float]] = {}

    def record(fig: Figure, path: str, **kw: object) -> None:
        ticks[Path(path).stem] = list(fig.axes[0].get_yticks())

    monkeypatch.setattr(Figure, "savefig", record)
    rows = [
        {
            "id": f"f{k}",
            "processor": "callaudio",
            "config": "default",
            "status": "ok",
            **{col: None for col, _, _ in METRICS},
            "delay_ms": 40.0,
            "erle_db": 55.0 + 2.0 * k,
        }
        for k in range(8)
    ]

    class Table:
        def to_pylist(self) -> list[dict[str, object]]:
            return rows

    write_plots(Table(), str(tmp_path))
    assert ticks["erle_db"] and all(t == int(t) for t in ticks["erle_db"]), ticks


def test_a_results_folder_whose_name_is_not_utf8_works(tmp_path: Path) -> None:
    """A valid Linux name (byte 0xFF): pyarrow encoded the str path strictly and the run
    died with a UnicodeEncodeError traceback."""
    import os

    out = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"res\xff"))
    store = ResultsStore(out)
    store.append([_row("a")])
    store.append([_row("b")])
    store.compact()
    assert [r["id"] for r in store.read().to_pylist()] == ["a", "b"]


def test_a_fifo_as_a_part_is_a_damaged_part_not_a_hang(tmp_path: Path) -> None:
    import os

    from callaudio.errors import ConfigError

    store = ResultsStore(tmp_path)
    store.append([_row("a")])
    os.mkfifo(tmp_path / "results.parquet" / "part-00000002.parquet")
    with pytest.raises(ConfigError, match="damaged results part"):
        store.read()


def test_a_part_with_a_null_key_is_a_damaged_part(tmp_path: Path) -> None:
    """A tampered part whose row has no id gave a TypeError traceback (sorting None)."""
    from callaudio.errors import ConfigError

    store = ResultsStore(tmp_path)
    store.append([_row("a")])
    store.append([{**_row("b"), "id": None}])
    with pytest.raises(ConfigError, match=r"part-00000002\.parquet: a damaged results part"):
        store.read()


def test_part_numbers_past_eight_digits_keep_their_rows(tmp_path: Path) -> None:
    """After ``part-99999999``, the next part (nine digits) was invisible to the reader:
    every later part was written over it, and its rows were lost."""
    store = ResultsStore(tmp_path)
    store.append([_row("a")])
    folder = tmp_path / "results.parquet"
    (folder / "part-00000001.parquet").rename(folder / "part-99999999.parquet")
    store.append([_row("b")])
    store.append([_row("c")])
    assert sorted(p.name for p in folder.iterdir()) == [
        "part-100000000.parquet",
        "part-100000001.parquet",
        "part-99999999.parquet",
    ]
    assert [r["id"] for r in store.read().to_pylist()] == ["a", "b", "c"]
    store.compact()
    assert [r["id"] for r in store.read().to_pylist()] == ["a", "b", "c"]


_POOL_PROBE = """
import os, sys
import pyarrow, pyarrow.parquet
from callaudio.batch import ResultsStore
def native():
    return len(os.listdir("/proc/self/task"))
before = native()
store = ResultsStore(sys.argv[1])
store.append([{"id": "a", "processor": "callaudio", "config": "default", "status": "ok"}])
store.append([{"id": "b", "processor": "callaudio", "config": "default", "status": "ok"}])
store.keys()
store.compact()
store.read().to_pylist()
print(native() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_reading_results_starts_no_pyarrow_thread_pool(tmp_path: Path) -> None:
    """``pq.read_table`` started pyarrow's CPU and I/O thread pools; their workers, alive
    at interpreter exit, aborted about one process in 20-40 ("terminate called without an
    active exception", status 134): a refused ``batch --resume`` printed its one error
    line, then aborted. The store reads and writes in the calling thread: no new thread."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", _POOL_PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )
    assert out.stdout.strip() == "0", out
