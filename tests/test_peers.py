"""The peer wrappers of ``tests/_reference/peers.py`` do what the benches assume of them.

Each peer is skipped when its package is not installed (the ``peers`` extra). At 16 kHz
(RNNoise at its 48 kHz): an echo canceller removes a linear echo of white
noise (a 40 ms bulk delay and a short decaying path) by at least 10 dB after 1.5 s, with its
output aligned and as long as the input; a noise suppressor attenuates stationary white noise
by at least 6 dB and keeps a talker's level within 6 dB (a wrong scale or
framing would be far off).
"""

from __future__ import annotations

import numpy as np
import pytest

from _reference import peers
from callaudio.simulation.metrics import active_level_dbfs, level_dbfs
from callaudio.simulation.speech import load_talker

RATE = 16000
AEC = [p.name for p in peers.AEC_PEERS]
NS = [p.name for p in peers.NS_PEERS]


def _skip_missing(name: str) -> None:
    reason = peers.unavailable().get(name)
    if reason is not None:
        pytest.skip(reason)


@pytest.mark.parametrize("name", AEC)
def test_aec_peer_cancels_a_linear_echo(name: str) -> None:
    _skip_missing(name)
    rng = np.random.default_rng(1)
    n = 3 * RATE
    far = (0.05 * rng.standard_normal(n)).astype(np.float32)
    path = np.zeros(round(0.04 * RATE) + 64)
    path[-64:] = 0.5 * rng.standard_normal(64) * np.exp(-np.arange(64) / 12.0)
    echo = np.convolve(far, path)[:n].astype(np.float32)
    out = peers.aec_peers()[name](echo, far, RATE)
    assert out.shape == echo.shape and out.dtype == np.float32
    tail = slice(round(1.5 * RATE), n - RATE // 10)
    erle = level_dbfs(echo[tail]) - level_dbfs(out[tail])
    assert erle >= 10.0, f"{name}: {erle:.1f} dB"


@pytest.mark.parametrize("name", NS)
def test_ns_peer_attenuates_white_noise_and_keeps_speech(name: str) -> None:
    _skip_missing(name)
    ns = peers.ns_peers()[name]
    rate = peers.native_rate(next(p for p in peers.NS_PEERS if p.name == name), RATE)
    noise = (0.01 * np.random.default_rng(2).standard_normal(3 * rate)).astype(np.float32)
    out = ns(noise, rate)
    assert out.shape == noise.shape and out.dtype == np.float32
    att = level_dbfs(noise[rate:]) - level_dbfs(out[rate : -rate // 10])
    assert att >= 6.0, f"{name}: {att:.1f} dB"
    speech = np.asarray(load_talker(1, rate, 3.0, seed=4), np.float32)
    kept = active_level_dbfs(ns(speech, rate), rate) - active_level_dbfs(speech, rate)
    assert abs(kept) <= 6.0, f"{name}: speech level {kept:+.1f} dB"
    assert 0 <= peers.latency("ns", name, rate) < peers.MAX_LAG_S * rate


def test_process_frames_times_every_frame() -> None:
    x = np.arange(2 * RATE // 100 + 7, dtype=np.float32)
    out, ns = peers.process_frames(lambda f: 2.0 * f, x, rate=RATE)
    assert out.shape == (2 * RATE // 100,) and ns.shape == (2,) and np.all(ns >= 0)
    np.testing.assert_array_equal(out, 2.0 * x[: out.size])


@pytest.mark.parametrize("rate", [16000, 48000])
def test_chain_steps_process_a_frame(rate: int) -> None:
    n = rate // 100
    mic = (0.01 * np.random.default_rng(3).standard_normal(n)).astype(np.float32)
    steps = peers.frame_steps("chain", rate)
    assert "callaudio" in steps
    for name, step in steps.items():
        out = step(mic, np.zeros(n, np.float32))
        assert out.shape == (n,) and out.dtype == np.float32 and np.all(np.isfinite(out)), name
