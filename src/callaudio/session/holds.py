"""Activation holds: who keeps the session active, and the handle to give back."""

from __future__ import annotations

import enum
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from ..errors import LiveObject

if TYPE_CHECKING:
    from .session import AudioSession

__all__ = ["HoldKind", "SessionHold"]


class HoldKind(enum.Enum):
    """Who holds the session: a call (the client) or the application (incl. the controller)."""

    CALL = "call"
    APPLICATION = "application"


class SessionHold(LiveObject):
    """One live activation of the session; release it exactly once.

    A context manager: ``with session.activate(): ...`` releases on exit.
    """

    def __init__(
        self,
        session: AudioSession,
        owner: str,
        kind: HoldKind,
        on_revoked: Callable[[SessionHold], None] | None = None,
    ) -> None:
        self.owner = owner
        self.kind = kind
        self._session = session
        self._on_revoked = on_revoked
        self.released = False
        self.revoked = False

    def __repr__(self) -> str:
        status = "revoked" if self.revoked else "released" if self.released else "live"
        return f"<SessionHold {self.kind.name} {self.owner!r} {status}>"

    @property
    def live(self) -> bool:
        """Neither released nor revoked."""
        return not (self.released or self.revoked)

    @property
    def session(self) -> AudioSession:
        """The session this hold belongs to."""
        return self._session

    def notify_revoked(self) -> None:
        """Tell the holder that the session revoked this hold (called by the session)."""
        if self._on_revoked is not None:
            self._on_revoked(self)

    def release(self) -> None:
        """Give the hold back (``session.release(self)``)."""
        self._session.release(self)

    def __enter__(self) -> SessionHold:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.live:
            self.release()
