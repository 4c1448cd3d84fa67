"""Worst-case floors of the echo canceller over a seeded scenario sweep (issue 15).

The cases come from ``aec_sweep.draw`` (talkers incl. espeak-ng voices, rooms, delays,
drift, SER, noise, at 16 and 48 kHz); each seed is one test, so a failure names the case
(``python tests/aec_sweep.py`` prints the whole table). ``make test`` runs this small draw;
``make soak`` (``CALLAUDIO_SOAK=1``) a larger one (tests/reliability/test_aec_sweep_soak.py).
The floors are ``aec_sweep.FLOORS``: the items of issue 15 the canceller meets over the
sweep (acquisition: 20 dB within 1.0 s of the first echo, in single talk and in the far-only
lead-in before double talk, at every rate).
"""

from __future__ import annotations

import pytest

import aec_sweep

RATES = [pytest.param(16000, id="16k"), pytest.param(48000, id="48k", marks=pytest.mark.slow)]


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("seed", range(6))
def test_acquisition(rate, seed):
    aec_sweep.check("acq", seed, rate)


# seed 3: keyboard noise before the first echo once made the delay estimator lock on chance
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("seed", range(4))
def test_acquisition_before_double_talk(rate, seed):
    aec_sweep.check("dt", seed, rate)
