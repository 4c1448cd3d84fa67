"""``callaudio batch``: a corpus through callaudio (and its peers) on Dask.

See :mod:`callaudio.batch`. Exit status: 0 when every row is ``ok``, 3 when some items
failed (their rows hold the reasons), 1 for an error that stopped the run before it began.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..batch import ResultsStore, available
from ..batch import run as run_batch
from ..batch.report import skipped_in
from ..config import ProcessingConfig
from ..errors import ConfigError, SoundFileError
from .common import on_interrupt
from .process import load_config

__all__ = ["EXIT_ITEMS_FAILED", "add_arguments", "run"]

EXIT_ITEMS_FAILED = 3
"""Exit status of a run that finished with some items in error."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``callaudio batch``."""
    p.add_argument(
        "input",
        help="manifest (.csv/.jsonl: id, mic[, far, near, echo]) or a folder in an "
        "AEC Challenge layout",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--processors",
        default="callaudio",
        metavar="LIST",
        help="comma-separated: callaudio, webrtc, speex, or 'all' for every installed "
        f"one (here: {','.join(available())}); default: callaudio",
    )
    p.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="[NAME=]FILE",
        help="callaudio stage settings (TOML); repeat for several named configurations "
        "(default name: the file's stem)",
    )
    engine = p.add_mutually_exclusive_group()
    engine.add_argument(
        "--scheduler", metavar="ADDRESS", help="run on an existing Dask cluster (tcp://host:port)"
    )
    engine.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes of the local cluster (default: one per core; 0: run in "
        "this process without Dask)",
    )
    p.add_argument(
        "--dashboard", action="store_true", help="the local cluster's dashboard on 127.0.0.1:8787"
    )
    p.add_argument(
        "--resume", action="store_true", help="continue DIR's results: skip the rows there"
    )
    p.add_argument(
        "--mos",
        action="store_true",
        help="add DNSMOS and AECMOS (speechmos; about 1 s per second of audio)",
    )
    p.add_argument("--no-audio", dest="audio", action="store_false", help="no processed audio")
    p.add_argument("--no-plots", dest="plots", action="store_false", help="no DIR/plots")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=run)


def _configs(specs: list[str]) -> dict[str, ProcessingConfig] | None:
    if not specs:
        return None
    out: dict[str, ProcessingConfig] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = os.path.splitext(os.path.basename(spec))[0], spec
        if name in out:
            raise ConfigError("--config", f"configuration name {name!r} given twice")
        out[name] = load_config(path)
    return out


def _kept(out: str) -> str:
    """What an interrupted run leaves in ``out``."""
    if not os.path.isdir(out):
        return "nothing written"
    store = ResultsStore(out)
    done = len({key[0] for key in store.keys()}) if store.exists() else 0
    return f"{done} item{'' if done == 1 else 's'} done in {out}; --resume continues"


def run(args: argparse.Namespace) -> int:
    """Process a corpus (a manifest or an AEC Challenge folder) through callaudio and its
    peers, on a local Dask cluster or an existing one; results in DIR/results.parquet."""
    if args.workers is not None and args.workers < 0:
        raise ConfigError("--workers", f"must be >= 0, got {args.workers}")

    def started(todo: int, skipped: int) -> None:
        if not args.quiet:
            print(
                f"batch: {todo} items to run, {skipped} already in the results",
                file=sys.stderr,
                flush=True,
            )

    out = os.path.abspath(args.out)
    on_interrupt(lambda: _kept(out))
    written: list[int] = []
    table = run_batch(
        args.input,
        args.out,
        args.processors,
        configs=_configs(args.config),
        scheduler=args.scheduler,
        workers=args.workers,
        resume=args.resume,
        audio=args.audio,
        mos=args.mos,
        dashboard=args.dashboard,
        progress=not args.quiet,
        plots=args.plots,
        on_start=started,
        on_finish=written.append,
    )
    status = table.column("status").to_pylist()
    ids = table.column("id").to_pylist()
    bad = sorted({i for i, s in zip(ids, status, strict=True) if s != "ok"})
    lines = [
        f"callaudio batch: {len(set(ids))} items, {len(table)} rows ({written[0]} new) "
        f"-> {out}/results.parquet",
        f"  summary: {out}/summary.md",
    ]
    skipped = [f"{s.what} ({s.reason})" for s in skipped_in(table) if s.installable]
    if skipped:
        lines.append(f"  not measured here: {'; '.join(skipped)}")
    if bad:
        lines.append(
            f"  {len(bad)} item{'s' if len(bad) > 1 else ''} failed (status 'error'): "
            f"{', '.join(bad[:5])}" + (" ..." if len(bad) > 5 else "")
        )
    try:
        print("\n".join(lines), flush=True)
    except BrokenPipeError:
        raise
    except OSError as exc:  # (stdout full or gone: "[Errno 28] ..." alone said nothing)
        raise SoundFileError(
            out,
            "unwritable",
            "the results are complete; their closing lines could not be written to "
            f"standard output ({exc.strerror or exc})",
        ) from exc
    return EXIT_ITEMS_FAILED if bad else 0
