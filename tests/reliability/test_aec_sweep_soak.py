"""The echo canceller's sweep floors (tests/test_aec_sweep.py) over a larger draw:
24 seeds per kind and rate, make soak only (CALLAUDIO_SOAK=1).

Asserted here: acquisition (``acq_s``) and the ERLE after double talk (``post_dt_db`` >=
30 dB, issue 15 item 2). One seed per rate misses the latter by less than 1 dB and is
listed in :data:`KNOWN` (strict: each must still miss, so a fix shows): 29.08 dB at 16 kHz,
28.21 dB at 48 kHz (29.24 before the latched leakage of aec.pyx ``_random_walk``, which
kept 113 at 48 kHz at 31.4 dB only once the lag held in double talk: 27.97 before).
Before the drift tracker weighted its fit by the coherence and took a Kalman gain (aec.pyx
``_drift``) two per rate missed (29.96 / 28.96 dB at 16 kHz, 29.15 / 29.67 dB at 48 kHz;
seeds 102@16k and 112@48k now keep 31.0 / 30.8 dB). Before the Kalman
step shrank with the suppressor's near-end presence (aec.pyx ``_random_walk``, DT_MU_*)
three per rate missed (29.97 / 29.36 / 29.03 dB at 16 kHz, 29.37 / 28.78 / 29.24 dB at 48
kHz); seed 113 at 16 kHz now keeps 31.6 dB, seed 105 at 48 kHz 38.1 dB (32.6 with the
Kalman gain; 9 / 8 of 24 missed, worst 11.2 / 18.1 dB, before the filter followed the clock
drift in double talk, aec.pyx ``_drift``).
"""

from __future__ import annotations

import pytest

import aec_sweep

from ._support import soak_only

pytestmark = soak_only

# (seed, rate) -> the quantities that case misses, with its value when listed
KNOWN: dict[tuple[int, int], tuple[str, ...]] = {
    (112, 16000): ("post_dt_db",),  # 29.08 dB (28.96 before the drift tracker's Kalman gain)
    # 28.21 dB with the latched-leakage step control (aec.pyx _random_walk; 29.24 before
    # it, 29.15 before the drift tracker's Kalman gain)
    (102, 48000): ("post_dt_db",),
}


@pytest.mark.parametrize("rate", [16000, 48000], ids=["16k", "48k"])
@pytest.mark.parametrize("kind", ["acq", "dt"])
@pytest.mark.parametrize("seed", range(100, 124))
def test_sweep_floors(kind, seed, rate):
    floors = ("acq_s", "post_dt_db") if kind == "dt" else ("acq_s",)
    known = KNOWN.get((seed, rate), ()) if kind == "dt" else ()
    aec_sweep.check(kind, seed, rate, known=known, floors=floors)
