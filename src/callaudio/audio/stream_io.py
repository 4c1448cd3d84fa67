"""The stream I/O of :class:`~callaudio.audio.service.EngineBackend`: far-end audio in,
processed microphone audio and the monitor out, through the running engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ..engine import check_far_audio

if TYPE_CHECKING:
    from ..engine import AudioEngine

__all__ = ["StreamIO"]

Float32Array = npt.NDArray[np.float32]


class StreamIO:
    """Far-end writes and capture/monitor reads on the running engine (if any)."""

    _engine: AudioEngine | None
    _kind: str | None
    far_discarded: int

    def write_far(self, samples: npt.ArrayLike, timeout: float | None = 0.0) -> int:
        """Queue far-end audio on the duplex stream; returns the samples taken.

        See :meth:`AudioEngine.write_far` (guarded to full scale; ``timeout`` 0: never
        block, seconds: wait for room, None: until all is queued; what a full ring refuses
        counts in ``stats.far_rejected``). With no duplex stream (an interruption) nothing
        is taken: 0 at once, and the samples count in :attr:`far_discarded`; bad input
        raises the same FrameError/ConfigError with or without a stream.
        """
        engine = self._engine
        if engine is None or self._kind != "duplex":
            y = check_far_audio(samples, timeout)  # bad input: the same error as in a call
            self.far_discarded += int(y.shape[0])
            return 0
        return engine.write_far(samples, timeout)

    def read_capture(
        self, max_frames: int | None = None, timeout: float | None = 0.0
    ) -> Float32Array:
        """Processed microphone audio from the running stream (empty at once when none);
        shapes and ``timeout`` as :meth:`AudioEngine.read_capture`."""
        engine = self._engine
        if engine is None or not engine.mode.has_input:
            from ..engine.ring import check_max_frames

            check_max_frames(max_frames)
            return np.zeros(0, dtype=np.float32)
        return engine.read_capture(max_frames, timeout)

    def read_monitor(self) -> tuple[Float32Array, Float32Array]:
        """(played, raw microphone) of the running stream (``monitor=True``); empty if none."""
        engine = self._engine
        if engine is None:
            empty = np.zeros(0, dtype=np.float32)
            return empty, empty
        return engine.read_monitor()
