"""Per-frame cost of the whole chain and each stage against WebRTC APM and SpeexDSP.

Run as a script (not part of any test run): ``python bench/bench_speed.py [--rounds R]``.
Self-contained: it builds its own peer steps (livekit's ``AudioProcessingModule`` = WebRTC
AEC3 + NS + AGC2 + HPF, ``pywebrtc-audio``'s ``AudioProcessor``, ``speexdsp`` echo
canceller and ``speexdsp-ns``) from pre-converted frames, so no conversion is timed. Every
contender processes the same double-talk scenario; the contenders run interleaved in
blocks of ``BLOCK`` frames, round after round (in a new seeded random order each round), so
machine noise and cold caches hit them alike. Each frame is timed on its own
(``perf_counter_ns``): the table gives the median and the p99 per-frame time in
microseconds, p99 / median, ``warm`` (p99 / median without the first frame of each block:
that frame follows another contender and finds its state out of the caches), ``cold`` (the
median of those first frames, us) and the ratio of the median to WebRTC APM's (livekit)
whole chain at the same rate. ``callaudio chain (compiled)`` is
``Chain.process_block`` over the signal (no Python per frame: the mean only).
``stereo/mono`` is the two-channel capture's median over the mono one's.
"""

from __future__ import annotations

import argparse
import importlib
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import callaudio as ca
from callaudio._dsp.pipeline import Chain
from callaudio.simulation import scenario as scn

BLOCK = 25
Step = Callable[[int], Any]


def _i16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def _frames(rate: int, seconds: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    res = scn.double_talk(rate)
    n = rate // 100
    k = min(len(res.mic), round(seconds * rate)) // n
    mic = np.ascontiguousarray(res.mic[: k * n], np.float32).reshape(k, n)
    far = np.ascontiguousarray(res.far[: k * n], np.float32).reshape(k, n)
    return mic, far


def contenders(rate: int, mic: np.ndarray, far: np.ndarray) -> dict[str, Step]:
    n = rate // 100
    out: dict[str, Step] = {}
    buf = np.empty(n, np.float32)

    vp = ca.VoiceProcessor(rate)

    def ca_chain(k: int) -> None:
        vp.process_render(far[k])
        vp.process_capture(mic[k], out=buf)

    out["callaudio chain (VoiceProcessor)"] = ca_chain

    vpf = ca.VoiceProcessor(rate)

    def ca_fast(k: int) -> None:
        vpf.process_render_fast(far[k])
        vpf.process_capture_fast(mic[k], buf)

    out["callaudio chain (fast path)"] = ca_fast
    cfg = ca.ProcessingConfig()
    stages = ("high_pass", "echo_canceller", "noise_suppressor", "gain_control")
    whole = Chain(rate, **{name: getattr(cfg, name).kwargs() for name in stages})

    def ca_bare(k: int) -> None:
        whole.render(far[k])
        whole.capture(mic[k], buf)

    out["callaudio chain (Chain)"] = ca_bare
    for name in stages:
        ch = Chain(rate, **{name: getattr(cfg, name).kwargs()})

        def stage(k: int, ch: Chain = ch) -> None:
            ch.render(far[k])
            ch.capture(mic[k], buf)

        out[f"callaudio {name} (Chain)"] = stage

    stereo = ca.VoiceProcessor(rate, channels=2)
    mic2 = np.ascontiguousarray(np.stack([mic, 0.9 * mic], axis=2))
    buf2 = np.empty((n, 2), np.float32)

    def ca_stereo(k: int) -> None:
        stereo.process_render(far[k])
        stereo.process_capture(mic2[k], out=buf2)

    out["callaudio chain stereo"] = ca_stereo

    mic16, far16 = _i16(mic), _i16(far)
    try:
        rtc = importlib.import_module("livekit.rtc")
        for label, feats in (
            (
                "webrtc-apm chain (livekit)",
                dict(
                    echo_cancellation=True,
                    noise_suppression=True,
                    high_pass_filter=True,
                    auto_gain_control=True,
                ),
            ),
            ("webrtc-apm aec (livekit)", dict(echo_cancellation=True)),
            ("webrtc-apm ns (livekit)", dict(noise_suppression=True)),
        ):
            apm = rtc.AudioProcessingModule(**feats)
            nf = rtc.AudioFrame.create(rate, 1, n)
            ff = rtc.AudioFrame.create(rate, 1, n)
            nv = np.frombuffer(nf.data, dtype=np.int16)
            fv = np.frombuffer(ff.data, dtype=np.int16)

            def lk(
                k: int, apm: Any = apm, nf: Any = nf, ff: Any = ff, nv: Any = nv, fv: Any = fv
            ) -> None:
                fv[:] = far16[k]
                apm.process_reverse_stream(ff)
                nv[:] = mic16[k]
                apm.process_stream(nf)

            out[label] = lk
        apm2 = rtc.AudioProcessingModule(
            echo_cancellation=True,
            noise_suppression=True,
            high_pass_filter=True,
            auto_gain_control=True,
        )
        nf2 = rtc.AudioFrame.create(rate, 2, n)
        ff2 = rtc.AudioFrame.create(rate, 1, n)
        nv2 = np.frombuffer(nf2.data, dtype=np.int16).reshape(n, 2)
        fv2 = np.frombuffer(ff2.data, dtype=np.int16)

        def lk2(k: int) -> None:
            fv2[:] = far16[k]
            apm2.process_reverse_stream(ff2)
            nv2[:, 0] = mic16[k]
            nv2[:, 1] = mic16[k]
            apm2.process_stream(nf2)

        out["webrtc-apm chain stereo (livekit)"] = lk2
    except ImportError:
        pass
    try:
        pw = importlib.import_module("pywebrtc_audio")
        ap = pw.AudioProcessor(
            rate,
            1,
            echo_cancellation=True,
            noise_suppression=True,
            high_pass_filter=True,
            auto_gain_control=True,
            ns_level=1,
        )

        def pwc(k: int) -> None:
            ap.process(mic[k], far[k])

        out["webrtc-apm chain (pywebrtc-audio)"] = pwc
    except ImportError:
        pass
    try:
        sp = importlib.import_module("speexdsp")
        sx = importlib.import_module("speexdsp_ns")
        ec = sp.EchoCanceller.create(n, round(0.3 * rate), rate)
        nsx = sx.NoiseSuppression.create(n, rate)
        mb = [f.tobytes() for f in mic16]
        fb = [f.tobytes() for f in far16]

        def spx(k: int) -> None:
            nsx.process(ec.process(mb[k], fb[k]))

        out["speexdsp aec+ns"] = spx
    except ImportError:
        pass
    return out


def measure(
    rate: int, rounds: int, only: tuple[str, ...] = ()
) -> list[tuple[str, float, float, float, float, float]]:
    mic, far = _frames(rate)
    steps = contenders(rate, mic, far)
    if only:
        steps = {k: v for k, v in steps.items() if any(o in k for o in only)}
    times: dict[str, list[int]] = {k: [] for k in steps}
    # the first frame of each block follows another contender: its caches are cold
    first: dict[str, list[int]] = {k: [] for k in steps}
    frames = mic.shape[0]
    pos = 0
    clock = time.perf_counter_ns
    order = list(steps.items())
    shuffle = random.Random(0).shuffle
    for _ in range(rounds):
        # a new order each round: a contender run right after a large one finds its state
        # out of the caches, so none may always take the same place
        shuffle(order)
        for name, step in order:
            t = times[name]
            for j in range(BLOCK):
                k = (pos + j) % frames
                t0 = clock()
                step(k)
                t.append(clock() - t0)
                if j == 0:
                    first[name].append(t[-1])
        pos = (pos + BLOCK) % frames
    rows = []
    for name, t in times.items():
        t = t[BLOCK:]  # the first block warms up
        warm = [v for i, v in enumerate(t) if i % BLOCK]
        med = statistics.median(t) / 1000.0
        p99 = float(np.percentile(t, 99)) / 1000.0
        p99w = float(np.percentile(warm, 99)) / 1000.0
        cold = statistics.median(first[name][1:]) / 1000.0
        rows.append((name, med, p99, p99 / med, p99w / med, cold))
    return rows


def profile(rate: int, repeats: int = 7) -> tuple[float, float, int]:
    """The chain's own frame-to-frame variation: the same frames through a fresh
    ``VoiceProcessor`` ``repeats`` times, each frame's time the minimum over the repeats
    (machine noise -- preemption, other processes -- only adds), then (median, p99, the
    frame index of the maximum) of that per-frame profile in microseconds."""
    mic, far = _frames(rate)
    buf = np.empty(rate // 100, np.float32)
    best = np.full(len(mic), np.inf)
    for _ in range(repeats):
        vp = ca.VoiceProcessor(rate)
        for k in range(len(mic)):
            t0 = time.perf_counter_ns()
            vp.process_render(far[k])
            vp.process_capture(mic[k], out=buf)
            best[k] = min(best[k], (time.perf_counter_ns() - t0) / 1000.0)
        vp.close()
    return float(np.median(best)), float(np.percentile(best, 99)), int(np.argmax(best))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--rates", default="16000,32000,48000")
    ap.add_argument(
        "--profile",
        action="store_true",
        help="only the per-frame cost profile of VoiceProcessor (p99 / median without "
        "machine noise: each frame's minimum over 7 runs of the same frames)",
    )
    ap.add_argument(
        "--only",
        default="",
        help="comma-separated substrings: time only the contenders whose name holds one "
        "(e.g. 'VoiceProcessor),chain stereo' for the stereo/mono rows)",
    )
    ap.add_argument(
        "--max-stereo-ratio",
        type=float,
        default=0.0,
        help="exit with status 1 when callaudio's stereo/mono median ratio exceeds this "
        "at any rate (issue 17: 1.6; e.g. with --only 'VoiceProcessor),callaudio chain "
        "stereo')",
    )
    args = ap.parse_args()
    failed = False
    only = tuple(o for o in args.only.split(",") if o)
    if args.profile:
        for rate in (int(r) for r in args.rates.split(",")):
            med, p99, worst = profile(rate)
            print(
                f"{rate} Hz VoiceProcessor profile: median {med:.1f} us, p99 {p99:.1f} us, "
                f"p99/median {p99 / med:.2f} (slowest frame: #{worst})"
            )
        return
    for rate in (int(r) for r in args.rates.split(",")):
        rows = measure(rate, args.rounds, only)
        ref = {r[0]: r[1] for r in rows}
        base = ref.get("webrtc-apm chain (livekit)", float("nan"))
        print(f"\n{rate} Hz, us per 10 ms frame (ratio: median / WebRTC APM chain)")
        print(
            f"{'':38s} {'median':>8s} {'p99':>8s} {'p99/med':>8s} {'warm':>6s} "
            f"{'cold':>7s} {'ratio':>7s}"
        )
        for name, med, p99, pr, prw, cold in rows:
            print(
                f"{name:38s} {med:8.1f} {p99:8.1f} {pr:8.2f} {prw:6.2f} {cold:7.1f} "
                f"{med / base:7.2f}"
            )
        s, m = ref.get("callaudio chain stereo"), ref.get("callaudio chain (VoiceProcessor)")
        if s and m:
            print(f"callaudio stereo/mono: {s / m:.2f}", end="")
            failed = failed or 0.0 < args.max_stereo_ratio < s / m
        s, m = ref.get("webrtc-apm chain stereo (livekit)"), ref.get("webrtc-apm chain (livekit)")
        if s and m:
            print(f"   webrtc-apm stereo/mono: {s / m:.2f}")
        print()
    if failed:
        raise SystemExit(f"callaudio stereo/mono above {args.max_stereo_ratio}")


if __name__ == "__main__":
    main()
