"""The echo canceller's sweep floors (tests/test_aec_sweep.py) over a larger draw:
24 seeds per kind and rate, make soak only (CALLAUDIO_SOAK=1)."""

from __future__ import annotations

import pytest

import aec_sweep

from ._support import soak_only

pytestmark = soak_only


@pytest.mark.parametrize("rate", [16000, 48000], ids=["16k", "48k"])
@pytest.mark.parametrize("kind", ["acq", "dt"])
@pytest.mark.parametrize("seed", range(100, 124))
def test_sweep_floors(kind, seed, rate):
    aec_sweep.check(kind, seed, rate)
