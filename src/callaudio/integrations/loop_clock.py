"""LoopClock: a session clock whose timers fire on an asyncio loop's thread.

For an application whose audio frames run on its asyncio loop (a simulated room driven by
an aiortc track, see :mod:`callaudio.integrations.aiortc`): the 30-second grace timer then
ends a call on the loop, between two frames, never in the middle of one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ..clock import check_callback, check_time
from ..errors import ConfigError, LiveObject

__all__ = ["LoopClock"]


class _LoopTimer:
    """A :class:`LoopClock` timer: armed and fired on the loop's thread."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, deadline: float, callback: Callable[[], None]
    ) -> None:
        self._loop = loop
        self._deadline = deadline
        self._callback = callback
        self._handle: asyncio.TimerHandle | None = None
        self._cancelled = False
        loop.call_soon_threadsafe(self._arm)

    @property
    def deadline(self) -> float:
        return self._deadline

    def _arm(self) -> None:
        if not self._cancelled:
            delay = max(0.0, self._deadline - time.monotonic())
            self._handle = self._loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        if not self._cancelled:
            self._callback()

    def cancel(self) -> None:
        self._cancelled = True  # _fire checks it; the loop's handle may stay armed, harmless


class LoopClock(LiveObject):
    """A :class:`~callaudio.clock.Clock` (``time.monotonic``) whose timers fire on an asyncio
    loop's thread.

    For a client whose device the call drives (the simulated room with ``realtime=False``):
    ``VoiceClient(backend, policy=InterruptionPolicy(clock=LoopClock()))`` makes the
    30-second grace timer end the call on the loop, between two frames.

    Parameters
    ----------
    loop : asyncio.AbstractEventLoop, optional
        The running loop by default (then create the clock inside a coroutine).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise ConfigError(
                    "loop", "pass the loop, or create the clock inside a coroutine"
                ) from None
        elif not isinstance(loop, asyncio.AbstractEventLoop):  # failed at the first timer
            raise ConfigError("loop", f"must be an asyncio event loop, got {loop!r:.80}")
        self.loop = loop

    def now(self) -> float:
        """``time.monotonic()``, in seconds."""
        return time.monotonic()

    def call_at(self, deadline: float, callback: Callable[[], None]) -> _LoopTimer:
        """Run ``callback()`` on the loop's thread at ``deadline`` (seconds, monotonic)."""
        deadline = check_time("deadline", deadline, finite=False)
        check_callback(callback)  # it failed only when due, on the loop
        return _LoopTimer(self.loop, deadline, callback)
