"""What :class:`~callaudio.audio.service.EngineBackend`'s helper thread checks on the
running stream: a stream whose callbacks stopped coming (the device or the sound server is
gone), and the audio lost since the last report (xruns, underruns, overruns)."""

from __future__ import annotations

import time

from ..devices.base import Stream, StreamFault
from ..engine import AudioEngine
from .base import Dropout

__all__ = ["StreamWatch"]


class StreamWatch:
    """The helper thread's memory of the stream it watches (called under the backend's lock).

    Parameters
    ----------
    dropout_interval : float
        The shortest time between two dropout reports, in seconds.
    stall_timeout : float
        Seconds without a callback after which a running stream is declared lost.
    """

    def __init__(self, dropout_interval: float, stall_timeout: float = 0.5) -> None:
        self.dropout_interval = float(dropout_interval)
        self.stall_timeout = stall_timeout
        self._dropout_engine: AudioEngine | None = None
        self._dropout_seen = (0, 0, 0)  # the engine's counts already reported
        self._dropout_at = -float("inf")  # monotonic time of the last report
        self._engine: AudioEngine | None = None
        self._frames, self._since = -1, 0.0

    def check_dropout(self, engine: AudioEngine, stream: Stream) -> Dropout | None:
        """The engine's new xruns, underruns and overruns since the last report, when
        there are some and the last report is ``dropout_interval`` old (else None: the
        counts wait for the next report)."""
        if engine is not self._dropout_engine:  # a new stream's counters start at zero
            self._dropout_engine, self._dropout_seen = engine, (0, 0, 0)
        now = time.monotonic()
        if now - self._dropout_at < self.dropout_interval:
            return None
        xruns, underruns, overruns = engine.dropout_counts()
        seen = self._dropout_seen
        new = (xruns - seen[0], underruns - seen[1], overruns - seen[2])
        if not any(new):
            return None
        self._dropout_seen, self._dropout_at = (xruns, underruns, overruns), now
        return Dropout(*new, device=stream.device_name)

    def check_stream(self, engine: AudioEngine, stream: Stream, timed: bool) -> StreamFault | None:
        """The stream's fault, from the stream itself or (``timed``: a helper thread polls
        on a clock) from the callbacks stalling."""
        found = stream.check_alive()
        if found is not None or not timed or not engine.running:
            return found
        # A running stream whose callbacks stopped coming: the device or server is gone.
        frames = engine.frames
        now = time.monotonic()
        if engine is not self._engine or frames != self._frames:
            self._engine, self._frames, self._since = engine, frames, now
            return None
        if now - self._since < self.stall_timeout:
            return None
        text = f"no audio callback for {now - self._since:.1f} s (device or server gone)"
        stream.declare_lost(text)
        return stream.check_alive()
