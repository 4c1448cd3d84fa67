"""Denormals: per-frame cost of silence and of -120 dBFS noise after loud speech.

Every compiled stage (high-pass, echo canceller, noise suppressor, gain control) runs as
one ``Chain`` at 48 kHz. Phases on one chain: 10 s of loud double talk (far -16 dBFS, near
-20 dBFS, echo 50 ms late at -6 dB), then ``SILENCE_S`` of digital silence on both streams,
then ``NOISE_S`` of -120 dBFS white noise on both. Target: each quiet phase costs at most
1.5x the speech phase per frame, i.e. no decay into subnormal arithmetic.

Two reports:

* pytest-benchmark (``make bench``): microseconds per 10 ms frame for a block of frames of
  each phase, run on a chain that has been through the phases before it; ``extra_info``
  holds the in-run ratio.
* ``python bench/bench_denormals.py [seconds]``: the ratio of one run, measured in CPU time
  (``time.process_time_ns``) over blocks of 50 frames, minimum per phase (interference on
  a shared machine only ever adds time), quiet phases over their last quarter.

Note on this machine (AMD EPYC, Zen): arithmetic on subnormals costs little here, so the
ratio is a weak detector; the state checks in tests/reliability/test_denormals.py are the
strong one. On Intel cores a subnormal multiply costs ~100 cycles and the ratio would show.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from callaudio._dsp.pipeline import Chain
from callaudio.config import (
    EchoCancellerConfig,
    GainControlConfig,
    HighPassConfig,
    NoiseSuppressorConfig,
)

RATE = 48000
N = RATE // 100
BLOCK = 50
SPEECH_S = 10.0
SILENCE_S = 180.0
NOISE_S = 180.0
TARGET = 1.5


def _chain() -> Chain:
    return Chain(
        RATE,
        high_pass=HighPassConfig().kwargs(),
        echo_canceller=EchoCancellerConfig().kwargs(),
        noise_suppressor=NoiseSuppressorConfig().kwargs(),
        gain_control=GainControlConfig().kwargs(),
    )


def _signals(speech_s: float, silence_s: float, noise_s: float) -> dict[str, tuple]:
    from callaudio.simulation import speech_like

    far = speech_like(speech_s, RATE, level_dbfs=-16.0, seed=7, talker=0)
    near = speech_like(speech_s, RATE, level_dbfs=-20.0, seed=8, talker=1)
    d = RATE // 20
    mic = (near + np.concatenate([np.zeros(d, np.float32), 0.5 * far[:-d]])).astype(np.float32)
    zeros = np.zeros(round(silence_s * RATE), np.float32)
    rng = np.random.default_rng(7)
    m = round(noise_s * RATE)
    return {
        "speech": (mic, far.astype(np.float32)),
        "silence": (zeros, zeros),
        "noise": (
            (1e-6 * rng.standard_normal(m)).astype(np.float32),
            (1e-6 * rng.standard_normal(m)).astype(np.float32),
        ),
    }


def _run(chain: Chain, mic: np.ndarray, far: np.ndarray) -> np.ndarray:
    out = np.empty(BLOCK * N, np.float32)
    costs = []
    for k in range(0, mic.size // N - BLOCK + 1, BLOCK):
        sl = slice(k * N, (k + BLOCK) * N)
        t0 = time.process_time_ns()
        chain.process_block(mic[sl], out, far[sl], 0, 1, 1)
        costs.append((time.process_time_ns() - t0) / BLOCK / 1000.0)
    return np.asarray(costs)


def measure(speech_s: float = SPEECH_S, silence_s: float = SILENCE_S,
            noise_s: float = NOISE_S) -> dict[str, float]:
    """Per-frame CPU cost of each phase (us) and the two ratios, from one run."""
    sig = _signals(speech_s, silence_s, noise_s)
    chain = _chain()
    res: dict[str, float] = {}
    for name in ("speech", "silence", "noise"):
        c = _run(chain, *sig[name])
        res[name] = float(c.min() if name == "speech" else c[3 * c.size // 4 :].min())
    res["silence_ratio"] = res["silence"] / res["speech"]
    res["noise_ratio"] = res["noise"] / res["speech"]
    return res


_PREPARED: dict[str, tuple] = {}


def _prepared(phase: str) -> tuple[Chain, np.ndarray, np.ndarray, dict[str, float]]:
    """A chain that went through every phase up to and including ``phase``."""
    if phase not in _PREPARED:
        sig = _signals(SPEECH_S, SILENCE_S, NOISE_S)
        chain = _chain()
        costs: dict[str, float] = {}
        for name in ("speech", "silence", "noise"):
            c = _run(chain, *sig[name])
            costs[name] = float(c.min() if name == "speech" else c[3 * c.size // 4 :].min())
            if name == phase:
                break
        mic, far = sig[phase]
        _PREPARED[phase] = (chain, mic[-BLOCK * N :].copy(), far[-BLOCK * N :].copy(), costs)
    return _PREPARED[phase]


@pytest.mark.parametrize("phase", ["speech", "silence", "noise"])
@pytest.mark.benchmark(group="denormals-48k")
def test_denormals_per_block(benchmark, phase):
    """us per 50-frame block of ``phase`` on a chain with the preceding history."""
    chain, mic, far, costs = _prepared(phase)
    out = np.empty_like(mic)
    benchmark.extra_info["frames_per_round"] = BLOCK
    benchmark.extra_info["in_run_us_per_frame"] = costs
    if phase != "speech" and "speech" in costs:
        benchmark.extra_info["ratio_to_speech"] = costs[phase] / costs["speech"]
    benchmark.pedantic(
        lambda: chain.process_block(mic, out, far, 0, 1, 1), rounds=40, iterations=1,
        warmup_rounds=2,
    )


if __name__ == "__main__":
    quiet = float(sys.argv[1]) if len(sys.argv) > 1 else SILENCE_S
    r = measure(SPEECH_S, quiet, quiet)
    print(f"48 kHz, all compiled stages, {quiet:.0f} s of silence and of -120 dBFS noise")
    for name in ("speech", "silence", "noise"):
        print(f"  {name:8s} {r[name]:8.1f} us/frame (CPU time, min over 50-frame blocks)")
    for name in ("silence", "noise"):
        ok = "ok" if r[f"{name}_ratio"] <= TARGET else "OVER TARGET"
        print(f"  {name}/speech = {r[name + '_ratio']:.2f}x  (target <= {TARGET}x) {ok}")
