"""The gain control in the whole chain, on the cases of issue 16: it learns only from
near-end speech and never lifts noise or echo.

Seeded draws over talkers (the recorded clips and ``speech_like`` voices), noise kinds and
levels; every assertion is a worst case over the draws. Levels: RMS over 1 s windows
(:func:`callaudio.simulation.metrics.level_dbfs`) for noise, ITU-T P.56 active level for
speech.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import callaudio as ca
from callaudio.simulation import EchoScenario, load_talker, speech_like
from callaudio.simulation.metrics import active_level_dbfs, level_dbfs
from callaudio.simulation.noise import make_noise

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
RATES = [
    pytest.param(16000, id="16k"),
    pytest.param(48000, id="48k", marks=pytest.mark.slow),
]
LIMIT = 10 ** (ca.GainControlConfig().limiter_threshold_dbfs / 20)


def run_chain(mic: npt.ArrayLike, far: npt.ArrayLike | None, rate: int) -> tuple[F32, F64, Any]:
    """The default chain frame by frame: output, the gain after each frame, final stats."""
    vp = ca.VoiceProcessor(rate)
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


def test_the_gain_is_back_within_1s_of_a_shout() -> None:
    # Passes since the noise suppressor shares the echo suppressor's analysis (its speech
    # probability per 10 ms hop): worst 0.72 dB over the seeds (1.54 dB before).
    for seed in range(4):
        dip, _ = shout_run(16000, seed)
        assert np.max(dip[650:]) <= 1.0, (seed, np.max(dip[650:]))


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


@pytest.mark.xfail(
    strict=True,
    reason=(
        "open (issue 16): the 2 s P.56 window lags a level falling 3.3 dB/s; the output "
        "level relative to the talker spreads 5-12 dB over the draws (target 2 dB)"
    ),
)
def test_a_talker_walking_away_keeps_the_output_level() -> None:
    """The talker's level falls 20 dB over 6 s: the output level, relative to the
    talker's own level in the same 1 s window, spreads <= 2 dB."""
    rate = 16000
    for seed in range(3):
        level = -24.0 - 2.0 * seed
        src = talker(seed % 4, 14.0, rate, seed, level)
        t = np.arange(src.size) / rate
        x = src * 10 ** (np.clip(-(t - 4.0) / 6.0 * 20.0, -20.0, 0.0) / 20)
        x += make_noise("pink", 14.0, rate, level_dbfs=level - 45.0, seed=seed)[: x.size]
        y, _, _ = run_chain(x, None, rate)
        d = []
        for i in range(4 * rate, 13 * rate, rate // 2):
            a, b = y[i : i + rate], src[i : i + rate]
            if np.max(np.abs(b)) > 10 ** (level / 20) * 0.1:
                d.append(active_level_dbfs(a, rate) - active_level_dbfs(b, rate))
        assert max(d) - min(d) <= 2.0, (seed, d)
