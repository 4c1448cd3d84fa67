"""Worst-case floors of the echo canceller over a seeded scenario sweep (issue 15).

The cases come from ``aec_sweep.draw`` (talkers incl. espeak-ng voices, rooms, delays,
drift, SER, noise, at 16 and 48 kHz); each seed is one test, so a failure names the case
(``python tests/aec_sweep.py`` prints the whole table). ``make test`` runs this small draw;
``make soak`` (``CALLAUDIO_SOAK=1``) a larger one (tests/reliability/test_aec_sweep_soak.py).
The floors are ``aec_sweep.FLOORS``: acquisition (20 dB within 0.15 s of the first echo,
in single talk and in the far-only lead-in before double talk; the issue asks 1.0 s), the
ERLE in the 2 s after every double-talk burst (>= 30 dB), and re-convergence after a
bulk-delay change (20 dB within 0.25 s of the first echo through the new path; the issue
asks 0.5 s), at every rate.

A case known to miss a floor is listed in ``KNOWN`` with the reason and what it measures;
it is still checked (every other floor must hold, and the known one must still fail, so a
fix shows up as a failure asking to drop it from the list).
"""

from __future__ import annotations

import pytest

import aec_sweep

RATES = [pytest.param(16000, id="16k"), pytest.param(48000, id="48k", marks=pytest.mark.slow)]

# (kind, seed) -> the quantities the case misses at every rate, and why;
# (kind, seed, rate) -> the same at that rate only.
KNOWN: dict[tuple[str, int] | tuple[str, int, int], tuple[str, ...]] = {
    # The far end at the old lag stays silent for 0.55 s after the change, so the
    # divergence test (error louder than the mic) cannot see it; re-locked 0.1 s after
    # it can, 20 dB at 0.64 s (main: 1.09 s).
    ("change", 8): ("change_s",),
}


def _known(kind: str, seed: int, rate: int = 0) -> tuple[str, ...]:
    return KNOWN.get((kind, seed, rate), KNOWN.get((kind, seed), ()))


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("seed", range(6))
def test_acquisition(rate, seed):
    aec_sweep.check("acq", seed, rate)


# Acquisition in the far-only lead-in and the ERLE after each of the three bursts.
# seed 3: keyboard noise before the first echo once made the delay estimator lock on chance
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("seed", range(8))
def test_acquisition_and_erle_after_double_talk(rate, seed):
    aec_sweep.check("dt", seed, rate, _known("dt", seed))


# A bulk-delay change (two renderings spliced): 20 dB back within 0.25 s.
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("seed", range(10))
def test_reconvergence_after_delay_change(rate, seed):
    aec_sweep.check("change", seed, rate, _known("change", seed, rate))
