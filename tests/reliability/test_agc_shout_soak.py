"""The shout targets of the gain control (tests/test_agc_targets.py: a 0.5 s shout, +20 dB)
over a larger draw: seeds 0-7 per rate, make soak only (CALLAUDIO_SOAK=1).  The draw in
make test (seeds 0-3 at 16 kHz, 0-1 at 48 kHz) costs about 1 s per rate; this one 2-10 s.
"""

from __future__ import annotations

import numpy as np
import pytest

from test_agc_targets import LIMIT, shout_run

from ._support import soak_only

pytestmark = soak_only

# The gain is not back within 1 dB of the no-shout gain 1 s after the shout on these seeds
# (the worst |difference| from then on, dB): a floor so they cannot quietly get worse.
# Seed 5: the 0.5 s of speech the shout replaced, whose level the window cannot know (it
# counts as the level before the shout; measured 1.02 / 1.11 dB).  Seed 6: the talker
# pauses for the whole shout, which is then the room's noise 20 dB up (no speech reaches
# the limiter; measured 1.08 / 1.12 dB; 2.44 dB at 48 kHz while a steady stretch could
# restart the level window on a fall).
RETURN_MISSES_DB = {(16000, 5): 1.1, (16000, 6): 1.2, (48000, 5): 1.2, (48000, 6): 1.2}
PAUSED = {6}  # seeds whose talker is silent from 5.0 to 5.5 s


@pytest.mark.parametrize("rate", [16000, 48000], ids=["16k", "48k"])
@pytest.mark.parametrize("seed", range(8))
def test_shout_targets(seed: int, rate: int) -> None:
    dip, y = shout_run(rate, seed)
    # the gain dips <= 6 dB; the limiter, not the gain, takes the shout's peak
    assert np.max(dip) <= 6.0, (seed, np.max(dip))
    assert float(np.max(np.abs(y))) < LIMIT
    if seed not in PAUSED:
        assert float(np.max(np.abs(y[int(5.0 * rate) : int(5.6 * rate)]))) > 0.5 * LIMIT
    # from 1 s after the shout on, the gain is within 1 dB of the no-shout gain
    back = float(np.max(np.abs(dip[650:])))
    floor = RETURN_MISSES_DB.get((rate, seed))
    if floor is None:
        assert back <= 1.0, (seed, back)
    else:
        assert back <= floor, (seed, back)
        assert back > 1.0, f"seed {seed} at {rate} Hz meets the target now: drop it from the misses"
        pytest.xfail(f"the gain is {back:.2f} dB off the no-shout gain 1 s after (target 1 dB)")
