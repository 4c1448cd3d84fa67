"""The session lock and the work it defers: decide under the lock, act after releasing it.

Every change to the session layer is decided while :class:`SessionLock` is held. What the
decision implies outside the session -- an audio action on a backend (stopping a stream
waits for the audio thread) or an event for the observers (a dispatcher may block on the
application's bounded queue) -- is posted to an :class:`Outbox` and runs only after the
*outermost* release of the lock, on the releasing thread:

1. the audio actions, in the order they were decided (one thread at a time, so the order
   holds across threads). Actions posted with ``wait=True`` (starting a call's audio or a
   sound) raise their error to the thread that decided them: when another thread is
   running the queue, that thread waits for them, so ``establish()`` still raises when
   the audio cannot start. Other actions (stops, flags) never make anyone wait; their
   errors are raised on the deciding thread when it runs them itself, else logged;
2. then the events, handed to the dispatcher in the order they were emitted. A thread
   that finds another thread delivering leaves its events to that thread (it never waits
   for an observer); an observer's own changes are delivered after the events already
   pending (never in the middle of them).

``with session.lock:`` is the same lock: compound operations of the application are one
atomic decision, and their audio actions run when the block ends.

An audio thread (a capture callback that changes the session; the Outbox asks its
``audio_thread`` predicate) never runs the queue and never waits: stopping a stream waits
for its callback to return, so the acting thread may be waiting for this very thread. It
leaves its actions and events to the thread running the queue, or to a worker thread it
starts (which runs them in order, as any releasing thread would); its ``wait=True``
actions are posted as plain ones (their errors are logged, the session rules already act
on them: a call whose audio cannot start ends with ``EndCause.ERROR``).
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from ..errors import ConfigError

__all__ = ["Outbox", "SessionLock"]

logger = logging.getLogger("callaudio.session")


@dataclass(eq=False)
class _Action:
    run: Callable[[], None]
    wait: bool = False
    thread: int = field(default_factory=threading.get_ident)
    done: bool = False
    error: BaseException | None = None


class Outbox:
    """Audio actions and event deliveries waiting for the session lock to be released."""

    def __init__(self, audio_thread: Callable[[], bool] | None = None) -> None:
        """``audio_thread()``: whether the calling thread is an audio thread, which never
        runs or waits for the queue (default: none is)."""
        self._audio_thread = audio_thread if audio_thread is not None else _never
        self._worker: threading.Thread | None = None
        self._mutex = threading.Lock()
        self._changed = threading.Condition(self._mutex)
        self._actions: collections.deque[_Action] = collections.deque()
        self._unfinished: list[_Action] = []
        self._events: collections.deque[Callable[[], None]] = collections.deque()
        self._acting: int | None = None
        self._delivering: int | None = None

    def post_action(self, action: Callable[[], None], *, wait: bool = False) -> None:
        """Queue an audio action (decided under the session lock); ``wait``: the deciding
        thread waits for it and gets its error even when another thread runs it (not on an
        audio thread, which never waits). ConfigError (nothing queued) when ``action`` is
        not callable."""
        if not callable(action):
            raise ConfigError("action", f"must be callable, got {action!r}")
        item = _Action(action, wait and not self._audio_thread())
        with self._mutex:
            self._actions.append(item)
            self._unfinished.append(item)

    def post_event(self, delivery: Callable[[], None]) -> None:
        """Queue the hand-over of one event to the dispatcher."""
        with self._mutex:
            self._events.append(delivery)

    @property
    def idle(self) -> bool:
        """Nothing queued and nobody running the queue."""
        with self._mutex:
            busy = self._acting or self._delivering or self._worker
            return not (self._actions or self._events or busy)

    def run(self) -> None:
        """Run the queued actions, then the events (call with the session lock released).

        Raises the first error of an action this thread posted, after everything ran. A
        ``BaseException`` that is not an ``Exception`` (``SystemExit``, ``KeyboardInterrupt``)
        raised by an observer through a synchronous dispatcher propagates the same way,
        after every event was delivered.
        """
        with self._mutex:
            if self._acting == threading.get_ident():
                return  # an action re-entered the session: the outer run() goes on
        if self._audio_thread():
            self._hand_over()
            return
        error = self._run_actions()
        late = self._deliver()
        if error is not None:
            raise error
        if late is not None:
            raise late

    def _pending(self) -> bool:
        """Work nobody is doing (the caller holds the mutex)."""
        return bool(
            (self._actions and self._acting is None) or (self._events and self._delivering is None)
        )

    def _hand_over(self) -> None:
        """On an audio thread: leave the queue to the threads running it, or to a worker."""
        with self._mutex:
            if self._worker is not None or not self._pending():
                return
            worker = threading.Thread(target=self._work, name="callaudio-session", daemon=True)
            self._worker = worker
        worker.start()

    def _work(self) -> None:
        """The worker: run the queue as a releasing thread would, until nothing is left
        that no other thread is doing."""
        while True:
            for error in (self._run_actions(), self._deliver()):
                if error is not None:
                    logger.error("audio action or delivery failed: %r", error, exc_info=error)
            with self._mutex:
                if not self._pending():
                    self._worker = None
                    return

    def _run_actions(self) -> BaseException | None:
        me = threading.get_ident()
        with self._changed:
            if self._acting is not None:
                mine = [a for a in self._unfinished if a.thread == me and a.wait]
                self._changed.wait_for(lambda: all(a.done for a in mine))
                return next((a.error for a in mine if a.error is not None), None)
            self._acting = me
        first: BaseException | None = None
        while True:
            with self._changed:
                if not self._actions:
                    self._acting = None
                    self._changed.notify_all()
                    return first
                action = self._actions.popleft()
            try:
                action.run()
            except BaseException as exc:  # handed to the thread that decided the action
                action.error = exc
                if action.thread == me:
                    first = first if first is not None else exc
                elif not action.wait:
                    logger.error("audio action failed: %r", exc, exc_info=exc)
            with self._changed:
                action.done = True
                self._unfinished.remove(action)
                self._changed.notify_all()

    def _deliver(self) -> BaseException | None:
        me = threading.get_ident()
        with self._mutex:
            if self._delivering is not None:
                return None  # the delivering thread (maybe this one, re-entered) takes ours
            self._delivering = me
        first: BaseException | None = None
        while True:
            with self._mutex:
                if not self._events:
                    self._delivering = None
                    return first
                delivery = self._events.popleft()
            try:
                delivery()
            except Exception as exc:  # a dispatcher's submit() failed: the change stands
                logger.error("event hand-over to the dispatcher failed: %r", exc, exc_info=exc)
            except BaseException as exc:  # SystemExit & co. (see events.deliver())
                if first is None:
                    first = exc


def _never() -> bool:
    return False


class SessionLock:
    """A re-entrant lock whose outermost release runs the :class:`Outbox`.

    Use it as a context manager (``with session.lock: ...``) or with
    :meth:`acquire`/:meth:`release`. :meth:`held_by_me` answers whether the calling thread
    holds it.
    """

    def __init__(self, outbox: Outbox) -> None:
        self._lock = threading.RLock()
        self._owner: int | None = None
        self._count = 0
        self._outbox = outbox

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock (re-entrant); False when not taken within ``timeout``."""
        if not self._lock.acquire(blocking, timeout):
            return False
        self._owner = threading.get_ident()
        self._count += 1
        return True

    def release(self) -> None:
        """Give the lock back; the outermost release then runs the deferred work."""
        if self._owner != threading.get_ident():
            raise RuntimeError("cannot release a session lock this thread does not hold")
        self._count -= 1
        last = self._count == 0
        if last:
            self._owner = None
        self._lock.release()
        if last:
            self._outbox.run()

    def held_by_me(self) -> bool:
        """Whether the calling thread holds the lock."""
        return self._owner == threading.get_ident()

    def __enter__(self) -> SessionLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
