"""Batch runs used the wrong way: two runs into one folder, bad arguments to the Python API,
a damaged results part, what a killed run leaves behind, sets of the AEC Challenge layout in
sub-folders, a NUL in a manifest path, and the caller's matplotlib backend."""

from __future__ import annotations

import importlib
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from callaudio.batch import run, runner
from callaudio.batch.items import load_items
from callaudio.batch.runner import LOCK_NAME, _exclusive
from callaudio.config import ProcessingConfig
from callaudio.errors import ConfigError, ConfigTypeError

from .conftest import make_manifest, synthetic_layout

pytest.importorskip("pyarrow")


def _tree(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != LOCK_NAME
    }


def test_a_second_run_into_a_folder_in_use_is_refused_and_changes_nothing(
    tmp_path: Path,
) -> None:
    manifest = make_manifest(tmp_path / "corpus", 2)
    out = tmp_path / "out"
    run(manifest, out, workers=0, plots=False)
    before = _tree(out)
    held, release = threading.Event(), threading.Event()

    def holder() -> None:  # another run, as far as the lock can tell (its own open file)
        with _exclusive(str(out)):
            held.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert held.wait(10)
        with pytest.raises(ConfigError, match="in use by another batch run"):
            run(manifest, out, workers=0, plots=False)
    finally:
        release.set()
        t.join()
    assert _tree(out) == before
    assert len(run(manifest, out, workers=0, plots=False)) == 2  # free again: resumes


class _RaisingPath:
    def __fspath__(self) -> str:
        raise RuntimeError("no path")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"workers": -1}, ConfigError),  # LocalCluster(n_workers=-1) waited forever
        ({"workers": 1.5}, ConfigError),
        ({"workers": True}, ConfigError),
        ({"workers": 100_000}, ConfigError),  # started 100000 worker processes, no end
        ({"configs": {3: ProcessingConfig()}}, ConfigTypeError),
        ({"configs": {"x": "not a config"}}, ConfigTypeError),
        ({"configs": [ProcessingConfig()]}, ConfigTypeError),
        # a newline in a name made a folder with it and a forged heading in summary.md
        ({"configs": {"x\n## fake heading\ny": ProcessingConfig()}}, ConfigError),
        ({"configs": {"a\\b": ProcessingConfig()}}, ConfigError),
        ({"processors": None}, ConfigTypeError),  # raw TypeErrors before
        ({"processors": [3]}, ConfigTypeError),
        ({"input": 5}, ConfigTypeError),
        ({"input": b"m.csv"}, ConfigTypeError),
        ({"out": 5}, ConfigTypeError),
        ({"out": b"out"}, ConfigTypeError),
        ({"scheduler": 5}, ConfigTypeError),
        ({"resume": "no"}, ConfigError),  # a truthy str was taken as True
        ({"plots": "no"}, ConfigError),
        # AttributeError/TypeError once the run had started (its folder made)
        ({"client": "tcp://host:8786", "workers": None}, ConfigTypeError),
        ({"on_start": 5}, ConfigTypeError),
        ({"on_finish": "print"}, ConfigTypeError),
        ({"out": _RaisingPath()}, ConfigTypeError),  # RuntimeError from __fspath__
    ],
)
def test_bad_python_arguments_are_config_errors_before_any_work(
    tmp_path: Path, kwargs: dict, error: type
) -> None:
    manifest = make_manifest(tmp_path / "corpus", 1)
    args = {"input": manifest, "out": tmp_path / "out", "workers": 0, **kwargs}
    with pytest.raises(error):
        run(args.pop("input"), args.pop("out"), **args)
    assert not (tmp_path / "out").exists()


def test_numpy_workers_and_a_str_of_processors_are_taken(tmp_path: Path) -> None:
    manifest = make_manifest(tmp_path / "corpus", 1)
    table = run(manifest, tmp_path / "out", "callaudio", workers=np.int64(0), plots=False)
    assert table.column("processor").to_pylist() == ["callaudio"]  # not 'c', 'a', 'l' ...


def test_an_unreachable_scheduler_is_one_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Client:
        closed = 0

        def __init__(self, address: str, timeout: str) -> None:
            raise OSError(f"Timed out trying to connect to {address} after {timeout}")

        def close(self) -> None:
            Client.closed += 1

    class Unreachable:
        pass

    Unreachable.Client = Client  # type: ignore[attr-defined]
    real = importlib.import_module
    monkeypatch.setattr(
        runner.importlib,
        "import_module",
        lambda name, *a: Unreachable() if name == "distributed" else real(name, *a),
    )
    manifest = make_manifest(tmp_path / "corpus", 1)
    with pytest.raises(ConfigError, match=r"scheduler: tcp://10\.0\.0\.1:1: Timed out"):
        run(manifest, tmp_path / "out", scheduler="tcp://10.0.0.1:1", plots=False)
    # the half-made client is closed at once, not left to the garbage collector (its
    # __del__ closed it inside another client's start, under the lock close takes: a hang)
    assert Client.closed == 1


def test_a_damaged_results_part_is_one_error_naming_it(tmp_path: Path) -> None:
    manifest = make_manifest(tmp_path / "corpus", 1)
    out = tmp_path / "out"
    run(manifest, out, workers=0, plots=False)
    bad = out / "results.parquet" / "part-00000099.parquet"
    bad.write_bytes(b"")  # a part renamed into place and then lost (power cut)
    with pytest.raises(ConfigError, match=r"part-00000099\.parquet: a damaged results part"):
        run(manifest, out, workers=0, plots=False)


def test_resume_removes_what_a_killed_run_left_half_written(tmp_path: Path) -> None:
    manifest = make_manifest(tmp_path / "corpus", 2)
    out = tmp_path / "out"
    run(manifest, out, workers=0, plots=False)
    audio = out / "audio" / "callaudio"
    debris = [audio / ".item1.wav.k3x9_q2z", out / "results.parquet" / ".part-00000007.99.tmp"]
    for p in debris:
        p.write_bytes(b"RIFF")
    keep = audio / ".notes.txt"  # not a name the writer makes: left alone
    keep.write_text("mine")
    run(manifest, out, workers=0, plots=False)
    assert not any(p.exists() for p in debris)
    assert keep.exists()


def test_synthetic_sets_in_sub_folders_stay_apart(tmp_path: Path) -> None:
    synthetic_layout(tmp_path / "train", 2)
    synthetic_layout(tmp_path / "test", 2)
    (tmp_path / "test" / "farend_speech" / "farend_speech_fileid_1.wav").unlink()
    items = {it.id: it for it in load_items(tmp_path)}
    assert sorted(items) == ["test/fileid_0", "test/fileid_1", "train/fileid_0", "train/fileid_1"]
    for name, it in items.items():
        home = str(tmp_path / name.split("/")[0]) + os.sep
        assert all(p is None or p.startswith(home) for p in (it.mic, it.far, it.near, it.echo))
    assert items["test/fileid_1"].far is None  # not train's far end
    assert items["train/fileid_1"].far is not None


def test_a_nul_in_a_manifest_path_is_one_error(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"id": "a", "mic": "m\u0000.wav"}) + "\n")
    with pytest.raises(ConfigError, match=r"m.jsonl:1: bad mic path"):
        load_items(manifest)


def test_a_run_leaves_the_callers_matplotlib_backend_alone(tmp_path: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    before = matplotlib.get_backend()
    matplotlib.use("svg")  # a notebook's or an application's choice (not the default Agg)
    try:
        manifest = make_manifest(tmp_path / "corpus", 1)
        run(manifest, tmp_path / "out", workers=0, plots=True)
        assert (tmp_path / "out" / "plots" / "erle_db.png").is_file()
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)


def test_a_refused_run_never_removes_the_folder_of_the_run_that_holds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run B checks that ``out`` is new, run A creates and locks it, B is refused: B's
    clean-up (a failed run leaves no empty folder) removed A's lock and folder, and a third
    run got in beside A."""
    from callaudio.batch import runner

    manifest = make_manifest(tmp_path / "corpus", 1)
    out = tmp_path / "out"
    held, release = threading.Event(), threading.Event()

    def a_run() -> None:
        with _exclusive(str(out)):
            held.set()
            release.wait(10)

    real_makedirs = os.makedirs
    a = threading.Thread(target=a_run)

    def makedirs(path, *args, **kwargs):  # B's makedirs: A gets the folder first
        monkeypatch.setattr(runner.os, "makedirs", real_makedirs)
        a.start()
        assert held.wait(10)
        return real_makedirs(path, *args, **kwargs)

    monkeypatch.setattr(runner.os, "makedirs", makedirs)
    try:
        with pytest.raises(ConfigError, match="in use"):
            run(manifest, out, workers=0, plots=False)
        assert (out / LOCK_NAME).is_file()
        with pytest.raises(ConfigError, match="in use"):  # still A's
            run(manifest, out, workers=0, plots=False)
    finally:
        release.set()
        a.join()


def test_an_output_folder_that_cannot_be_made_is_one_config_error(tmp_path: Path) -> None:
    manifest = make_manifest(tmp_path / "corpus", 1)
    loop = tmp_path / "loop"
    loop.symlink_to(loop)  # a symlink loop as --out: makedirs raised FileExistsError
    with pytest.raises(ConfigError, match="cannot write in it"):
        run(manifest, loop / "out", workers=0, plots=False)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere" / "deeper")
    with pytest.raises(ConfigError):
        run(manifest, dangling, workers=0, plots=False)


def test_an_empty_output_folder_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # out="" is abspath(""), the working folder: results, audio and the lock landed there
    manifest = make_manifest(tmp_path / "corpus", 1)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(ConfigError, match="empty"):
        run(manifest, "", workers=0, plots=False)
    assert list(work.iterdir()) == []


SIGTERM_IN_CLUSTER_START = r"""
import os, signal, sys, threading
import distributed
from callaudio.cli import main
start = distributed.LocalCluster.__init__
def init(self, *args, **kwargs):  # SIGTERM 0.3 s into the local cluster's start
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
    return start(self, *args, **kwargs)
distributed.LocalCluster.__init__ = init
sys.exit(main(["batch", sys.argv[1], "--out", sys.argv[2], "--workers", "2", "--no-plots"]))
"""


@pytest.mark.slow
def test_sigterm_while_the_local_cluster_starts_ends_quietly(tmp_path: Path) -> None:
    """SIGTERM (or Ctrl-C) while ``batch`` starts its local Dask cluster: status 143 after
    the run's one start line and the interruption's, nothing else. The half-started
    cluster was left to Dask's exit hook, which printed an ``AssertionError: Status.init``
    traceback (and took seconds)."""
    import subprocess
    import sys

    pytest.importorskip("distributed")
    manifest = make_manifest(tmp_path / "corpus", 2)
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    src = str(Path(runner.__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    p = subprocess.run(
        [sys.executable, "-c", SIGTERM_IN_CLUSTER_START, str(manifest), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert p.returncode == 143, p.stderr[-2000:]
    # no traceback, no Dask log line: the start line and the interruption's
    assert p.stderr.splitlines() == [
        "batch: 2 items to run, 0 already in the results",
        "callaudio: batch interrupted (SIGTERM): nothing written",
    ], p.stderr
    assert not out.exists()  # the run made it: nothing left
    left = [str(f.relative_to(tmp)) for f in tmp.rglob("*") if not f.name.endswith(".lock")]
    assert left in ([], ["dask-scratch-space"]), left  # no worker's folder left


@pytest.mark.parametrize(
    ("name", "folder"),
    [("summary.md", True), ("configs.json", True), ("results.parquet", False), ("plots", False)],
)
def test_a_run_name_of_the_wrong_kind_in_out_is_refused_before_any_item(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, folder: bool
) -> None:
    """A folder named summary.md (or configs.json), or a file named results.parquet or
    plots, failed the run with the errno text of a rename once every item had run (or
    after the first), and left ``summary.md.tmp`` / ``configs.json.tmp`` behind."""
    from callaudio.batch import worker

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("an item ran before the output folder was checked")

    monkeypatch.setattr(runner, "process_item", refuse)
    monkeypatch.setattr(worker, "process_item", refuse)
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,mic\nlost,nowhere.wav\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / name).mkdir() if folder else (out / name).write_text("mine")
    before = _tree(out)
    with pytest.raises(ConfigError, match=f"{name} is not a {'file' if folder else 'folder'}"):
        run(manifest, out, workers=0)
    assert _tree(out) == before and sorted(os.listdir(out)) == sorted([name, LOCK_NAME])


def test_a_summary_that_cannot_be_written_leaves_no_temporary_file(tmp_path: Path) -> None:
    """``summary.md.tmp`` and ``configs.json.tmp`` stayed behind after a failed rename."""
    from callaudio.batch.report import write_text

    (tmp_path / "summary.md").mkdir()
    with pytest.raises(IsADirectoryError):
        write_text(str(tmp_path / "summary.md"), "x")
    assert os.listdir(tmp_path) == ["summary.md"]
    write_text(str(tmp_path / "ok.md"), "text\n")
    assert (tmp_path / "ok.md").read_text() == "text\n" and len(os.listdir(tmp_path)) == 2


def test_a_symlink_loop_in_a_manifest_path_is_one_error(tmp_path: Path) -> None:
    """Path.resolve raises RuntimeError for a loop on Python 3.11/3.12: a traceback."""
    (tmp_path / "loop1").symlink_to("loop2")
    (tmp_path / "loop2").symlink_to("loop1")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"id": "a", "mic": "loop1"}) + "\n")
    with pytest.raises(ConfigError, match=r"m.jsonl:1: bad mic path"):
        load_items(manifest)


def test_a_fifo_or_a_device_in_a_manifest_is_an_error_row_not_a_stopped_run(
    tmp_path: Path,
) -> None:
    """A FIFO with no writer blocked its worker, and so the run, for good."""
    fifo = tmp_path / "corpus" / "fifo.wav"
    manifest = make_manifest(
        tmp_path / "corpus",
        1,
        extra=[{"id": "fifo", "mic": "fifo.wav"}, {"id": "zero", "mic": "/dev/zero"}],
    )
    os.mkfifo(fifo)
    rows: list[dict] = []
    worker = threading.Thread(
        target=lambda: rows.extend(
            run(manifest, tmp_path / "out", workers=0, plots=False).to_pylist()
        ),
        daemon=True,
    )
    worker.start()
    worker.join(120)
    if worker.is_alive():  # let the blocked open go, so the thread ends
        with open(fifo, "wb"):
            pass
        pytest.fail("the run blocked on the FIFO")
    by_id = {r["id"]: r for r in rows}
    assert by_id["item0"]["status"] == "ok"
    for name in ("fifo", "zero"):
        assert by_id[name]["status"] == "error"
        assert "not a regular file" in by_id[name]["error"]


def test_a_configuration_name_longer_than_a_folder_name_is_refused(tmp_path: Path) -> None:
    """Every item failed alone with 'File name too long' (one error row each)."""
    manifest = make_manifest(tmp_path / "corpus", 1)
    with pytest.raises(ConfigError, match="bad configuration name"):
        run(manifest, tmp_path / "out", workers=0, configs={"x" * 250: ProcessingConfig()})
    assert not (tmp_path / "out").exists()
    table = run(
        manifest, tmp_path / "out", workers=0, plots=False, configs={"x" * 245: ProcessingConfig()}
    )  # callaudio-xxx...: 255 bytes
    assert table.column("status").to_pylist() == ["ok"]


@pytest.mark.parametrize("address", ["not a url", "tcp://", "foo://bar", "localhost:abc"])
def test_a_scheduler_address_that_is_no_address_is_one_config_error(
    tmp_path: Path, address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """distributed raises ValueError for these (a traceback from the command)."""
    distributed = pytest.importorskip("distributed")
    made = []
    monkeypatch.setattr(distributed.Client, "__init__", lambda self, *a, **k: made.append(a))
    manifest = make_manifest(tmp_path / "corpus", 1)
    with pytest.raises(ConfigError, match="not a scheduler address"):
        run(manifest, tmp_path / "out", scheduler=address, plots=False)
    assert not (tmp_path / "out").exists()
    # refused before any client is made: a half-made one, collected inside the next
    # client's start, hung the run (this test's next case hung the CI run)
    assert made == []
