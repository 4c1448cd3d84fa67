"""The residual-echo suppressor's nonlinear echo model and near-end setting, compiled vs
the NumPy reference (tests/_reference/aec_ref.py), on a saturating loudspeaker."""

from __future__ import annotations

import numpy as np
import pytest

from _reference.aec_ref import EchoCancellerRef
from callaudio._dsp.aec import EchoCanceller
from callaudio.simulation import scenario as scn
from callaudio.simulation.metrics import erle_db


@pytest.mark.parametrize("rate", [16000, 48000], ids=["16k", "48k"])
def test_saturating_loudspeaker_matches_reference(rate):
    res = scn.soft_clip(rate, duration_s=3.0, clip_drive=4.0)
    n = rate // 100
    a = EchoCanceller(rate)
    r = EchoCancellerRef(rate)
    outs_a, outs_r = [], []
    coupled = 0
    for i in range(len(res.mic) // n):
        s = slice(i * n, (i + 1) * n)
        a.render(res.far[s])
        r.render(res.far[s])
        outs_a.append(a.capture(res.mic[s]))
        outs_r.append(r.capture(res.mic[s]))
        coupled += bool(np.any(r.NLc > 0.0))
    assert coupled >= 100  # the nonlinear coupling was learnt (and used) most of the clip
    oa = np.concatenate(outs_a)
    orf = np.concatenate(outs_r)
    scale = float(np.max(np.abs(res.mic)))
    assert np.max(np.abs(oa - orf)) <= 1e-3 * scale
    m = len(oa)
    _, med = erle_db(res.echo[:m].astype(np.float64), oa, rate, mask=res.far_active[:m])
    assert med >= 30.0  # 21 dB before the nonlinear model
