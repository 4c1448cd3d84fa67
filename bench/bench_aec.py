"""Echo canceller benchmark: microseconds per 10 ms frame, ERLE and double-talk near-end
loss, peers side by side on the same frames.

Run with ``pytest bench/bench_aec.py`` (pytest-benchmark; ``-s`` shows the table).  Every
processor gets the same scenarios from :mod:`callaudio.simulation` (seed 0):

* ``far_single_talk`` with a 100 ms and a 600 ms bulk delay: ERLE, the median over 50 ms
  frames after the first second (``metrics.erle_db``);
* ``double_talk`` (16 s, near end during 4-8 s and 11-15 s): the near-end talker's level in
  the output against the clean near end over the double-talk samples
  (``metrics.near_end_loss_db``; each output first aligned by the lag 0..30 ms that
  maximises that level, i.e. its measured latency), and ERLE over the far-only parts.

One benchmark round is one ``render`` + ``capture`` of a 10 ms frame (Python call included);
``extra_info`` carries the quality numbers.  ``test_aec_table`` prints them all.

Peers, each skipped when it does not install: WebRTC AEC3 alone (``pywebrtc-audio``'s
``EchoCanceller``, float32), WebRTC's audio processing module with only echo cancellation
on (``livekit``'s ``AudioProcessingModule``, int16 frames; AEC3 plus its high-pass filter),
SpeexDSP's MDF echo canceller (``speexdsp``, int16, 100 ms tail as in its usual setup, so it
cannot reach a 600 ms bulk delay).  Conversions to a peer's native format count in its time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from callaudio._dsp.aec import EchoCanceller
from callaudio.simulation import scenario as scn
from callaudio.simulation.metrics import erle_db, near_end_loss_db

F32 = npt.NDArray[np.float32]
Step = Callable[[F32, F32], F32]  # (far frame, mic frame) -> output frame
RATES = [pytest.param(16000, id="16k"), pytest.param(48000, id="48k")]


# ----------------------------------------------------------------------------- processors
def make_callaudio(rate: int) -> Step:
    aec = EchoCanceller(rate)

    def step(far: F32, mic: F32) -> F32:
        aec.render(far)
        return aec.capture(mic)

    return step


def make_aec3(rate: int) -> Step:
    pw = pytest.importorskip("pywebrtc_audio")
    ec = pw.EchoCanceller(rate, 1, 0)

    def step(far: F32, mic: F32) -> F32:
        return np.asarray(ec.process(mic, far), dtype=np.float32)

    return step


def _i16(x: F32) -> npt.NDArray[np.int16]:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def make_livekit_apm(rate: int) -> Step:
    rtc = pytest.importorskip("livekit.rtc")
    apm = rtc.AudioProcessingModule(echo_cancellation=True)
    n = rate // 100

    def step(far: F32, mic: F32) -> F32:
        ff = rtc.AudioFrame(_i16(far).tobytes(), rate, 1, n)
        apm.process_reverse_stream(ff)
        mf = rtc.AudioFrame(_i16(mic).tobytes(), rate, 1, n)
        apm.process_stream(mf)
        return np.frombuffer(mf.data, dtype=np.int16).astype(np.float32) / 32768.0

    return step


def make_speex(rate: int) -> Step:
    sp = pytest.importorskip("speexdsp")
    n = rate // 100
    ec = sp.EchoCanceller.create(n, rate // 10, rate)

    def step(far: F32, mic: F32) -> F32:
        out = ec.process(_i16(mic).tobytes(), _i16(far).tobytes())
        return np.frombuffer(out, dtype=np.int16).astype(np.float32) / 32768.0

    return step


PROCESSORS: dict[str, Callable[[int], Step]] = {
    "callaudio": make_callaudio,
    "webrtc-aec3": make_aec3,
    "livekit-apm-aec": make_livekit_apm,
    "speexdsp-mdf": make_speex,
}


# ----------------------------------------------------------------------------- measures
@cache
def _scenarios(rate: int) -> dict[str, Any]:
    return {
        "fst100": scn.far_single_talk(100.0, rate),
        "fst600": scn.far_single_talk(600.0, rate),
        "dt": scn.double_talk(rate),
    }


def _run(step: Step, res: Any) -> tuple[F32, float]:
    n = res.sample_rate // 100
    nf = len(res.mic) // n
    out = np.zeros(nf * n, np.float32)
    t0 = time.perf_counter()
    for i in range(nf):
        s = slice(i * n, (i + 1) * n)
        out[s] = step(res.far[s], res.mic[s])
    return out, (time.perf_counter() - t0) / nf * 1e6


def _align(out: F32, res: Any) -> tuple[F32, int]:
    """Shift ``out`` by the lag (0..30 ms) that maximises the near end's level in it."""
    m = np.asarray(res.double_talk, dtype=bool)
    s = res.near.astype(np.float64)
    best, best_g = 0, -np.inf
    for lag in range(0, 3 * res.sample_rate // 100):
        o = out[lag:].astype(np.float64)
        mm = m[: o.size]
        g = abs(float(np.dot(o[mm], s[: o.size][mm])))
        if g > best_g:
            best, best_g = lag, g
    return np.concatenate([out[best:], np.zeros(best, np.float32)]), best


def _erle_after(res: Any, out: F32, mask: Any = None, t0: float = 1.0) -> float:
    m = len(out)
    per, _ = erle_db(
        res.echo[:m].astype(np.float64) + res.noise[:m],
        out,
        res.sample_rate,
        mask=None if mask is None else mask[:m],
    )
    t = np.arange(per.size) * 0.05
    return float(np.nanmedian(per[t >= t0]))


@cache
def quality(name: str, rate: int) -> dict[str, float]:
    sc = _scenarios(rate)
    r: dict[str, float] = {}
    out, us = _run(PROCESSORS[name](rate), sc["fst100"])
    r["erle_fst_100ms_db"] = _erle_after(sc["fst100"], out)
    out, _ = _run(PROCESSORS[name](rate), sc["fst600"])
    r["erle_fst_600ms_db"] = _erle_after(sc["fst600"], out)
    out, us_dt = _run(PROCESSORS[name](rate), sc["dt"])
    res = sc["dt"]
    out, lag = _align(out, res)
    r["dt_near_loss_db"] = near_end_loss_db(out, res.near[: len(out)], res.double_talk[: len(out)])
    r["dt_erle_far_only_db"] = _erle_after(res, out, mask=res.far_only)
    r["latency_ms"] = 1000.0 * lag / rate
    r["us_per_frame_scenario"] = (us + us_dt) / 2.0
    return r


# ----------------------------------------------------------------------------- benchmarks
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("name", list(PROCESSORS))
@pytest.mark.benchmark(group="aec")
def test_aec_per_frame(benchmark: Any, name: str, rate: int) -> None:
    step = PROCESSORS[name](rate)  # skips here when the peer is not installed
    res = _scenarios(rate)["dt"]
    n = rate // 100
    nf = len(res.mic) // n
    far = res.far[: nf * n].reshape(nf, n)
    mic = res.mic[: nf * n].reshape(nf, n)
    i = [0]

    def one() -> None:
        k = i[0] % nf
        step(far[k], mic[k])
        i[0] += 1

    benchmark.pedantic(one, rounds=1500, iterations=1, warmup_rounds=100)
    benchmark.extra_info.update(quality(name, rate))
    benchmark.extra_info["us_per_frame"] = benchmark.stats.stats.mean * 1e6
    benchmark.extra_info["budget_fraction"] = benchmark.stats.stats.mean / 0.010


@pytest.mark.parametrize("rate", RATES)
def test_aec_table(rate: int) -> None:
    """Print the side-by-side table (ERLE, double-talk near-end loss, us/frame)."""
    rows = []
    for name, make in PROCESSORS.items():
        try:
            make(rate)
        except pytest.skip.Exception:
            continue
        rows.append((name, quality(name, rate)))
    keys = list(rows[0][1])
    print(f"\n--- echo cancellers at {rate} Hz (seed 0) ---")
    print(f"{'processor':18s}" + "".join(f"{k:>24s}" for k in keys))
    for name, q in rows:
        print(f"{name:18s}" + "".join(f"{q[k]:24.2f}" for k in keys))
    assert rows[0][0] == "callaudio"
