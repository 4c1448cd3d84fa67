"""The echo canceller's sweep floors (tests/test_aec_sweep.py) over a larger draw:
24 seeds per kind and rate, make soak only (CALLAUDIO_SOAK=1).

Asserted here: acquisition (``acq_s``). Not yet: the ERLE after double talk
(``post_dt_db`` >= 30 dB, issue 15 item 2), which 3 of these 24 seeds miss at 16 and at
48 kHz (worst 29.0 / 28.8 dB; 9 / 8 of 24, worst 11.2 / 18.1 dB, before the filter followed
the clock drift in double talk, aec.pyx ``_drift``); tests/test_aec_sweep.py asserts it on
the small draw.
"""

from __future__ import annotations

import pytest

import aec_sweep

from ._support import soak_only

pytestmark = soak_only


@pytest.mark.parametrize("rate", [16000, 48000], ids=["16k", "48k"])
@pytest.mark.parametrize("kind", ["acq", "dt"])
@pytest.mark.parametrize("seed", range(100, 124))
def test_sweep_floors(kind, seed, rate):
    aec_sweep.check(kind, seed, rate, floors=("acq_s",))
