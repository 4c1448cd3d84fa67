"""The shout targets of the gain control (tests/test_agc_targets.py: a 0.5 s shout, +20 dB)
over a larger draw: seeds 0-15 per rate, make soak only (CALLAUDIO_SOAK=1).  The draw in
make test (seeds 0-3 at 16 kHz, 0-1 at 48 kHz) costs about 1 s per rate; this one 4-20 s.
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
# counts as the level before the shout; measured 1.02 / 1.11 dB).  Seed 8: 1.34 / 1.40 dB.
# Seed 10 at 48 kHz: the shout's quiet tail, learnt as speech (1.29 dB; 24.3 dB while the
# trend test took that tail for a fall).  Seed 15: the talker pauses through the shout,
# which is then the room's noise 20 dB up (1.06 / 1.03 dB; 2.10 / 2.12 while that noise,
# over 30 dB above the floor, needed no modulation test).  Seed 6 (also paused; 1.08 /
# 1.12 dB while the modulation test held only after echo) meets the target: 0.68 / 0.70.
RETURN_MISSES_DB = {
    (16000, 5): 1.1,
    (16000, 8): 1.4,
    (16000, 15): 1.1,
    (48000, 5): 1.2,
    (48000, 8): 1.5,
    (48000, 10): 1.35,
    (48000, 15): 1.1,
}
PAUSED = {6, 14, 15}  # seeds whose talker is silent from 5.0 to 5.5 s


@pytest.mark.parametrize("rate", [16000, 48000], ids=["16k", "48k"])
@pytest.mark.parametrize("seed", range(16))
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
