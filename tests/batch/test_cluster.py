"""A real Dask cluster: ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1
(random ports), driven by ``callaudio batch --scheduler``; a worker killed mid-run; the
client killed mid-run and the run resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import callaudio
from callaudio.batch import ResultsStore, available

from .conftest import make_manifest

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

SRC = str(Path(callaudio.__file__).resolve().parents[1])
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
START_TIMEOUT_S = 90.0
RUN_TIMEOUT_S = 300.0


class Cluster:
    """A scheduler and named workers, each its own process; stopped by their pids."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.file = root / "scheduler.json"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: list[Any] = []
        self._start(
            "scheduler",
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(self.file),
            ],
        )
        self._wait(lambda: self.file.exists() and self.file.stat().st_size > 0, "scheduler")
        self.address = json.loads(self.file.read_text())["address"]
        assert self.address.startswith("tcp://127.0.0.1:")

    def _start(self, name: str, args: list[str]) -> None:
        log = open(self.root / f"{name}.log", "wb")
        self.logs.append(log)
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "dask", *args], stdout=log, stderr=log, env=ENV
        )

    def _wait(self, ready, what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready():
            for name, p in self.procs.items():
                assert p.poll() is None, f"{name} exited: {(self.root / f'{name}.log').read_text()}"
            assert time.monotonic() < deadline, f"{what} did not start"
            time.sleep(0.1)

    def add_workers(self, *names: str) -> None:
        for name in names:
            self._start(
                name,
                [
                    "worker",
                    self.address,
                    "--name",
                    name,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
            )
        from distributed import Client

        with Client(self.address, timeout="30s") as c:
            c.wait_for_workers(len(names), timeout=START_TIMEOUT_S)

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(timeout=30)

    def stop(self) -> None:
        """Workers first, then the scheduler; a process slow to stop is killed."""
        workers = [p for name, p in self.procs.items() if name != "scheduler"]
        for group in (workers, [self.procs["scheduler"]]):
            for p in group:
                if p.poll() is None:
                    p.terminate()
            for p in group:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=10)
        for log in self.logs:
            log.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    (tmp_path / "cluster").mkdir()
    c = Cluster(tmp_path / "cluster")
    try:
        c.add_workers("w1", "w2")
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def corpus16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 generated items (read-only; each test writes its own output folder)."""
    return make_manifest(tmp_path_factory.mktemp("corpus16"), 16)


def _batch(*args: str, **kw) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "callaudio", "batch", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        **kw,
    )


def _finish(p: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = p.communicate(timeout=RUN_TIMEOUT_S)
    return p.returncode, out, err


def _parts(out: Path) -> int:
    return len(list((out / "results.parquet").glob("part-*.parquet")))


def _wait_for_a_part(p: subprocess.Popen[str], out: Path) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while _parts(out) == 0:
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < deadline, "no results appeared"
        time.sleep(0.02)


def test_batch_on_a_dask_cluster(cluster: Cluster, tmp_path: Path) -> None:
    manifest = make_manifest(tmp_path / "c", 6)
    out = tmp_path / "out"
    code, stdout, err = _finish(
        _batch(
            str(manifest),
            "--out",
            str(out),
            "--scheduler",
            cluster.address,
            "--processors",
            "all",
            "--no-plots",
        )
    )
    assert code == 0, err
    assert "6 items to run, 0 already in the results" in err
    procs = sorted(available())
    assert f"6 items, {6 * len(procs)} rows ({6 * len(procs)} new)" in stdout
    rows = ResultsStore(out).read().to_pylist()
    assert [(r["id"], r["processor"]) for r in rows] == [
        (f"item{k}", p) for k in range(6) for p in procs
    ]
    for r in rows:
        assert r["status"] == "ok", r
        assert (out / r["output"]).stat().st_size > 40000  # 3 s of 16-bit audio
        for col in ("erle_db", "rtf", "us_per_frame", "output_level_dbfs"):
            assert r[col] is not None and r[col] == r[col], (col, r)
        if r["processor"] == "callaudio":
            assert r["erle_db"] > 20.0 and r["delay_ms"] is not None
    hosts = {r["worker"] for r in rows}
    assert all(h.split(":")[-1].isdigit() for h in hosts)
    assert (out / "summary.md").exists()


def test_a_worker_killed_mid_run(cluster: Cluster, corpus16: Path, tmp_path: Path) -> None:
    count, manifest = 16, corpus16
    out = tmp_path / "out"
    p = _batch(
        str(manifest), "--out", str(out), "--scheduler", cluster.address, "--no-plots", "--no-audio"
    )
    _wait_for_a_part(p, out)
    assert p.poll() is None
    done_before = len(ResultsStore(out).read())
    cluster.kill("w1")
    code, stdout, err = _finish(p)
    assert code == 0, err
    assert f"{count} items, {count} rows ({count} new)" in stdout  # each item exactly once
    rows = ResultsStore(out).read().to_pylist()
    assert [r["id"] for r in rows] == [f"item{k}" for k in range(count)]
    assert all(r["status"] == "ok" for r in rows)
    assert done_before < count  # the kill happened with work left


def test_client_killed_then_resumed(cluster: Cluster, corpus16: Path, tmp_path: Path) -> None:
    count, manifest = 16, corpus16
    out = tmp_path / "out"
    p = _batch(
        str(manifest), "--out", str(out), "--scheduler", cluster.address, "--no-plots", "--no-audio"
    )
    _wait_for_a_part(p, out)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=30)
    kept = ResultsStore(out).read().to_pylist()
    assert 0 < len(kept) < count
    code, stdout, err = _finish(
        _batch(
            str(manifest),
            "--out",
            str(out),
            "--scheduler",
            cluster.address,
            "--no-plots",
            "--no-audio",
            "--resume",
        )
    )
    assert code == 0, err
    assert f"{count} items, {count} rows ({count - len(kept)} new)" in stdout
    assert f"{count - len(kept)} items to run, {len(kept)} already in the results" in err
    rows = ResultsStore(out).read().to_pylist()
    assert [r["id"] for r in rows] == [f"item{k}" for k in range(count)]
    assert [r for r in rows if r["id"] in {k["id"] for k in kept}] == kept
