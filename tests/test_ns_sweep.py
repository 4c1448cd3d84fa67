"""Seeded quality sweep of the noise suppressor (issue 16): worst cases over a draw.

Cases come from ``ns_sweep.draw`` (talkers incl. espeak-ng voices; babble, cafe, air-con,
car, keyboard, street and a car -> cafe switch; 10 and 20 dB SNR), so a failure is
reproduced by its seed.  Every floor is a worst case over the draw, not a median.  16 kHz
runs by default, 48 kHz is ``slow``; the peer comparison (WebRTC NS, SpeexDSP, RNNoise at
48 kHz; each skipped when not installed) is ``slow``.  A larger draw runs in
``tests/reliability/test_ns_sweep_soak.py`` (CALLAUDIO_SOAK=1).

Where the issue's target is not reached the test says so as a strict ``xfail`` (it turns
into a failure the day the target is met, so the marker is removed), and a floor at the
measured level keeps the present behaviour from regressing.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest

import ns_sweep as S
from callaudio._dsp.ns import NoiseSuppressor
from callaudio.simulation.metrics import level_dbfs

RATES = [pytest.param(16000, id="16k"), pytest.param(48000, id="48k", marks=pytest.mark.slow)]
SNRS = (10, 20)
SEEDS = {16000: (0, 1), 48000: (2,)}


def _rows(rate: int, kind: str) -> list[tuple[S.Case, dict[str, float]]]:
    out = []
    for snr in SNRS:
        for seed in SEEDS[rate]:
            case = S.draw(seed, rate, kind, snr)
            out.append((case, S.measured(case)))  # measured once per session
    return out


@pytest.mark.parametrize("kind", S.KINDS)
@pytest.mark.parametrize("rate", RATES)
def test_pesq_floor_and_stoi_kept(rate: int, kind: str) -> None:
    rows = _rows(rate, kind)
    worst_p = min(rows, key=lambda r: r[1]["pesq_gain"])
    worst_s = min(rows, key=lambda r: r[1]["stoi_delta"])
    assert worst_s[1]["stoi_delta"] >= S.STOI_FLOOR.get(kind, -0.02), (worst_s[0].label, worst_s[1])
    assert worst_p[1]["pesq_gain"] >= S.PESQ_FLOOR[kind], (worst_p[0].label, worst_p[1])


# Keyboard noise, DNSMOS OVRL gain, worst over the draw (10 and 20 dB; the sweep's seeds):
# 16 kHz +0.102 -> +0.229 with the transient detector's count of rising bins (ns.pyx item
# 2), 48 kHz +0.022 (seed 2 at 10 dB).  The PESQ floor is S.PESQ_FLOOR["keyboard"].
KEYBOARD_OVRL_FLOOR = {16000: 0.2, 48000: 0.01}


def _speechmos() -> None:
    """Skip without speechmos, except in CI: `make test` installs it (the test extra)."""
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        import speechmos  # noqa: F401  (an ImportError fails the test)
    pytest.importorskip("speechmos")


@pytest.mark.slow
@pytest.mark.parametrize("rate", (16000, 48000), ids=("16k", "48k"))
def test_keyboard_clicks_dnsmos_gain(rate: int) -> None:
    _speechmos()
    gains = []
    for snr in SNRS:
        for seed in SEEDS[rate]:
            case = S.draw(seed, rate, "keyboard", snr)
            _, x = S.build(case)
            run, d = S.callaudio_ns(rate)
            m = S.dnsmos_gain(x, run(x), rate, d)  # its PESQ/STOI: test_pesq_floor_and_...
            gains.append((m["dnsmos_gain"], case.label))
    assert min(gains)[0] >= KEYBOARD_OVRL_FLOOR[rate], gains


@pytest.mark.parametrize("kind", S.KINDS)
def test_pesq_never_worse_than_input(kind: str) -> None:
    rows = _rows(16000, kind)
    worst = min(rows, key=lambda r: r[1]["pesq_gain"])
    assert worst[1]["pesq_gain"] > 0.0, (worst[0].label, worst[1])


def test_stoi_within_0_02_in_aircon() -> None:
    """Issue 16's STOI target in air-con (was a strict xfail: -0.024 before the onset hold,
    -0.022 with it, -0.018 with the noise tracker's xi_H1 at 12 dB)."""
    rows = _rows(16000, "aircon")
    assert min(r[1]["stoi_delta"] for r in rows) >= -0.02


@pytest.mark.parametrize("rate", RATES)
def test_clean_speech_pesq(rate: int) -> None:
    """Every talker of the draw (two clips, up to eight espeak-ng voices), no noise."""
    worst = 5.0, -1
    for talker in range(S.n_talkers()):
        s = S.clean_of(talker, rate, 3, 4.0)
        ns = NoiseSuppressor(rate)
        y = ns.process_signal(s)
        d = ns.latency_samples
        ref = S.to16k(s[: s.size - d].astype(np.float64), rate)
        out = S.to16k(y[d:].astype(np.float64), rate)
        worst = min(worst, (S.pesq_wb(ref, out), talker))
    assert worst[0] >= 4.2, worst


# Music and the dial tone: worst 0.5 s output-over-input level (after the first second).
# The target is >= -3 dB.  A held tone is stationary, so the noise tracker learns
# it; the tonal protection (ns.pyx item 2: the tracker falls to the local floor where the
# mean periodogram stands >= 20 dB above its neighbours' noise-like part) keeps the dial
# tone: -12.0 -> -0.57 / -0.53 dB at 16 / 48 kHz, -0.03 with the phase coherence.  Music
# (seed 1; its first chord sounds from the first sample, so the noise estimate starts on
# it, and its low partials, 110 Hz apart, filled each other's floor) stayed at -12.0 until
# the floor was taken on the bins' noise-like part, Pbar (1 - C)^2 with C the phase
# coherence: -2.12 / -2.14 dB at 16 / 48 kHz (seeds 2 / 3: -3.2 / -7.7 -> -0.5 / -1.0);
# -0.88 at both rates with the onset hold (a chord started after the first second is not
# learnt).  The floors keep the present levels.
TONAL_FLOOR_DB = {"music": -1.25, "dial_tone": -0.5}


@pytest.mark.parametrize("what", ["music", "dial_tone"])
@pytest.mark.parametrize("rate", RATES)
def test_music_and_tones_kept_to_the_measured_floor(rate: int, what: str) -> None:
    x = S.music(rate, 1) if what == "music" else S.dial_tone(rate, 1)
    ns = NoiseSuppressor(rate)
    y = ns.process_signal(x)
    g = S.worst_half_second_gain_db(x, y, rate, ns.latency_samples)
    assert g >= TONAL_FLOOR_DB[what], g


@pytest.mark.parametrize("rate", RATES)
def test_dial_tone_within_3_db(rate: int) -> None:
    x = S.dial_tone(rate, 1)
    ns = NoiseSuppressor(rate)
    y = ns.process_signal(x)
    assert S.worst_half_second_gain_db(x, y, rate, ns.latency_samples) >= -3.0


@pytest.mark.parametrize("rate", RATES)
def test_music_within_3_db(rate: int) -> None:
    x = S.music(rate, 1)
    ns = NoiseSuppressor(rate)
    y = ns.process_signal(x)
    assert S.worst_half_second_gain_db(x, y, rate, ns.latency_samples) >= -3.0


@pytest.mark.parametrize("seed", (0, 1))
def test_aircon_blade_pass_tones_still_suppressed(seed: int) -> None:
    """The tonal protection leaves noise tones alone: air-con alone (its blade-pass tones
    10-15 dB over the broadband noise, not the 20 dB the protection needs) keeps the full
    12 dB attenuation at its strongest tone (80-160 Hz) after the first second."""
    rate = 16000
    v = S.noise_of("aircon", 4 * rate, rate, seed)
    x = np.ascontiguousarray(v * 10 ** ((-45 - level_dbfs(v)) / 20), dtype=np.float32)
    ns = NoiseSuppressor(rate)
    y = ns.process_signal(x)
    d = ns.latency_samples
    a = np.abs(np.fft.rfft(x[rate : x.size - d].astype(np.float64))) ** 2
    b = np.abs(np.fft.rfft(y[rate + d :].astype(np.float64))) ** 2
    f = np.fft.rfftfreq(x.size - rate - d, 1.0 / rate)
    band = np.flatnonzero((f >= 75.0) & (f <= 165.0))
    k = band[np.argmax(a[band])]
    assert 10.0 * np.log10(a[k - 2 : k + 3].sum() / b[k - 2 : k + 3].sum()) >= 11.0


# -- peers ----------------------------------------------------------------------------

# callaudio's PESQ gain minus the best installed peer's, worst over 10/20 dB (seed 0, 16 kHz),
# with WebRTC NS (webrtc-noise-gain, livekit APM) and SpeexDSP installed.  The issue's
# target is >= 0; it is met for street, babble and cafe.  Measured (rounded down): babble
# +0.008 and cafe +0.012 against WebRTC NS (-0.005 and -0.001 before the held,
# bias-compensated pause floor), air-con -0.015 (SpeexDSP), car -0.037 and keyboard -0.019
# (WebRTC NS), the switch -0.011 (SpeexDSP), all at 10 dB but keyboard (20 dB).
PEER_MARGIN_FLOOR = {
    "babble": 0.0,
    "cafe": 0.0,
    "aircon": -0.03,
    "car": -0.06,
    "keyboard": -0.04,
    "switch": -0.03,
}


def _margin(kind: str, rate: int = 16000, seed: int = 0) -> tuple[float, str]:
    installed = {name: make(rate) for name, make in S.PEERS.items()}
    installed = {name: peer for name, peer in installed.items() if peer is not None}
    if not installed:
        pytest.skip("no peer installed")
    worst = (np.inf, "")
    for snr in SNRS:
        case = S.draw(seed, rate, kind, snr)
        s, x = S.build(case)
        ours = S.measured(case)["pesq_gain"]
        for name, peer in installed.items():
            g = S.measure(s, x, peer(x), rate)["pesq_gain"]
            worst = min(worst, (ours - g, f"{kind}@{snr}dB vs {name}"))
    return worst


@pytest.mark.slow
@pytest.mark.parametrize("kind", S.KINDS)
def test_pesq_gain_against_the_best_peer(kind: str) -> None:
    margin, where = _margin(kind)
    assert margin >= PEER_MARGIN_FLOOR.get(kind, 0.0), (margin, where)


# -- noise change cafe -> car ----------------------------------------------------------

# ``switch_back`` (cafe, then car at 3 s; the sweep's ``switch`` is car -> cafe).  Whole-
# signal PESQ gain at 16 kHz, seeds 0/1 x 10/20 dB, before the held, bias-compensated
# pause floor with its raised gain floor (emulated in the reference model: no hold, bias 1,
# share 0) -> after: +0.124/+0.241/+0.163/+0.133 -> +0.098/+0.189/+0.094/+0.178; STOI
# change -0.010/-0.005/-0.006/-0.002.
#
# An ideal noise-change release (reference model, the pause floor switched off exactly at
# the switch: what car alone gets) reaches only +0.102/+0.233/+0.092/+0.165: the worst
# case (seed 1 at 10 dB) is lost in the cafe half (the babble trade-off of the bias and
# the gain-floor share), and only seed 0 at 20 dB is a release problem.  Variants that do
# not reach it either (min PESQ gain switch_back / babble, 16 kHz): the gain floor's
# weight held 0 / 0.5 / 1 s +0.098 / +0.084 / +0.086 (babble +0.023 / +0.020 / +0.021);
# no hold +0.093; the hold updated only in pause hops +0.095 (babble +0.023); the unheld
# weight for the lift, held for the gain floor +0.091 (babble -0.028); the lift capped by
# the 0.5 s mean periodogram: no change.  A lower gain-floor share (0 / 0.25 / 0.5) gives
# +0.136 / +0.125 / +0.114, but STOI in babble / cafe falls to -0.040 / -0.029 / -0.022
# (floor -0.02).  The floor keeps the present level; the strict xfail is the part a
# release at the noise change can win (seed 0 at 20 dB, ideal +0.233).
SWITCH_BACK_FLOOR = 0.09
SWITCH_BACK_RELEASE_TARGET = 0.22


@functools.lru_cache(maxsize=8)
def _switch_back(seed: int, snr: float) -> dict[str, float]:
    return S.measured(S.draw(seed, 16000, "switch_back", snr))


def test_cafe_to_car_switch_kept_to_the_measured_floor() -> None:
    m = _switch_back(1, 10)
    assert m["pesq_gain"] >= SWITCH_BACK_FLOOR, m
    assert m["stoi_delta"] >= -0.02, m


@pytest.mark.slow
@pytest.mark.parametrize("snr", SNRS)
@pytest.mark.parametrize("seed", (0, 1))
def test_cafe_to_car_switch_over_the_draw(seed: int, snr: int) -> None:
    m = _switch_back(seed, snr)
    assert m["pesq_gain"] >= SWITCH_BACK_FLOOR, m
    assert m["stoi_delta"] >= -0.02, m


@pytest.mark.xfail(
    strict=True,
    reason="cafe -> car: the held pause floor stays on after the babble stops (seed 0 at "
    "20 dB +0.197; +0.241 before it, +0.233 with an ideal release at the switch)",
)
def test_cafe_to_car_switch_released_after_the_babble() -> None:
    assert _switch_back(0, 20)["pesq_gain"] >= SWITCH_BACK_RELEASE_TARGET
