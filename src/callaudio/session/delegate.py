"""What the session tells the component that runs the audio (the client's rules)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..errors import ConfigError

if TYPE_CHECKING:
    from .categories import SessionConfiguration
    from .interruption import Interruption
    from .route import Route, RouteChangeReason
    from .session import AudioSession

__all__ = ["DELEGATE_METHODS", "SessionDelegate", "check_delegate"]


class SessionDelegate(Protocol):
    """What the session tells the component that runs the audio (the client).

    Each method runs synchronously inside the session lock, after the session's own state
    changed and its events were queued.
    """

    def session_io_running(self) -> bool:
        """Whether audio I/O is running for this session."""

    def session_interruption_began(
        self, session: AudioSession, interruption: Interruption, first: bool
    ) -> None:
        """An interruption opened; ``first`` when no other was open."""

    def session_interruption_ended(
        self,
        session: AudioSession,
        interruption: Interruption,
        should_resume: bool,
        last: bool,
    ) -> None:
        """An interruption closed; ``last`` when none is open any more."""

    def session_route_changed(
        self,
        session: AudioSession,
        reason: RouteChangeReason,
        previous: Route,
        override_cleared: bool,
    ) -> None:
        """The route changed; ``override_cleared`` when a speaker override was dropped."""

    def session_return_configuration(self) -> SessionConfiguration | None:
        """A first call takes the session: give back a configuration borrowed for a sound
        (the one found before switching RECORD to PLAYBACK), for the call's snapshot."""

    def session_calls_over(self, session: AudioSession) -> None:
        """The last call hold went and the configuration was restored: clear per-client
        call state (the mute)."""

    def session_on_audio_thread(self) -> bool:
        """Whether the calling thread is an audio thread of this delegate's backend (inside
        a stream's callback); asked with or without the session lock, by any thread that
        decides or releases: the session never runs or waits for audio actions there
        (stopping a stream waits for its callback to return)."""


DELEGATE_METHODS = (
    "session_io_running",
    "session_interruption_began",
    "session_interruption_ended",
    "session_route_changed",
    "session_return_configuration",
    "session_calls_over",
    "session_on_audio_thread",
)
"""The methods :meth:`AudioSession.attach` checks a delegate has (the protocol above)."""


def check_delegate(delegate: object) -> None:
    """Raise ConfigError unless ``delegate`` has every method of :class:`SessionDelegate`."""
    if not all(callable(getattr(delegate, m, None)) for m in DELEGATE_METHODS):
        raise ConfigError("delegate", f"must be a SessionDelegate, got {delegate!r}")
