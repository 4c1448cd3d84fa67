"""Per-stage benchmarks: high-pass filter and gain control, microseconds per 10 ms frame.

Run with ``pytest bench/bench_stages.py`` (pytest-benchmark).  Each round processes one
second (100 frames) through the stage's nogil path in one call, so the Python call
overhead is amortised; ``extra_info["us_per_frame"]`` is the mean time per frame
(``us_per_frame_min`` the best
round's, less disturbed on a shared machine) and
``budget_fraction`` its share of the 10 ms real-time budget.  scipy.signal.sosfilt, fed
frame by frame with its state carried, runs beside the high-pass filter as a peer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.signal

from callaudio._dsp.agc import GainControl
from callaudio._dsp.hpf import HighPass
from callaudio.simulation import speech_like

RATES = [pytest.param(16000, id="16k"), pytest.param(48000, id="48k")]
FRAMES = 100  # one second per round


def _speech(rate: int) -> np.ndarray:
    x = speech_like(FRAMES / 100, rate, level_dbfs=-30.0, seed=1)
    noise = 10 ** (-70 / 20) * np.random.default_rng(2).standard_normal(x.size)
    return (x + noise).astype(np.float32)


def _report(benchmark: Any) -> None:
    us = benchmark.stats.stats.mean * 1e6 / FRAMES
    benchmark.extra_info["us_per_frame"] = round(us, 3)
    benchmark.extra_info["us_per_frame_min"] = round(benchmark.stats.stats.min * 1e6 / FRAMES, 3)
    benchmark.extra_info["budget_fraction"] = round(us / 10_000.0, 6)


@pytest.mark.benchmark(group="hpf")
@pytest.mark.parametrize("order", [2, 4], ids=["order2", "order4"])
@pytest.mark.parametrize("rate", RATES)
def test_hpf(benchmark: Any, rate: int, order: int) -> None:
    hp = HighPass(rate, 80.0, order)
    x = _speech(rate)
    y = benchmark(hp.process, x)
    assert y.shape == x.shape
    _report(benchmark)


@pytest.mark.benchmark(group="hpf")
@pytest.mark.parametrize("rate", RATES)
def test_hpf_peer_scipy_sosfilt_per_frame(benchmark: Any, rate: int) -> None:
    sos = scipy.signal.butter(2, 80.0, "highpass", fs=rate, output="sos")
    frames = _speech(rate).reshape(FRAMES, rate // 100)
    zi = np.zeros((sos.shape[0], 2))

    def run() -> np.ndarray:
        nonlocal zi
        out = np.empty_like(frames)
        for i, f in enumerate(frames):
            out[i], zi = scipy.signal.sosfilt(sos, f, zi=zi)
        return out

    benchmark(run)
    _report(benchmark)


@pytest.mark.benchmark(group="agc")
@pytest.mark.parametrize("rate", RATES)
def test_agc(benchmark: Any, rate: int) -> None:
    gc = GainControl(rate)
    x = _speech(rate)
    gc.process_signal(x)  # warm: level and noise floor known, gain settled
    y = benchmark(gc.process_signal, x)
    assert y.shape == x.shape
    _report(benchmark)


@pytest.mark.benchmark(group="agc")
@pytest.mark.parametrize("rate", RATES)
def test_agc_silence(benchmark: Any, rate: int) -> None:
    # Digital silence must cost the same as speech (no denormal slow path).
    gc = GainControl(rate)
    x = np.zeros(FRAMES * (rate // 100), dtype=np.float32)
    benchmark(gc.process_signal, x)
    _report(benchmark)


@pytest.mark.benchmark(group="agc")
@pytest.mark.parametrize("rate", RATES)
def test_agc_python_per_frame_call(benchmark: Any, rate: int) -> None:
    # The Python-facing process() per frame (validation + a new array): call overhead.
    gc = GainControl(rate)
    frames = _speech(rate).reshape(FRAMES, rate // 100)

    def run() -> None:
        for f in frames:
            gc.process(f)

    benchmark(run)
    _report(benchmark)
