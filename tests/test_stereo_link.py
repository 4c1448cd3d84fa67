"""Linked multi-channel capture (``VoiceProcessor(link_channels=True)``, the default): one
residual-echo, noise-suppression and gain-control gain for all channels, each channel with
its own adaptive echo filter (``Chain.link``)."""

from __future__ import annotations

import numpy as np
import pytest

import callaudio as ca
from callaudio.simulation import scenario as scn

RATE = 16000
N = RATE // 100


def _run(vp: ca.VoiceProcessor, mic: np.ndarray, far: np.ndarray | None = None) -> np.ndarray:
    out = np.empty_like(mic)
    zeros = np.zeros(N, np.float32)
    for k in range(mic.shape[0] // N):
        s = slice(k * N, (k + 1) * N)
        vp.process_render(zeros if far is None else far[s])
        vp.process_capture(mic[s], out=out[s])
    return out


def test_a_panned_talker_keeps_its_pan() -> None:
    """A talker 6.02 dB louder on channel 0, independent noise on each channel (SNR 6 dB
    lower on channel 1): with common gains the talker's level difference at the output
    stays within 0.5 dB (per-channel gains pull the channels towards the same level:
    the independent chains give 2.7 dB here)."""
    res = scn.double_talk(RATE, duration_s=4.0, near_intervals=((0.3, 4.0),), far_intervals=())
    near = res.near.astype(np.float32)
    noise = 10 ** (-55 / 20) * np.random.default_rng(0).standard_normal((near.size, 2))
    mic = np.ascontiguousarray(np.stack([near, 0.5 * near], 1) + noise, dtype=np.float32)
    vp = ca.VoiceProcessor(RATE, channels=2)
    assert vp.chains()[0].linked_channels == 2
    y = _run(vp, mic).astype(np.float64)
    lat = vp.latency_samples
    s = near[: near.size - lat].astype(np.float64)[RATE:]
    g = [np.dot(y[lat:, c][RATE:], s) / np.dot(s, s) for c in range(2)]
    assert g[0] > 0.5 and g[1] > 0.25  # the talker passes
    assert abs(20 * np.log10(g[0] / g[1]) - 20 * np.log10(2.0)) <= 0.5


def test_an_echo_on_one_channel_is_cancelled_on_that_channel() -> None:
    """Far-end single talk with its echo on channel 1 only (channel 0: noise alone): each
    channel keeps its own adaptive filter, and the common suppression gain still takes
    the echo off channel 1 (59 dB measured in 3-4 s; floor 40 dB) without lifting
    channel 0 above its input."""
    res = scn.far_single_talk(100.0, RATE, duration_s=4.0)
    far = res.far.astype(np.float32)
    noise = 10 ** (-65 / 20) * np.random.default_rng(1).standard_normal((far.size, 2))
    mic = np.stack([np.zeros(far.size), res.mic], 1) + noise
    mic = np.ascontiguousarray(mic, dtype=np.float32)
    vp = ca.VoiceProcessor(RATE, channels=2)
    y = _run(vp, mic, far).astype(np.float64)
    late = slice(3 * RATE, far.size)
    power = [np.mean(x[late] ** 2) for x in (mic[:, 0], mic[:, 1], y[:, 0], y[:, 1])]
    assert 10 * np.log10(power[1] / power[3]) >= 40.0
    assert power[2] <= power[0]


@pytest.mark.parametrize("extra_ms", [12, 60])
def test_channels_with_different_paths_share_one_bulk_delay(extra_ms: int) -> None:
    """Two microphones of one device hear one loudspeaker through one playout path: one
    bulk-delay estimate serves both (on their mean power), and each channel's filter
    finds its own path around it. Channel 1's echo arrives ``extra_ms`` later (60 ms:
    two mics metres apart) and quieter: both are cancelled (58-63 dB measured in 3-4 s;
    floor 40 dB) and each channel's delay estimate is its own (within 1 ms)."""
    res = scn.far_single_talk(100.0, RATE, duration_s=4.0)
    far = res.far.astype(np.float32)
    d = extra_ms * RATE // 1000
    late_echo = np.concatenate([np.zeros(d), 0.6 * res.mic[: res.mic.size - d]])
    noise = 10 ** (-65 / 20) * np.random.default_rng(4).standard_normal((far.size, 2))
    mic = np.ascontiguousarray(np.stack([res.mic, late_echo], 1) + noise, dtype=np.float32)
    vp = ca.VoiceProcessor(RATE, channels=2)
    y = _run(vp, mic, far).astype(np.float64)
    late = slice(3 * RATE, far.size)
    for c in range(2):
        erle = 10 * np.log10(
            np.mean(mic[late, c].astype(np.float64) ** 2) / np.mean(y[late, c] ** 2)
        )
        assert erle >= 40.0, (c, erle)
    delays = [ch.echo_canceller.delay_ms for ch in vp.chains()]
    assert abs(delays[1] - delays[0] - extra_ms) <= 1.0, delays


def test_the_far_end_is_analysed_once_per_frame() -> None:
    """Linked channels: the first channel's canceller transforms the far frame and the
    others take its spectrum; independent channels each transform it."""
    rng = np.random.default_rng(5)
    far = (0.05 * rng.standard_normal(20 * N)).astype(np.float32)
    mic = np.ascontiguousarray(np.stack([far, 0.5 * far], 1), dtype=np.float32)
    for link, counts in ((True, [20, 0]), (False, [20, 20])):
        vp = ca.VoiceProcessor(RATE, channels=2, link_channels=link)
        _run(vp, mic, far)
        assert [ch.echo_canceller.far_analyses for ch in vp.chains()] == counts


@pytest.mark.parametrize("rate", [16000, 48000])
def test_linked_paths_agree(rate: int) -> None:
    """The linked capture gives the same output through process_capture and
    process_arrays (and at 16 kHz the fast path, in place, and int16 within a rounding
    step)."""
    n = rate // 100
    rng = np.random.default_rng(2)
    far = (0.05 * rng.standard_normal(rate // 2)).astype(np.float32)
    echo = np.convolve(far, [0.0] * 40 + [0.3, -0.2, 0.1])[: far.size]
    near = 0.05 * rng.standard_normal(far.size) * (np.arange(far.size) > rate // 4)
    mic = np.stack([echo + near, 0.5 * echo - 0.7 * near], 1)
    mic = np.ascontiguousarray(mic + 1e-3 * rng.standard_normal(mic.shape), dtype=np.float32)
    ref = _frames(ca.VoiceProcessor(rate, channels=2), mic, far, n, "plain")
    y = ca.process_arrays(mic, far, sample_rate=rate)
    np.testing.assert_array_equal(np.asarray(y, np.float32)[: ref.shape[0]], ref)
    if rate != RATE:
        return
    np.testing.assert_array_equal(
        _frames(ca.VoiceProcessor(rate, channels=2), mic, far, n, "fast"), ref
    )
    np.testing.assert_array_equal(
        _frames(ca.VoiceProcessor(rate, channels=2), mic, far, n, "inplace"), ref
    )
    mi = np.round(mic * 32768).astype(np.int16)
    yi = _frames(ca.VoiceProcessor(rate, channels=2), mi, far, n, "plain")
    yf = _frames(
        ca.VoiceProcessor(rate, channels=2), mi.astype(np.float32) / 32768, far, n, "plain"
    )
    assert np.max(np.abs(yi.astype(np.float64) - yf * 32768.0)) <= 1.0


def _frames(
    vp: ca.VoiceProcessor, mic: np.ndarray, far: np.ndarray, n: int, how: str
) -> np.ndarray:
    out = np.empty_like(mic)
    for k in range(mic.shape[0] // n):
        s = slice(k * n, (k + 1) * n)
        vp.process_render(far[s])
        if how == "fast":
            vp.process_capture_fast(np.ascontiguousarray(mic[s]), out[s])
        elif how == "inplace":
            out[s] = mic[s]
            vp.process_capture(out[s], out=out[s])
        else:
            out[s] = vp.process_capture(mic[s])
    return out[: (mic.shape[0] // n) * n]


def test_every_channel_gets_the_common_gains_above_8k() -> None:
    """At 48 kHz the bands above 8 kHz of every channel get the common noise and echo
    gains (white noise carries most of its power there): two channels of equally loud,
    independent noise come out equally loud (before the fix the second channel kept its
    own, never updated, noise gain: 10 dB louder)."""
    rate, n = 48000, 480
    rng = np.random.default_rng(3)
    mic = (0.05 * rng.standard_normal((150 * n, 2))).astype(np.float32)
    far = (0.05 * rng.standard_normal(150 * n)).astype(np.float32)
    out = np.empty_like(mic)
    vp = ca.VoiceProcessor(rate, channels=2)
    for k in range(150):
        s = slice(k * n, (k + 1) * n)
        vp.process_render(far[s])
        vp.process_capture(mic[s], out=out[s])
    p = np.mean(out[100 * n :].astype(np.float64) ** 2, 0)
    assert abs(10 * np.log10(p[0] / p[1])) <= 1.0


@pytest.mark.parametrize("bad", ["no", "yes", 2, 0.5, None, []])
def test_link_channels_takes_a_bool_only(bad) -> None:
    with pytest.raises(ca.ConfigError, match="link_channels"):
        ca.VoiceProcessor(16000, channels=2, link_channels=bad)
