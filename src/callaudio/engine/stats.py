"""What the engine carries and what it counts: :class:`EngineMode` and :class:`EngineStats`."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["EngineMode", "EngineStats"]


class EngineMode(enum.Enum):
    """Which directions the engine's stream carries."""

    DUPLEX = "duplex"
    """Microphone and loudspeaker (PLAY_AND_RECORD)."""
    PLAYBACK = "playback"
    """Loudspeaker only (PLAYBACK, AMBIENT, SOLO_AMBIENT)."""
    RECORD = "record"
    """Microphone only (RECORD)."""

    @property
    def has_input(self) -> bool:
        """True when the stream records."""
        return self is not EngineMode.PLAYBACK

    @property
    def has_output(self) -> bool:
        """True when the stream plays."""
        return self is not EngineMode.RECORD


@dataclass(frozen=True)
class EngineStats:
    """What the engine counted since :meth:`AudioEngine.start`.

    Attributes
    ----------
    frames : int
        Callbacks run (10 ms frames).
    underruns : int
        Frames played as silence because the far-end ring ran dry while the application was
        sending: after it had queued far-end audio and before it marked the end of it with
        :meth:`AudioEngine.flush_far` (a network stream that stalled).
    silent_frames : int
        Every frame played with no far-end audio (the ring was empty), underruns included:
        a call where the far end never sent anything has only silent frames.
    overruns : int
        Captured frames dropped because the application did not read the capture ring.
    xruns : int
        Callbacks whose status carried an input/output under/overflow.
    xrun_flags : str
        The accumulated status flags, as the device prints them ("" when none).
    callback_errors : int
        Callbacks that raised (see :class:`~callaudio.errors.CallbackError`).
    cost_us_mean, cost_us_max : float or None
        Time spent inside the callback per frame, in microseconds (None before a frame).
    interval_us_max : float or None
        Longest time between two callbacks' starts, in microseconds.
    thread_priority : str
        The audio thread's scheduling: ``"normal"``, ``"SCHED_FIFO <p>"`` or why the
        requested real-time priority was refused.
    far_rejected : int
        Far-end samples :meth:`AudioEngine.write_far` did not take because the far-end ring
        was full (its return value said so; an application that ignores it loses them).
    halted : bool
        The engine stopped itself: ``stop()`` was called from inside the callback, or the
        callback raised ``KeyboardInterrupt``/``SystemExit``.
    callback_kind : str
        ``"compiled"`` (the device called the compiled callback, without the GIL) or
        ``"python"`` (the Python fallback callback).
    cost_us_median, cost_us_p99 : float or None
        The compiled callback's cost per frame, from its own monotonic clock (1 us bins;
        None for the Python callback or before a frame).
    processor_resets : int
        Frames whose processed output was not finite: silenced, and the chain reset.
    echo_path_resets : int
        Echo-path resets the callback applied (:meth:`AudioEngine.reset_processor` while
        running).
    xrun_at_frames : tuple of int
        The frame each of the first 8 xruns happened at.
    """

    frames: int
    underruns: int
    overruns: int
    xruns: int
    xrun_flags: str
    callback_errors: int
    cost_us_mean: float | None
    cost_us_max: float | None
    interval_us_max: float | None
    thread_priority: str = "normal"
    far_rejected: int = 0
    halted: bool = False
    silent_frames: int = 0
    callback_kind: str = "python"
    cost_us_median: float | None = None
    cost_us_p99: float | None = None
    processor_resets: int = 0
    echo_path_resets: int = 0
    xrun_at_frames: tuple[int, ...] = ()
