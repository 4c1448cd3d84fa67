"""Events and their delivery to observers.

Every state change of the session layer is announced as an :class:`Event` with a name
from :data:`EVENT_NAMES` and keyword fields. Observers are plain objects: for an event
named ``did_set_active`` the method ``on_did_set_active(active=...)`` is called when the
observer has it, and ``on_event(event)`` (a catch-all) is called for every event when the
observer has that. Observers are called in registration order; one that raises is logged
(logger ``callaudio.events``) and the others still run.

Delivery goes through a :class:`Dispatcher`:

- :class:`ThreadDispatcher` (the default): one daemon event thread, never the audio thread.
- :class:`QueueDispatcher`: puts each delivery, a zero-argument callable, on the
  application's own queue; the application's loop calls it.
- :class:`ExecutorDispatcher`: runs deliveries on an application executor, one at a time
  and in order even when the executor has several workers.
- :class:`SynchronousDispatcher`: delivers at once on the thread that made the change; for
  tests, where an exact, deterministic event log is wanted.

Ordering: events are handed to the dispatcher inside the session lock, in the order the
changes happened, at the end of each outermost operation (see :class:`EventHub`), so an
observer never sees a half-done transition, and events of concurrent operations from
several threads are never interleaved.

Event fields (the ``on_<name>`` keyword arguments):

========================  =====================================================
event                     fields
========================  =====================================================
will_set_active           active (bool)
did_set_active            active (bool)
failed_to_set_active      active (bool), error (Exception)
interruption_began        reason (InterruptionReason), source (str)
interruption_ended        source (str), should_resume (bool)
route_changed             reason (RouteChangeReason), previous (Route)
media_services_lost       (none)
media_services_reset      (none)
configuration_restored    configuration (SessionConfiguration)
call_progressing ...      call (Call) -- also ringing, answered, established,
                          interrupted, resumed
call_ended                call (Call), cause (EndCause)
muted, unmuted            (none)
speaker_enabled/disabled  (none)
========================  =====================================================
"""

from __future__ import annotations

import collections
import functools
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "EVENT_NAMES",
    "Dispatcher",
    "Event",
    "EventHub",
    "ExecutorDispatcher",
    "QueueDispatcher",
    "SynchronousDispatcher",
    "ThreadDispatcher",
]

logger = logging.getLogger("callaudio.events")

#: Every event the session layer emits, as named in the session spec.
EVENT_NAMES: frozenset[str] = frozenset(
    {
        "will_set_active",
        "did_set_active",
        "failed_to_set_active",
        "interruption_began",
        "interruption_ended",
        "route_changed",
        "media_services_lost",
        "media_services_reset",
        "configuration_restored",
        "call_progressing",
        "call_ringing",
        "call_answered",
        "call_established",
        "call_interrupted",
        "call_resumed",
        "call_ended",
        "muted",
        "unmuted",
        "speaker_enabled",
        "speaker_disabled",
    }
)


@dataclass(frozen=True)
class Event:
    """One announced change: its ``name`` and the keyword ``data`` passed to observers."""

    name: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        args = ", ".join(f"{k}={_short(v)}" for k, v in self.data.items())
        return f"{self.name}({args})"


def _short(value: object) -> str:
    """A compact, stable rendering of an event field, for logs."""
    if isinstance(value, (str, bool, int, float)) or value is None:
        return repr(value)
    name = getattr(value, "name", None)
    if isinstance(name, str):  # enum members
        return name
    call_id = getattr(value, "call_id", None)
    if isinstance(call_id, str):
        return call_id
    if type(value).__str__ is not object.__str__:
        return str(value)
    return repr(value)


Delivery = Callable[[], None]


class Dispatcher(Protocol):
    """Something that runs deliveries, in the order submitted."""

    def submit(self, delivery: Delivery) -> None:
        """Run ``delivery()`` now or later, after every delivery submitted before it."""


class SynchronousDispatcher:
    """Deliver at once, on the thread that made the change (tests, deterministic logs).

    The observers then run while the session lock is held, at the end of the operation
    that emitted the events; an observer may call back into the library from the same
    thread (the lock is re-entrant) but must not wait for another thread that does.
    """

    def submit(self, delivery: Delivery) -> None:
        """Run ``delivery()`` immediately."""
        delivery()


class ThreadDispatcher:
    """Deliver on one daemon event thread, started at the first event.

    Parameters
    ----------
    name : str
        The event thread's name.
    """

    def __init__(self, name: str = "callaudio-events") -> None:
        self._name = name
        self._queue: queue.SimpleQueue[Delivery | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._unfinished = 0
        self._idle = threading.Condition(self._lock)

    @property
    def thread(self) -> threading.Thread | None:
        """The event thread, once started."""
        return self._thread

    def submit(self, delivery: Delivery) -> None:
        """Queue ``delivery`` for the event thread."""
        with self._lock:
            self._unfinished += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        self._queue.put(delivery)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every delivery submitted so far has run; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Deliver what is queued, then stop the event thread."""
        thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        thread.join(timeout)

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            if delivery is None:
                return
            try:
                delivery()
            except Exception:  # a delivery already isolates observers; belt and braces
                logger.exception("event delivery failed")
            finally:
                with self._idle:
                    self._unfinished -= 1
                    if self._unfinished == 0:
                        self._idle.notify_all()


class QueueDispatcher:
    """Put each delivery on the application's queue; the application calls them in order.

    Parameters
    ----------
    target : queue.Queue or anything with ``put(item)``
        The application's queue. Each item is a zero-argument callable to call on the
        application's own thread, e.g. ``while True: q.get()()``.
    """

    def __init__(self, target: Any) -> None:
        if not callable(getattr(target, "put", None)):
            raise TypeError("QueueDispatcher needs an object with a put() method")
        self._target = target

    def submit(self, delivery: Delivery) -> None:
        """Put ``delivery`` on the application's queue."""
        self._target.put(delivery)


class ExecutorDispatcher:
    """Run deliveries on an application executor, serially and in submission order.

    At most one task per dispatcher is on the executor at a time; it drains the
    dispatcher's own FIFO, so a multi-worker pool cannot reorder events.
    """

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._lock = threading.Lock()
        self._pending: collections.deque[Delivery] = collections.deque()
        self._draining = False

    def submit(self, delivery: Delivery) -> None:
        """Queue ``delivery``; start a drain task on the executor when none is running."""
        with self._lock:
            self._pending.append(delivery)
            if self._draining:
                return
            self._draining = True
        self._executor.submit(self._drain)

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._draining = False
                    return
                delivery = self._pending.popleft()
            try:
                delivery()
            except Exception:
                logger.exception("event delivery failed")


def deliver(observers: Iterable[object], event: Event) -> None:
    """Call each observer's ``on_<name>`` then ``on_event``; log and skip one that raises."""
    method = "on_" + event.name
    for observer in observers:
        handler = getattr(observer, method, None)
        if handler is not None:
            try:
                handler(**event.data)
            except Exception:
                logger.exception("observer %r raised in %s", observer, method)
        catch_all = getattr(observer, "on_event", None)
        if catch_all is not None:
            try:
                catch_all(event)
            except Exception:
                logger.exception("observer %r raised in on_event(%s)", observer, event.name)


class EventHub:
    """Observers, the dispatcher, and the events waiting for the end of an operation.

    The owner (the session) calls :meth:`emit` while holding its lock, and :meth:`flush`
    at the end of each outermost locked operation, still holding the lock. Events that an
    observer causes while a flush is running (synchronous dispatch, re-entrant call) are
    delivered after the events already pending, by the same flush.
    """

    def __init__(self, dispatcher: Dispatcher | None = None) -> None:
        self.dispatcher: Dispatcher = dispatcher if dispatcher is not None else ThreadDispatcher()
        self._observers: list[object] = []
        self._pending: collections.deque[Event] = collections.deque()
        self._flushing = False

    @property
    def observers(self) -> tuple[object, ...]:
        """The registered observers, in registration order."""
        return tuple(self._observers)

    def add_observer(self, observer: object) -> None:
        """Register ``observer`` (once; adding it again does nothing)."""
        if not any(o is observer for o in self._observers):
            self._observers.append(observer)

    def remove_observer(self, observer: object) -> None:
        """Unregister ``observer``; unknown observers are ignored."""
        self._observers = [o for o in self._observers if o is not observer]

    def emit(self, name: str, **data: Any) -> None:
        """Queue the event ``name`` until the current operation ends."""
        if name not in EVENT_NAMES:
            raise ValueError(f"unknown event {name!r}")
        self._pending.append(Event(name, data))

    def flush(self) -> None:
        """Hand every pending event to the dispatcher, with the observers of this moment."""
        if self._flushing:
            return
        self._flushing = True
        try:
            while self._pending:
                event = self._pending.popleft()
                observers = tuple(self._observers)
                self.dispatcher.submit(functools.partial(deliver, observers, event))
        finally:
            self._flushing = False
