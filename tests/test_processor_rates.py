"""The chain at 8 kHz (native) and 44.1 kHz (resampled to 48 kHz inside the chain)."""

from __future__ import annotations

import numpy as np
import pytest

import callaudio as ca
from callaudio._dsp.bands import FilterBank
from callaudio._dsp.resample import Resampler, min_delay
from callaudio.simulation import scenario as scn
from callaudio.simulation.metrics import erle_db

AEC_ONLY = ca.ProcessingConfig(
    high_pass=ca.HighPassConfig(enabled=False),
    noise_suppressor=ca.NoiseSuppressorConfig(enabled=False),
    gain_control=ca.GainControlConfig(enabled=False),
)


def aligned(y: np.ndarray, lat: int) -> np.ndarray:
    return np.concatenate([y[lat:], np.zeros(lat, y.dtype)])


@pytest.mark.parametrize("rate", [8000, 44100])
def test_the_echo_canceller_converges(rate: int) -> None:
    """Far-end single talk through a 100 ms echo path: ERLE >= 25 dB after 1 s, and the
    whole chain at least as much."""
    res = scn.far_single_talk(100.0, rate, duration_s=6.0)
    start = np.argmax(res.far_active) / rate
    for config in (AEC_ONLY, ca.ProcessingConfig()):
        vp = ca.VoiceProcessor(rate, config=config)
        y = aligned(
            ca.process_arrays(res.mic, res.far, sample_rate=rate, config=config), vp.latency_samples
        )
        ref = res.echo[: y.size].astype(np.float64) + res.noise[: y.size]
        per, _ = erle_db(ref, y, rate)
        t = np.arange(per.size) * 0.05
        assert np.nanmedian(per[t >= start + 1.0]) >= 25.0


@pytest.mark.parametrize("rate", [8000, 44100])
def test_frame_by_frame_equals_whole(rate: int) -> None:
    res = scn.double_talk(rate)
    m, f = res.mic[: 3 * rate], res.far[: 3 * rate]
    whole = ca.process_arrays(m, f, sample_rate=rate)
    vp = ca.VoiceProcessor(rate)
    n = vp.frame_size
    assert n == rate // 100
    out = []
    for i in range(0, m.size - n + 1, n):
        vp.process_render(np.ascontiguousarray(f[i : i + n]))
        out.append(vp.process_capture(np.ascontiguousarray(m[i : i + n])))
    chunked = np.concatenate(out)
    np.testing.assert_array_equal(chunked, whole[: chunked.size])


@pytest.mark.parametrize("rate", [8000, 44100])
@pytest.mark.parametrize("config", ["bypass", "aec_only", "default"])
def test_a_click_is_delayed_by_latency_samples(rate: int, config: str) -> None:
    cfg = {
        "bypass": ca.ProcessingConfig.bypass(),
        "aec_only": AEC_ONLY,
        "default": ca.ProcessingConfig(),
    }[config]
    x = np.zeros(rate, np.float32)
    x[rate // 4 + 7] = 0.5
    y = ca.process_arrays(x, sample_rate=rate, config=cfg)
    lat = ca.VoiceProcessor(rate, config=cfg).latency_samples
    assert int(np.argmax(np.abs(y))) == rate // 4 + 7 + lat


def test_44k1_latency() -> None:
    """The resamplers add 31 samples (0.7 ms) to the stages' latency at 48 kHz; with no
    stage nothing is resampled (bit-exact, no latency)."""
    bypass = ca.VoiceProcessor(44100, config=ca.ProcessingConfig.bypass())
    assert bypass.latency_samples == 0
    x = np.random.default_rng(1).standard_normal(441).astype(np.float32)
    np.testing.assert_array_equal(bypass.process_capture(x), x)
    aec = ca.VoiceProcessor(44100, config=AEC_ONLY)
    # at 48 kHz: the band split's delay plus the suppressor's 40 samples at 16 kHz
    aec48 = ca.VoiceProcessor(48000, config=AEC_ONLY).latency_samples
    assert aec48 == FilterBank(48000).latency_samples + 3 * 40
    # the resamplers' delays, the down one rounded up to a whole number of 44.1 kHz samples
    resampled = min_delay(441, 480) + 147 * aec48 + min_delay(480, 441)
    assert aec.latency_samples == -(-resampled // 160) <= round(aec48 * 441 / 480 + 31) + 1
    full = ca.VoiceProcessor(44100)
    at48 = ca.VoiceProcessor(48000).latency_samples
    assert full.latency_samples == pytest.approx(at48 * 441 / 480 + 31, abs=1.0)
    assert full.stats.latency_ms == pytest.approx(1000 * full.latency_samples / 44100)


def test_the_resampler_pair_passes_a_sine_cleanly() -> None:
    """1 kHz at 44.1 kHz up to 48 kHz and back, with the chain's delays for stages of no
    latency (31 samples in all): the error is 80 dB below the signal."""
    rate, n = 44100, 441
    up = Resampler(n, 480, min_delay(n, 480))
    d2 = min_delay(480, n)
    d2 += (-(up.delay_num + d2)) % 160
    down = Resampler(480, n, d2)
    assert (up.delay_num + down.delay_num) % 160 == 0
    lat = (up.delay_num + down.delay_num) // 160
    assert lat == 31
    t = np.arange(rate) / rate
    x = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    y = np.concatenate([down.process(up.process(x[i : i + n])) for i in range(0, rate, n)])
    e = y[lat + 1000 :] - x[1000 : rate - lat]
    assert 10 * np.log10(np.mean(x**2) / np.mean(e**2)) >= 80.0


def test_resampler_refuses_a_non_causal_delay() -> None:
    with pytest.raises(ValueError, match="below"):
        Resampler(441, 480, min_delay(441, 480) - 1)
    r = Resampler(441, 480, min_delay(441, 480))
    assert (r.up, r.down) == (160, 147)
    assert r.process(np.zeros(441, np.float32)).shape == (480,)


@pytest.mark.parametrize("stage", ["HighPass", "EchoCanceller", "NoiseSuppressor", "GainControl"])
def test_a_stage_alone_runs_at_native_rates_only(stage: str) -> None:
    from callaudio._dsp import aec, agc, hpf, ns

    cls = {
        "HighPass": hpf.HighPass,
        "EchoCanceller": aec.EchoCanceller,
        "NoiseSuppressor": ns.NoiseSuppressor,
        "GainControl": agc.GainControl,
    }[stage]
    assert cls(8000).sample_rate == 8000
    with pytest.raises(ca.ConfigError, match="sample_rate"):
        cls(44100)
