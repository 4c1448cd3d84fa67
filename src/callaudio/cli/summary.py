"""Per-file figures for ``callaudio process``, gathered while the file streams through.

- :class:`SpeechLevel`: the active speech level after ITU-T P.56 method B, computed block
  by block with flat memory; it equals
  :func:`callaudio.simulation.active_level_dbfs` of the whole signal.
- :class:`EchoFigures`: the echo canceller's ERLE averaged over the frames in which the
  far end was active, and its median delay estimate over them.

References
----------
ITU-T Recommendation P.56 (12/2011), "Objective measurement of active speech level",
method B: envelope of ``|x|`` by two cascaded one-pole smoothers (time constant 0.03 s),
0.2 s hangover, a 15.9 dB margin between the active level and the threshold.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import numpy.typing as npt

__all__ = ["EchoFigures", "SpeechLevel"]

F64 = npt.NDArray[np.float64]

_TIME_CONSTANT_S = 0.03
_HANGOVER_S = 0.2
_MARGIN_DB = 15.9
_BLOCK_S = 0.001
_STEP_DB = 0.25  # threshold grid
_FLOOR_DB = -100.0
_BINS = int(-_FLOOR_DB / _STEP_DB) + 2 + 40  # up to +10 dBFS of envelope


class SpeechLevel:
    """Streaming P.56 active speech level of one signal at ``rate`` Hz.

    A block is active at threshold ``c`` when the envelope reached ``c`` within the
    hangover, i.e. when the envelope's running maximum over the hangover window is
    ``>= c``; so the activity at every threshold of the grid follows from one histogram of
    that running maximum (block counts and energies per 0.25 dB bin).
    """

    def __init__(self, rate: int) -> None:
        self._blk = max(1, round(_BLOCK_S * rate))
        self._g = float(np.exp(-self._blk / (_TIME_CONSTANT_S * rate)))
        self._hang = max(1, round(_HANGOVER_S * rate / self._blk))
        self._p = 0.0
        self._q = 0.0
        self._tail = np.zeros(0)
        self._recent = np.zeros(0)  # envelope of the last hang - 1 blocks
        self._count = np.zeros(_BINS)
        self._energy = np.zeros(_BINS)
        self._total = 0.0
        self._env_max = 0.0

    def add(self, x: npt.ArrayLike) -> None:
        """Append samples (1-D)."""
        a = np.concatenate([self._tail, np.asarray(x, dtype=np.float64).reshape(-1)])
        nb = a.size // self._blk
        self._tail = a[nb * self._blk :]
        if nb:
            self._blocks(a[: nb * self._blk].reshape(nb, self._blk))

    def _blocks(self, body: F64) -> None:
        mean_abs = np.abs(body).mean(axis=1)
        energy = (body * body).sum(axis=1)
        env = np.empty_like(mean_abs)
        g, p, q = self._g, self._p, self._q
        for i, v in enumerate(mean_abs.tolist()):
            p = g * p + (1.0 - g) * v
            q = g * q + (1.0 - g) * p
            env[i] = q
        self._p, self._q = p, q
        self._account(env, energy)

    def _account(self, env: F64, energy: F64) -> None:
        if env.size == 0:
            return
        hist = np.concatenate([self._recent, env])
        win = np.lib.stride_tricks.sliding_window_view(
            np.concatenate([np.zeros(max(0, self._hang - 1 - self._recent.size)), hist]),
            self._hang,
        )
        running = win.max(axis=1)
        self._recent = hist[-(self._hang - 1) :] if self._hang > 1 else np.zeros(0)
        self._env_max = max(self._env_max, float(env.max()))
        self._total += float(energy.sum())
        with np.errstate(divide="ignore"):
            level = 20.0 * np.log10(running)
        idx = np.floor((level - _FLOOR_DB) / _STEP_DB)
        keep = idx >= 0
        idx = np.minimum(idx[keep], _BINS - 1).astype(np.int64)
        self._count += np.bincount(idx, minlength=_BINS)
        self._energy += np.bincount(idx, weights=energy[keep], minlength=_BINS)

    def level_dbfs(self) -> float | None:
        """The active speech level in dBFS (a full-scale sine reads +3), None for silence."""
        if self._tail.size:
            mean_abs = np.array([np.abs(self._tail).mean()])
            energy = np.array([float(np.sum(self._tail * self._tail))])
            p = self._g * self._p + (1.0 - self._g) * float(mean_abs[0])
            q = self._g * self._q + (1.0 - self._g) * p
            self._p, self._q, self._tail = p, q, np.zeros(0)
            self._account(np.array([q]), energy)
        if self._total <= 0.0:
            return None
        top = 20.0 * math.log10(max(self._env_max, 1e-10))
        thr = np.arange(_FLOOR_DB, top + _STEP_DB, _STEP_DB)
        # Blocks active at threshold j: running maximum in bin >= j.
        n_act = np.cumsum(self._count[::-1])[::-1][: thr.size] * self._blk
        e_act = np.cumsum(self._energy[::-1])[::-1][: thr.size]
        with np.errstate(divide="ignore", invalid="ignore"):
            act_db = np.where(
                n_act > 0, 10.0 * np.log10(np.maximum(e_act / np.maximum(n_act, 1), 1e-20)), -200.0
            )
        diff = act_db - thr
        below = np.nonzero(diff <= _MARGIN_DB)[0]
        if below.size == 0:
            return float(act_db[-1])
        j = int(below[0])
        if j == 0:
            return float(act_db[0])
        d0, d1 = diff[j - 1], diff[j]
        frac = (d0 - _MARGIN_DB) / (d0 - d1) if d0 != d1 else 0.0
        return float(act_db[j - 1] + frac * (act_db[j] - act_db[j - 1]))


class EchoFigures:
    """ERLE and delay of the echo canceller over the frames with far-end activity.

    A frame counts when the far-end frame's level is above ``active_dbfs`` and the
    canceller reports a figure for it.
    """

    def __init__(self, frame_seconds: float, active_dbfs: float = -60.0) -> None:
        self._frame_s = frame_seconds
        self._threshold = 10.0 ** (active_dbfs / 10.0) / 2.0  # mean square of that sine
        self.far_active_frames = 0
        self._erle_sum = 0.0
        self._erle_n = 0
        self._delays: Counter[float] = Counter()  # the estimates are few distinct values

    def far_active(self, far_frame: npt.NDArray[np.float32]) -> bool:
        """True when this far-end frame counts as activity (and count it)."""
        ms = float(np.dot(far_frame, far_frame)) / max(far_frame.size, 1)
        if ms > self._threshold:
            self.far_active_frames += 1
            return True
        return False

    def add(self, erle_db: float | None, delay_ms: float | None) -> None:
        """The canceller's figures after one far-active frame."""
        if erle_db is not None and math.isfinite(erle_db):
            self._erle_sum += erle_db
            self._erle_n += 1
        if delay_ms is not None and math.isfinite(delay_ms):
            self._delays[round(delay_ms, 3)] += 1

    @property
    def far_active_s(self) -> float:
        """Seconds of far-end activity."""
        return self.far_active_frames * self._frame_s

    @property
    def erle_db(self) -> float | None:
        """Mean ERLE (dB) over the far-active frames, None when there were none."""
        return self._erle_sum / self._erle_n if self._erle_n else None

    @property
    def delay_ms(self) -> float | None:
        """Median delay estimate (ms) over the far-active frames."""
        if not self._delays:
            return None
        values = sorted(self._delays)
        counts = np.cumsum([self._delays[v] for v in values])
        return float(values[int(np.searchsorted(counts, counts[-1] / 2.0))])
