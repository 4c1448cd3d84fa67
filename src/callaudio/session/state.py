"""The session's states and its transition table."""

from __future__ import annotations

import enum
from collections.abc import Mapping

__all__ = ["SESSION_TRANSITIONS", "SessionState", "state_of"]


class SessionState(enum.Enum):
    """Where the session is: activation (holds) crossed with interruption."""

    INACTIVE = "inactive"
    ACTIVE = "active"
    INTERRUPTED = "interrupted"
    PREEMPTED = "preempted"


_T = SessionState
#: (state, event) -> next state; events: ``activate`` (first hold taken), ``deactivate``
#: (last hold gone), ``interrupt`` (first interruption opened), ``resume`` (last one closed).
SESSION_TRANSITIONS: Mapping[tuple[SessionState, str], SessionState] = {
    (_T.INACTIVE, "activate"): _T.ACTIVE,
    (_T.INACTIVE, "interrupt"): _T.PREEMPTED,
    (_T.ACTIVE, "deactivate"): _T.INACTIVE,
    (_T.ACTIVE, "interrupt"): _T.INTERRUPTED,
    (_T.INTERRUPTED, "resume"): _T.ACTIVE,
    (_T.INTERRUPTED, "deactivate"): _T.PREEMPTED,
    (_T.PREEMPTED, "resume"): _T.INACTIVE,
    (_T.PREEMPTED, "activate"): _T.INTERRUPTED,
}


def state_of(activated: bool, interrupted: bool) -> SessionState:
    """The state for "some hold is live" and "some interruption is open"."""
    if activated:
        return _T.INTERRUPTED if interrupted else _T.ACTIVE
    return _T.PREEMPTED if interrupted else _T.INACTIVE
