"""Per-file figures for ``callaudio process``, gathered while the file streams through.

- :class:`SpeechLevel`: the active speech level after ITU-T P.56 method B, computed block
  by block with flat memory by :class:`callaudio.simulation.metrics.ActiveLevelMeter`
  (the implementation behind :func:`callaudio.simulation.active_level_dbfs`).
- :class:`EchoFigures`: the echo canceller's ERLE averaged over the frames in which the
  far end was active, and its median delay estimate over them.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import numpy.typing as npt

from ..simulation.metrics import ActiveLevelMeter

__all__ = ["EchoFigures", "SpeechLevel"]


class SpeechLevel:
    """Streaming P.56 active speech level of one signal at ``rate`` Hz.

    Never raises on sample values: NaN and +-Inf samples count as silence (as in the
    processing chain), a signal with no activity has no level (None).
    """

    def __init__(self, rate: int) -> None:
        self._meter = ActiveLevelMeter(rate)

    def add(self, x: npt.ArrayLike) -> None:
        """Append samples (1-D)."""
        self._meter.add(x)

    def level_dbfs(self) -> float | None:
        """The active speech level in dBFS (a full-scale sine reads +3), None when nothing
        is active (silence, or an envelope that never reaches -100 dBFS)."""
        found = self._meter.finish()
        return None if found is None else found[0]


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
