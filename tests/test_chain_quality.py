"""The whole chain (high-pass -> echo canceller -> noise suppressor -> gain control) on
generated call scenarios: measured properties of what a far-end listener would hear."""

from __future__ import annotations

import numpy as np
import pytest

import callaudio as ca
from callaudio.simulation import metrics, scenario

RATES = [
    pytest.param(8000, id="8k"),
    pytest.param(16000, id="16k"),
    pytest.param(48000, id="48k", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("rate", RATES)
def test_echo_removed_by_the_whole_chain(rate):
    r = scenario.far_single_talk(300.0, rate)
    y = ca.process_arrays(r.mic, r.far, sample_rate=rate)
    after = r.far_only & (np.arange(r.mic.size) > 2 * rate)
    _, median = metrics.erle_db(r.mic, y, rate, mask=after)
    # The gain control runs after the canceller and would count against this ERLE if it
    # ever lifted residual echo: it must not (the canceller marks echo-only frames).
    assert median >= 40.0, median
    vp = ca.VoiceProcessor(rate)
    n = vp.frame_size
    for i in range(0, r.mic.size - n + 1, n):
        vp.process_render(r.far[i : i + n])
        vp.process_capture(r.mic[i : i + n])
    s = vp.stats
    assert s.echo_converged is True
    assert s.delay_ms is not None and abs(s.delay_ms - r.delay_ms) <= 2.0
    assert s.erle_db is not None and s.erle_db > 20.0


@pytest.mark.parametrize("rate", RATES)
def test_double_talk_keeps_the_near_end(rate):
    """The second double-talk stretch (11-15 s), once the gain control has met the talker.

    The gain control only adapts on evident near-end speech (not while the far end talks
    alone or in its pauses), so the near end comes out a few dB under the target in
    double talk: the residual-echo suppressor takes about 2 dB, the rest is level the
    gain control learns in near-only speech. AEC3 loses 6-16 dB here.
    """
    d = scenario.double_talk(rate)
    y = ca.process_arrays(d.mic, d.far, sample_rate=rate)
    t = np.arange(d.mic.size) / rate
    settled = d.double_talk & (t >= 11.0)
    target = ca.GainControlConfig().target_level_dbfs
    level = metrics.active_level_dbfs(y[settled], rate)
    assert target - 5.0 <= level <= target + 2.0, level
    near_only_level = metrics.active_level_dbfs(y[d.near_only & (t >= 8.0)], rate)
    assert abs(near_only_level - target) <= 2.0, near_only_level


@pytest.mark.parametrize("rate", RATES)
def test_far_end_talk_does_not_lift_near_end_noise(rate):
    """No echo at all, only noise at the microphone while the far end talks: the
    suppressor's release in far-end pauses must not make the gain control lift the noise
    (it once did, by 28 dB)."""
    from callaudio.simulation import EchoScenario

    res = EchoScenario(
        sample_rate=rate, duration_s=8.0, seed=3, noise_kind="white", noise_snr_db=30.0
    ).build()
    y = ca.process_arrays(res.noise, res.far, sample_rate=rate)
    tail = np.arange(y.size) >= 3 * rate
    assert metrics.level_dbfs(y[tail]) <= ca.GainControlConfig().noise_ceiling_dbfs


def test_reset_echo_path_keeps_the_delay_and_reconverges():
    rate = 16000
    r = scenario.path_change(rate)
    vp = ca.VoiceProcessor(rate)
    n = vp.frame_size
    out = np.empty_like(r.mic)
    change = r.path_change_sample
    for i in range(0, r.mic.size - n + 1, n):
        if i <= change < i + n:
            delay_before = vp.stats.delay_ms
            vp.reset_echo_path()  # what the session does on a route change
            # The delay is kept as a prior (at the estimator's 10 ms resolution until
            # the restarted filter refines it again).
            delay_after = vp.stats.delay_ms
            assert delay_before is not None and delay_after is not None
            assert abs(delay_after - delay_before) <= 10.0
        vp.process_render(r.far[i : i + n])
        out[i : i + n] = vp.process_capture(r.mic[i : i + n])
    after = r.far_only & (np.arange(r.mic.size) > change + rate)
    _, median = metrics.erle_db(r.mic, out, rate, mask=after)
    assert median >= 20.0, median
