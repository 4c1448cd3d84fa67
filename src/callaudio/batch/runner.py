"""Running a batch: items to tasks on Dask (or in this process), rows to the results.

One task per item: the worker reads the item's files, runs every job on it, writes the
processed audio and returns the rows (small dicts): the client never holds audio. Rows
are appended to ``DIR/results.parquet`` as tasks finish (a part per group of tasks that
finished together), so an interrupted run loses nothing finished; ``resume`` skips the
(item, processor, configuration) rows already there. A task whose worker dies is re-run by
Dask on another worker; a task Dask gives up on (it killed workers more than
``distributed.scheduler.allowed-failures`` times) becomes error rows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import json
import logging
import math
import numbers
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TextIO

from ..config import ProcessingConfig, check_flag
from ..errors import ConfigError, ConfigTypeError, install_hint
from .items import Item, fits_a_file_name, has_control_characters, load_items
from .processors import PROCESSORS, available
from .report import not_measured, with_not_measured, write_plots, write_summary, write_text
from .results import ResultsStore, pyarrow_modules
from .worker import MOS_HINT, MOS_MODULES, Job, process_item

__all__ = ["Progress", "make_jobs", "run"]


def make_jobs(
    processors: Sequence[str] | str, configs: Mapping[str, ProcessingConfig] | None = None
) -> list[Job]:
    """The jobs of a run: callaudio once per named configuration, each peer once
    (``"all"``: every processor installed here).

    Raises ConfigError for an unknown processor or one that is not installed here.
    """
    names, _ = _processor_names(processors)
    here = available()
    for name in names:
        if name not in PROCESSORS:
            raise ConfigError("processors", f"unknown processor {name!r} (known: {PROCESSORS})")
        if name not in here:
            raise ConfigError(
                "processors",
                f"{name} is not installed here ({install_hint('peers')}; "
                f"available: {', '.join(here)})",
            )
    if configs is not None and not isinstance(configs, Mapping):
        raise ConfigTypeError("configs", f"a mapping of name to ProcessingConfig, not {configs!r}")
    cfgs = dict(configs) if configs else {"default": ProcessingConfig()}
    for cname, cfg in cfgs.items():
        if not isinstance(cname, str):
            raise ConfigTypeError("config", f"a configuration name is a str, not {cname!r}")
        if (
            not cname
            or "/" in cname
            or "\\" in cname
            or cname.startswith(".")
            or has_control_characters(cname)
            or not fits_a_file_name(f"callaudio-{cname}")
        ):
            raise ConfigError(
                "config",
                f"bad configuration name {cname!r} (it names a folder: no '/' or '\\', "
                "no leading '.', no control characters, at most a file name's length)",
            )
        if not isinstance(cfg, ProcessingConfig):
            raise ConfigTypeError(
                "config", f"configuration {cname!r} is not a ProcessingConfig: {cfg!r}"
            )
    jobs: list[Job] = []
    for name in names:
        if name == "callaudio":
            jobs += [Job("callaudio", c, cfg) for c, cfg in cfgs.items()]
        else:
            jobs.append(Job(name, "default", None))
    return jobs


def _processor_names(processors: Sequence[str] | str) -> tuple[list[str], list[str]]:
    """(the processors named, "all" expanded to those installed here; the ones "all"
    left out because they are not installed)."""
    if isinstance(processors, str):  # "callaudio,webrtc", as on the command line
        processors = processors.split(",")
    if not isinstance(processors, Iterable) or not all(isinstance(p, str) for p in processors):
        raise ConfigTypeError("processors", f"processor names (str), not {processors!r}")
    names = [p.strip() for p in processors if p.strip()]
    if not names:
        raise ConfigError("processors", "give at least one processor")
    absent: list[str] = []
    if "all" in names:
        here = available()
        absent = [p for p in PROCESSORS if p not in here and p not in names]
        names = [q for p in names for q in (here if p == "all" else [p])]
    return list(dict.fromkeys(names)), absent


class Progress:
    """Items done and failed, and the ETA, on one line (stderr; redrawn on a terminal)."""

    def __init__(self, total: int, *, enabled: bool = True, stream: TextIO | None = None):
        self.total = total
        self.done = 0
        self.failed = 0
        self._enabled = enabled and total > 0
        self._stream = stream if stream is not None else sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._t0 = time.monotonic()
        self._last = -math.inf

    def update(self, done: int, failed: int) -> None:
        """Record progress; drawn at most every 0.5 s (every 5 s off a terminal)."""
        self.done, self.failed = done, failed
        now = time.monotonic()
        if not self._enabled or (
            now - self._last < (0.5 if self._tty else 5.0) and done < self.total
        ):
            return
        self._last = now
        rate = done / max(now - self._t0, 1e-9)
        left = (self.total - done) / rate if rate > 0 else math.inf
        eta = "--:--" if not math.isfinite(left) else f"{int(left) // 60:d}:{int(left) % 60:02d}"
        line = f"batch: {done}/{self.total} items, {failed} failed, ETA {eta}"
        if self._tty:
            self._stream.write("\r" + line + ("\n" if done >= self.total else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()


def _failed(rows: Iterable[dict[str, Any]]) -> bool:
    return any(r.get("status") != "ok" for r in rows)


def _error_rows(item: Item, jobs: list[Job], exc: BaseException) -> list[dict[str, Any]]:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return [
        {
            "id": item.id,
            "processor": j.processor,
            "config": j.config_name,
            "status": "error",
            "error": f"{type(exc).__name__}: {text}"[:500],
            "mic": item.mic,
        }
        for j in jobs
    ]


#: The most local Dask workers per core (``workers``): 100000 started processes without end.
MAX_WORKERS_PER_CORE = 4

#: How long a ``--scheduler`` address may take to answer before the run fails.
CONNECT_TIMEOUT = "10s"


def _distributed() -> Any:
    """The ``distributed`` module, or a ConfigError naming the extra to install."""
    try:
        return importlib.import_module("distributed")
    except ImportError as exc:
        raise ConfigError(
            "batch",
            "Dask runs need dask.distributed (the batch extra; --workers 0 runs without "
            f"Dask): {install_hint('batch')}",
        ) from exc


def _not_an_address(address: str, exc: Exception) -> ConfigError:
    return ConfigError(
        "scheduler", f"{address!r} is not a scheduler address such as tcp://host:8786 ({exc})"
    )


def _check_address(address: str) -> None:
    """ConfigError unless ``address`` parses as Dask's (scheme, known backend, host:port)."""
    comm = importlib.import_module("distributed.comm")
    try:
        scheme, loc = comm.parse_address(address)
        comm.registry.get_backend(scheme)
        if scheme in ("tcp", "tls", "ws", "wss"):
            comm.parse_host_port(loc)
    except (ValueError, TypeError) as exc:
        raise _not_an_address(address, exc) from exc


def _dask_client(
    client: Any, scheduler: str | None, workers: int | None, dashboard: bool
) -> tuple[Any, list[Any]]:
    """The client to use and what to close afterwards."""
    if client is not None:
        return client, []
    distributed = _distributed()
    if scheduler:
        _check_address(scheduler)
        half: list[Any] = []

        def known_before_connected(self: Any, *args: Any, **kwargs: Any) -> None:
            half.append(self)
            distributed.Client.__init__(self, *args, **kwargs)

        # A client whose connection failed is closed here: left to the garbage collector,
        # its __del__ closed it wherever a collection ran, once inside the next client's
        # start, which holds the class-wide lock that close takes (a hang).
        try:
            c = type("Client", (distributed.Client,), {"__init__": known_before_connected})(
                scheduler, timeout=CONNECT_TIMEOUT
            )
        except BaseException as exc:
            for failed in half:
                with contextlib.suppress(Exception):
                    failed.close()
            if isinstance(exc, OSError):  # unreachable, refused, timed out
                raise ConfigError("scheduler", f"{scheduler}: {exc}") from exc
            if isinstance(exc, (ValueError, TypeError)):
                raise _not_an_address(scheduler, exc) from exc
            raise
        return c, [c]
    made: list[Any] = []

    def known_before_started(self: Any, **kwargs: Any) -> None:
        made.append(self)
        distributed.LocalCluster.__init__(self, **kwargs)

    # A LocalCluster known before its start ends (an interrupted start raises out of the
    # constructor, and Dask's exit hook then closed it: a traceback). Made with type(): a
    # class statement in a function is a name stubtest finds in the module and not at run time.
    local = type("Cluster", (distributed.LocalCluster,), {"__init__": known_before_started})
    try:
        cluster = local(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:8787" if dashboard else None,
            # without a dashboard the scheduler still serves /health and /metrics, on
            # 8787 by default (a second run warned that the port was taken): any free port
            scheduler_kwargs=None if dashboard else {"dashboard_address": "127.0.0.1:0"},
            preload=["callaudio.batch.local_worker"],  # (workers leave Ctrl-C to the run)
        )
    except BaseException:  # Ctrl-C, SIGTERM (the CLI raises it here), a failed start
        for half in made:
            _abandon(half)
        raise
    c = distributed.Client(cluster)
    return c, [c, cluster]


def _abandon(cluster: Any) -> None:
    """Stop a local cluster whose start was interrupted, quietly: its loop thread stops
    (the worker processes end with this process: they watch their parent), and Dask's
    exit hook leaves it alone (closing one half started failed an assertion there). Dask's
    warnings about the workers it loses on the way (an exit status "already read") are
    silenced from here on, and so is asyncio's report of a worker's start task that failed
    unseen ("Task exception was never retrieved ... Nanny failed to start", printed when
    the task is collected): the run is being stopped, and its output ends with its line."""
    logging.getLogger("distributed").setLevel(logging.ERROR)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    cluster.shutdown_on_close = False
    with contextlib.suppress(Exception):
        cluster.close(timeout=1)


def run(
    input: str | os.PathLike[str],
    out: str | os.PathLike[str],
    processors: Sequence[str] = ("callaudio",),
    *,
    configs: Mapping[str, ProcessingConfig] | None = None,
    client: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
    resume: bool = True,
    audio: bool = True,
    mos: bool = False,
    dashboard: bool = False,
    progress: bool = False,
    plots: bool = True,
    on_start: Callable[[int, int], None] | None = None,
    on_finish: Callable[[int], None] | None = None,
) -> Any:
    """Run a batch; returns every row of ``out``'s results as a ``pyarrow.Table``, with
    what was not measured, and why, in its schema metadata
    (:data:`~callaudio.batch.report.NOT_MEASURED_KEY`; ``out/summary.md`` lists it too).

    Parameters
    ----------
    input : path
        A manifest (CSV/JSONL) or a folder in an AEC Challenge layout (see
        :mod:`callaudio.batch.items`).
    out : path
        Output folder: ``results.parquet``, ``audio/<processor>/<id>.wav``.
    processors : names
        ``callaudio`` and the installed peers (``webrtc``, ``speex``); ``"all"``: every
        one installed here (those that are not are listed as not measured).
    configs : {name: ProcessingConfig}, optional
        callaudio's configurations (default: ``{"default": ProcessingConfig()}``).
    client : distributed.Client, optional
        Run on this client's cluster. Otherwise ``scheduler`` (an address) is connected
        to, or a local cluster of ``workers`` processes (default: one per core) is
        started on 127.0.0.1; ``workers=0`` runs in this process without Dask. At most
        :data:`MAX_WORKERS_PER_CORE` local workers per core (more only compete for them).
    resume : bool
        Skip the rows already in ``out``'s results (matched by id, processor and
        configuration name: error rows too). A configuration whose settings changed under
        its name is refused (ConfigError; the settings are kept in ``out/configs.json``):
        give it a new name or a new ``out``. When False, ``out`` must hold no results.
    audio : bool
        Write the processed audio.
    mos : bool
        Add DNSMOS and AECMOS (needs ``speechmos``; about a second per second of audio).
    progress : bool
        Show a progress line on stderr (items done, failed, ETA).
    plots : bool
        Write ``out/plots`` (with matplotlib) besides ``out/summary.md``.
    on_start : callable, optional
        Called with (items to run, items already done) before any task is submitted.
    on_finish : callable, optional
        Called with the number of rows this run wrote (one per job of each item run).
    """
    most = MAX_WORKERS_PER_CORE * (os.cpu_count() or 1)
    if workers is not None:
        whole = not isinstance(workers, bool) and isinstance(workers, numbers.Integral)
        if not whole or not 0 <= int(workers) <= most:  # numpy ints are whole numbers too
            raise ConfigError(
                "workers",
                f"workers is a whole number in 0..{most} ({MAX_WORKERS_PER_CORE} per core; "
                f"0: no Dask), not {workers!r}",
            )
        workers = int(workers)
    for name, flag in (
        ("resume", resume),
        ("audio", audio),
        ("mos", mos),
        ("dashboard", dashboard),
        ("progress", progress),
        ("plots", plots),
    ):
        check_flag(name, flag)
    for name, path in (("input", input), ("out", out)):
        try:  # (a __fspath__ that raises)
            plain = os.fspath(path) if isinstance(path, (str, os.PathLike)) else None
        except Exception:
            plain = None
        if not isinstance(plain, str):
            raise ConfigTypeError(name, f"must be a path (str or os.PathLike), got {path!r}")
    if scheduler is not None and not isinstance(scheduler, str):
        raise ConfigTypeError("scheduler", f"must be an address (str), got {scheduler!r}")
    if client is not None and not callable(getattr(client, "submit", None)):
        # (it failed with AttributeError once the run had started, its folder made)
        raise ConfigTypeError("client", f"must be a distributed.Client, got {client!r:.80}")
    for name, hook in (("on_start", on_start), ("on_finish", on_finish)):
        if hook is not None and not callable(hook):
            raise ConfigTypeError(name, f"must be callable or None, got {hook!r:.80}")
    if os.fspath(out) == "":  # abspath("") is the working folder: results among its files
        raise ConfigError("out", "the output folder is empty; give a folder")
    here = workers == 0 and client is None and scheduler is None
    pyarrow_modules()  # every package the run needs, before anything is written or announced
    if not here and client is None:
        _distributed()
    items = load_items(input)
    names, absent = _processor_names(processors)
    jobs = make_jobs(names, configs)
    if mos:
        missing = [m for m in MOS_MODULES if importlib.util.find_spec(m) is None]
        if missing:  # (speechmos declares none of the packages its modules import)
            raise ConfigError("mos", f"{MOS_HINT} (missing: {', '.join(missing)})")
    if dashboard and client is None and scheduler is None and not here:
        if importlib.util.find_spec("bokeh") is None:  # (Dask serves a page saying so)
            raise ConfigError("dashboard", "Dask's dashboard needs bokeh: pip install 'bokeh>=3.1'")
    out_dir = os.path.abspath(os.fspath(out))
    store = ResultsStore(out_dir)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ConfigError("out", f"{out_dir} exists and is not a folder")
    owned: list[Any] = []
    try:
        with _exclusive(out_dir):
            _check_layout(out_dir, plots)
            todo = _todo(items, jobs, store, resume, out_dir)
            store.remove_debris()
            if on_start is not None:
                on_start(len(todo), len(items) - len(todo))
            bar = Progress(len(todo), enabled=progress)
            if todo and here:
                _run_here(todo, out_dir, audio, mos, store, bar)
            elif todo:
                c, owned = _dask_client(client, scheduler, workers, dashboard)
                _run_dask(c, todo, out_dir, audio, mos, store, bar)
            if on_finish is not None:
                on_finish(store.appended)
            store.compact()
            table = store.read()
            skipped = not_measured(table, plots=plots, absent=absent, mos=mos)
            write_summary(table, out_dir, skipped)
            if plots:
                write_plots(table, out_dir)
    except KeyboardInterrupt:
        if owned:  # the local workers got the terminal's Ctrl-C too: Dask's warnings of them
            logging.getLogger("distributed").setLevel(logging.ERROR)  # going would follow
        raise
    finally:
        _close_owned(owned)
    return with_not_measured(table, skipped)


def _close_owned(owned: list[Any]) -> None:
    """Close the client and the local cluster this run made. Every row is written by then:
    a worker process slower than Dask's 4 s to exit (a loaded machine) is killed, and
    Dask's "Worker process still alive after 4.0 seconds, killing" warning printed after
    the run's last line, as if something had gone wrong. It is held back while they close
    (the logger's level is put back after)."""
    nanny = logging.getLogger("distributed.nanny")
    level = nanny.level
    if owned:
        nanny.setLevel(max(level, logging.ERROR))
    try:
        for obj in owned:
            obj.close()
    finally:
        nanny.setLevel(level)


def _todo(
    items: list[Item], jobs: list[Job], store: ResultsStore, resume: bool, out_dir: str
) -> list[tuple[Item, list[Job]]]:
    """The items with jobs left to run (each with those jobs)."""
    if store.exists() and not resume:
        raise ConfigError(
            "out",
            f"{out_dir} already holds results: resume them (--resume; resume=True in "
            "Python), or choose a new folder",
        )
    settings = _check_settings(jobs, store, out_dir)
    done = store.keys() if resume else set()
    if done:  # an id whose files changed: its old rows would pass for the new recording
        _check_files(items, store, out_dir)
    os.makedirs(out_dir, exist_ok=True)  # recorded once nothing is refused any more
    write_text(os.path.join(out_dir, SETTINGS_NAME), json.dumps(settings, indent=1, sort_keys=True))
    todo: list[tuple[Item, list[Job]]] = []
    for item in items:
        left = [j for j in jobs if (item.id, j.processor, j.config_name) not in done]
        if left:
            todo.append((item, left))
    return todo


def _check_files(items: list[Item], store: ResultsStore, out_dir: str) -> None:
    """Refuse to resume an item whose microphone, far-end, near-end or echo file is not
    the one its rows were computed from: its old rows would pass for the new recording.
    A file recorded as absent is not compared (rows of earlier releases recorded the
    microphone's only, so an absent far, near or echo file may be an unrecorded one)."""
    kinds = ("mic", "far", "near", "echo")
    was: dict[tuple[str, str], str] = {}
    for row in store.read().select(["id", *kinds]).to_pylist():
        for kind in kinds:
            if row[kind] is not None:
                was[(row["id"], kind)] = row[kind]
    for item in items:
        for kind in kinds:
            old, new = was.get((item.id, kind)), getattr(item, kind)
            if old is not None and old != new:
                now = f"{kind} {new}" if new is not None else f"no {kind} file"
                raise ConfigError(
                    "input",
                    f"item {item.id!r} now has {now}, its results in {out_dir} were "
                    f"computed from {old}; give it a new id, or choose a new folder",
                )


SETTINGS_NAME = "configs.json"
"""The file in a run's output folder holding each configuration's settings, by name."""


def _check_layout(out_dir: str, plots: bool) -> None:
    """What a run writes in ``out_dir`` under its own names is absent or of its kind,
    checked before any work: a folder named ``summary.md`` (or a file named
    ``results.parquet`` or ``plots``) failed the run once every item had run."""
    names = [("results.parquet", True), (SETTINGS_NAME, False), ("summary.md", False)]
    for name, folder in names + ([("plots", True)] if plots else []):
        path = os.path.join(out_dir, name)
        if os.path.lexists(path) and os.path.isdir(path) != folder:
            kind = "a folder" if folder else "a file"
            raise ConfigError("out", f"{path} is not {kind}; move it out of the folder")


def _settings(cfg: ProcessingConfig) -> Any:
    return json.loads(json.dumps(dataclasses.asdict(cfg), sort_keys=True, default=str))


def _check_settings(jobs: list[Job], store: ResultsStore, out_dir: str) -> dict[str, Any]:
    """Refuse to resume rows of a configuration whose settings changed under the same name
    (the summary would mix both); else the settings file's content with this run's added
    (the caller records it). Results written before the settings were recorded are taken
    as they are."""
    path = os.path.join(out_dir, SETTINGS_NAME)
    known: dict[str, Any] = {}
    if store.exists() and os.path.isfile(path):
        try:
            with open(path, encoding="utf-8") as fh:
                known = dict(json.load(fh)["configs"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError("out", f"{path}: damaged ({exc}); move it out of the folder") from exc
    now = {j.config_name: _settings(j.config) for j in jobs if j.config is not None}
    with_rows = {key[2] for key in store.keys()} if known else set()
    for name, settings in now.items():
        if name in known and name in with_rows and known[name] != settings:
            raise ConfigError(
                "config",
                f"configuration {name!r} has other settings than the results in {out_dir} "
                "were computed with; give it a new name, or choose a new folder",
            )
    known.update(now)
    return {"configs": known}


LOCK_NAME = ".callaudio-batch.lock"
"""The file in a run's output folder that one run at a time holds locked."""


@contextlib.contextmanager
def _exclusive(out_dir: str) -> Iterator[None]:
    """Hold ``out_dir`` for this run: a second run (another process, or another thread of
    this one) into the same folder gets a ConfigError instead of mixing their parts.

    The lock is the operating system's (``flock``; ``msvcrt.locking`` on Windows) on
    ``out_dir/.callaudio-batch.lock``: it dies with its process, so a killed run leaves no
    stale lock behind. On a network file system without locks the run proceeds unlocked.
    """
    created = not os.path.isdir(out_dir)
    path = os.path.join(out_dir, LOCK_NAME)
    try:
        os.makedirs(out_dir, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        why = exc.strerror or str(exc)
        if isinstance(exc, FileNotFoundError) and os.path.isdir(os.path.dirname(out_dir)):
            why = "its file system does not allow new files"  # (/proc, /sys: not ENOENT's)
        raise ConfigError("out", f"{out_dir}: cannot write in it ({why})") from exc
    try:
        try:
            _lock_fd(fd)
        except BlockingIOError as exc:
            raise ConfigError(
                "out",
                f"{out_dir} is in use by another batch run: wait for it, or choose a new folder",
            ) from exc
        except OSError:  # no locking on this file system
            pass
        try:
            yield
        except BaseException:
            # This run holds the folder: one that failed before writing anything leaves
            # no folder behind (a run refused above never removes anything).
            if created:
                with contextlib.suppress(OSError):
                    left = set(os.listdir(out_dir))
                    if left <= {LOCK_NAME, SETTINGS_NAME}:  # (the settings of this run)
                        for name in left:
                            os.unlink(os.path.join(out_dir, name))
                        os.rmdir(out_dir)
            raise
    finally:
        os.close(fd)  # releases the lock


def _lock_fd(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        msvcrt: Any = importlib.import_module("msvcrt")
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            raise BlockingIOError(str(exc)) from exc
        return
    fcntl: Any = importlib.import_module("fcntl")
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _run_here(
    todo: list[tuple[Item, list[Job]]],
    out_dir: str,
    audio: bool,
    mos: bool,
    store: ResultsStore,
    bar: Progress,
) -> None:
    failed = 0
    for n, (item, jobs) in enumerate(todo, start=1):
        rows = process_item(item, jobs, out_dir, audio=audio, mos=mos)
        store.append(rows)
        failed += _failed(rows)
        bar.update(n, failed)


def _run_dask(
    client: Any,
    todo: list[tuple[Item, list[Job]]],
    out_dir: str,
    audio: bool,
    mos: bool,
    store: ResultsStore,
    bar: Progress,
) -> None:
    as_completed: Any = importlib.import_module("distributed").as_completed
    futures = {}
    for item, jobs in todo:
        fut = client.submit(
            process_item,
            item,
            jobs,
            out_dir,
            audio=audio,
            mos=mos,
            pure=False,
            key=f"callaudio-item-{item.id}-{os.urandom(4).hex()}",
        )
        futures[fut] = (item, jobs)
    finished = failed = 0
    queue = as_completed(list(futures), with_results=False)
    for batch in queue.batches():
        rows: list[dict[str, Any]] = []
        for fut in batch:
            item, jobs = futures.pop(fut)
            try:
                got = fut.result()
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # a task Dask gave up on (KilledWorker, cancelled)
                got = _error_rows(item, jobs, exc)
            rows += got
            finished += 1
            failed += _failed(got)
        store.append(rows)
        bar.update(finished, failed)
