"""Concurrency stress of VoiceProcessor under its documented threading contract.

    python fuzz/stress_threads.py [--seconds S] [--rate R] [--channels C]

A render thread and a capture thread run one processor (what a duplex audio callback pair
does) while a third thread resets it, resets its echo path, changes its configuration
(apply_config) and reads its stats, and a fourth calls process_capture on the same
processor too (serialised by the contract). Exits 1 on any exception, non-finite or
out-of-range output, or insane stats; a crash shows as a signal. fuzz/run.py --asan runs
it on the ASan+UBSan build, where a use-after-free or a data-race-corrupted index would be
reported instead of passing silently.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import replace

import numpy as np

import callaudio as ca


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--rate", type=int, default=48000)
    ap.add_argument("--channels", type=int, default=1)
    args = ap.parse_args()
    rate, chans = args.rate, args.channels
    n = rate // 100
    rng = np.random.default_rng(1)
    frames = 100
    far = (0.3 * rng.standard_normal((frames, n))).astype(np.float32)
    mic = 0.5 * far[:, :, None] + 0.02 * rng.standard_normal((frames, n, chans))
    mic = mic.astype(np.float32) if chans > 1 else mic[:, :, 0].astype(np.float32)
    mic[7, : n // 3] = np.nan  # hostile values on the way, too
    mic[11] = 1e30
    base = ca.ProcessingConfig()
    configs = [
        base,
        replace(base, noise_suppressor=ca.NoiseSuppressorConfig(level_db=24.0)),
        replace(base, echo_canceller=ca.EchoCancellerConfig(enabled=False)),
        replace(base, echo_canceller=ca.EchoCancellerConfig(tail_ms=64.0)),
        replace(  # every config keeps the limiter on: outputs stay within full scale
            ca.ProcessingConfig.bypass(), gain_control=ca.GainControlConfig()
        ),
    ]
    vp = ca.VoiceProcessor(rate, channels=chans)
    stop = threading.Event()
    problems: list[str] = []
    counts = {"render": 0, "capture": 0, "other": 0, "meddle": 0}

    def guard(name: str, body: object) -> threading.Thread:
        def run() -> None:
            try:
                body()  # type: ignore[operator]
            except BaseException as e:  # every escape is a finding
                problems.append(f"{name}: {e!r}")
                stop.set()

        return threading.Thread(target=run, name=name)

    def render() -> None:
        k = 0
        while not stop.is_set():
            vp.process_render(far[k % frames])
            k += 1
            counts["render"] += 1

    def capture(name: str) -> object:
        def body() -> None:
            out = np.empty_like(mic[0])
            k = 0
            while not stop.is_set():
                vp.process_capture(mic[k % frames], out=out)
                if not np.all(np.isfinite(out)) or np.max(np.abs(out)) > 1.0:
                    problems.append(f"{name}: frame {k} out of range")
                    stop.set()
                k += 1
                counts[name] += 1

        return body

    def meddle() -> None:
        k = 0
        while not stop.is_set():
            op = k % 5
            if op == 0:
                vp.reset()
            elif op == 1:
                vp.reset_echo_path()
            elif op == 2:
                vp.apply_config(configs[(k // 5) % len(configs)])
            s = vp.stats
            if s.capture_frames < 0 or s.render_frames < 0 or s.latency_ms < 0:
                problems.append(f"meddle: insane stats {s}")
                stop.set()
            for v in (s.output_level_dbfs, s.gain_db, s.erle_db, s.delay_ms):
                if v is not None and not np.isfinite(v):
                    problems.append(f"meddle: non-finite stat in {s}")
                    stop.set()
            time.sleep(0.002)
            k += 1
            counts["meddle"] += 1

    threads = [
        guard("render", render),
        guard("capture", capture("capture")),
        guard("other", capture("other")),
        guard("meddle", meddle),
    ]
    for t in threads:
        t.start()
    stop.wait(args.seconds)
    stop.set()
    for t in threads:
        t.join()
    total = vp.stats.capture_frames
    if total != counts["capture"] + counts["other"]:
        problems.append(f"capture_frames {total} != calls {counts['capture'] + counts['other']}")
    print(f"stress_threads: {counts}, capture_frames={total}")
    for p in problems:
        print("FINDING:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
