"""The echo canceller's sweep floors (tests/test_aec_sweep.py) over a larger draw:
24 seeds per kind and rate, make soak only (CALLAUDIO_SOAK=1).

Asserted here: acquisition (``acq_s``). Not yet: the ERLE after double talk
(``post_dt_db`` >= 30 dB, issue 15 item 2), which 9 of these 24 seeds miss at 16 kHz
(worst 18 dB; on the small draw's misses the same windows fall short with no near talk
at all: reverberant rooms more than double talk); tests/test_aec_sweep.py asserts it on
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
