"""``callaudio bench``: microseconds per 10 ms frame of each stage and of the whole chain."""

from __future__ import annotations

import argparse
import time

import numpy as np

from .._version import __version__
from ..config import SAMPLE_RATES

__all__ = ["add_arguments", "run"]


def run(args: argparse.Namespace) -> int:
    """Microseconds per 10 ms frame of each stage alone and of the whole chain."""
    import dataclasses

    from ..config import ProcessingConfig
    from ..processing import VoiceProcessor
    from ..simulation import scenario

    full, off = ProcessingConfig(), ProcessingConfig.bypass()
    stages = ("high_pass", "echo_canceller", "noise_suppressor", "gain_control")
    configs = {name: dataclasses.replace(off, **{name: getattr(full, name)}) for name in stages}
    configs["whole chain"] = full
    configs["wrapper only"] = off
    print(
        f"callaudio {__version__} bench: us per 10 ms frame ("
        + ("one pass" if args.repeat == 1 else f"best of {args.repeat} passes")
        + " over a 16 s double-talk call; the real-time budget is 10000 us)"
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


def _passes(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be within 1..100, got {value}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``callaudio bench``."""
    p.add_argument(
        "--repeat", type=_passes, default=3, help="passes, 1..100; the best counts (default 3)"
    )
    p.add_argument(
        "--rates",
        type=int,
        nargs="+",
        default=[16000, 48000],
        choices=SAMPLE_RATES,
        help="sample rates (default 16000 48000)",
    )
    p.set_defaults(func=run)
