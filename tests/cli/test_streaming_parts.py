"""The streaming pieces of ``callaudio process``: resampler and speech-level meter equal their
whole-signal references whatever the block boundaries."""

from __future__ import annotations

import numpy as np
import pytest

from callaudio.cli.resample import StreamResampler
from callaudio.cli.summary import EchoFigures, SpeechLevel
from callaudio.simulation import active_level_dbfs, speech_like
from callaudio.simulation.resample import resample, resample_ratio


def _stream(rs: StreamResampler, x: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    parts, i = [], 0
    while i < x.shape[0]:
        size = int(rng.integers(1, 2500))
        parts.append(rs.process(x[i : i + size]))
        i += size
    parts.append(rs.flush())
    return np.concatenate(parts)


@pytest.mark.parametrize(
    ("rate_in", "rate_out"),
    [
        (44100, 48000),
        (48000, 44100),
        (48000, 16000),
        (8000, 16000),
        (22050, 16000),
        (11025, 16000),
        (96000, 48000),
        (16000, 16000),
    ],
)
def test_streaming_resampler_equals_the_polyphase_resampler(rate_in: int, rate_out: int) -> None:
    x = np.random.default_rng(1).standard_normal((rate_in // 4 + 13, 2))
    y = _stream(StreamResampler(rate_in, rate_out, 2), x, seed=rate_in)
    expected = np.stack([resample(x[:, c], rate_in, rate_out) for c in range(2)], axis=1)
    assert y.shape == expected.shape == (-(-x.shape[0] * rate_out // rate_in), 2)
    np.testing.assert_allclose(y, expected, atol=1e-9)


@pytest.mark.parametrize(("rate_in", "rate_out"), [(15873, 16000), (191999, 48000)])
def test_streaming_resampler_with_a_fine_ratio_equals_the_band_limited_interpolator(
    rate_in: int, rate_out: int
) -> None:
    x = np.random.default_rng(2).standard_normal(rate_in // 5)
    y = _stream(StreamResampler(rate_in, rate_out, 1), x[:, None], seed=3)[:, 0]
    n_out = -(-x.size * rate_out // rate_in)
    np.testing.assert_allclose(y, resample_ratio(x, rate_out / rate_in, n_out=n_out), atol=1e-9)


def test_resampled_tone_keeps_its_level_and_frequency() -> None:
    t = np.arange(44100) / 44100
    x = 0.5 * np.sin(2 * np.pi * 1000 * t)
    y = _stream(StreamResampler(44100, 48000), x[:, None], seed=4)[:, 0]
    tt = np.arange(y.size) / 48000
    mid = slice(2000, -2000)
    np.testing.assert_allclose(y[mid], 0.5 * np.sin(2 * np.pi * 1000 * tt[mid]), atol=1e-4)


@pytest.mark.parametrize("rate", [16000, 44100])
def test_streaming_speech_level_equals_p56_of_the_whole_signal(rate: int) -> None:
    x = speech_like(6.0, rate, level_dbfs=-27.0, seed=2)
    x[rate : 2 * rate] = 0.0  # a pause
    meter = SpeechLevel(rate)
    rng = np.random.default_rng(0)
    i = 0
    while i < x.size:
        size = int(rng.integers(1, 5000))
        meter.add(x[i : i + size])
        i += size
    level = meter.level_dbfs()
    assert level is not None
    assert level == pytest.approx(active_level_dbfs(x, rate), abs=0.01)
    assert SpeechLevel(rate).level_dbfs() is None  # nothing, or silence: no level


def test_echo_figures_average_over_far_active_frames_only() -> None:
    figs = EchoFigures(0.01)
    loud = np.full(160, 0.1, np.float32)
    quiet = np.zeros(160, np.float32)
    for frame, erle in ((loud, 30.0), (quiet, 3.0), (loud, 20.0), (quiet, 1.0)):
        if figs.far_active(frame):
            figs.add(erle, 45.0)
    assert figs.erle_db == pytest.approx(25.0)
    assert figs.delay_ms == 45.0 and figs.far_active_s == pytest.approx(0.02)
