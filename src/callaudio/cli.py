"""The ``callaudio`` command: ``demo``, ``process``, ``devices``, ``loopback``, ``bench``.

The first four live in :mod:`callaudio._cli_commands` (they drive the engine); ``bench`` is
here. Expected failures (a bad WAV file, a missing device, a bad option value) print one
``callaudio: error: ...`` line and exit 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np

from ._version import __version__


def _bench(args: argparse.Namespace) -> int:
    """Microseconds per 10 ms frame of each stage alone and of the whole chain."""
    import dataclasses

    from .config import ProcessingConfig
    from .processing import VoiceProcessor
    from .simulation import scenario

    full, off = ProcessingConfig(), ProcessingConfig.bypass()
    stages = ("high_pass", "echo_canceller", "noise_suppressor", "gain_control")
    configs = {name: dataclasses.replace(off, **{name: getattr(full, name)}) for name in stages}
    configs["whole chain"] = full
    configs["wrapper only"] = off
    print(
        f"callaudio {__version__} bench: us per 10 ms frame (best of {args.repeat} passes "
        "over a 16 s double-talk call; the real-time budget is 10000 us)"
    )
    rates = args.rates
    print(f"  {'stage':<18}" + "".join(f"{r // 1000:>9} kHz" for r in rates))
    results: dict[str, list[float]] = {name: [] for name in configs}
    for rate in rates:
        sc = scenario.double_talk(rate)  # 16 s: far single talk, double talk, near only
        n = rate // 100
        frames = sc.mic.size // n
        mic = sc.mic[: frames * n].reshape(frames, n)
        far = sc.far[: frames * n].reshape(frames, n)
        out = np.empty(n, np.float32)
        for name, cfg in configs.items():
            best = float("inf")
            for _ in range(args.repeat):
                vp = VoiceProcessor(rate, config=cfg)
                t0 = time.perf_counter()
                for k in range(frames):
                    vp.process_render(far[k])
                    vp.process_capture(mic[k], out=out)
                best = min(best, (time.perf_counter() - t0) / frames)
            results[name].append(1e6 * best)
    for name, values in results.items():
        print(f"  {name:<18}" + "".join(f"{v:>13.1f}" for v in values))
    print("  (pytest-benchmark with peer libraries side by side: make bench)")
    return 0


def _add_bench_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repeat", type=int, default=3, help="passes; the best counts (default 3)")
    p.add_argument(
        "--rates",
        type=int,
        nargs="+",
        default=[16000, 48000],
        choices=(16000, 32000, 48000),
        help="sample rates (default 16000 48000)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``callaudio`` command."""
    from ._cli_commands import register

    p = argparse.ArgumentParser(
        prog="callaudio",
        description="callaudio: the audio side of a voice call.",
    )
    p.add_argument("--version", action="version", version=f"callaudio {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    register(sub)
    b = sub.add_parser(
        "bench",
        help="us per 10 ms frame of each stage and the whole chain",
        description=_bench.__doc__,
    )
    _add_bench_arguments(b)
    b.set_defaults(func=_bench)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``callaudio`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one clear line, not a traceback, for expected failures
        from .errors import CallAudioError

        if isinstance(exc, (CallAudioError, OSError)):
            print(f"callaudio: error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    raise SystemExit(main())
