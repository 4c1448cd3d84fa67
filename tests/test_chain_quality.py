"""The whole chain (high-pass -> echo canceller -> noise suppressor -> gain control) on
generated call scenarios: measured properties of what a far-end listener would hear."""

from __future__ import annotations

import numpy as np
import pytest

import callaudio as ca
from callaudio.simulation import metrics, scenario

RATES = [
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
def test_double_talk_keeps_the_near_end_at_the_target_level(rate):
    d = scenario.double_talk(rate)
    y = ca.process_arrays(d.mic, d.far, sample_rate=rate)
    target = ca.GainControlConfig().target_level_dbfs
    # Near-end speech comes out at the gain control's target, in double talk too.
    dt = metrics.active_level_dbfs(y[d.double_talk], rate)
    assert abs(dt - target) <= 3.0, dt
    # ...and it is the near-end talker: the output correlates with the clean near end.
    assert metrics.near_end_loss_db(y, d.near, d.double_talk) > -3.0


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
