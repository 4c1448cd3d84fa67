"""The noise suppressor's sweep floors (tests/test_ns_sweep.py) over a larger draw:
12 seeds per noise kind and rate, make soak only (CALLAUDIO_SOAK=1)."""

from __future__ import annotations

import pytest

import ns_sweep

from ._support import soak_only

pytestmark = soak_only


@pytest.mark.parametrize("rate", [16000, 48000], ids=["16k", "48k"])
@pytest.mark.parametrize("kind", ns_sweep.KINDS)
@pytest.mark.parametrize("seed", range(100, 112))
def test_ns_sweep_floors(kind: str, seed: int, rate: int) -> None:
    ns_sweep.check(seed, rate, kind)
