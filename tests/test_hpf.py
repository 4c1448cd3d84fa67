"""Tests of the compiled Butterworth high-pass filter (callaudio._dsp.hpf)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
import scipy.signal

from callaudio._dsp.hpf import HighPass

RATES = [pytest.param(r, id=f"{r // 1000}k") for r in (8000, 16000, 32000, 48000)]
ORDERS = [pytest.param(o, id=f"order{o}") for o in (2, 4)]


def reference_df2t(sos: npt.NDArray[np.float64], x: npt.NDArray[np.float64]) -> np.ndarray:
    """Slow pure-Python cascade of transposed direct-form II biquads in float64."""
    y = np.array(x, dtype=np.float64)
    for b0, b1, b2, _a0, a1, a2 in sos:
        z1 = z2 = 0.0
        out = np.empty_like(y)
        for i, v in enumerate(y.tolist()):
            o = b0 * v + z1
            z1 = b1 * v - a1 * o + z2
            z2 = b2 * v - a2 * o
            out[i] = o
        y = out
    return y


def noise(n: int, seed: int = 1) -> npt.NDArray[np.float32]:
    return (0.25 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def tone_gain_db(rate: int, order: int, cutoff: float, freq: float) -> float:
    """Measured steady-state gain of the compiled filter for a sine at ``freq``, in dB."""
    t = np.arange(rate) / rate
    x = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    y = HighPass(rate, cutoff, order).process(x).astype(np.float64)
    tail = slice(rate // 2, None)  # 0.5 s: the transient (ms) is long gone
    return float(20 * np.log10(np.std(y[tail]) / np.std(x[tail].astype(np.float64))))


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("cutoff", [20.0, 80.0, 150.0, 500.0], ids=lambda c: f"{c:g}Hz")
def test_sos_matches_scipy_butter(rate: int, order: int, cutoff: float) -> None:
    got = HighPass(rate, cutoff, order).sos
    want = scipy.signal.butter(order, cutoff, "highpass", fs=rate, output="sos")
    assert got.shape == (order // 2, 6)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("rate", RATES)
def test_compiled_matches_reference_df2t(rate: int, order: int) -> None:
    hp = HighPass(rate, 80.0, order)
    x = noise(rate // 4)
    got = hp.process(x).astype(np.float64)
    want = reference_df2t(hp.sos, x.astype(np.float64))
    # float32 tolerance: the compiled cascade rounds to float32 between sections and at
    # the output; the reference stays in float64.
    scale = float(np.max(np.abs(want)))
    np.testing.assert_allclose(got, want, rtol=0, atol=4e-7 * order * scale)
    np.testing.assert_allclose(
        got, scipy.signal.sosfilt(hp.sos, x.astype(np.float64)), rtol=0, atol=4e-7 * order * scale
    )


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("rate", RATES)
def test_chunked_equals_whole_bit_exactly(rate: int, order: int) -> None:
    x = noise(rate // 2, seed=2)
    whole = HighPass(rate, 80.0, order).process(x)
    hp = HighPass(rate, 80.0, order)
    rng = np.random.default_rng(3)
    pieces = []
    start = 0
    while start < x.size:
        step = int(rng.integers(0, 700))  # includes empty chunks
        pieces.append(hp.process(x[start : start + step]))
        start += step
    np.testing.assert_array_equal(np.concatenate(pieces), whole)


@pytest.mark.parametrize("rate", RATES)
def test_order2_response_at_80hz(rate: int) -> None:
    assert tone_gain_db(rate, 2, 80.0, 80.0) == pytest.approx(-3.01, abs=0.1)
    assert tone_gain_db(rate, 2, 80.0, 20.0) <= -20.0
    assert tone_gain_db(rate, 2, 80.0, 1000.0) == pytest.approx(0.0, abs=0.05)


@pytest.mark.parametrize("rate", RATES)
def test_order4_response(rate: int) -> None:
    assert tone_gain_db(rate, 4, 80.0, 80.0) == pytest.approx(-3.01, abs=0.1)
    assert tone_gain_db(rate, 4, 80.0, 20.0) <= -45.0  # 24 dB/octave: 2 octaves down
    assert tone_gain_db(rate, 4, 80.0, 1000.0) == pytest.approx(0.0, abs=0.05)
    assert tone_gain_db(rate, 4, 200.0, 200.0) == pytest.approx(-3.01, abs=0.1)


def test_dc_is_removed() -> None:
    x = np.full(16000, 0.5, dtype=np.float32)
    y = HighPass(16000).process(x)
    assert np.max(np.abs(y[8000:])) < 1e-6


@pytest.mark.parametrize("order", ORDERS)
def test_reset_restores_initial_state(order: int) -> None:
    x = noise(4000, seed=4)
    hp = HighPass(16000, 80.0, order)
    first = hp.process(x)
    assert np.any(hp.state != 0.0)
    hp.reset()
    np.testing.assert_array_equal(hp.state, 0.0)
    np.testing.assert_array_equal(hp.process(x), first)


def test_a_nan_sample_does_not_poison_the_state() -> None:
    hp = HighPass(48000)
    x = noise(480, seed=5)
    clean = HighPass(48000).process(x)
    bad = x.copy()
    bad[100] = np.nan
    assert np.isnan(hp.process(bad)).any()  # that call's output is lost...
    assert np.all(np.isfinite(hp.state))  # ...but the filter restarted from rest
    np.testing.assert_array_equal(hp.process(x), clean)
    hp.process(bad)
    hp.reset()
    np.testing.assert_array_equal(hp.process(x), clean)


@pytest.mark.parametrize("order", ORDERS)
def test_silence_decays_to_exact_zero_state(order: int) -> None:
    hp = HighPass(16000, 80.0, order)
    hp.process(noise(1600, seed=6))
    # A tail of digital silence: without the flush the states would end as denormals.
    y = hp.process(np.zeros(8000, dtype=np.float32))  # 0.5 s: ~1e-78 without flushing
    np.testing.assert_array_equal(hp.state, 0.0)
    assert y[-1] == 0.0


def test_input_is_not_modified_and_output_is_new() -> None:
    x = noise(320, seed=7)
    keep = x.copy()
    y = HighPass(32000).process(x)
    np.testing.assert_array_equal(x, keep)
    assert y.dtype == np.float32
    assert y.shape == x.shape
    assert not np.shares_memory(x, y)
    assert HighPass(32000).latency_samples == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sample_rate": 16000, "cutoff_hz": 10.0}, "cutoff_hz"),
        ({"sample_rate": 16000, "cutoff_hz": 501.0}, "cutoff_hz"),
        ({"sample_rate": 16000, "order": 3}, "order"),
        ({"sample_rate": 100}, "sample_rate"),
    ],
    ids=["cutoff-low", "cutoff-high", "order-3", "rate"],
)
def test_invalid_parameters_name_the_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        HighPass(**kwargs)  # type: ignore[arg-type]


def test_process_rejects_bad_input() -> None:
    hp = HighPass(16000)
    with pytest.raises(TypeError, match="float32"):
        hp.process(np.zeros(160, dtype=np.float64))
    with pytest.raises(ValueError, match="1-D"):
        hp.process(np.zeros((2, 160), dtype=np.float32))


@pytest.mark.parametrize("order", [2, 4])
@pytest.mark.parametrize("cutoff2", [80.0, 120.0])
def test_process_pair_is_bit_identical_to_each_channel_alone(order: int, cutoff2: float) -> None:
    # a linked stereo capture's two channels in one vector's lanes (cutoff2 != 80: the
    # designs differ and each runs alone): output and states equal bit for bit, through a
    # NaN (state restart) and a tail of silence (the flush to exact zeros)
    rng = np.random.default_rng(7)
    x = rng.standard_normal(10000).astype(np.float32)
    y = (0.3 * rng.standard_normal(10000)).astype(np.float32)
    x[1000] = np.nan
    y[2000:] = 0.0
    a, b = HighPass(16000, 80.0, order), HighPass(16000, cutoff2, order)
    ra, rb = HighPass(16000, 80.0, order), HighPass(16000, cutoff2, order)
    for s in (slice(0, 777), slice(777, 1500), slice(1500, 10000)):
        px, py = a.process_pair(b, x[s], y[s])
        assert px.tobytes() == ra.process(x[s]).tobytes()
        assert py.tobytes() == rb.process(y[s]).tobytes()
        assert a.state.tobytes() == ra.state.tobytes()
        assert b.state.tobytes() == rb.state.tobytes()
    assert not b.state.any()  # the silent tail decayed to exact zeros
    with pytest.raises(ValueError):
        a.process_pair(a, x, y)
    with pytest.raises(ValueError):
        a.process_pair(b, x, y[:10])
