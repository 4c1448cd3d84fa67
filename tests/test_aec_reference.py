"""The compiled echo canceller matches its slow NumPy reference (tests/_reference)."""

from __future__ import annotations

import numpy as np
import pytest

from _reference.aec_ref import EchoCancellerRef
from callaudio._dsp.aec import EchoCanceller
from callaudio.simulation import scenario as scn


@pytest.mark.parametrize("rate", [16000, 48000], ids=["16k", "48k"])
def test_compiled_matches_reference(rate):
    res = scn.double_talk(rate, duration_s=3.0, near_intervals=((1.6, 3.0),))
    n = rate // 100
    a = EchoCanceller(rate)
    r = EchoCancellerRef(rate)
    outs_a, outs_r = [], []
    near = 0
    for i in range(len(res.mic) // n):
        s = slice(i * n, (i + 1) * n)
        a.render(res.far[s])
        r.render(res.far[s])
        outs_a.append(a.capture(res.mic[s]))
        outs_r.append(r.capture(res.mic[s]))
        assert a.near_talk == (r.dt_hang > 0), i
        near += a.near_talk
    assert near >= 20  # the double-talk branches (no random walk, delay prior kept) ran
    oa = np.concatenate(outs_a)
    orf = np.concatenate(outs_r)
    scale = float(np.max(np.abs(res.mic)))
    # float32 kernel vs float64 model of the same adaptive system: close, not identical
    assert np.max(np.abs(oa - orf)) <= 1e-3 * scale
    assert a.delay_ms == pytest.approx(r.delay_ms, abs=1e-6)
    assert a.erle_db == pytest.approx(r.erle_db, abs=0.05)
