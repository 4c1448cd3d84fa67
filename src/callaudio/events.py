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
import math
import numbers
import queue
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ConfigError, ConfigTypeError, LiveObject

if TYPE_CHECKING:
    import asyncio

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
    """Raise ConfigError if ``observer`` has no handler, or one cannot take its event.

    ``on_<event>`` must accept the event's fields as keyword arguments; ``on_event`` must
    accept one positional argument.
    """
    handlers = [m for m in ("on_event", *("on_" + e for e in EVENT_FIELDS)) if hasattr(observer, m)]
    if not handlers:  # None, a function, a misspelt handler: it would never be called
        raise ConfigError(
            "observer",
            f"{observer!r:.80} has no handler: give it on_event(event) or on_<event> "
            "methods (on_call_ended(call, cause), ...; events.EVENT_FIELDS lists them)",
        )
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


class _EventThread:
    """What the event thread shares with its :class:`ThreadDispatcher`: the thread holds
    this, never the dispatcher, so a dispatcher no longer used (its session collected) is
    collected too, and its finaliser tells the thread to stop."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.queue: queue.SimpleQueue[Delivery | None] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()
        self.unfinished = 0
        self.exited = False  # the thread took its stop signal
        self.idle = threading.Condition(self.lock)

    def running(self) -> bool:
        """Whether a thread runs (call with the lock held)."""
        return self.thread is not None and not self.exited and self.thread.is_alive()

    def run(self) -> None:
        while True:
            delivery = self.queue.get()
            if delivery is None:
                with self.lock:
                    if self.unfinished == 0:
                        if self.thread is threading.current_thread():
                            self.exited = True  # the next submit starts a new thread
                        return
                    # Submitted after close(): deliver them first, then stop.
                    self.queue.put(None)
                continue
            try:
                delivery()
            except BaseException:  # SystemExit & co. from an observer: the thread lives on
                logger.exception("event delivery raised on the event thread")
            finally:
                with self.idle:
                    self.unfinished -= 1
                    if self.unfinished == 0:
                        self.idle.notify_all()


class ThreadDispatcher(LiveObject):
    """Deliver on one daemon event thread, started at the first event.

    The thread stops at :meth:`close`, when the dispatcher is replaced on its session
    (``session.dispatcher = ...``) and when the dispatcher is garbage-collected (with its
    session), after delivering what is queued; a later event starts a new one.

    Parameters
    ----------
    name : str
        The event thread's name.
    """

    def __init__(self, name: str = "callaudio-events") -> None:
        self._shared = _EventThread(name)
        weakref.finalize(self, self._shared.queue.put, None)

    @property
    def thread(self) -> threading.Thread | None:
        """The event thread, once started."""
        return self._shared.thread

    def submit(self, delivery: Delivery) -> None:
        """Queue ``delivery`` for the event thread."""
        sh = self._shared
        with sh.lock:
            sh.unfinished += 1
            if not sh.running():
                sh.exited = False
                sh.thread = threading.Thread(target=sh.run, name=sh.name, daemon=True)
                sh.thread.start()
        sh.queue.put(delivery)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every delivery submitted so far has run; False on timeout.

        Called on the event thread itself (from an observer) it cannot wait for the
        deliveries queued behind the running one: it returns at once, True only when
        nothing but the running delivery is unfinished.
        """
        timeout = check_timeout(timeout)
        sh = self._shared
        if threading.current_thread() is sh.thread:
            with sh.idle:
                return sh.unfinished <= 1
        with sh.idle:
            return sh.idle.wait_for(lambda: sh.unfinished == 0, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Deliver what is queued, then stop the event thread (waiting at most
        ``timeout`` seconds for it; 0: do not wait).

        A delivery submitted after ``close`` (even while the thread is still draining) is
        delivered too: by the same thread, which then stops, or by a new one.
        """
        timeout = check_timeout(timeout)
        sh = self._shared
        with sh.lock:
            thread = sh.thread
            if thread is None or not sh.running():
                return
            sh.queue.put(None)
        if thread is not threading.current_thread():
            thread.join(timeout)


def check_timeout(timeout: object) -> float | None:
    """``timeout`` as seconds for a wait: None, or a real number >= 0 (beyond
    ``threading.TIMEOUT_MAX`` it waits that long); else ConfigError (NaN, 10**400 and an
    array failed inside the wait as ValueError/OverflowError)."""
    if timeout is None:
        return None
    seconds = math.nan
    if not isinstance(timeout, bool) and isinstance(timeout, numbers.Real):
        try:
            seconds = float(timeout)
        except OverflowError:
            seconds = math.inf if timeout > 0 else -math.inf  # type: ignore[operator]
        except Exception:  # a __float__ that raises
            pass
    if not seconds >= 0:  # NaN too
        raise ConfigError("timeout", f"must be None or seconds >= 0, got {timeout!r}")
    return min(seconds, threading.TIMEOUT_MAX)


def check_dispatcher(dispatcher: Any) -> Dispatcher:
    """``dispatcher`` itself when it has a ``submit()`` method; else ConfigError."""
    if not callable(getattr(dispatcher, "submit", None)):
        raise ConfigError("dispatcher", f"must have a submit() method, got {dispatcher!r}")
    return dispatcher  # type: ignore[no-any-return]


class QueueDispatcher(LiveObject):
    """Put each delivery on the application's queue; the application calls them in order.

    Parameters
    ----------
    target : queue.Queue, asyncio.Queue, or anything with ``put(item)``
        The application's queue. Each item is a zero-argument callable to call on the
        application's own thread, e.g. ``while True: q.get()()`` (``(await q.get())()``
        on an event loop). An ``asyncio.Queue`` (whose ``put`` is a coroutine) must be
        given while its event loop runs: each delivery is put with ``put_nowait`` on that
        loop (``loop.call_soon_threadsafe``); a delivery that finds the loop closed or
        the queue full is dropped and logged.

    Notes
    -----
    ``put`` is called after the session lock is released, so a bounded queue never
    blocks the session, and an observer may read the session freely. With a bounded
    queue, an observer that *changes* the session (which emits events) from the thread
    that drains the queue may wait for its own queue: change it from another thread.
    """

    def __init__(self, target: Any) -> None:
        put = getattr(target, "put", None)
        if not callable(put):
            raise ConfigTypeError("target", "QueueDispatcher needs an object with a put() method")
        self._target = target
        self._loop: asyncio.AbstractEventLoop | None = None
        if inspect.iscoroutinefunction(put):  # asyncio.Queue: put() only makes a coroutine
            import asyncio  # here: most applications never need it

            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:
                self._loop = None
            if self._loop is None or not callable(getattr(target, "put_nowait", None)):
                raise ConfigTypeError(
                    "target",
                    "the queue's put() is a coroutine (an asyncio.Queue): create the "
                    "QueueDispatcher inside its running event loop (it needs put_nowait()), "
                    "or pass a queue.Queue",
                )

    def submit(self, delivery: Delivery) -> None:
        """Put ``delivery`` on the application's queue."""
        if self._loop is None:
            self._target.put(delivery)
            return
        try:
            self._loop.call_soon_threadsafe(self._put_nowait, delivery)
        except RuntimeError:  # the loop is closed
            logger.error("event dropped: the event loop of the QueueDispatcher is closed")

    def _put_nowait(self, delivery: Delivery) -> None:
        import asyncio

        try:
            self._target.put_nowait(delivery)
        except asyncio.QueueFull:
            logger.error("event dropped: the QueueDispatcher's asyncio queue is full")


class ExecutorDispatcher(LiveObject):
    """Run deliveries on an application executor, serially and in submission order.

    At most one task per dispatcher is on the executor at a time; it drains the
    dispatcher's own FIFO, so a multi-worker pool cannot reorder events.
    """

    def __init__(self, executor: Executor) -> None:
        if not callable(getattr(executor, "submit", None)):
            raise ConfigTypeError(
                "executor",
                f"ExecutorDispatcher needs an object with a submit() method, got {executor!r:.80}",
            )
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
        try:
            self._executor.submit(self._drain)
        except Exception as exc:  # a shut-down executor: no drain will run, drop what waits
            with self._lock:
                dropped = len(self._pending)
                self._pending.clear()
                self._draining = False  # a later submit tries the executor again
            logger.error(
                "%d event(s) dropped: the ExecutorDispatcher's executor refused them (%r)",
                dropped,
                exc,
            )

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
        self._dispatcher: Dispatcher = (
            check_dispatcher(dispatcher) if dispatcher is not None else ThreadDispatcher()
        )
        self._observers: tuple[object, ...] = ()

    @property
    def dispatcher(self) -> Dispatcher:
        """How events reach the observers. Replacing a :class:`ThreadDispatcher` stops its
        event thread once what it queued is delivered (without waiting for it)."""
        return self._dispatcher

    @dispatcher.setter
    def dispatcher(self, dispatcher: Dispatcher) -> None:
        old, self._dispatcher = self._dispatcher, check_dispatcher(dispatcher)
        if old is not self._dispatcher and isinstance(old, ThreadDispatcher):
            old.close(timeout=0)

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
