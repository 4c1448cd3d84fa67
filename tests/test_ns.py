"""Tests of the compiled noise suppressor (callaudio._dsp.ns).

Three groups:

* the API and robustness (validation, reset, chunking, NaN/Inf/denormal input, threads);
* the compiled kernel against the slow NumPy model ``tests/_reference/ns_ref.py``;
* quality on generated scenarios (speech of ``callaudio.simulation`` in its noises):
  PESQ (wideband, ``pesq`` package) and STOI (``pystoi``) against the clean speech,
  segmental SNR, attenuation and musical-noise measures of speech-free noise, tracking of
  a +10 dB noise step, the per-frame speech probability.  48 kHz signals are resampled to
  16 kHz for PESQ and STOI.  The 16 kHz grid runs by default; the 48 kHz grid is
  ``slow`` (still part of ``make test``).
"""

from __future__ import annotations

import threading
import time
from functools import cache

import numpy as np
import numpy.typing as npt
import pesq as pesq_mod  # test dependencies (the `test` extra): these tests must run
import pystoi
import pytest
import scipy.special as special

from _reference.ns_ref import NoiseSuppressorRef
from callaudio._dsp.ns import NoiseSuppressor, _fast_math
from callaudio.errors import ConfigError
from callaudio.simulation.metrics import (
    active_mask,
    level_dbfs,
    log_kurtosis_ratio,
    log_spectral_variance,
    segmental_snr_db,
)
from callaudio.simulation.noise import make_noise, mix_at_snr
from callaudio.simulation.resample import resample
from callaudio.simulation.speech import load_talker

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

RATES = [pytest.param(r, id=f"{r // 1000}k") for r in (8000, 16000, 32000, 48000)]
QUALITY_RATES = [
    pytest.param(8000, id="8k"),
    pytest.param(16000, id="16k"),
    pytest.param(48000, id="48k", marks=pytest.mark.slow),
]
STATIONARY = ("white", "pink", "brown", "hum", "step")
NONSTATIONARY = ("babble", "keyboard")
SNRS = (0, 5, 10, 20)
LEVELS = (6.0, 12.0, 18.0, 21.0)
SPEECH_S = 8.0


# -- helpers -------------------------------------------------------------------------


def frames_of(rate: int) -> int:
    return rate // 100


@cache
def clean_speech(rate: int, talker: int = 0) -> F32:
    """Recorded talker, trimmed to whole 10 ms frames, P.56 level -26 dBFS."""
    s = load_talker(talker, rate, SPEECH_S, seed=talker)
    n = frames_of(rate)
    return np.ascontiguousarray(s[: s.size // n * n], dtype=np.float32)


@cache
def noisy(rate: int, kind: str, snr: int) -> tuple[F32, F32]:
    s = clean_speech(rate)
    noise = make_noise(kind, s.size / rate, rate, seed=7)[: s.size]
    x, _ = mix_at_snr(s, noise, snr, rate)
    return s, np.ascontiguousarray(x, dtype=np.float32)


def run_ns(x: F32, rate: int, level_db: float = 12.0) -> tuple[F32, int]:
    ns = NoiseSuppressor(rate, level_db)
    return ns.process_signal(x), ns.latency_samples


def aligned(clean: F32, x: F32, y: F32, delay: int) -> tuple[F64, F64, F64]:
    """Clean, noisy and output cut to the span where the output (late by delay) exists."""
    n = y.size - delay
    return (
        clean[:n].astype(np.float64),
        x[:n].astype(np.float64),
        y[delay:].astype(np.float64),
    )


def to16k(x: F64, rate: int) -> F64:
    return x if rate == 16000 else np.asarray(resample(x, rate, 16000), dtype=np.float64)


def pesq_wb(ref: F64, deg: F64, rate: int) -> float:
    return float(pesq_mod.pesq(16000, to16k(ref, rate), to16k(deg, rate), "wb"))


def stoi(ref: F64, deg: F64, rate: int) -> float:
    return float(pystoi.stoi(to16k(ref, rate), to16k(deg, rate), 16000))


# -- API ----------------------------------------------------------------------------


@pytest.mark.parametrize("rate", RATES)
def test_sizes_and_latency(rate: int) -> None:
    for hops in (1, 2, 4):
        ns = NoiseSuppressor(rate, hops_per_frame=hops)
        assert ns.frame_size == rate // 100
        assert ns.hop_size * hops == ns.frame_size
        assert ns.fft_size == 2 * ns.frame_size
        assert ns.latency_samples == ns.hop_size
        # the chain's low-delay windows: 2.5 ms at every hop
        low = NoiseSuppressor(rate, hops_per_frame=hops, low_delay=True)
        assert low.latency_samples * 1000 / rate == pytest.approx(2.5)
    # The default is below WebRTC NS's ~6 ms.
    assert NoiseSuppressor(rate).latency_samples * 1000 / rate == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"sample_rate": 44100}, "sample_rate"),
        ({"sample_rate": 16000, "level_db": -1.0}, "level_db"),
        ({"sample_rate": 16000, "level_db": 30.5}, "level_db"),
        ({"sample_rate": 16000, "hops_per_frame": 3}, "hops_per_frame"),
    ],
)
def test_bad_parameters_name_the_field(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        NoiseSuppressor(**kwargs)  # type: ignore[arg-type]


def test_process_validates_frames() -> None:
    ns = NoiseSuppressor(16000)
    with pytest.raises(TypeError, match="float32"):
        ns.process(np.zeros(160))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="frame_size=160"):
        ns.process(np.zeros(161, dtype=np.float32))
    with pytest.raises(ValueError, match="1-D"):
        ns.process(np.zeros((2, 160), dtype=np.float32))
    with pytest.raises(ValueError, match="multiple"):
        ns.process_signal(np.zeros(170, dtype=np.float32))
    frame = np.ones(160, dtype=np.float32)
    out = ns.process(frame)
    assert out is not frame and np.all(frame == 1.0)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("hops", [1, 2, 4])
@pytest.mark.parametrize("low_delay", [False, True], ids=["one_hop", "low_delay"])
def test_level_zero_is_a_pure_delay(rate: int, hops: int, low_delay: bool) -> None:
    """Gain 1 everywhere: the windows reconstruct the input exactly, latency_samples late."""
    x = np.asarray(noisy(rate, "pink", 5)[1][: rate // 2])
    ns = NoiseSuppressor(rate, level_db=0.0, hops_per_frame=hops, low_delay=low_delay)
    y = ns.process_signal(x)
    d = ns.latency_samples
    np.testing.assert_allclose(y[d:], x[:-d], atol=2e-6)
    assert np.max(np.abs(y[:d])) < 2e-6


@pytest.mark.parametrize("rate", RATES)
def test_chunked_equals_whole_and_reset(rate: int) -> None:
    x = noisy(rate, "white", 5)[1][:rate]
    n = frames_of(rate)
    a = NoiseSuppressor(rate)
    whole = a.process_signal(x)
    b = NoiseSuppressor(rate)
    chunks = np.concatenate([b.process(x[i : i + n]) for i in range(0, x.size, n)])
    np.testing.assert_array_equal(chunks, whole)
    a.reset()
    np.testing.assert_array_equal(a.process_signal(x), whole)
    assert a.speech_prob == b.speech_prob


def test_nonfinite_and_huge_input_do_not_poison_the_state() -> None:
    rate, n = 16000, 160
    x = noisy(rate, "pink", 10)[1]
    ns = NoiseSuppressor(rate)
    ns.process_signal(x[: rate // 2])
    bad = np.full(n, np.nan, dtype=np.float32)
    bad[::3] = np.inf
    bad[1::3] = -np.inf
    for frame in (bad, np.full(n, 1e30, dtype=np.float32), bad):
        assert np.all(np.isfinite(ns.process(frame)))
    y = ns.process_signal(x[rate // 2 :])
    assert np.all(np.isfinite(y))
    assert np.all(np.isfinite(ns.noise_psd)) and np.all(np.isfinite(ns.gain))
    assert np.isfinite(ns.noise_level_dbfs) and 0.0 <= ns.speech_prob <= 1.0
    # The state recovers: 2 s later the estimate is back at the noise's level.
    ns.process_signal(x[::-1].copy())
    ns.process_signal(make_noise("pink", 2.0, rate, level_dbfs=-40.0, seed=1))
    assert ns.noise_level_dbfs == pytest.approx(-40.0, abs=3.0)


def test_digital_silence_and_denormals_stay_exact_zero() -> None:
    ns = NoiseSuppressor(48000)
    x = np.zeros(48000, dtype=np.float32)
    x[1::2] = np.float32(1e-40)  # denormal input samples
    y = ns.process_signal(x)
    assert np.all(y == 0.0)
    assert ns.noise_level_dbfs == pytest.approx(-140.0, abs=0.1)
    assert np.all(ns.gain >= 10 ** (-12 / 20) * 0.999)


def test_two_threads_give_the_single_thread_result() -> None:
    rate = 48000
    x = np.tile(noisy(rate, "white", 5)[1], 3)
    want = NoiseSuppressor(rate).process_signal(x)
    results: list[F32] = []

    def work() -> None:
        results.append(NoiseSuppressor(rate).process_signal(x))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2
    for r in results:
        np.testing.assert_array_equal(r, want)


def test_process_signal_releases_the_gil() -> None:
    """While a worker runs a long process_signal, this thread keeps running Python code:
    the longest pause between its ticks inside the call is a small part of the call (a
    held GIL would stop it for the whole call)."""
    rate = 48000
    x = np.tile(noisy(rate, "pink", 5)[1], 12)  # 96 s of audio
    ns = NoiseSuppressor(rate)
    span: list[float] = []
    done = threading.Event()

    def worker() -> None:
        span.append(time.perf_counter())
        ns.process_signal(x)
        span.append(time.perf_counter())
        done.set()

    ticks: list[float] = []
    t = threading.Thread(target=worker)
    t.start()
    while not done.is_set():
        ticks.append(time.perf_counter())
    t.join()
    t0, t1 = span
    inside = [t0] + [v for v in ticks if t0 < v < t1] + [t1]
    longest = float(np.max(np.diff(inside)))
    assert longest < 0.5 * (t1 - t0), (longest, t1 - t0)


# -- compiled kernel against the NumPy model ---------------------------------------


def test_polynomial_exp_log_e1_against_numpy_and_scipy() -> None:
    """The vectorisable exp/log of ns_impl.c are float32-accurate over the ranges used."""
    for x in np.linspace(-87.0, 87.0, 2001):
        want = np.exp(np.float64(np.float32(x)))
        assert _fast_math(float(x), "exp") == pytest.approx(want, rel=3e-7)
    for x in np.geomspace(1.2e-38, 3e38, 2001):
        want = np.log(np.float64(np.float32(x)))
        assert _fast_math(float(x), "log") == pytest.approx(want, rel=2e-7, abs=1e-7)
    for v in np.geomspace(1e-8, 80.0, 501):
        want = np.exp(0.5 * special.exp1(np.float64(np.float32(v))))
        assert _fast_math(float(v), "exp_half_e1") == pytest.approx(want, rel=2e-5)
    with pytest.raises(ValueError, match="unknown"):
        _fast_math(1.0, "sin")


def test_reference_uses_the_compiled_constants() -> None:
    import _reference.ns_ref as r
    import callaudio._dsp.ns as c

    db = lambda v: 10.0 ** (v / 10.0)  # noqa: E731
    pairs = [
        (r.XI_H1, db(c.XI_H1_DB)),
        (r.XI_H1_PAPER, db(c.XI_H1_PAPER_DB)),
        (r.NOISE_TAU_S, c.NOISE_TAU_S),
        (r.SPP_TAU_S, c.SPP_TAU_S),
        (r.SPP_CAP, c.SPP_CAP),
        (r.DD_TAU_S, c.DD_TAU_S),
        (r.DD_ALPHA_MAX, c.DD_ALPHA_MAX),
        (r.XI_MIN, db(c.XI_MIN_DB)),
        (r.GAMMA_MAX, c.GAMMA_MAX),
        (r.XI_MAX, c.XI_MAX),
        (r.INIT_S, c.INIT_S),
        (r.NOISE_FLOOR_DBFS, c.NOISE_FLOOR_DBFS),
        (r.VAD_A01, c.VAD_A01),
        (r.VAD_A10, c.VAD_A10),
        (r.VAD_THRESHOLD, c.VAD_THRESHOLD),
        (r.VAD_SLOPE, c.VAD_SLOPE),
        (r.LOG_ODDS_MAX, c.LOG_ODDS_MAX),
        (r.INPUT_LIMIT, c.INPUT_LIMIT),
        (r.SPP_MARGIN, c.SPP_MARGIN),
        (r.SAP_TAU_S, c.SAP_TAU_S),
        (r.SAP_LOCAL_HZ, c.SAP_LOCAL_HZ),
        (r.SAP_GLOBAL_HZ, c.SAP_GLOBAL_HZ),
        (r.SAP_ZMIN, db(c.SAP_ZETA_MIN_DB)),
        (r.SAP_ZMAX, db(c.SAP_ZETA_MAX_DB)),
        (r.SAP_QMAX, c.SAP_Q_MAX),
        (r.FLOOR_WIN_S, c.FLOOR_WIN_S),
        (r.FLOOR_GATE, db(c.FLOOR_GATE_DB)),
        (r.FLOOR_TAU_S, c.FLOOR_TAU_S),
        (r.FLOOR_ON_DB, c.FLOOR_ON_DB),
        (r.FLOOR_FULL_DB, c.FLOOR_FULL_DB),
        (r.FLOOR_FLAT_LO, c.FLOOR_FLAT[0]),
        (r.FLOOR_FLAT_HI, c.FLOOR_FLAT[1]),
        (r.FLOOR_HOLD_TAU_S, c.FLOOR_HOLD_TAU_S),
        (r.FLOOR_BIAS, c.FLOOR_BIAS),
        (r.FLOOR_GMIN_SHARE, c.FLOOR_GMIN_SHARE),
        (r.ABSENT_ON_DB[0], c.ABSENT_ON_DB[0]),
        (r.ABSENT_ON_DB[1], c.ABSENT_ON_DB[1]),
        (r.ABSENT_MARGIN_DB, c.ABSENT_MARGIN_DB),
        (r.ABSENT_LEVEL_TAU_S, c.ABSENT_LEVEL_TAU_S),
        (r.ABSENT_HANG_S, c.ABSENT_HANG_S),
        (r.ABSENT_TAU_S, c.ABSENT_TAU_S),
        (r.ABSENT_DEPTH, c.ABSENT_DEPTH),
        (r.TONAL_BINS, c.TONAL_BINS),
        (r.TONAL_ON, db(c.TONAL_DB[0])),
        (r.TONAL_FULL, db(c.TONAL_DB[1])),
        (r.TONAL_TAU_S, c.TONAL_TAU_S),
        (r.TONAL_EVERY_S, c.TONAL_EVERY_S),
        (r.TONAL_COH_TAU_S, c.TONAL_COH_TAU_S),
        (r.ONSET_ON, db(c.ONSET_DB)),
        (r.ONSET_HOLD_S, c.ONSET_HOLD_S),
        (r.ONSET_COH[0], c.ONSET_COH[0]),
        (r.ONSET_COH[1], c.ONSET_COH[1]),
        (r.ONSET_TAU_S, c.ONSET_TAU_S),
        (r.ONSET_MAX_W, c.ONSET_MAX_W),
        (r.ONSET_OFF, db(c.ONSET_OFF_DB)),
        (r.TRANS_LO_HZ, c.TRANS_BAND_HZ[0]),
        (r.TRANS_HI_HZ, c.TRANS_BAND_HZ[1]),
        (r.TRANS_ON, db(c.TRANS_ON_DB)),
        (r.TRANS_JUMP, db(c.TRANS_JUMP_DB)),
        (r.TRANS_OFF, db(c.TRANS_OFF_DB)),
        (r.TRANS_MAX_S, c.TRANS_MAX_S),
        (r.TRANS_SUPPRESS_S, c.TRANS_SUPPRESS_S),
        (r.TRANS_RETRIG, db(-c.TRANS_RETRIG_DB)),
        (r.TRANS_CONFIRM_S, c.TRANS_CONFIRM_S),
        (r.TRANS_DREF_TAU_S[0], c.TRANS_DREF_TAU_S[0]),
        (r.TRANS_DREF_TAU_S[1], c.TRANS_DREF_TAU_S[1]),
        (r.TRANS_FRAC[0], c.TRANS_FRAC[0]),
        (r.TRANS_FRAC[1], c.TRANS_FRAC[1]),
        (r.TRANS_REF_TAU_S, c.TRANS_REF_TAU_S),
        (r.TRANS_RATE_TAU_S, c.TRANS_RATE_TAU_S),
        (r.TRANS_RATE[0], c.TRANS_RATE[0]),
        (r.TRANS_RATE[1], c.TRANS_RATE[1]),
        (r.TRANS_KEEP, c.TRANS_KEEP),
        (r.TRANS_GMIN, 10.0 ** (c.TRANS_GMIN_DB / 20.0)),
    ]
    for ref, compiled in pairs:
        assert ref == pytest.approx(compiled, rel=1e-12)
    assert r.VAD_BAND_HZ == c.VAD_BAND_HZ


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize(
    ("level", "hops", "low", "delay_ms"),
    [
        (12.0, 2, False, 0),
        (21.0, 4, False, 0),
        (6.0, 1, False, 0),
        (30.0, 2, False, 0),
        (12.0, 1, True, 0),
        (12.0, 2, True, 4),  # the chain's shared synthesis at 32/48 kHz (its band 0)
    ],
)
def test_compiled_matches_numpy_reference(
    rate: int, level: float, hops: int, low: bool, delay_ms: int
) -> None:
    s = clean_speech(rate, 1)[: 2 * rate]
    noise = make_noise("pink", 2.0, rate, seed=4)
    noise[rate:] *= 3.0  # a level step inside the segment
    x, _ = mix_at_snr(s, noise, 5, rate)
    d = rate * delay_ms // 1000
    a = NoiseSuppressor(rate, level, hops, low, d)
    b = NoiseSuppressorRef(rate, level, hops, low, d)
    assert a.latency_samples == b.latency_samples == (d or a.latency_samples)
    n = frames_of(rate)
    for i in range(0, x.size, n):
        ya = a.process(x[i : i + n])
        yb = b.process(x[i : i + n])
        np.testing.assert_allclose(ya, yb, atol=2e-6, rtol=0)
        assert a.speech_prob == pytest.approx(b.speech_prob, abs=1e-5)
    np.testing.assert_allclose(a.noise_psd, b.noise, rtol=1e-4)
    np.testing.assert_allclose(a.gain, b.gain, atol=1e-5)
    assert a.noise_level_dbfs == pytest.approx(b.noise_level_dbfs, abs=1e-3)


def test_compiled_matches_numpy_reference_in_babble() -> None:
    """Babble lifts the tracker by the pause spectrum: the held weight, the bias
    compensation and the raised gain floor (ns.pyx item 2) against the model."""
    rate = 16000
    s = clean_speech(rate)[: 2 * rate]
    x, _ = mix_at_snr(s, make_noise("babble", 2.0, rate, seed=7)[: s.size], 10, rate)
    a, b = NoiseSuppressor(rate), NoiseSuppressorRef(rate)
    n = frames_of(rate)
    for i in range(0, x.size, n):
        np.testing.assert_allclose(a.process(x[i : i + n]), b.process(x[i : i + n]), atol=2e-6)
    assert b.wbar > 0.1  # the pause spectrum did lift the tracker
    assert float(np.min(b.gain)) > b.gmin * 1.2  # and the gain floor rose with it
    np.testing.assert_allclose(a.noise_psd, b.noise, rtol=1e-4)
    np.testing.assert_allclose(a.gain, b.gain, atol=1e-5)


def test_compiled_matches_numpy_reference_in_babble_pauses() -> None:
    """The speech-absence floor in babble (ns.pyx item 4b): the talker's pauses take the
    gain down by level_db * ABSENT_DEPTH; the compiled stage against the model."""
    rate = 16000
    s = clean_speech(rate)[: 5 * rate]
    x, _ = mix_at_snr(s, make_noise("babble", 5.0, rate, seed=7)[: s.size], 10, rate)
    a, b = NoiseSuppressor(rate), NoiseSuppressorRef(rate)
    n = frames_of(rate)
    u = []
    for i in range(0, x.size, n):
        np.testing.assert_allclose(a.process(x[i : i + n]), b.process(x[i : i + n]), atol=2e-6)
        u.append(b.abs_u)
    assert max(u) > 0.9 and min(u[rate // n :]) == 0.0  # engaged in pauses, off in speech
    # (5 s of float32 recursion: the gains part by up to 7e-5 relative at the end)
    np.testing.assert_allclose(a.gain, b.gain, rtol=1e-4, atol=1e-5)


# -- quality --------------------------------------------------------------------------


@pytest.mark.parametrize("rate", QUALITY_RATES)
@pytest.mark.parametrize("snr", SNRS, ids=lambda v: f"{v}dB")
@pytest.mark.parametrize("kind", STATIONARY)
def test_pesq_up_and_stoi_kept_in_stationary_noise(rate: int, kind: str, snr: int) -> None:
    s, x = noisy(rate, kind, snr)
    y, d = run_ns(x, rate)
    s, x64, y64 = aligned(s, x, y, d)
    p_in, p_out = pesq_wb(s, x64, rate), pesq_wb(s, y64, rate)
    st_in, st_out = stoi(s, x64, rate), stoi(s, y64, rate)
    assert p_out > p_in, (p_in, p_out)
    assert st_out >= st_in - 0.02, (st_in, st_out)


@pytest.mark.parametrize("rate", QUALITY_RATES)
@pytest.mark.parametrize("snr", SNRS, ids=lambda v: f"{v}dB")
@pytest.mark.parametrize("kind", NONSTATIONARY)
def test_no_damage_in_babble_and_keyboard_noise(rate: int, kind: str, snr: int) -> None:
    """Speech-like babble and clicks pass mostly untouched (a stationary-noise model cannot
    tell them from the talker); the output must not be worse than the input."""
    s, x = noisy(rate, kind, snr)
    y, d = run_ns(x, rate)
    s, x64, y64 = aligned(s, x, y, d)
    assert pesq_wb(s, y64, rate) >= pesq_wb(s, x64, rate) - 0.03
    assert stoi(s, y64, rate) >= stoi(s, x64, rate) - 0.02


@pytest.mark.parametrize("rate", QUALITY_RATES)
@pytest.mark.parametrize("kind", ("white", "pink", "brown", "hum"))
def test_segmental_snr_improvement_at_5_db(rate: int, kind: str) -> None:
    """Measured floor at the default level (the 12 dB gain floor bounds it; see the report)."""
    s, x = noisy(rate, kind, 5)
    y, d = run_ns(x, rate)
    s, x64, y64 = aligned(s, x, y, d)
    gain = segmental_snr_db(s, y64, rate) - segmental_snr_db(s, x64, rate)
    assert gain >= 2.5, gain


@pytest.mark.parametrize("rate", QUALITY_RATES)
def test_clean_speech_is_not_damaged(rate: int) -> None:
    s = clean_speech(rate)
    y, d = run_ns(s, rate)
    ref, _, out = aligned(s, s, y, d)
    assert pesq_wb(ref, out, rate) >= 4.2


@pytest.mark.parametrize("rate", QUALITY_RATES)
@pytest.mark.parametrize("level", LEVELS, ids=lambda v: f"{v:g}dB")
@pytest.mark.parametrize("kind", ("white", "pink", "brown", "hum"))
def test_speech_free_noise_attenuated_without_musical_noise(
    rate: int, level: float, kind: str
) -> None:
    noise = make_noise(kind, 3.0, rate, level_dbfs=-45.0, seed=3)
    y, d = run_ns(noise, rate, level)
    before = noise[rate : noise.size - d].astype(np.float64)  # after the first second
    after = y[rate + d :].astype(np.float64)
    assert level_dbfs(before) - level_dbfs(after) >= level - 2.0
    # Musical noise: isolated spectral peaks would raise the spectral kurtosis and the
    # variance of the log spectrum over time; a plain scaled noise changes neither.
    assert log_kurtosis_ratio(before, after, rate) <= 0.5
    assert log_spectral_variance(after, rate) <= log_spectral_variance(before, rate) + 1.5


@pytest.mark.parametrize("rate", QUALITY_RATES)
@pytest.mark.parametrize("with_speech", [False, True], ids=["noise", "noise+speech"])
def test_noise_step_of_10_db_tracked_within_1_5_s(rate: int, with_speech: bool) -> None:
    x = make_noise("step", 6.0, rate, level_dbfs=-45.0, seed=5, step_time_s=3.0)
    if with_speech:
        x = x + load_talker(1, rate, 6.0, seed=2, level_dbfs=-26.0)
    ns = NoiseSuppressor(rate)
    n = frames_of(rate)
    est = np.empty(x.size // n)
    for i in range(est.size):
        ns.process(x[i * n : (i + 1) * n])
        est[i] = ns.noise_level_dbfs
    # The noise is -45 dBFS before the step at 3 s and -35 dBFS after it.
    if not with_speech:
        assert float(np.median(est[200:300])) == pytest.approx(-45.0, abs=2.0)
    after = est[300:]
    reached = np.nonzero(after >= -35.0 - 2.0)[0]
    assert reached.size, "the estimate never came within 2 dB of the new level"
    assert reached[0] / 100.0 <= 1.5
    assert float(np.median(after[150:])) == pytest.approx(-35.0, abs=2.0)


@pytest.mark.parametrize("rate", QUALITY_RATES)
@pytest.mark.parametrize(("kind", "snr"), [("white", 20), ("pink", 5)], ids=["white20", "pink5"])
def test_speech_probability(rate: int, kind: str, snr: int) -> None:
    """Low on noise alone; high on P.56-active speech frames, low in the pauses."""
    n = frames_of(rate)
    s, x = noisy(rate, kind, snr)
    lead = make_noise(kind, 1.0, rate, seed=9)
    lead *= 10 ** ((level_dbfs(x - s) - level_dbfs(lead)) / 20)
    ns = NoiseSuppressor(rate)
    lead_p = []
    for i in range(0, lead.size, n):
        ns.process(lead[i : i + n])
        lead_p.append(ns.speech_prob)
    p = np.empty(x.size // n)
    for i in range(p.size):
        ns.process(x[i * n : (i + 1) * n])
        p[i] = ns.speech_prob
    assert max(lead_p[20:]) < 0.1  # noise alone, after 0.2 s
    active = active_mask(s, rate)[: p.size * n].reshape(-1, n).mean(axis=1) > 0.5
    assert np.mean(p[active] > 0.5) >= 0.75
    assert np.mean(p[~active] > 0.5) <= 0.2


# -- shared analysis with the echo canceller ------------------------------------------


def test_delay_samples_out_of_range_is_refused() -> None:
    for d in (-1, 81):
        with pytest.raises(ConfigError, match="delay_samples"):
            NoiseSuppressor(16000, delay_samples=d)


@pytest.mark.parametrize("rate", [pytest.param(r, id=f"{r // 1000}k") for r in (8000, 16000)])
def test_shared_analysis_equals_the_low_delay_stage_alone(rate: int) -> None:
    """In a chain with the echo canceller the echo suppressor's gain and the noise
    suppressor's share one analysis of the error and one synthesis. With a silent far end
    the echo suppressor passes the microphone (gain 1, no comfort noise), so the chain must
    give what the stage gives on its own with the same window pair (two hops per frame,
    the chain's 5 ms cross-fade at 8 and 16 kHz)."""
    from callaudio._dsp.pipeline import Chain

    s, x = noisy(rate, "pink", 5)
    # 1.5 s of the noise alone, then the talker in it
    x = np.ascontiguousarray(np.concatenate([(x - s)[: 3 * rate // 2], x[: 3 * rate]]))
    chain = Chain(rate, echo_canceller={}, noise_suppressor={}, split_bands=False)
    assert chain.shared_analysis
    assert chain.latency_samples == rate // 200
    y = np.empty_like(x)
    chain.process_block(x, y, np.zeros_like(x))
    alone = NoiseSuppressor(rate, hops_per_frame=2, delay_samples=rate // 200)
    np.testing.assert_allclose(y, alone.process_signal(x), atol=1e-6, rtol=0)
    ns = chain.noise_suppressor
    assert ns is not None
    assert ns.speech_prob == pytest.approx(alone.speech_prob, abs=1e-6)
    np.testing.assert_allclose(ns.noise_psd, alone.noise_psd, rtol=1e-5)
    # the noise alone is taken down by the level (12 dB) once it is learnt
    noise_in, noise_out = x[rate // 2 : 3 * rate // 2], y[rate // 2 : 3 * rate // 2]
    assert level_dbfs(noise_in.astype(np.float64)) - level_dbfs(noise_out.astype(np.float64)) > 10.0
