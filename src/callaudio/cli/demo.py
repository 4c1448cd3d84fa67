"""``callaudio demo``: a whole outgoing call on the simulated room, with a report.

The call and its metrics are :mod:`callaudio.cli.demo_call`; :mod:`callaudio.cli.report`
prints them and writes the report folder (WAV files, metrics.json, events.txt, PNG plots).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import SAMPLE_RATES
from ..errors import ConfigError, SoundFileError
from . import report
from .common import on_interrupt
from .demo_call import (
    FIRST_INTERRUPTION_S,
    GRACE_PERIOD_S,
    RESUMED,
    SECOND_INTERRUPTION_S,
    SEGMENTS,
    DemoRun,
    Segment,
    aligned_output,
    measure,
    run_call,
    segment_mask,
)
from .files import check_folder

__all__ = [
    "FIRST_INTERRUPTION_S",
    "GRACE_PERIOD_S",
    "RESUMED",
    "SECOND_INTERRUPTION_S",
    "SEGMENTS",
    "DemoRun",
    "Segment",
    "add_arguments",
    "aligned_output",
    "measure",
    "run",
    "run_call",
    "segment_mask",
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``callaudio demo``."""
    p.add_argument("--out", default="callaudio-demo", help="report folder (./callaudio-demo)")
    p.add_argument(
        "--rate", type=int, default=48000, choices=SAMPLE_RATES, help="sample rate (48000)"
    )
    p.add_argument("--seed", type=int, default=1, help="random seed of the scenario (1)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """A whole outgoing call on the simulated room, with the event log, metrics and a report."""
    if args.seed < 0:
        raise ConfigError("seed", f"must be a non-negative integer, got {args.seed}")
    check_folder(args.out)
    demo = run_call(int(args.rate), int(args.seed), quiet=args.quiet)
    metrics = measure(demo)
    unprinted: OSError | None = None
    try:
        report.print_report(demo, metrics)
    except BrokenPipeError:
        raise
    except OSError as exc:  # (stdout full or gone: the report folder is still written)
        unprinted = exc
    written = report.write_folder(Path(args.out), demo, metrics, plots=not args.no_plots)
    on_interrupt(lambda: f"the report in {args.out} is complete")
    try:
        if unprinted is not None:
            raise unprinted
        print()
        print(f"report: {args.out}/ ({', '.join(written)})")
    except BrokenPipeError:
        raise
    except OSError as exc:  # ("[Errno 28] ..." alone said nothing)
        raise SoundFileError(
            args.out,
            "unwritable",
            "the report is complete; the metrics could not be written to standard output "
            f"({exc.strerror or exc})",
        ) from exc
    return 0
