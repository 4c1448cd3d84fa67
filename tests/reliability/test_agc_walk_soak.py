"""The walk-away floor of the gain control (tests/test_agc_targets.py) over a larger draw:
12 seeds per rate, make soak only (CALLAUDIO_SOAK=1)."""

from __future__ import annotations

import pytest

from test_agc_targets import spread, walk_away

from ._support import soak_only

pytestmark = soak_only

# Over this draw the worst spread is 6.6 dB at both rates (seeds 6 and 10; target 2 dB,
# see the strict xfail in test_agc_targets.py): a floor so the tracking cannot quietly get
# worse.
SOAK_FLOOR_DB = {16000: 7.0, 48000: 7.0}


@pytest.mark.parametrize("rate", [16000, 48000], ids=["16k", "48k"])
@pytest.mark.parametrize("seed", range(12))
def test_walk_away_floor(seed: int, rate: int) -> None:
    d, ideal, none = walk_away(rate, seed)
    # the measure sees the gain on this draw too (an ideal gain control is nearly flat
    # on it, no gain control at all is not)
    assert spread(ideal) <= 2.0, (seed, ideal)
    assert spread(none) >= 14.0, (seed, none)
    assert spread(d) <= SOAK_FLOOR_DB[rate], (seed, d)
