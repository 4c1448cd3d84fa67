"""Noise suppressor benchmark: microseconds per 10 ms frame, PESQ gain and latency, peers
side by side on the same frames.

Run with ``pytest bench/bench_ns.py`` (pytest-benchmark).  Every processor gets the same
scenario: a recorded talker in pink noise at 5 dB SNR (``callaudio.simulation``), 8 s.
A round processes its first second (100 frames); ``extra_info`` holds

* ``us_per_frame`` (mean) / ``us_per_frame_min`` (best round) and ``budget_fraction``;
* ``latency_ms``: the lag (0..40 ms) that maximises the cross-correlation of output and
  input, i.e. the measured algorithmic delay;
* ``pesq_noisy`` / ``pesq_out`` / ``pesq_gain``: wideband PESQ against the clean speech
  (48 kHz resampled to 16 kHz), the output aligned by its measured latency;
* ``stoi_delta``: STOI(out) - STOI(noisy).

Peers, each skipped when it does not install: WebRTC NS (``webrtc-noise-gain``, 16 kHz
only, level 2 = 12 dB, AGC off; its high-pass filter stays on), SpeexDSP's preprocessor
denoiser (``speexdsp-ns``, its default -15 dB), RNNoise (``pyrnnoise``, 48 kHz only, calls
``rnnoise_process_frame`` through ctypes).  Peers take int16 frames, which is their
native interface; the conversion is part of their time.

``test_ns_quality_table`` regenerates issue 16's NS table on the scenarios of
``tests/ns_sweep.py`` (babble, cafe, air-con, car, keyboard, street, a car -> cafe switch at
10 and 20 dB; talkers incl. espeak-ng voices; two seeds; 16 and 48 kHz): PESQ gain, STOI
change, DNSMOS OVRL gain and noise attenuation per processor, all on the same signals; the
rows land in ``extra_info["rows"]`` (``python tests/ns_sweep.py`` prints the same table).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from callaudio._dsp.ns import NoiseSuppressor
from callaudio.simulation.noise import make_noise, mix_at_snr
from callaudio.simulation.resample import resample
from callaudio.simulation.speech import load_talker

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Runner = Callable[[F32], F32]

RATES = [pytest.param(16000, id="16k"), pytest.param(48000, id="48k")]
FRAMES = 100  # one second per round
SECONDS = 8.0
MAX_LAG_S = 0.04


@cache
def scenario(rate: int) -> tuple[F32, F32]:
    """(clean, noisy) float32, whole frames, pink noise at 5 dB SNR."""
    s = load_talker(0, rate, SECONDS, seed=0)
    n = rate // 100
    s = np.asarray(s[: s.size // n * n], dtype=np.float32)
    noise = make_noise("pink", s.size / rate, rate, seed=7)[: s.size]
    x, _ = mix_at_snr(s, noise, 5.0, rate)
    return s, np.ascontiguousarray(x, dtype=np.float32)


def _to16k(x: F64, rate: int) -> F64:
    return x if rate == 16000 else np.asarray(resample(x, rate, 16000), dtype=np.float64)


def _lag(x: F32, y: F32, rate: int) -> int:
    """Delay of y behind x in samples (argmax of the cross-correlation, 0..MAX_LAG_S)."""
    m = int(MAX_LAG_S * rate)
    a = x.astype(np.float64)
    b = y.astype(np.float64)
    n = a.size - m
    c = [float(np.dot(a[:n], b[k : k + n])) for k in range(m)]
    return int(np.argmax(c))


def _quality(benchmark: Any, run: Runner, rate: int) -> None:
    """Process the whole scenario once and store latency, PESQ and STOI in extra_info."""
    pesq = pytest.importorskip("pesq")
    pystoi = pytest.importorskip("pystoi")
    clean, noisy = scenario(rate)
    out = run(noisy)
    d = _lag(noisy, out, rate)
    n = out.size - d
    s = _to16k(clean[:n].astype(np.float64), rate)
    x = _to16k(noisy[:n].astype(np.float64), rate)
    y = _to16k(out[d:].astype(np.float64), rate)
    p_in = float(pesq.pesq(16000, s, x, "wb"))
    p_out = float(pesq.pesq(16000, s, y, "wb"))
    info = benchmark.extra_info
    info["latency_ms"] = round(1000.0 * d / rate, 3)
    info["pesq_noisy"] = round(p_in, 3)
    info["pesq_out"] = round(p_out, 3)
    info["pesq_gain"] = round(p_out - p_in, 3)
    info["stoi_delta"] = round(pystoi.stoi(s, y, 16000) - pystoi.stoi(s, x, 16000), 4)


def _timed(benchmark: Any, run: Runner, rate: int) -> None:
    x = scenario(rate)[1][: FRAMES * (rate // 100)]
    y = benchmark(run, x)
    assert y.shape == x.shape and np.all(np.isfinite(y))
    us = benchmark.stats.stats.mean * 1e6 / FRAMES
    benchmark.extra_info["us_per_frame"] = round(us, 3)
    benchmark.extra_info["us_per_frame_min"] = round(benchmark.stats.stats.min * 1e6 / FRAMES, 3)
    benchmark.extra_info["budget_fraction"] = round(us / 10_000.0, 6)


# -- callaudio -------------------------------------------------------------------------


@pytest.mark.benchmark(group="ns")
@pytest.mark.parametrize("hops", [1, 2, 4], ids=lambda h: f"hops{h}")
@pytest.mark.parametrize("rate", RATES)
def test_ns_callaudio(benchmark: Any, rate: int, hops: int) -> None:
    """callaudio NS, default level 12 dB; hops_per_frame 2 (5 ms latency) is the default."""
    ns = NoiseSuppressor(rate, 12.0, hops)

    def run(x: F32) -> F32:
        ns.reset()
        return ns.process_signal(x)

    _timed(benchmark, run, rate)
    _quality(benchmark, run, rate)


@pytest.mark.benchmark(group="ns")
@pytest.mark.parametrize("rate", RATES)
def test_ns_callaudio_per_frame_python_loop(benchmark: Any, rate: int) -> None:
    """The same stage called once per frame from Python (as the peers are)."""
    ns = NoiseSuppressor(rate)
    n = rate // 100

    def run(x: F32) -> F32:
        ns.reset()
        return np.concatenate([ns.process(x[i : i + n]) for i in range(0, x.size, n)])

    _timed(benchmark, run, rate)


# -- peers -----------------------------------------------------------------------------


def _int16(x: F32) -> npt.NDArray[np.int16]:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


@pytest.mark.benchmark(group="ns")
@pytest.mark.parametrize("rate", [pytest.param(16000, id="16k")])
def test_ns_peer_webrtc_noise_gain(benchmark: Any, rate: int) -> None:
    wng = pytest.importorskip("webrtc_noise_gain")
    n = rate // 100

    def run(x: F32) -> F32:
        ap = wng.AudioProcessor(0, 2)
        pcm = _int16(x)
        out = [
            np.frombuffer(ap.Process10ms(pcm[i : i + n].tobytes()).audio, dtype=np.int16)
            for i in range(0, pcm.size, n)
        ]
        return (np.concatenate(out) / 32768.0).astype(np.float32)

    _timed(benchmark, run, rate)
    _quality(benchmark, run, rate)


@pytest.mark.benchmark(group="ns")
@pytest.mark.parametrize("rate", RATES)
def test_ns_peer_speexdsp(benchmark: Any, rate: int) -> None:
    sx = pytest.importorskip("speexdsp_ns")
    n = rate // 100

    def run(x: F32) -> F32:
        ns = sx.NoiseSuppression.create(n, rate)
        pcm = _int16(x)
        out = [
            np.frombuffer(ns.process(pcm[i : i + n].tobytes()), dtype=np.int16)
            for i in range(0, pcm.size, n)
        ]
        return (np.concatenate(out) / 32768.0).astype(np.float32)

    _timed(benchmark, run, rate)
    _quality(benchmark, run, rate)


@pytest.mark.benchmark(group="ns")
@pytest.mark.parametrize("rate", [pytest.param(48000, id="48k")])
def test_ns_peer_rnnoise(benchmark: Any, rate: int) -> None:
    rn = pytest.importorskip("pyrnnoise.rnnoise")
    n = rate // 100
    assert n == rn.FRAME_SIZE

    def run(x: F32) -> F32:
        state = rn.create()
        try:
            buf = (np.round(x * 32768.0)).astype(np.float32)  # RNNoise works in int16 scale
            out = np.empty_like(buf)
            frame = np.empty(n, dtype=np.float32)
            ptr = frame.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            for i in range(0, buf.size, n):
                frame[:] = buf[i : i + n]
                rn.lib.rnnoise_process_frame(state, ptr, ptr)
                out[i : i + n] = frame
        finally:
            rn.destroy(state)
        return (out / 32768.0).astype(np.float32)

    _timed(benchmark, run, rate)
    _quality(benchmark, run, rate)


# -- the quality table of issue 16 -------------------------------------------------------


@pytest.mark.benchmark(group="ns-quality")
def test_ns_quality_table(benchmark: Any) -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import ns_sweep

    rows = benchmark.pedantic(ns_sweep.table, rounds=1, iterations=1)
    benchmark.extra_info["rows"] = [
        {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in rows
    ]
    assert any(r["processor"] == "callaudio" for r in rows)
