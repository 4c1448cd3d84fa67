"""A call's state machine: states, direction, details and the forward-only transitions.

A :class:`Call` is pure state: it imports no audio and no session. The
:class:`~callaudio.rules.SessionRules` of the client that creates a call listens to its
transitions and applies the session rules (activate on establish, release on end ...).

The transitions, top to bottom (:data:`TRANSITIONS`)::

    event      from                                   to           direction
    progress   INITIATING                             PROGRESSING  outgoing only
    ring       INITIATING, PROGRESSING                RINGING      outgoing only
    answer     INITIATING, PROGRESSING, RINGING       ANSWERED     (incoming: from INITIATING)
    establish  ANSWERED                               ESTABLISHED
    end        every state but ENDED                  ENDED

Only forward transitions exist. Any other event raises
:class:`~callaudio.errors.InvalidStateError` naming the event and the state
(``"can't establish when ENDED"``) and changes nothing. For an incoming call, "answer" is
the local user accepting it; for an outgoing call, the remote party answering.
Being *interrupted* is not a state: an interrupted call stays ESTABLISHED with
:attr:`Call.is_interrupted` set (row 5 of the table in :mod:`callaudio.rules`).

Mapping to the Sinch SDK's names: ``SINCallState`` Initiating/Progressing/Ringing/
Answered/Established/Ended and ``SINCallEndCause`` map one to one onto :class:`CallState`
and :class:`EndCause` (``Canceled`` is spelt ``CANCELED`` as there).
"""

from __future__ import annotations

import enum
import itertools
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from .clock import Clock, MonotonicClock
from .errors import ConfigError, InvalidStateError, LiveObject

__all__ = [
    "TRANSITIONS",
    "Call",
    "CallDetails",
    "CallDirection",
    "CallListener",
    "CallState",
    "EndCause",
    "Transition",
]


class CallState(enum.Enum):
    """Where a call is in its life. Only forward transitions exist."""

    INITIATING = "initiating"
    PROGRESSING = "progressing"
    RINGING = "ringing"
    ANSWERED = "answered"
    ESTABLISHED = "established"
    ENDED = "ended"


class CallDirection(enum.Enum):
    """Who placed the call."""

    INCOMING = "incoming"
    OUTGOING = "outgoing"


class EndCause(enum.Enum):
    """Why a call ended (``NONE`` until it has)."""

    NONE = "none"
    TIMEOUT = "timeout"
    DENIED = "denied"
    NO_ANSWER = "no_answer"
    ERROR = "error"
    HUNG_UP = "hung_up"
    CANCELED = "canceled"
    OTHER_DEVICE_ANSWERED = "other_device_answered"
    INACTIVE = "inactive"
    VOIP_CALL_DETECTED = "voip_call_detected"
    GSM_CALL_DETECTED = "gsm_call_detected"


@dataclass(frozen=True)
class Transition:
    """One row of the call's transition table."""

    event: str
    sources: frozenset[CallState]
    target: CallState
    outgoing_only: bool = False


_S = CallState
#: The call's transitions, one row per event; nothing else is allowed.
TRANSITIONS: Mapping[str, Transition] = {
    t.event: t
    for t in (
        Transition("progress", frozenset({_S.INITIATING}), _S.PROGRESSING, outgoing_only=True),
        Transition(
            "ring", frozenset({_S.INITIATING, _S.PROGRESSING}), _S.RINGING, outgoing_only=True
        ),
        Transition("answer", frozenset({_S.INITIATING, _S.PROGRESSING, _S.RINGING}), _S.ANSWERED),
        Transition("establish", frozenset({_S.ANSWERED}), _S.ESTABLISHED),
        Transition("end", frozenset(set(_S) - {_S.ENDED}), _S.ENDED),
    )
}


@dataclass
class CallDetails:
    """Times (seconds on the call's clock), end cause and error of one call.

    Attributes
    ----------
    started_at : float
        When the call object was created (INITIATING).
    progressed_at, rang_at, answered_at, established_at, ended_at : float or None
        When the call entered that state; None if it never did.
    end_cause : EndCause
        ``EndCause.NONE`` until the call has ended.
    error : BaseException or None
        What went wrong when ``end_cause`` is ``ERROR``.
    """

    started_at: float
    progressed_at: float | None = None
    rang_at: float | None = None
    answered_at: float | None = None
    established_at: float | None = None
    ended_at: float | None = None
    end_cause: EndCause = EndCause.NONE
    error: BaseException | None = None

    @property
    def duration(self) -> float | None:
        """Seconds between establishment and end; None unless both happened."""
        if self.established_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.established_at


_TIME_FIELD = {
    CallState.PROGRESSING: "progressed_at",
    CallState.RINGING: "rang_at",
    CallState.ANSWERED: "answered_at",
    CallState.ESTABLISHED: "established_at",
    CallState.ENDED: "ended_at",
}


class CallListener(Protocol):
    """Told of every transition, after the state changed, inside the call's lock."""

    def call_transitioned(self, call: Call, event: str, previous: CallState) -> None:
        """React to ``call`` having moved from ``previous`` by ``event``."""


_ids = itertools.count(1)


class Call(LiveObject):
    """One call: direction, state and details, with forward-only transitions.

    Parameters
    ----------
    direction : CallDirection
        Incoming or outgoing.
    call_id : str, optional
        An identifier; ``"call-<n>"`` from a process-wide counter by default.
    remote : str, optional
        Who is on the other end (free text).
    clock : Clock, optional
        The time source for :class:`CallDetails`; a :class:`~callaudio.clock.MonotonicClock`
        by default.
    listener : CallListener, optional
        Told of each transition (the client sets itself).
    lock : callable returning a context manager, optional
        The guard taken around each transition; the client passes the session's, so a
        call's transitions and the session's changes are one atomic step. A private
        ``threading.RLock`` by default.
    """

    def __init__(
        self,
        direction: CallDirection,
        *,
        call_id: str | None = None,
        remote: str | None = None,
        clock: Clock | None = None,
        listener: CallListener | None = None,
        lock: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> None:
        if not isinstance(direction, CallDirection):
            raise ConfigError("direction", f"must be a CallDirection, got {direction!r}")
        for name, value in (("call_id", call_id), ("remote", remote)):
            if value is not None and not isinstance(value, str):
                raise ConfigError(name, f"must be a str or None, got {value!r}")
        self.direction = direction
        self.call_id = call_id if call_id is not None else f"call-{next(_ids)}"
        self.remote = remote
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self._listener = listener
        self._guard: Callable[[], AbstractContextManager[object]]
        if lock is None:
            own = threading.RLock()
            self._guard = lambda: own
        else:
            self._guard = lock
        self._state = CallState.INITIATING
        self._interrupted = False
        self.details = CallDetails(started_at=self._clock.now())

    def __repr__(self) -> str:
        flag = ", interrupted" if self._interrupted else ""
        return f"<Call {self.call_id} {self.direction.name} {self._state.name}{flag}>"

    @property
    def state(self) -> CallState:
        """The current state."""
        return self._state

    @property
    def is_interrupted(self) -> bool:
        """True while an ESTABLISHED call is held by an interruption."""
        return self._interrupted

    @property
    def is_live(self) -> bool:
        """True until the call has ENDED."""
        return self._state is not CallState.ENDED

    def can(self, event: str) -> bool:
        """Whether ``event`` is allowed now (no side effects)."""
        return self._refusal(event) is None

    def progress(self) -> None:
        """The outgoing call is progressing (the network is routing it)."""
        self._fire("progress")

    def ring(self) -> None:
        """The remote party's device is ringing (outgoing calls)."""
        self._fire("ring")

    def answer(self) -> None:
        """The call was answered (incoming: by the local user; outgoing: by the remote)."""
        self._fire("answer")

    def establish(self) -> None:
        """Media is flowing: the call is ESTABLISHED (rules 1 and 3 apply)."""
        self._fire("establish")

    def end(self, cause: EndCause = EndCause.HUNG_UP, error: BaseException | None = None) -> None:
        """End the call with ``cause`` (anything but ``EndCause.NONE``).

        Raises
        ------
        InvalidStateError
            When the call has already ended.
        ConfigError
            When ``cause`` is not an ``EndCause`` or is ``EndCause.NONE``, or ``error`` is
            neither None nor an exception.
        """
        if not isinstance(cause, EndCause) or cause is EndCause.NONE:
            raise ConfigError("cause", f"must be an EndCause other than NONE, got {cause!r}")
        if error is not None and not isinstance(error, BaseException):
            raise ConfigError("error", f"must be an exception or None, got {error!r}")
        self._fire("end", cause, error)

    def hangup(self) -> None:
        """End the call locally: ``end(EndCause.HUNG_UP)``; a call already ENDED stays as
        it is (hanging up twice is harmless)."""
        with self._guard():
            if self._state is not CallState.ENDED:
                self.end(EndCause.HUNG_UP)

    def _refusal(self, event: str) -> InvalidStateError | None:
        row = TRANSITIONS.get(str.__str__(event)) if isinstance(event, str) else None
        if row is None:  # (a list or an array as the event was a TypeError: unhashable)
            raise ConfigError(
                "event", f"unknown call event {event!r} (known: {', '.join(TRANSITIONS)})"
            )
        if self._state not in row.sources:
            return InvalidStateError(event, self._state.name)
        if row.outgoing_only and self.direction is not CallDirection.OUTGOING:
            return InvalidStateError(event, self._state.name, "only an outgoing call can " + event)
        return None

    def _fire(
        self, event: str, cause: EndCause = EndCause.NONE, error: BaseException | None = None
    ) -> None:
        with self._guard():
            refusal = self._refusal(event)
            if refusal is not None:
                raise refusal
            previous = self._state
            target = TRANSITIONS[event].target
            setattr(self.details, _TIME_FIELD[target], self._clock.now())
            if target is CallState.ENDED:
                self.details.end_cause = cause
                self.details.error = error
                self._interrupted = False
            self._state = target
            if self._listener is not None:
                self._listener.call_transitioned(self, event, previous)

    def set_interrupted(self, interrupted: bool) -> None:
        """Mark or clear the interruption flag (the session rules' job; ESTABLISHED calls
        only)."""
        self._interrupted = interrupted and self._state is CallState.ESTABLISHED
