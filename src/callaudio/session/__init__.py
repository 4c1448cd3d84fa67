"""The audio-session layer: the shared session's state, its vocabulary and interruptions.

Pure state and events, no audio: ``categories`` (Category, Mode, CategoryOptions and
Apple's validity tables), ``route`` (Port, Route, RouteChangeReason), ``interruption``
(the 30-second rule's policy and timer), ``lock`` (the session lock and the work deferred
to its release), ``state`` (SessionState and its transition table), ``holds``
(SessionHold), ``delegate`` (what the session tells the audio side), ``checks`` (its
setters' argument checks) and ``session`` (AudioSession).

May import: ``callaudio.errors``, ``callaudio.config``, ``callaudio.events``,
``callaudio.clock``, ``callaudio.call``. Imports nothing of the audio layers (``audio``,
``engine``, ``devices``); ``callaudio.rules`` and ``callaudio.client`` connect the two.
"""

from .categories import (
    ALLOWED_OPTIONS,
    MODE_CATEGORIES,
    Category,
    CategoryOptions,
    Mode,
    SessionConfiguration,
    validate_configuration,
)
from .checks import MAX_IO_BUFFER, MIN_IO_BUFFER
from .delegate import SessionDelegate
from .holds import HoldKind, SessionHold
from .interruption import (
    APPLICATION_SOURCE,
    GraceTimer,
    Interruption,
    InterruptionPolicy,
    InterruptionReason,
)
from .lock import SessionLock
from .route import Port, Route, RouteChangeReason
from .session import AudioSession
from .state import SESSION_TRANSITIONS, SessionState

__all__ = [
    "ALLOWED_OPTIONS",
    "APPLICATION_SOURCE",
    "MAX_IO_BUFFER",
    "MIN_IO_BUFFER",
    "MODE_CATEGORIES",
    "SESSION_TRANSITIONS",
    "AudioSession",
    "Category",
    "CategoryOptions",
    "GraceTimer",
    "HoldKind",
    "Interruption",
    "InterruptionPolicy",
    "InterruptionReason",
    "Mode",
    "Port",
    "Route",
    "RouteChangeReason",
    "SessionConfiguration",
    "SessionDelegate",
    "SessionHold",
    "SessionLock",
    "SessionState",
    "validate_configuration",
]
