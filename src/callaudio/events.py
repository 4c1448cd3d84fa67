"""Events and their delivery to observers.

Every state change of the session layer is announced as an :class:`Event` with a name
from :data:`EVENT_NAMES` and keyword fields. Observers are plain objects: for an event
named ``did_set_active`` the method ``on_did_set_active(active=...)`` is called when the
observer has it, and ``on_event(event)`` (a catch-all) is called for every event when the
observer has that. Observers are called in registration order; one that raises an
``Exception`` is logged (logger ``callaudio.events``) and the others still run. A
``BaseException`` that is not an ``Exception`` (``SystemExit``, ``KeyboardInterrupt``) is
not swallowed: every other observer still gets the event, then it propagates to whoever
runs the delivery -- the thread that made the change with :class:`SynchronousDispatcher`
(after all of that change's events were delivered), the application's loop with
:class:`QueueDispatcher`. The :class:`ThreadDispatcher`'s event thread and the
:class:`ExecutorDispatcher` log it instead and keep delivering: their thread never dies.

A handler is a method named ``on_<event>`` that takes the event's fields as keyword
arguments (the table below); :meth:`EventHub.add_observer` checks the signatures and
refuses an observer whose handler could not be called (a ConfigError names it)::

    class CallLogger:
        def on_call_ended(self, call, cause):        # the fields by name
            print(call.call_id, "ended:", cause.name)

        def on_route_changed(self, **fields):        # or take them all
            print("route changed", fields["reason"].name)

        def on_event(self, event):                   # every event, as an Event
            print(event)

    session.add_observer(CallLogger())

Delivery goes through a :class:`Dispatcher`:

- :class:`ThreadDispatcher` (the default): one daemon event thread, never the audio thread.
- :class:`QueueDispatcher`: puts each delivery, a zero-argument callable, on the
  application's own queue; the application's loop calls it.
- :class:`ExecutorDispatcher`: runs deliveries on an application executor, one at a time
  and in order even when the executor has several workers.
- :class:`SynchronousDispatcher`: delivers at once on the thread that made the change; for
  tests, where an exact, deterministic event log is wanted.

Ordering: events are emitted under the session lock, in the order the changes happened,
and handed to the dispatcher after the outermost release of the lock (never while it is
held, so a dispatcher blocking on a full application queue cannot block the session), in
that same order; an observer never sees a half-done transition.

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
audio_dropout             xruns (int), underruns (int), overruns (int),
                          device (str or None) -- audio lost since the last
                          report, at most one a second (from the backend's
                          watcher thread; the stream goes on)
========================  =====================================================
"""

from __future__ import annotations

import collections
import functools
import inspect
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import ConfigError, ConfigTypeError

__all__ = [
    "EVENT_FIELDS",
    "EVENT_NAMES",
    "Dispatcher",
    "Event",
    "EventHub",
    "ExecutorDispatcher",
    "QueueDispatcher",
    "SynchronousDispatcher",
    "ThreadDispatcher",
    "check_dispatcher",
]

logger = logging.getLogger("callaudio.events")

#: Every event the session layer emits.
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
        "audio_dropout",
    }
)


_CALL = ("call",)
#: Each event's keyword fields, in the order of the table above.
EVENT_FIELDS: Mapping[str, tuple[str, ...]] = {
    "will_set_active": ("active",),
    "did_set_active": ("active",),
    "failed_to_set_active": ("active", "error"),
    "interruption_began": ("reason", "source"),
    "interruption_ended": ("source", "should_resume"),
    "route_changed": ("reason", "previous"),
    "media_services_lost": (),
    "media_services_reset": (),
    "configuration_restored": ("configuration",),
    "call_progressing": _CALL,
    "call_ringing": _CALL,
    "call_answered": _CALL,
    "call_established": _CALL,
    "call_interrupted": _CALL,
    "call_resumed": _CALL,
    "call_ended": ("call", "cause"),
    "muted": (),
    "unmuted": (),
    "speaker_enabled": (),
    "speaker_disabled": (),
    "audio_dropout": ("xruns", "underruns", "overruns", "device"),
}


def check_observer(observer: object) -> None:
    """Raise ConfigError if one of ``observer``'s handlers cannot take its event.

    ``on_<event>`` must accept the event's fields as keyword arguments; ``on_event`` must
    accept one positional argument.
    """
    for name, fields in EVENT_FIELDS.items():
        _check_handler(observer, "on_" + name, (), dict.fromkeys(fields))
    _check_handler(observer, "on_event", (None,), {})


def _check_handler(
    observer: object, method: str, args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    handler = getattr(observer, method, None)
    if handler is None:
        return
    if not callable(handler):
        raise ConfigError("observer", f"{method} of {observer!r} is not callable")
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):  # a builtin without a signature: trust it
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        wanted = ", ".join(kwargs) if kwargs else "event"
        raise ConfigError(
            "observer",
            f"{type(observer).__name__}.{method}{signature} cannot take the event's "
            f"arguments ({wanted}): {exc}",
        ) from None


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
        self._exited = False  # the thread took its stop signal
        self._idle = threading.Condition(self._lock)

    @property
    def thread(self) -> threading.Thread | None:
        """The event thread, once started."""
        return self._thread

    def submit(self, delivery: Delivery) -> None:
        """Queue ``delivery`` for the event thread."""
        with self._lock:
            self._unfinished += 1
            if self._thread is None or self._exited or not self._thread.is_alive():
                self._exited = False
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        self._queue.put(delivery)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every delivery submitted so far has run; False on timeout.

        Called on the event thread itself (from an observer) it cannot wait for the
        deliveries queued behind the running one: it returns at once, True only when
        nothing but the running delivery is unfinished.
        """
        if threading.current_thread() is self._thread:
            with self._idle:
                return self._unfinished <= 1
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Deliver what is queued, then stop the event thread.

        A delivery submitted after ``close`` (even while the thread is still draining) is
        delivered too: by the same thread, which then stops, or by a new one.
        """
        thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        thread.join(timeout)

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            if delivery is None:
                with self._lock:
                    if self._unfinished == 0:
                        if self._thread is threading.current_thread():
                            self._exited = True  # the next submit starts a new thread
                        return
                    # Submitted after close(): deliver them first, then stop.
                    self._queue.put(None)
                continue
            try:
                delivery()
            except BaseException:  # SystemExit & co. from an observer: the thread lives on
                logger.exception("event delivery raised on the event thread")
            finally:
                with self._idle:
                    self._unfinished -= 1
                    if self._unfinished == 0:
                        self._idle.notify_all()


def check_dispatcher(dispatcher: Any) -> Dispatcher:
    """``dispatcher`` itself when it has a ``submit()`` method; else ConfigError."""
    if not callable(getattr(dispatcher, "submit", None)):
        raise ConfigError("dispatcher", f"must have a submit() method, got {dispatcher!r}")
    return dispatcher  # type: ignore[no-any-return]


class QueueDispatcher:
    """Put each delivery on the application's queue; the application calls them in order.

    Parameters
    ----------
    target : queue.Queue or anything with ``put(item)``
        The application's queue. Each item is a zero-argument callable to call on the
        application's own thread, e.g. ``while True: q.get()()``.

    Notes
    -----
    ``put`` is called after the session lock is released, so a bounded queue never
    blocks the session, and an observer may read the session freely. With a bounded
    queue, an observer that *changes* the session (which emits events) from the thread
    that drains the queue may wait for its own queue: change it from another thread.
    """

    def __init__(self, target: Any) -> None:
        if not callable(getattr(target, "put", None)):
            raise ConfigTypeError("target", "QueueDispatcher needs an object with a put() method")
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
            except BaseException:  # the drain must go on, or later events would be lost
                logger.exception("event delivery failed")


def deliver(observers: Iterable[object], event: Event) -> None:
    """Call each observer's ``on_<name>`` then ``on_event``.

    An ``Exception`` is logged and the next handler runs. Any other ``BaseException``
    (``SystemExit``, ``KeyboardInterrupt``) is raised after every handler ran.
    """
    method = "on_" + event.name
    fatal: BaseException | None = None

    def by_fields(handler: Callable[..., object]) -> None:
        handler(**event.data)

    def with_event(handler: Callable[..., object]) -> None:
        handler(event)

    for observer in observers:
        for name, call in ((method, by_fields), ("on_event", with_event)):
            handler = getattr(observer, name, None)
            if handler is None:
                continue
            try:
                call(handler)
            except Exception:
                logger.exception("observer %r raised in %s(%s)", observer, name, event.name)
            except BaseException as exc:
                logger.error("observer %r raised %r in %s(%s)", observer, exc, name, event.name)
                if fatal is None:
                    fatal = exc
    if fatal is not None:
        raise fatal


class EventHub:
    """The observers and the dispatcher of one session.

    The session calls :meth:`delivery` under its lock when something happens (the
    observers of that moment get the event) and runs the returned callable after the lock
    is released; it hands the event to the dispatcher.
    """

    def __init__(self, dispatcher: Dispatcher | None = None) -> None:
        self.dispatcher: Dispatcher = (
            check_dispatcher(dispatcher) if dispatcher is not None else ThreadDispatcher()
        )
        self._observers: tuple[object, ...] = ()

    @property
    def observers(self) -> tuple[object, ...]:
        """The registered observers, in registration order."""
        return self._observers

    def add_observer(self, observer: object) -> None:
        """Register ``observer`` (once; adding it again does nothing).

        Raises
        ------
        ConfigError
            When a handler's signature cannot take its event (see :func:`check_observer`).
        """
        check_observer(observer)
        if not any(o is observer for o in self._observers):
            self._observers = (*self._observers, observer)

    def remove_observer(self, observer: object) -> None:
        """Unregister ``observer``; unknown observers are ignored."""
        self._observers = tuple(o for o in self._observers if o is not observer)

    def delivery(self, name: str, **data: Any) -> Delivery:
        """The hand-over of event ``name`` to the dispatcher, for the observers of now.

        Raises
        ------
        ConfigError
            (a ValueError) For a name not in :data:`EVENT_NAMES`, or fields other than its
            own.
        """
        if not isinstance(name, str) or name not in EVENT_NAMES:
            raise ConfigError("event", f"unknown event {name!r}")
        if set(data) != set(EVENT_FIELDS[name]):
            raise ConfigError(
                "event", f"event {name!r} takes the fields {EVENT_FIELDS[name]}, got {tuple(data)}"
            )
        task = functools.partial(deliver, self._observers, Event(name, data))
        return lambda: self.dispatcher.submit(task)
