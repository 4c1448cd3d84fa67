"""Injectable monotonic clocks with one-shot timers.

The session layer never reads the time or sleeps by itself: it asks a :class:`Clock`.
Production code uses :class:`MonotonicClock` (``time.monotonic`` and ``threading.Timer``);
tests use :class:`ManualClock`, whose :meth:`ManualClock.advance` fires every timer that
falls due, synchronously and in deadline order, so the 30-second interruption rule is
tested in microseconds.

Times are in seconds on the clock's own monotonic time line; only differences mean
anything.
"""

from __future__ import annotations

import heapq
import itertools
import math
import numbers
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from .errors import ConfigError, LiveObject

__all__ = ["Clock", "ManualClock", "MonotonicClock", "TimerHandle"]


def check_time(name: str, value: object, *, finite: bool = True) -> float:
    """``value`` as seconds: a real number, not NaN (nor infinite when ``finite``); else
    ConfigError (a NaN deadline broke the timer heap's order: it fired at once)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(name, f"must be a number of seconds, got {value!r}")
    try:
        v = float(value)
    except OverflowError:  # an int beyond float range: as far as time goes, infinite
        v = math.inf if value > 0 else -math.inf  # type: ignore[operator]
    except Exception:  # a __float__ that raises
        raise ConfigError(name, f"must be a number of seconds, got {value!r}") from None
    if math.isnan(v) or (finite and math.isinf(v)):
        raise ConfigError(
            name, f"must be a {'finite ' if finite else ''}number of seconds, got {v}"
        )
    return v


def check_callback(callback: Any) -> None:
    """ConfigError unless ``callback`` is callable."""
    # Any, not object: mypy narrows an ``object`` with callable() to a synthetic type it
    # files under this module's names, which stubtest then reports as missing at run time.
    if not callable(callback):  # it failed only when due, in advance() or a timer thread
        raise ConfigError("callback", f"must be callable, got {callback!r}")


class TimerHandle(Protocol):
    """A scheduled one-shot callback."""

    def cancel(self) -> None:
        """Stop the callback from running; harmless when it already ran or was cancelled."""

    @property
    def deadline(self) -> float:
        """When the callback is due, in the clock's seconds."""


class Clock(Protocol):
    """A monotonic time source that can run a callback at a deadline."""

    def now(self) -> float:
        """Return the current time in seconds (monotonic, arbitrary origin)."""

    def call_at(self, deadline: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback()`` once at ``deadline`` (seconds on this clock) or soon after.

        The callback may run on another thread (:class:`MonotonicClock`) or inside
        :meth:`ManualClock.advance`; it must do its own locking.
        """


class _ManualTimer:
    """A timer owned by a :class:`ManualClock`."""

    __slots__ = ("_callback", "_deadline", "cancelled", "fired")

    def __init__(self, deadline: float, callback: Callable[[], None]) -> None:
        self._deadline = deadline
        self._callback = callback
        self.cancelled = False
        self.fired = False

    @property
    def deadline(self) -> float:
        return self._deadline

    def cancel(self) -> None:
        self.cancelled = True

    def run(self) -> None:
        """Call the callback (the clock's :meth:`ManualClock.advance` does)."""
        self._callback()


class ManualClock(LiveObject):
    """A clock that only moves when told to; for tests.

    Parameters
    ----------
    start : float
        The initial time in seconds.

    Notes
    -----
    :meth:`advance` moves the time forward in steps, one due timer at a time: before a
    timer's callback runs, :meth:`now` returns exactly that timer's deadline, so a
    callback sees the time it was scheduled for. Timers scheduled by a callback for a
    time not later than the target also fire within the same call. Timers with equal
    deadlines fire in the order they were scheduled.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = check_time("start", start)
        self._lock = threading.RLock()
        self._heap: list[tuple[float, int, _ManualTimer]] = []
        self._order = itertools.count()

    def now(self) -> float:
        """Return the current manual time in seconds."""
        with self._lock:
            return self._now

    def call_at(self, deadline: float, callback: Callable[[], None]) -> TimerHandle:
        """Schedule ``callback`` for ``deadline``; it runs inside a later :meth:`advance`."""
        check_callback(callback)
        timer = _ManualTimer(check_time("deadline", deadline, finite=False), callback)
        with self._lock:
            heapq.heappush(self._heap, (timer.deadline, next(self._order), timer))
        return timer

    @property
    def pending(self) -> int:
        """How many timers are scheduled and neither fired nor cancelled."""
        with self._lock:
            return sum(1 for _, _, t in self._heap if not t.cancelled and not t.fired)

    def advance(self, seconds: float) -> None:
        """Move the time forward by ``seconds`` (>= 0), firing due timers on this thread.

        Raises
        ------
        ConfigError
            If ``seconds`` is negative or not finite (a monotonic clock never goes back).
        """
        seconds = check_time("seconds", seconds)
        if seconds < 0:
            raise ConfigError("seconds", f"must be finite and >= 0, got {seconds!r}")
        with self._lock:
            target = self._now + seconds
        self._run_until(target)

    def advance_to(self, target: float) -> None:
        """Move the time forward to ``target`` seconds (not earlier than :meth:`now`)."""
        target = check_time("target", target)
        with self._lock:
            if not math.isfinite(target) or target < self._now:
                raise ConfigError(
                    "target", f"must be finite and >= now ({self._now}), got {target!r}"
                )
        self._run_until(target)

    def _run_until(self, target: float) -> None:
        while True:
            with self._lock:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap or self._heap[0][0] > target:
                    self._now = max(self._now, target)
                    return
                deadline, _, timer = heapq.heappop(self._heap)
                self._now = max(self._now, deadline)
                timer.fired = True
            # The callback runs without the clock's lock: it may take other locks and
            # schedule or cancel timers.
            timer.run()


class _ThreadTimer:
    """A timer run by a daemon thread (cancelled through its event)."""

    __slots__ = ("_deadline", "_stop")

    def __init__(self, deadline: float, stop: threading.Event) -> None:
        self._deadline = deadline
        self._stop = stop

    @property
    def deadline(self) -> float:
        return self._deadline

    def cancel(self) -> None:
        self._stop.set()


class MonotonicClock:
    """The production clock: ``time.monotonic`` with daemon ``threading.Timer`` threads.

    A callback runs on its timer's own thread; the session layer's handlers take the
    session lock and check that the timer they belong to is still the current one, so a
    callback racing with a cancel does nothing.
    """

    def now(self) -> float:
        """Return ``time.monotonic()``."""
        return time.monotonic()

    def call_at(self, deadline: float, callback: Callable[[], None]) -> TimerHandle:
        """Start a daemon timer thread that runs ``callback`` at ``deadline`` (any deadline
        but NaN: the thread waits in steps a lock's timeout takes; a ``threading.Timer``
        died with OverflowError beyond ``threading.TIMEOUT_MAX``, ~292 years)."""
        deadline = check_time("deadline", deadline, finite=False)
        check_callback(callback)
        stop = threading.Event()

        def wait_then_run() -> None:
            while not stop.wait(min(max(0.0, deadline - time.monotonic()), threading.TIMEOUT_MAX)):
                if time.monotonic() >= deadline:
                    callback()
                    return

        threading.Thread(target=wait_then_run, name="callaudio-timer", daemon=True).start()
        return _ThreadTimer(deadline, stop)
