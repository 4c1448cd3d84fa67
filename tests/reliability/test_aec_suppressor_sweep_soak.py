"""The suppressor's sweep (tests/test_aec_suppressor_sweep.py) over a larger draw: 24
seeds per kind and rate, make soak only (CALLAUDIO_SOAK=1).

The floors are the worst cases of this draw, lower than the small draw's: the suppressor's
quantities only (the far-only ERLE around double talk is the adaptive filter's, and falls
to 8 dB in this draw where the filter loses the path). With the learnt-ratio bound
(aec_suppressor.pyx step 2b) the saturating cases keep >= 29.0 dB at 16 kHz and >= 30.8 dB
at 48 kHz (28.0 and 22.9 before it; the floor was 10 dB at 48 kHz), but for the two known
misses.  With the per-bin ERLE estimate behind a talker (step 4) the near-end loss in
double talk is at most 5.3 dB at 16 kHz and 5.5 dB at 48 kHz (7.1 and 7.3 before; the
bound leaves it there; 5.4 and 5.6 with the echo-only setting after a path move, step 4,
seed 102).  Known misses: seed 121 at 48 kHz keeps 7.4 dB (9.8 before aec.pyx
``_drift``, 8.3 before the bound's latest change; 9.4 before step 4): its linear filter
does not converge; seed 101 at 16 kHz
23.7 dB (26.2 before step 4): a filter cancelling ~7 dB under 94 ppm drift, whose error
is taken for a talker in most frames, so the ratio of step 2b is hardly ever learnt.
"""

from __future__ import annotations

import pytest

import aec_sweep

from ._support import soak_only

pytestmark = soak_only

SOAK_FLOORS: dict[int, dict[str, tuple[float, str]]] = {
    rate: {
        "sat_db": (28.0, "min"),
        "dt_loss_db": (6.0, "max"),
        "dt_pesq": (1.05, "min"),
    }
    for rate in (16000, 48000)
}


# (kind, seed, rate) -> why it misses its floor; checked strictly (a fix must drop it)
KNOWN = {
    ("sat3", 121, 48000): "zero bulk delay: the linear filter does not converge (7.4 dB)",
    ("sat3", 101, 16000): "a saturating loudspeaker's error exceeds the ERLE-based estimate "
    "as a talker would (23.7 dB; 26.2 before it); too few echo-only frames to learn the "
    "learnt-ratio bound",
}


@pytest.mark.parametrize("rate", [16000, 48000], ids=["16k", "48k"])
@pytest.mark.parametrize("kind", ["sat3", "dt"])
@pytest.mark.parametrize("seed", range(100, 124))
def test_suppressor_sweep_floors(kind, seed, rate):
    why = KNOWN.get((kind, seed, rate))
    if why is not None:
        with pytest.raises(AssertionError):
            aec_sweep.check_suppressor(kind, seed, rate, SOAK_FLOORS)
        pytest.xfail(why)
    aec_sweep.check_suppressor(kind, seed, rate, SOAK_FLOORS)
