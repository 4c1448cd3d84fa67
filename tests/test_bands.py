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


# -- the band split inside the chain ---------------------------------------------------

ALL_STAGES = ("high_pass", "echo_canceller", "noise_suppressor", "gain_control")


def _band_db(x: np.ndarray, rate: int, lo: float, hi: float) -> float:
    f = np.fft.rfftfreq(4096, 1 / rate)
    frames = x[: x.size // 4096 * 4096].reshape(-1, 4096) * np.hanning(4096)
    p = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).sum(axis=0)
    return float(10 * np.log10(p[(f >= lo) & (f < hi)].sum() + 1e-30))


def _chain_out(
    rate: int, split: bool, stages: tuple[str, ...], mic: np.ndarray, far: np.ndarray | None = None
) -> np.ndarray:
    import callaudio as ca
    from callaudio._dsp.pipeline import Chain

    cfg = ca.ProcessingConfig()
    ch = Chain(rate, split_bands=split, **{n: getattr(cfg, n).kwargs() for n in stages})
    assert ch.split_bands == split
    y = np.empty_like(mic)
    ch.process_block(mic, y, far)
    return y[ch.latency_samples :]


def test_near_end_speech_keeps_its_spectrum_across_the_band_edge() -> None:
    """Full-band near-end speech through the whole chain at 48 kHz, no far end: the
    bands above 8 kHz get the same gain as the speech band (no step at the band edge)."""
    from callaudio.simulation import speech_like

    rate = 48000
    near = speech_like(6.0, rate, level_dbfs=-30.0, seed=11).astype(np.float32)
    noise = 10 ** (-75 / 20) * np.random.default_rng(5).standard_normal(near.size)
    mic = (near + noise).astype(np.float32)
    y = _chain_out(rate, True, ALL_STAGES, mic)
    x = mic[: y.size]
    tail = slice(2 * rate, None)

    def gain(lo: float, hi: float) -> float:
        return _band_db(y[tail], rate, lo, hi) - _band_db(x[tail], rate, lo, hi)

    ref = gain(300, 4000)
    for lo, hi in [(4000, 7000), (7000, 9000), (9000, 14000)]:
        assert abs(gain(lo, hi) - ref) <= 1.0, (lo, hi, gain(lo, hi), ref)


def test_echo_above_8k_is_suppressed_no_worse_than_on_the_full_band() -> None:
    """Far-end single talk at 48 kHz with full-band speech: the split chain's echo
    return loss enhancement above 8 kHz (no linear filter there, the suppressor's gain
    from below) and over the whole band is at least the full-band canceller's."""
    from callaudio.simulation import speech_like

    rate = 48000
    rng = np.random.default_rng(5)
    far = speech_like(8.0, rate, level_dbfs=-20.0, seed=12).astype(np.float32)
    d, tail = int(0.05 * rate), 2400
    h = np.zeros(d + tail)
    h[d:] = 0.4 * np.exp(-np.arange(tail) / (0.01 * rate)) * rng.standard_normal(tail)
    echo = np.convolve(far, h)[: far.size].astype(np.float32)
    mic = (echo + 10 ** (-70 / 20) * rng.standard_normal(far.size)).astype(np.float32)
    s = slice(3 * rate, None)
    erle = {}
    for split in (True, False):
        y = _chain_out(rate, split, ("echo_canceller",), mic, far)
        e = echo[: y.size]
        erle[split] = [
            _band_db(e[s], rate, lo, hi) - _band_db(y[s], rate, lo, hi)
            for lo, hi in [(8000, 24000), (0, 24000)]
        ]
    assert erle[True][0] >= erle[False][0]
    assert erle[True][1] >= erle[False][1] - 1.0


@pytest.mark.parametrize("rate", [16000, 44100, 48000])
def test_a_stereo_processor_analyses_the_far_end_once_and_matches_mono(rate: int) -> None:
    """Channel 1 takes channel 0's analysed far frame (``Chain.render_shared``): each
    channel's output is exactly what a mono processor gives on that channel."""
    import callaudio as ca
    from callaudio.simulation import scenario as scn

    res = scn.double_talk(rate)
    n = rate // 100
    frames = 150
    mic = res.mic[: frames * n].astype(np.float32)
    far = res.far[: frames * n].astype(np.float32)
    stereo_in = np.ascontiguousarray(np.stack([mic, 0.5 * mic[::-1]], axis=1))
    stereo = ca.VoiceProcessor(rate, channels=2, link_channels=False)
    monos = [ca.VoiceProcessor(rate), ca.VoiceProcessor(rate)]
    for k in range(frames):
        s = slice(k * n, (k + 1) * n)
        stereo.process_render(far[s])
        y = stereo.process_capture(stereo_in[s])
        for c, vp in enumerate(monos):
            vp.process_render(far[s])
            np.testing.assert_array_equal(y[:, c], vp.process_capture(stereo_in[s, c].copy()))
    assert stereo.stats.render_frames == frames
