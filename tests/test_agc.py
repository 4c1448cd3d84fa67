"""Tests of the compiled automatic gain control (callaudio._dsp.agc).

Levels are measured with ITU-T P.56 method B (:func:`callaudio.simulation.metrics.
active_level_dbfs`: envelope with a 30 ms time constant, 200 ms hangover, margin 15.9 dB);
the speech-like test signals come from :func:`callaudio.simulation.speech_like` (glottal
source through formant resonators, syllable envelope with pauses, scaled to an exact P.56
active level).
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from callaudio._dsp import agc as agc_module
from callaudio._dsp.agc import GainControl
from callaudio.simulation import speech_like
from callaudio.simulation.metrics import active_level_dbfs, level_dbfs

F32 = npt.NDArray[np.float32]
RATES = [pytest.param(r, id=f"{r // 1000}k") for r in (8000, 16000, 32000, 48000)]
TARGET = -18.0
C = agc_module.CONSTANTS


# ----------------------------------------------------------------------------- helpers


def white(n: int, level_db: float, seed: int) -> F32:
    """Seeded white Gaussian noise with an RMS level of ``level_db`` dBFS."""
    rng = np.random.default_rng(seed)
    return (10.0 ** (level_db / 20.0) * rng.standard_normal(n)).astype(np.float32)


def speech(seconds: float, rate: int, level: float, seed: int, noise_db: float = -85.0) -> F32:
    """Speech-like signal at an active level of ``level`` dBFS over white noise."""
    s = speech_like(seconds, rate, level_dbfs=level, seed=seed, talker=seed % 4)
    return (s + white(s.size, noise_db, seed + 1000)).astype(np.float32)


def run(
    gc: Any, x: F32, speech_prob: float | npt.NDArray[np.float64] = -1.0
) -> tuple[F32, dict[str, npt.NDArray[np.float64]]]:
    """Process ``x`` frame by frame; return the output and per-frame stats."""
    n = gc.sample_rate // 100
    frames = x.size // n
    probs = np.broadcast_to(np.asarray(speech_prob, dtype=np.float64), (frames,))
    y = np.empty(frames * n, dtype=np.float32)
    names = ("gain_db", "speech_level_dbfs", "noise_level_dbfs", "speech", "limiter_gain_db")
    stats = {k: np.empty(frames) for k in names}
    for i in range(frames):
        y[i * n : (i + 1) * n] = gc.process(x[i * n : (i + 1) * n], float(probs[i]))
        for k in names:
            stats[k][i] = float(getattr(gc, k))
    return y, stats


def seg(x: npt.NDArray[Any], rate: int, t0: float, t1: float) -> npt.NDArray[Any]:
    return x[int(t0 * rate) : int(t1 * rate)]


# ----------------------------------------------------------------- NumPy reference model


class ReferenceGainControl:
    """Slow NumPy/pure-Python model of the algorithm in agc.pyx (its module docstring).

    Written from the description, not from the Cython code: per-frame state in Python
    floats and lists, frame arithmetic in float64 NumPy.
    """

    def __init__(self, sample_rate: int, **kw: float) -> None:
        cfg = {name: rng[2] for name, rng in agc_module.RANGES.items()}
        cfg.update(kw)
        self.sample_rate = sample_rate
        self.cfg = cfg
        self.clip = 10.0 ** (cfg["limiter_threshold_dbfs"] / 20.0) * C["LIMIT_MARGIN"]
        self.step_db = cfg["max_gain_change_db_per_s"] * C["FRAME_S"]
        self.idle_step_db = cfg["idle_gain_decay_db_per_s"] * C["FRAME_S"]
        self.reset()

    def reset(self) -> None:
        u = C["NOISE_SUBWINDOWS"]
        self.mins = [1e300] * u
        self.maxs = [0.0] * u
        self.sub_min, self.sub_max, self.sub_count, self.sub_head = 1e300, 0.0, 0, 0
        self.smoothed, self.noise, self.started = 0.0, C["ENERGY_FLOOR"], False
        self.noise_held = C["ENERGY_FLOOR"]
        self.hang, self.idle, self.speech = 0, 0, False
        self.learn, self.learn_hang = False, 0
        self.shout_hold = 0
        self.mod: list[float] = []
        self.unobserved = 0
        self.unmodulated = 0  # candidates the modulation test turned down (coverage)
        self.trends = 0  # windows the trend test shortened (coverage)
        self.weighted = 0  # levels the recency-weighted mean set (coverage)
        self.ring = np.zeros(C["LEVEL_FRAMES"])
        self.guarded = np.zeros(C["LEVEL_FRAMES"])
        self.head, self.count, self.level = 0, 0, 0.0
        self.desired_db = self.gain_db = C["INITIAL_GAIN_DB"]
        self.gain = 10.0 ** (self.gain_db / 20.0)
        self.lim = 1.0

    def p56(
        self,
        head: int,
        count: int,
        hang: int,
        ring: npt.NDArray[np.float64] | None = None,
        weighted: bool = False,
    ) -> tuple[float, float]:
        """P.56 active power of the ``count`` entries before ``head`` of ``ring`` (the raw
        ring by default); spread; (0, 1) for no entries.  ``weighted``: instead of the
        power, the mean of the same active entries weighting the i-th oldest entry by i.
        """
        r = self.ring if ring is None else ring
        size = r.size
        e = r[(head - count + np.arange(count)) % size]
        if e.size == 0:
            return 0.0, 1.0
        count = e.size
        mean = float(np.sum(e)) / count
        spread = 1.0
        active = np.ones(count, dtype=bool)
        for _ in range(C["P56_ITERATIONS"]):
            above = e >= mean * C["P56_MARGIN"]
            idx = np.where(above, np.arange(count), -(10**9))
            active = np.arange(count) - np.maximum.accumulate(idx) <= hang
            mean = float(np.sum(e[active])) / int(np.count_nonzero(active))
            spread = float(e[above].max() / e[above].min())
        if weighted:
            w = np.arange(1.0, count + 1.0)[active]
            return float(np.sum(w * e[active])) / float(np.sum(w)), spread
        return mean, spread

    def _noise_floor(self, e: float, observe: bool) -> bool:
        """Step 2: smoothed power, sub-window minima, stationarity shortcut; known?"""
        if not observe:
            return self.started
        if not self.started:
            self.smoothed, self.started = e, True
        else:
            a = math.exp(-C["FRAME_S"] / C["NOISE_SMOOTH_S"])
            self.smoothed = a * self.smoothed + (1.0 - a) * e
        self.sub_min = min(self.sub_min, self.smoothed)
        self.sub_max = max(self.sub_max, self.smoothed)
        self.sub_count += 1
        m = min([self.sub_min, *self.mins])
        u = C["NOISE_SUBWINDOWS"]
        last = [(self.sub_head - 1 - k) % u for k in range(C["STATIONARY_SUBWINDOWS"])]
        lo = min([self.sub_min] + [self.mins[k] for k in last])
        hi = max([self.sub_max] + [self.maxs[k] for k in last])
        if hi < lo * 10.0 ** (C["STATIONARY_DB"] / 10.0):
            m = lo
        if self.sub_count == C["NOISE_SUBWINDOW"]:
            self.mins[self.sub_head], self.maxs[self.sub_head] = self.sub_min, self.sub_max
            self.sub_head = (self.sub_head + 1) % u
            self.sub_min, self.sub_max, self.sub_count = 1e300, 0.0, 0
        self.noise = m * C["NOISE_BIAS"]
        return True

    def _check_change(self) -> None:
        """Restart the long window on a sustained change (every part of the recent
        window above/below the past by the threshold)."""
        parts = C["CHANGE_PARTS"]
        tries = [
            (C["BIG_RISE_FRAMES"], C["BIG_RISE_DB"], True),
            (C["RECENT_UP_FRAMES"], C["RESET_DB"], True),
            (C["RECENT_FRAMES"], C["RESET_DB"], False),
            (C["TREND_FRAMES"], C["TREND_DB"], False),
        ]
        for k, (r, thr, up) in enumerate(tries):
            if self.count <= r or (k == 3 and self.count < r + C["TREND_PAST"]):
                continue
            q = r // parts
            past, _ = self.p56(self.head - r, self.count - r, 0, self.guarded)
            _, spread = self.p56(self.head, q, 0)
            ok = 10 * math.log10(spread) > C["SPREAD_DB"]
            for j in range(parts):
                if not ok:
                    break
                part, spread = self.p56(self.head - j * q, q, 0)
                d = 10 * math.log10(part / past)
                ok = d > thr if up else d < -thr
                if k >= 2:  # a fall (restart or trend): every part modulated
                    ok = ok and 10 * math.log10(spread) > C["SPREAD_DB"]
            if not ok:
                continue
            if k == 3:
                # the trend test: keep the last TREND_KEEP entries as they are
                keep = C["TREND_KEEP"]
                newer, _ = self.p56(self.head, keep, C["P56_HANG"], self.guarded)
                if newer > self.noise_held * 10 ** (C["RESET_MIN_SNR_DB"] / 10):
                    self.count, self.level = keep, newer
                    self.trends += 1
                return
            newer, _ = self.p56(self.head, r // 2, 0)
            if up or newer > self.noise_held * 10 ** (C["RESET_MIN_SNR_DB"] / 10):
                self.count, self.level = r // 2, newer
                idx = (self.head - 1 - np.arange(r // 2)) % self.ring.size
                self.guarded[idx] = self.ring[idx]
                return

    def process(
        self,
        frame: F32,
        speech_prob: float = -1.0,
        echo_only: bool = False,
        echo_shaped: bool = False,
    ) -> F32:
        x = frame.astype(np.float64)
        n = x.size
        e = float(np.dot(x, x)) / n
        if not math.isfinite(e):
            return np.zeros(n, dtype=np.float32)
        e += C["ENERGY_FLOOR"]
        observe = not echo_only and not echo_shaped
        if observe:
            if self.unobserved >= C["RESTART_FRAMES"] and self.count == 0:
                self.mins, self.maxs = [1e300] * len(self.mins), [0.0] * len(self.maxs)
                self.sub_min, self.sub_max, self.sub_count = 1e300, 0.0, 0
                self.started = False
            self.unobserved = 0
        else:
            self.unobserved = min(self.unobserved + 1, C["RESTART_FRAMES"])
        known = self._noise_floor(e, observe)
        vad_floor = 10.0 ** (C["VAD_FLOOR_DBFS"] / 10.0)
        # voice activity
        if echo_only:
            self.hang, sp = 0, False
        elif speech_prob >= 0.0:
            sp = speech_prob >= C["SPEECH_PROB_THRESHOLD"] and e > vad_floor
        elif known and e > self.noise * 10.0 ** (C["VAD_SNR_DB"] / 10.0) and e > vad_floor:
            self.hang, sp = C["HANGOVER"], True
        elif self.hang > 0:
            self.hang, sp = self.hang - 1, True
        else:
            sp = False
        self.speech = sp
        # learning: speech well above the floor (with hangover)
        learn = False
        if sp and known:
            strong = e > self.noise * 10.0 ** (C["LEARN_SNR_DB"] / 10.0)
            if strong:
                self.mod = [*self.mod, e][-C["MOD_FRAMES"] :]
                ratio = 10 ** (C["MOD_DB"] / 10)
                m = np.array(self.mod)
                above = np.count_nonzero(m > m.min() * ratio)
                below = np.count_nonzero(m * ratio < m.max())
                strong = e > self.noise * 10 ** (C["MOD_SNR_DB"] / 10) or (
                    above >= C["MOD_MIN"] and below >= C["MOD_MIN"]
                )
                self.unmodulated += not strong
            if strong:
                self.learn_hang, learn = C["HANGOVER"], True
            elif self.learn_hang > 0:
                self.learn_hang, learn = self.learn_hang - 1, True
        else:
            self.learn_hang = 0
        self.learn = learn
        if observe and known and (not sp or self.noise < self.noise_held):
            self.noise_held = self.noise
        # speech level
        size = self.ring.size
        if learn:
            self.idle = 0
            guarded = e
            if self.count >= C["GUARD_FRAMES"]:
                if e > self.level * 10 ** (C["SHOUT_SKIP_DB"] / 10):
                    guarded = self.level
                    self.shout_hold = C["SHOUT_SPAN"]
                    for k in range(1, min(C["SHOUT_SPAN"] + 1, self.count)):
                        i = (self.head - k) % size
                        if self.ring[i] > self.level * 10 ** (C["SHOUT_CLIP_DB"] / 10):
                            self.guarded[i] = self.level
                elif self.shout_hold > 0:
                    guarded = self.level
                elif e > self.level * 10 ** (C["SHOUT_CLIP_DB"] / 10):
                    guarded = self.level * 10 ** (C["SHOUT_CLIP_DB"] / 10)
            self.shout_hold = max(self.shout_hold - 1, 0)
            self.ring[self.head], self.guarded[self.head] = e, guarded
            self.head = (self.head + 1) % size
            self.count = min(self.count + 1, size)
            if self.count >= C["MIN_LEVEL_FRAMES"]:
                # the lower of the plain and the recency-weighted active power
                lv, _ = self.p56(self.head, self.count, C["P56_HANG"], self.guarded)
                lw, _ = self.p56(self.head, self.count, C["P56_HANG"], self.guarded, True)
                self.weighted += lw < lv
                lv = min(lv, lw)
                if lv > 0.0:
                    self.level = lv
                self._check_change()
        elif not sp and not echo_only:
            self.idle += 1
        # desired gain
        cfg = self.cfg
        if learn and self.level > 0.0:
            d = cfg["target_level_dbfs"] - 10 * math.log10(self.level)
            self.desired_db = min(max(d, cfg["min_gain_db"]), cfg["max_gain_db"])
        elif not sp and self.idle > C["IDLE_HOLD_FRAMES"] and self.desired_db > 0.0:
            self.desired_db = max(self.desired_db - self.idle_step_db, 0.0)
        cap = max(cfg["noise_ceiling_dbfs"] - 10 * math.log10(self.noise_held), 0.0)
        self.desired_db = min(self.desired_db, cap)
        # slew-limited gain ramp and limiter
        step = min(max(self.desired_db - self.gain_db, -self.step_db), self.step_db)
        self.gain_db += 0.0 if step > 0.0 and not learn else step
        g1 = 10.0 ** (self.gain_db / 20.0)
        ramp = self.gain + (g1 - self.gain) / n * np.arange(1, n + 1)
        y = x * ramp
        a = np.abs(y)
        pk = float(a.max())
        target = 1.0 if pk <= self.clip else self.clip / pk
        lim0 = self.lim
        if target < lim0:
            first = int(np.argmax(a * lim0 > self.clip))
            lim = np.full(n, target)
            lim[:first] = lim0 + (target - lim0) / (first + 1) * np.arange(1, first + 1)
            self.lim = target
        else:
            lim1 = target + (lim0 - target) * math.exp(-C["FRAME_S"] / C["LIMITER_RELEASE_S"])
            lim1 = 1.0 if lim1 > 1.0 - 1e-9 else lim1
            lim = lim0 + (lim1 - lim0) / n * np.arange(1, n + 1)
            self.lim = lim1
        self.gain = g1
        return np.clip(y * lim, -self.clip, self.clip).astype(np.float32)

    @property
    def speech_level_dbfs(self) -> float:
        return 10 * math.log10(self.level) if self.level > 0 else math.nan


# ----------------------------------------------------------------------------- quality


@pytest.mark.parametrize("level", [-50.0, -35.0, -20.0, -6.0], ids=lambda v: f"in{v:g}dB")
@pytest.mark.parametrize("rate", RATES)
def test_steady_state_output_level_is_target(rate: int, level: float) -> None:
    x = speech(8.0, rate, level, seed=1)
    assert active_level_dbfs(x, rate) == pytest.approx(level, abs=0.1)
    gc = GainControl(rate)
    y, _ = run(gc, x)
    out = active_level_dbfs(seg(y, rate, 4.0, 8.0), rate)
    assert abs(out - TARGET) <= 2.0, out
    # The level statistic is the input's active level over its window (the last 1.5 s
    # of speech), within 1.5 dB.
    recent = active_level_dbfs(seg(x, rate, 5.5, 8.0), rate)
    assert abs(gc.speech_level_dbfs - recent) <= 1.5
    assert np.max(np.abs(y)) < 10 ** (-1.0 / 20)


STEPS = [(-35.0, -20.0), (-20.0, -50.0), (-50.0, -6.0), (-6.0, -35.0)]


@pytest.mark.parametrize("step", STEPS, ids=lambda s: f"{s[0]:g}to{s[1]:g}")
@pytest.mark.parametrize("rate", RATES)
def test_converges_within_2s_of_a_level_step(rate: int, step: tuple[float, float]) -> None:
    before, after = step
    x = np.concatenate([speech(6.0, rate, before, seed=2), speech(6.0, rate, after, seed=3)])
    gc = GainControl(rate)
    y, st = run(gc, x)
    settled = active_level_dbfs(seg(y, rate, 3.0, 6.0), rate)
    assert abs(settled - TARGET) <= 2.0, settled
    # From 2 s after the step on, the output is at the target within 2 dB.
    out = active_level_dbfs(seg(y, rate, 8.0, 12.0), rate)
    assert abs(out - TARGET) <= 2.0, out
    # ... and the applied gain is within 2 dB of where it ends up.
    i2 = int(8.0 * 100)
    final = float(np.median(st["gain_db"][-200:]))
    assert abs(st["gain_db"][i2] - final) <= 2.0
    assert abs(final - (TARGET - after)) <= 2.5


@pytest.mark.parametrize("rate", RATES)
def test_no_sample_reaches_full_scale(rate: int) -> None:
    # Speech at -20 dBFS, a 1 s burst clipped at full scale (a saturated microphone),
    # speech again, then a full-scale square wave and +12 dB overdriven speech.
    loud = np.clip(speech(1.0, rate, 0.0, seed=4), -1.0, 1.0)
    t = np.arange(rate) / rate
    square = np.sign(np.sin(2 * np.pi * 200.0 * t)).astype(np.float32)
    x = np.concatenate(
        [
            speech(3.0, rate, -20.0, seed=5),
            loud,
            speech(2.0, rate, -20.0, seed=6),
            square,
            speech(2.0, rate, 12.0, seed=7),
        ]
    ).astype(np.float32)
    assert np.count_nonzero(np.abs(x) >= 1.0) > rate // 10
    y, st = run(GainControl(rate), x)
    assert np.count_nonzero(np.abs(y) >= 1.0) == 0
    threshold = 10 ** (-1.0 / 20)
    assert float(np.max(np.abs(y))) < threshold
    assert np.min(st["limiter_gain_db"]) < -3.0  # the limiter did the work
    assert np.all(np.isfinite(y))


def test_extreme_finite_input_stays_below_full_scale() -> None:
    # Far beyond full scale (a broken driver): the first frame is already limited.
    rate = 16000
    x = np.concatenate([speech(1.0, rate, -40.0, seed=25), white(rate, 120.0, seed=26)])
    y, st = run(GainControl(rate), x.astype(np.float32))
    assert np.all(np.isfinite(y))
    assert float(np.max(np.abs(y))) < 10 ** (-1.0 / 20)
    assert st["limiter_gain_db"][100] < -100.0


@pytest.mark.parametrize("rate", RATES)
def test_limiter_threshold_is_configurable(rate: int) -> None:
    x = speech(3.0, rate, -6.0, seed=8)
    y, _ = run(GainControl(rate, limiter_threshold_dbfs=-6.0, target_level_dbfs=-10.0), x)
    assert float(np.max(np.abs(y))) < 10 ** (-6.0 / 20)


@pytest.mark.parametrize(
    ("speech_db", "noise_db", "idle_s"),
    [(-35.0, -60.0, 5.0), (-50.0, -75.0, 8.0), (-20.0, -60.0, 5.0)],
    ids=["speech-35_noise-60", "speech-50_noise-75", "speech-20_noise-60"],
)
@pytest.mark.parametrize("rate", RATES)
def test_idle_noise_is_not_pumped_up(
    rate: int, speech_db: float, noise_db: float, idle_s: float
) -> None:
    talk = speech(5.0, rate, speech_db, seed=9, noise_db=noise_db)
    idle = white(int(idle_s * rate), noise_db, seed=10)
    x = np.concatenate([talk, idle])
    y, st = run(GainControl(rate), x)
    tail = seg(y, rate, 5.0 + idle_s - 2.0, 5.0 + idle_s)
    assert level_dbfs(tail) - noise_db <= 6.0
    # The VAD lets go within 0.5 s of the end of the talk (hangover, word tails); from
    # then on the gain never rises, and it stays under the noise cap.
    last_speech = int(np.nonzero(st["speech"])[0][-1])
    assert last_speech < 500 + 50
    g = st["gain_db"][last_speech:]
    assert np.all(np.diff(g) <= 1e-12)
    assert np.max(g[50:]) <= max(-50.0 - noise_db, 0.0) + 1.0
    assert st["noise_level_dbfs"][-1] == pytest.approx(noise_db, abs=1.5)


@pytest.mark.parametrize("rate", RATES)
def test_noise_onset_does_not_become_the_speech_level(rate: int) -> None:
    # Talk in quiet, then stationary noise 25 dB below the speech appears: the VAD takes
    # it for speech until the floor tracker sees it is stationary (< 1 s); the level
    # estimate must survive that and the noise must settle back near its input level.
    talk = speech(5.0, rate, -35.0, seed=11, noise_db=-85.0)
    x = np.concatenate([talk, white(5 * rate, -60.0, seed=12)])
    gc = GainControl(rate)
    y, st = run(gc, x)
    assert abs(gc.speech_level_dbfs - (-35.0)) <= 4.0
    assert level_dbfs(seg(y, rate, 8.0, 10.0)) - (-60.0) <= 6.0
    assert np.mean(st["speech"][600:]) < 0.25


@pytest.mark.parametrize("rate", RATES)
def test_gain_never_exceeds_max_gain(rate: int) -> None:
    x = speech(4.0, rate, -60.0, seed=13, noise_db=-110.0)
    gc = GainControl(rate, max_gain_db=20.0)
    y, st = run(gc, x)
    assert np.max(st["gain_db"]) <= 20.0
    assert np.max(st["gain_db"]) == pytest.approx(20.0)
    n = rate // 100
    xf = x[: y.size].reshape(-1, n).astype(np.float64)
    yf = y.reshape(-1, n).astype(np.float64)
    ratio = np.sqrt(np.sum(yf**2, axis=1) / np.maximum(np.sum(xf**2, axis=1), 1e-30))
    assert np.max(ratio) <= 10 ** (20.0 / 20) * (1 + 1e-5)
    # Default configuration: never above 40 dB even for very quiet speech.
    _, st = run(GainControl(rate), speech(4.0, rate, -75.0, seed=14, noise_db=-120.0))
    assert np.max(st["gain_db"]) <= 40.0


@pytest.mark.parametrize("rate", RATES)
def test_gain_change_is_slew_limited_and_smooth_within_frames(rate: int) -> None:
    # A steady tone declared speech by the caller: the gain ramps at the slew limit and
    # is interpolated sample by sample (no zipper steps at frame boundaries).
    # The tone is keyed (0.4 s on, 0.1 s off, whole frames): a steady tone is what the
    # noise-floor tracker calls noise, and the level learns only from frames well above
    # the floor.  The ceiling is raised so the noise cap does not bind either.
    t = np.arange(3 * rate) / rate
    keyed = (t % 0.5) < 0.4
    x = (10 ** (-40 / 20) * np.sqrt(2) * np.sin(2 * np.pi * 440.0 * t) * keyed).astype(np.float32)
    gc = GainControl(
        rate, max_gain_change_db_per_s=10.0, target_level_dbfs=-25.0, noise_ceiling_dbfs=-20.0
    )
    y, st = run(gc, x, speech_prob=1.0)
    steps = np.diff(np.concatenate([[0.0], st["gain_db"]]))
    assert np.max(steps) == pytest.approx(0.1, abs=1e-9)
    assert st["gain_db"][-1] == pytest.approx(-25.0 - (-40.0), abs=0.1)
    mask = np.abs(x[: y.size]) > 1e-3
    g = y[mask].astype(np.float64) / x[: y.size][mask]
    idx = np.nonzero(mask)[0]
    near = np.diff(idx) == 1
    per_sample = np.abs(np.diff(g))[near] / g[:-1][near]
    # One frame moves 0.1 dB = 1.16 %; spread over n samples (float32 rounding on top).
    assert np.max(per_sample) < 0.0116 / (rate // 100) + 2e-6


@pytest.mark.parametrize("rate", RATES)
def test_external_speech_probability_gates_the_level_estimate(rate: int) -> None:
    x = speech(3.0, rate, -35.0, seed=15)
    gc = GainControl(rate)
    y, st = run(gc, x, speech_prob=0.2)  # the upstream VAD says: no speech
    assert math.isnan(gc.speech_level_dbfs)
    assert not np.any(st["speech"])
    np.testing.assert_array_equal(st["gain_db"], 0.0)
    np.testing.assert_array_equal(y, x[: y.size])
    gc.reset()
    _, st = run(gc, x, speech_prob=0.9)
    # The upstream VAD decides, except below the absolute floor (-80 dBFS frame power),
    # which is never a talker: residual echo and comfort noise must not set the level.
    n = rate // 100
    frames = x[: st["speech"].size * n].astype(np.float64).reshape(-1, n)
    loud = np.mean(frames**2, axis=1) > 10.0 ** (C["VAD_FLOOR_DBFS"] / 10.0)
    assert loud.mean() > 0.4  # the synthetic talker is active ~60 % of the time
    np.testing.assert_array_equal(st["speech"], loud)
    assert abs(gc.speech_level_dbfs - (-35.0)) <= 3.0


@pytest.mark.parametrize("rate", RATES)
def test_echo_only_frames_teach_neither_the_level_nor_the_noise_floor(rate: int) -> None:
    """What an echo suppressor leaves in far-end single talk is not the near end.

    Its level can be far below the near end's noise (the suppressor pushed it down) or be
    loud residual echo that an upstream VAD calls speech: neither may move the noise floor
    (which caps the gain) nor the speech level (which sets it).
    """
    n = rate // 100
    talk = speech(3.0, rate, -40.0, seed=21, noise_db=-62.0)
    gc = GainControl(rate)
    run(gc, talk)
    level, floor, gain = gc.speech_level_dbfs, gc.noise_level_dbfs, gc.gain_db
    assert -44.0 < level < -36.0 and -66.0 < floor < -58.0 and gain > 5.0
    # 3 s of suppressed echo at -95 dBFS, then 3 s of loud residual echo the NS calls speech
    quiet = white(3 * rate, -95.0, seed=22).astype(np.float32)
    loud = speech(3.0, rate, -20.0, seed=23, noise_db=-62.0)
    for sig, prob in ((quiet, -1.0), (loud, 1.0)):
        for i in range(sig.size // n):
            gc.process(sig[i * n : (i + 1) * n], prob, echo_only=True)
            assert not gc.speech
    assert gc.speech_level_dbfs == level
    assert gc.noise_level_dbfs == floor
    assert gc.gain_db <= gain  # kept, or decayed as idle; never raised
    # the same frames without the flag do move them (the test can fail)
    gc2 = GainControl(rate)
    run(gc2, talk)
    run(gc2, quiet)
    assert gc2.noise_level_dbfs < floor - 20.0


@pytest.mark.parametrize("rate", RATES)
def test_echo_shaped_frames_are_no_noise_observations(rate: int) -> None:
    """A frame the echo canceller took most of (``echo_shaped``) says nothing of the near
    end's noise, whatever the canceller decided about a talker: the floor does not learn
    from it, but it may still be speech."""
    n = rate // 100
    talk = speech(3.0, rate, -40.0, seed=21, noise_db=-62.0)
    gc = GainControl(rate)
    run(gc, talk)
    floor = gc.noise_level_dbfs
    assert -66.0 < floor < -58.0
    quiet = white(3 * rate, -95.0, seed=22).astype(np.float32)
    for i in range(quiet.size // n):
        gc.process(quiet[i * n : (i + 1) * n], -1.0, echo_shaped=True)
    assert gc.noise_level_dbfs == floor
    loud = speech(2.0, rate, -30.0, seed=23, noise_db=-62.0)
    said = 0
    for i in range(loud.size // n):
        gc.process(loud[i * n : (i + 1) * n], 1.0, echo_shaped=True)
        said += gc.speech
    assert said > 0.9 * (loud.size // n)
    assert gc.noise_level_dbfs == floor


@pytest.mark.parametrize("rate", RATES)
def test_a_floor_from_before_a_long_echo_restarts_until_a_level_is_known(rate: int) -> None:
    """Before the far end talked, a noise suppressor may have held the near end's noise
    30 dB lower than after it (it lost its noise estimate to the echo suppressor): with no
    level learnt, that old floor is dropped at the first observation after >= 1 s of echo;
    once a level is known the floor is kept (a talker answering the far end)."""
    n = rate // 100
    echo = white(150 * n, -95.0, seed=31)
    after = white(50 * n, -50.0, seed=32)
    floors = []
    for before in (white(rate, -80.0, seed=33), speech(3.0, rate, -40.0, seed=21, noise_db=-80.0)):
        gc = GainControl(rate)
        run(gc, before)
        for i in range(echo.size // n):
            gc.process(echo[i * n : (i + 1) * n], -1.0, echo_only=True)
        run(gc, after)
        floors.append(gc.noise_level_dbfs)
        if before.size == rate:
            run(gc, after, 1.0)  # an upstream VAD calls it speech: still not a talker
            assert math.isnan(gc.speech_level_dbfs)
    assert floors[0] > -56.0, floors
    assert floors[1] < -70.0, floors


# ------------------------------------------------------------- compiled == reference


def reference_scenario(
    rate: int,
) -> tuple[F32, npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """10.2 s exercising every branch: a level falling 4 dB/s (the trend test), level steps,
    limiter, idle decay, noise cap, shout guard, echo-only and echo-shaped frames (some in
    the noise, some in speech), and after echo a steady noise 20 dB over the floor that
    the upstream VAD calls speech (the modulation test)."""
    fade = 10 ** (np.clip(np.arange(int(4.5 * rate)) / rate - 2.5, 0.0, None) * -4.0 / 20)
    x = np.concatenate(
        [
            speech(4.5, rate, -38.0, seed=16, noise_db=-70.0) * fade.astype(np.float32),
            speech(1.5, rate, -5.0, seed=17, noise_db=-70.0),
            white(2 * rate, -62.0, seed=18),
            speech(1.0, rate, -30.0, seed=19, noise_db=-62.0),
            white(int(1.2 * rate), -41.0, seed=27),
        ]
    )
    frames = x.size // (rate // 100)
    probs = np.full(frames, -1.0)
    probs[840:900] = np.tile([0.9, 0.1, 0.7], 20)  # the upstream-VAD path as well
    probs[900:] = 0.9
    echo = np.zeros(frames, bool)
    echo[620:680] = True  # in the noise
    echo[820:840] = True  # in speech
    echo[890:905] = True  # with the upstream VAD, then steady noise after it
    shaped = np.zeros(frames, bool)
    shaped[600:620] = True  # in the noise (no observation)
    shaped[805:815] = True  # in speech
    return x.astype(np.float32), probs, echo, shaped


@pytest.mark.parametrize("rate", RATES)
def test_compiled_matches_numpy_reference(rate: int) -> None:
    x, probs, echo, shaped = reference_scenario(rate)
    gc = GainControl(rate)
    ref = ReferenceGainControl(rate)
    n = rate // 100
    resets = limited = guarded = 0
    for i in range(probs.size):
        frame = x[i * n : (i + 1) * n]
        got = gc.process(frame, float(probs[i]), bool(echo[i]), bool(shaped[i]))
        want = ref.process(frame, float(probs[i]), bool(echo[i]), bool(shaped[i]))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7, err_msg=f"frame {i}")
        assert gc.speech == ref.speech, i
        assert gc.gain_db == pytest.approx(ref.gain_db, rel=1e-9, abs=1e-9), i
        assert gc.noise_level_dbfs == pytest.approx(10 * math.log10(ref.noise_held), abs=1e-9)
        assert gc.limiter_gain_db == pytest.approx(20 * math.log10(ref.lim), abs=1e-9)
        if math.isnan(ref.speech_level_dbfs):
            assert math.isnan(gc.speech_level_dbfs)
        else:
            assert gc.speech_level_dbfs == pytest.approx(ref.speech_level_dbfs, abs=1e-9)
        resets += ref.count == C["RECENT_FRAMES"] // 2 and ref.speech
        limited += ref.lim < 1.0
        guarded += (
            ref.learn
            and ref.guarded[(ref.head - 1) % ref.ring.size]
            != ref.ring[(ref.head - 1) % ref.ring.size]
        )
    # The scenario really went through the level reset and the limiter.
    assert resets >= 1
    assert limited >= 10
    assert guarded >= 1  # the shout guard clipped or replaced entries
    assert ref.unmodulated >= 1  # and the modulation test after echo turned one down
    assert ref.trends >= 1  # and the trend test shortened the window
    assert ref.weighted >= 1  # the recency-weighted mean set the level


# ------------------------------------------------------------------ state and contract


@pytest.mark.parametrize("rate", RATES)
def test_reset_restores_initial_behaviour(rate: int) -> None:
    x = speech(3.0, rate, -40.0, seed=20)
    gc = GainControl(rate)
    first, _ = run(gc, x)
    assert not math.isnan(gc.speech_level_dbfs)
    gc.reset()
    assert math.isnan(gc.speech_level_dbfs)
    assert gc.gain_db == 0.0
    assert gc.limiter_gain_db == 0.0
    assert gc.speech is False
    again, _ = run(gc, x)
    np.testing.assert_array_equal(again, first)


def test_initial_stats() -> None:
    gc = GainControl(16000)
    assert math.isnan(gc.speech_level_dbfs)
    assert gc.gain_db == 0.0
    assert gc.speech is False
    assert gc.limiter_gain_db == 0.0
    assert gc.noise_level_dbfs == pytest.approx(-120.0)
    assert gc.latency_samples == 0
    assert gc.frame_size == 160


@pytest.mark.parametrize("rate", RATES)
def test_silence_stays_silent(rate: int) -> None:
    gc = GainControl(rate)
    y, st = run(gc, np.zeros(3 * rate, dtype=np.float32))
    np.testing.assert_array_equal(y, 0.0)
    assert not np.any(st["speech"])
    np.testing.assert_array_equal(st["gain_db"], 0.0)


def test_non_finite_frame_is_zeroed_and_changes_no_state() -> None:
    rate, n = 16000, 160
    x = speech(2.0, rate, -30.0, seed=21)
    bad = x[:n].copy()
    bad[3] = np.nan
    a, b = GainControl(rate), GainControl(rate)
    ya, _ = run(a, x)
    out = []
    for i in range(x.size // n):
        if i == 100:
            np.testing.assert_array_equal(b.process(bad), 0.0)
            bad[3] = np.inf
            np.testing.assert_array_equal(b.process(bad), 0.0)
        out.append(b.process(x[i * n : (i + 1) * n]))
    np.testing.assert_array_equal(np.concatenate(out), ya)


def test_gil_is_released() -> None:
    # Four threads on their own instances give exactly the single-threaded results.
    rate = 16000
    x = speech(2.0, rate, -30.0, seed=22)
    want, _ = run(GainControl(rate), x)
    results: list[F32] = [np.empty(0, np.float32)] * 4

    def work(k: int) -> None:
        results[k], _ = run(GainControl(rate), x)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for r in results:
        np.testing.assert_array_equal(r, want)


def test_process_returns_new_array_and_validates() -> None:
    gc = GainControl(32000)
    frame = white(320, -30.0, seed=23)
    keep = frame.copy()
    out = gc.process(frame)
    np.testing.assert_array_equal(frame, keep)
    assert out.dtype == np.float32
    assert out.shape == (320,)
    assert not np.shares_memory(out, frame)
    with pytest.raises(ValueError, match="320 samples"):
        gc.process(np.zeros(160, dtype=np.float32))
    with pytest.raises(TypeError, match="float32"):
        gc.process(np.zeros(320, dtype=np.float64))
    with pytest.raises(ValueError, match="speech_prob"):
        gc.process(frame, 1.5)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"target_level_dbfs": 0.0}, "target_level_dbfs"),
        ({"max_gain_db": 51.0}, "max_gain_db"),
        ({"min_gain_db": 5.0}, "min_gain_db"),
        ({"max_gain_change_db_per_s": 0.0}, "max_gain_change_db_per_s"),
        ({"noise_ceiling_dbfs": -10.0}, "noise_ceiling_dbfs"),
        ({"idle_gain_decay_db_per_s": 21.0}, "idle_gain_decay_db_per_s"),
        ({"limiter_threshold_dbfs": 0.0}, "limiter_threshold_dbfs"),
        ({"target_level_dbfs": math.nan}, "target_level_dbfs"),
        ({"sample_rate": 22050}, "sample_rate"),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, dict) else v,
)
def test_invalid_parameters_name_the_field(kwargs: dict[str, float], field: str) -> None:
    kw: dict[str, Any] = {"sample_rate": 16000, **kwargs}
    with pytest.raises(ValueError, match=field):
        GainControl(**kw)


def test_keyword_names_and_defaults_are_stable() -> None:
    # These map 1:1 onto callaudio.config.AgcConfig (plus `enabled`).
    assert agc_module.RANGES == {
        "target_level_dbfs": (-40.0, -3.0, -18.0),
        "max_gain_db": (0.0, 50.0, 40.0),
        "min_gain_db": (-50.0, 0.0, -20.0),
        "max_gain_change_db_per_s": (1.0, 100.0, 30.0),
        "noise_ceiling_dbfs": (-90.0, -20.0, -50.0),
        "idle_gain_decay_db_per_s": (0.0, 20.0, 6.0),
        "limiter_threshold_dbfs": (-20.0, -0.1, -1.0),
    }
    gc = GainControl(48000)
    for name, (_lo, _hi, default) in agc_module.RANGES.items():
        assert getattr(gc, name) == default
    assert repr(gc).startswith("GainControl(sample_rate=48000, target_level_dbfs=-18.0")


@pytest.mark.parametrize("rate", RATES)
def test_process_signal_equals_frame_by_frame(rate: int) -> None:
    x = speech(2.0, rate, -30.0, seed=24)
    want, _ = run(GainControl(rate), x)
    np.testing.assert_array_equal(GainControl(rate).process_signal(x), want)
    with pytest.raises(ValueError, match="multiple"):
        GainControl(rate).process_signal(x[:-1])
