"""The band split of split-band processing (callaudio._dsp.bands): analysis + synthesis
with nothing in between is a pure delay (a sine sweep: magnitude within 0.1 dB, no
aliasing or other spurious output above -60 dB), band 0 is the 0-8 kHz signal at 16 kHz
with unit gain (the crossover to band 1 spans about 5.3-10.7 kHz), and the kernels match
a direct convolution."""

from __future__ import annotations

import numpy as np
import pytest

from callaudio._dsp.bands import FilterBank, filters

RATES = [32000, 48000]


def _split(fb: FilterBank, x: np.ndarray) -> np.ndarray:
    n = fb.frame_size
    return np.concatenate([fb.analysis(x[i : i + n]) for i in range(0, x.size, n)], axis=1)


def _join(fb: FilterBank, v: np.ndarray) -> np.ndarray:
    nb = fb.band_size
    return np.concatenate([fb.synthesis(v[:, i : i + nb]) for i in range(0, v.shape[1], nb)])


def _fit(y: np.ndarray, f: float, rate: int) -> tuple[float, float]:
    """(amplitude of the sinusoid at f in y, rms of what is left)."""
    t = np.arange(y.size) / rate
    basis = np.stack([np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    return float(np.hypot(*coef)), float(np.sqrt(np.mean((y - basis @ coef) ** 2)))


@pytest.mark.parametrize("rate", RATES)
def test_sizes_and_delay(rate: int) -> None:
    fb = FilterBank(rate)
    assert fb.bands == rate // 16000
    assert fb.band_size * fb.bands == fb.frame_size == rate // 100
    assert fb.latency_samples == fb.taps - 1
    assert fb.latency_samples * 1000 / rate < 1.0  # under a millisecond
    x = np.zeros(4 * fb.frame_size, np.float32)
    x[fb.frame_size + 5] = 1.0
    y = _join(fb, _split(fb, x))
    assert int(np.argmax(np.abs(y))) == fb.frame_size + 5 + fb.latency_samples
    assert y.max() == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("rate", RATES)
def test_a_sine_sweep_through_split_and_join_is_transparent(rate: int) -> None:
    fb = FilterBank(rate)
    d, n = fb.latency_samples, fb.frame_size
    freqs = np.concatenate([np.geomspace(50.0, 4000.0, 12), np.linspace(4500, rate / 2 - 300, 40)])
    t = np.arange(12 * n) / rate
    worst_db, worst_spur = 0.0, -np.inf
    for f in freqs:
        fb.reset()
        x = (0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32)
        y = _join(fb, _split(fb, x)).astype(np.float64)
        amp, rest = _fit(y[2 * n :], f, rate)
        worst_db = max(worst_db, abs(20 * np.log10(amp / 0.5)))
        worst_spur = max(worst_spur, 20 * np.log10(rest / (0.5 / np.sqrt(2))))
        # and the delay is the one reported: y is x, d samples late
        e = y[2 * n :] - 0.5 * np.sin(2 * np.pi * f * (t[2 * n :] - d / rate)) * amp / 0.5
        assert np.sqrt(np.mean(e**2)) < 1e-3 * 0.5, f
    assert worst_db <= 0.1
    assert worst_spur <= -60.0


@pytest.mark.parametrize("rate", RATES)
def test_band_zero_is_the_low_band_at_16k_with_unit_gain(rate: int) -> None:
    fb = FilterBank(rate)
    n = fb.frame_size
    t = np.arange(10 * n) / rate
    for f in (300.0, 1000.0, 3000.0, 5000.0):  # the crossover is 8 +- 2.7 kHz
        v = _split(fb, (0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32))[:, 2 * fb.band_size :]
        amp, _ = _fit(v[0].astype(np.float64), f, 16000)
        assert abs(20 * np.log10(amp / 0.5)) <= 0.1, f
        for k in range(1, fb.bands):
            assert 20 * np.log10(np.sqrt(2 * np.mean(v[k] ** 2)) / 0.5) < -60.0, (f, k)
    # a 12 kHz tone lands in band 1 (at 12 - 8 = 4 kHz, spectrally inverted: 16 - 12 = 4)
    v = _split(fb, (0.5 * np.sin(2 * np.pi * 12000.0 * t)).astype(np.float32))[
        :, 2 * fb.band_size :
    ]
    assert 20 * np.log10(np.sqrt(np.mean(v[0] ** 2) / np.mean(v[1] ** 2))) < -60.0


@pytest.mark.parametrize("rate", RATES)
def test_the_kernels_match_a_direct_convolution(rate: int) -> None:
    fb = FilterBank(rate)
    M = fb.bands
    x = np.random.default_rng(3).standard_normal(8 * fb.frame_size).astype(np.float32)
    v = _split(fb, x)
    ana, syn = filters(M)
    x64 = x.astype(np.float64)
    for k in range(M):
        ref = np.convolve(x64, ana[k])[M - 1 :: M][: v.shape[1]]
        np.testing.assert_allclose(v[k], ref, atol=2e-5)
    # synthesis: expand, filter, sum (block m's value sits at sample m M + M - 1)
    y = _join(fb, v)
    up = np.zeros((M, x.size))
    up[:, M - 1 :: M] = v
    ref = sum(np.convolve(up[k], syn[k])[: x.size] for k in range(M))
    np.testing.assert_allclose(y, ref, atol=2e-5)


def test_refuses_a_rate_without_upper_bands() -> None:
    for rate in (8000, 16000, 44100):
        with pytest.raises(ValueError, match="32000 or 48000"):
            FilterBank(rate)
    with pytest.raises(ValueError, match="frame of 480"):
        FilterBank(48000).analysis(np.zeros(479, np.float32))
