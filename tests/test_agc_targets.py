"""The gain control in the whole chain, on the cases of issue 16: it learns only from
near-end speech and never lifts noise or echo.

Seeded draws over talkers (the recorded clips and ``speech_like`` voices), noise kinds and
levels; every assertion is a worst case over the draws. Levels: RMS over 1 s windows
(:func:`callaudio.simulation.metrics.level_dbfs`) for noise, ITU-T P.56 active level for
speech.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import callaudio as ca
from callaudio.simulation import EchoScenario, load_talker, speech_like
from callaudio.simulation.metrics import active_fraction, active_level_dbfs, level_dbfs
from callaudio.simulation.noise import make_noise

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
RATES = [
    pytest.param(16000, id="16k"),
    pytest.param(48000, id="48k", marks=pytest.mark.slow),
]
LIMIT = 10 ** (ca.GainControlConfig().limiter_threshold_dbfs / 20)


def run_chain(
    mic: npt.ArrayLike, far: npt.ArrayLike | None, rate: int, agc: bool = True
) -> tuple[F32, F64, Any]:
    """The default chain (or without its gain control) frame by frame: output, the gain
    after each frame, final stats."""
    off = ca.ProcessingConfig(gain_control=ca.GainControlConfig(enabled=False))
    vp = ca.VoiceProcessor(rate) if agc else ca.VoiceProcessor(rate, config=off)
    n = vp.frame_size
    x = np.asarray(mic, dtype=np.float32)
    f = None if far is None else np.asarray(far, dtype=np.float32)
    frames = x.size // n
    y = np.empty(frames * n, dtype=np.float32)
    gain = np.empty(frames)
    for i in range(frames):
        if f is not None:
            vp.process_render(f[i * n : (i + 1) * n])
        y[i * n : (i + 1) * n] = vp.process_capture(x[i * n : (i + 1) * n])
        g = vp.stats.gain_db
        gain[i] = 0.0 if g is None else g
    return y, gain, vp.stats


def talker(kind: int, seconds: float, rate: int, seed: int, level: float) -> F64:
    """Recorded talker 0/1, or a ``speech_like`` voice for kind >= 2, at a P.56 level."""
    if kind < 2:
        s = load_talker(kind, rate, seconds, seed=seed, level_dbfs=level)
    else:
        s = speech_like(seconds, rate, level_dbfs=level, seed=seed, talker=kind - 2)
    return np.asarray(s, dtype=np.float64)


def window_levels(x: npt.ArrayLike, rate: int) -> F64:
    a = np.asarray(x, dtype=np.float64)
    return np.array([level_dbfs(a[i : i + rate]) for i in range(0, a.size - rate + 1, rate)])


# ------------------------------------------------------------ far end only, with noise


@pytest.mark.parametrize("rate", RATES)
def test_far_end_echo_and_noise_are_never_lifted(rate: int) -> None:
    """Mic = the far end's echo + noise, nobody at the near end; the far end stops at 9 s.

    The output noise never exceeds the input noise (1 s windows), during the far end's
    talk and after it, and no speech level or gain is learned from echo or noise.
    """
    worst = -np.inf
    for seed in range(3 if rate == 16000 else 2):
        rng = np.random.default_rng([seed, 16])
        kind = ("white", "pink", "brown")[seed % 3]
        noise_db = float(rng.uniform(-55.0, -45.0))
        res = EchoScenario(
            sample_rate=rate,
            duration_s=13.0,
            seed=seed,
            far_intervals=((0.0, 9.0),),
            near_intervals=(),
            erl_db=float(rng.uniform(0.0, 12.0)),
            far_talker=seed % 2,
            far_level_dbfs=float(rng.uniform(-32.0, -20.0)),
        ).build()
        noise = make_noise(kind, 13.0, rate, level_dbfs=noise_db, seed=seed + 7)[: res.mic.size]
        y, gain, stats = run_chain(res.echo + noise, res.far, rate)
        rise = window_levels(y, rate)[1:] - window_levels(noise, rate)[1 : y.size // rate]
        worst = max(worst, float(np.max(rise)))
        assert np.max(rise) <= 0.0, (seed, kind, rise)
        assert stats.speech_level_dbfs is None, seed
        assert np.max(gain) <= 0.0, seed
    assert worst > -30.0  # the output does hold the near end's noise (the test can fail)


# ------------------------------------------------------------------------------- shout


@functools.lru_cache(maxsize=8)
def shout_run(rate: int, seed: int) -> tuple[F64, F32]:
    """A talker shouts for 0.5 s (+20 dB) at 5 s: the gain's dip against the same talk
    without the shout (dB, per frame), and the output."""
    rng = np.random.default_rng([seed, 20])
    level = float(rng.uniform(-32.0, -20.0))
    src = talker(seed % 4, 10.0, rate, seed, level)
    src += make_noise("pink", 10.0, rate, level_dbfs=level - 40.0, seed=seed)[: src.size]
    t = np.arange(src.size) / rate
    _, calm, _ = run_chain(src, None, rate)
    y, gain, _ = run_chain(src * np.where((t >= 5.0) & (t < 5.5), 10.0, 1.0), None, rate)
    return calm - gain, y


@pytest.mark.parametrize("rate", RATES)
def test_a_shout_is_left_to_the_limiter(rate: int) -> None:
    """The gain dips <= 6 dB for a 0.5 s shout (+20 dB); no output sample reaches the
    limiter threshold, which takes the peak."""
    for seed in range(4 if rate == 16000 else 2):
        dip, y = shout_run(rate, seed)
        assert np.max(dip) <= 6.0, (seed, np.max(dip))
        assert float(np.max(np.abs(y))) < LIMIT
        # the shout did reach the limiter (it, not the gain, took the peak)
        assert float(np.max(np.abs(y[int(5.0 * rate) : int(5.6 * rate)]))) > 0.5 * LIMIT


@pytest.mark.parametrize("rate", RATES)
def test_the_gain_is_back_within_1s_of_a_shout(rate: int) -> None:
    """From 1 s after the shout on, the gain is within 1 dB of the no-shout gain, below
    or above it."""
    for seed in range(4 if rate == 16000 else 2):
        dip, _ = shout_run(rate, seed)
        assert np.max(np.abs(dip[650:])) <= 1.0, (seed, np.min(dip[650:]), np.max(dip[650:]))


def test_a_shout_s_quiet_tail_is_no_fall_of_the_level() -> None:
    """Seed 10 (a draw beyond the ones above): the stages before hand on a second of the
    shout's quiet, steady tail as speech 25 dB under the talker. Taken by the trend test
    as the talker walking away, it dropped the level there, and the shout guard then left
    the talker's next words out as shouts: the gain stood 20 dB over the no-shout gain for
    0.8 s (23.7 dB at 16 kHz, 24.3 dB at 48 kHz). Now 2.06 dB at most, from 1 s after."""
    dip, y = shout_run(16000, 10)
    assert np.max(np.abs(dip[650:])) <= 2.5, float(np.max(np.abs(dip[650:])))
    assert float(np.max(np.abs(y))) < LIMIT


# --------------------------------------------------------------------------- idle noise


@pytest.mark.parametrize("rate", RATES)
def test_idle_room_noise_after_speech_does_not_rise(rate: int) -> None:
    """6 s of talk, then 14 s of the room's noise alone: the output noise never rises
    above its level in the first second after the talk (1 s windows)."""
    kinds = ("white", "pink", "brown", "hum")
    for seed in range(4 if rate == 16000 else 2):
        rng = np.random.default_rng([seed, 14])
        level = float(rng.uniform(-36.0, -20.0))
        snr = float(rng.uniform(15.0, 35.0))
        src = talker(seed % 4, 6.0, rate, seed, level)
        x = np.concatenate([src, np.zeros(14 * rate)])
        x += make_noise(kinds[seed % 4], 20.0, rate, level_dbfs=level - snr, seed=seed)[: x.size]
        y, gain, _ = run_chain(x, None, rate)
        out = window_levels(y[int(6.5 * rate) :], rate)
        assert np.max(out[1:]) - out[0] <= 0.0, (seed, out)
        assert np.all(np.diff(gain[650:]) <= 1e-9), seed


# ----------------------------------------------------------------------- walking away

# The measured worst spread over the draws below (target 2 dB, strict xfail): a floor so
# the tracking cannot quietly get worse.  Before the trend test: 5.2/7.0/7.5 dB at 16 kHz;
# before the recency-weighted level: 4.3/5.7/5.1 (16 kHz), 4.4/5.9/5.8 (48 kHz).
WALK_FLOOR_DB = {16000: 6.0, 48000: 6.0}


@functools.lru_cache(maxsize=8)
def walk_away(rate: int, seed: int) -> tuple[list[float], list[float], list[float]]:
    """The talker's level falls 20 dB over 6 s (from 4 s on).  Per 1 s window (hop 0.5 s)
    where the talker talks for at least a quarter of it: the output's P.56 level minus the
    talker's own (unfaded) level, for the chain, for an ideal gain (the chain without
    gain control times the exact inverse of the fade) and for no gain at all."""
    level = -24.0 - 2.0 * seed
    src = talker(seed % 4, 14.0, rate, seed, level)
    t = np.arange(src.size) / rate
    fade_db = np.clip(-(t - 4.0) / 6.0 * 20.0, -20.0, 0.0)
    x = src * 10 ** (fade_db / 20)
    x += make_noise("pink", 14.0, rate, level_dbfs=level - 45.0, seed=seed)[: x.size]
    y, _, _ = run_chain(x, None, rate)
    pre = run_chain(x, None, rate, agc=False)[0].astype(np.float64)
    ideal = pre * 10 ** (-fade_db[: pre.size] / 20)
    out: tuple[list[float], list[float], list[float]] = ([], [], [])
    for i in range(4 * rate, 13 * rate, rate // 2):
        b = src[i : i + rate]
        # (a window with a word at its edges only: its P.56 level is the noise's, not the
        # talker's, whatever the gain; the ideal gain scores 7 dB off there)
        if np.max(np.abs(b)) > 10 ** (level / 20) * 0.1 and active_fraction(b, rate) >= 0.25:
            ref = active_level_dbfs(b, rate)
            for k, sig in enumerate((y, ideal, pre)):
                out[k].append(active_level_dbfs(sig[i : i + rate], rate) - ref)
    return out


def spread(d: list[float]) -> float:
    return max(d) - min(d)


@pytest.mark.parametrize("rate", RATES)
def test_walking_away_measure_sees_the_gain(rate: int) -> None:
    """The measure of the walk-away tests is the gain's: an ideal gain control spreads
    <= 1 dB on it, none at all >= 15 dB."""
    for seed in range(3):
        _, ideal, none = walk_away(rate, seed)
        assert spread(ideal) <= 1.0, (seed, ideal)
        assert spread(none) >= 15.0, (seed, none)


@pytest.mark.parametrize("rate", RATES)
def test_a_talker_walking_away_is_followed(rate: int) -> None:
    """The output level relative to the talker's spreads no more than the measured worst
    (:data:`WALK_FLOOR_DB`) while the talker's level falls 20 dB over 6 s."""
    for seed in range(3):
        d, _, _ = walk_away(rate, seed)
        assert spread(d) <= WALK_FLOOR_DB[rate], (seed, d)


@pytest.mark.xfail(
    strict=True,
    reason=(
        "open (issue 16): the level window lags a level falling 3.3 dB/s and follows the "
        "talker's own phrase-to-phrase level; the output level relative to the talker "
        "spreads 2.4-5.2 dB at 16 kHz and 2.6-5.6 dB at 48 kHz over the draw (target 2 dB); "
        "a look-ahead (centred) P.56 window over the same learning frames spreads 2.3-3.2 "
        "dB at +-1 s, 1.1-3.1 dB with a linear trend fit at +-2 s; WebRTC's APM (livekit, "
        "its AGC on) 8.8-10.1 dB. Even told the fade (the same AGC run on the unfaded "
        "talker, the fade applied to its gain) the 2 s window spreads 1.7-3.1 dB at 16 kHz "
        "over seeds 0-11 but 10 (the 40 dB gain limit), a 4 s one 0.8-2.4 dB; causal "
        "level+slope trackers tried on the learning frames (Kalman, discounted trend fit, "
        "halves, double smoothing) traded the lag for that phrase-to-phrase noise: worst "
        "6.2-9.2 dB over those seeds against the present window's 5.9 dB"
    ),
)
@pytest.mark.parametrize("rate", RATES)
def test_a_talker_walking_away_keeps_the_output_level(rate: int) -> None:
    """The talker's level falls 20 dB over 6 s: the output level, relative to the
    talker's own level in the same 1 s window, spreads <= 2 dB."""
    for seed in range(3):
        d, _, _ = walk_away(rate, seed)
        assert spread(d) <= 2.0, (seed, d)
