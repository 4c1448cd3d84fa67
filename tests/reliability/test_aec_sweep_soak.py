"""The echo canceller's sweep floors (tests/test_aec_sweep.py) over a larger draw:
24 seeds per kind and rate, make soak only (CALLAUDIO_SOAK=1).

Asserted here: acquisition (``acq_s``) and the ERLE after double talk (``post_dt_db`` >=
30 dB, issue 15 item 2). One seed misses the latter by 1.1 dB (28.9) and is listed in
:data:`KNOWN` (strict: it must still miss, so a fix shows). Six missed by less than 1.3 dB
(29.97 / 29.36 / 29.03 dB at 16 kHz, 29.37 / 28.78 / 29.24 dB at 48 kHz) before the Kalman
step shrank with the suppressor's near-end presence (aec.pyx ``_random_walk``, DT_MU_*):
seeds 102, 113 at 16 kHz and 102, 105, 112 at 48 kHz now keep 36.3 / 31.9 / 30.2 / 35.5 /
32.0 dB (9 / 8 of 24 missed, worst 11.2 / 18.1 dB, before the filter followed the clock
drift in double talk, aec.pyx ``_drift``).
"""

from __future__ import annotations

import pytest

import aec_sweep

from ._support import soak_only

pytestmark = soak_only

# (seed, rate) -> the quantities that case misses, with its value when listed
KNOWN: dict[tuple[int, int], tuple[str, ...]] = {
    (112, 16000): ("post_dt_db",),  # 28.91 dB (29.36 before the presence-shrunk Kalman step)
}


@pytest.mark.parametrize("rate", [16000, 48000], ids=["16k", "48k"])
@pytest.mark.parametrize("kind", ["acq", "dt"])
@pytest.mark.parametrize("seed", range(100, 124))
def test_sweep_floors(kind, seed, rate):
    floors = ("acq_s", "post_dt_db") if kind == "dt" else ("acq_s",)
    known = KNOWN.get((seed, rate), ()) if kind == "dt" else ()
    aec_sweep.check(kind, seed, rate, known=known, floors=floors)
