"""Interruptions and the 30-second rule.

An *interruption* is another, higher-priority user of the audio device (on a phone: a
PSTN call with the native ringtone; here: whatever the application or an automatic source
reports through ``AudioSession.begin_interruption``). While any interruption is open the
session is inactive. The :class:`InterruptionPolicy` says how long an established call may
stay interrupted (the grace period, 30 s by default) and with which
:class:`~callaudio.call.EndCause` it ends when the grace period runs out.

The :class:`GraceTimer` holds the one deadline of an interruption episode: it is fixed by
the first begin (or by the establishment of a call while already interrupted) and never
extended by later, overlapping interruptions.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..call import EndCause
from ..clock import Clock, MonotonicClock, TimerHandle
from ..errors import ConfigError

__all__ = [
    "APPLICATION_SOURCE",
    "GraceTimer",
    "Interruption",
    "InterruptionPolicy",
    "InterruptionReason",
]

#: The source name used when the application deactivates the session during a call.
APPLICATION_SOURCE = "application"


class InterruptionReason(enum.Enum):
    """Why the session was interrupted.

    ``DEFAULT`` is iOS's ``AVAudioSessionInterruptionReasonDefault``: another session
    with higher priority (a phone call, an alarm) took the device.
    """

    DEFAULT = "default"
    APP_DEACTIVATED = "app_deactivated"
    APP_SUSPENDED = "app_suspended"
    DEVICE_LOST = "device_lost"
    SOUND_SERVER = "sound_server"


@dataclass(frozen=True)
class Interruption:
    """One open interruption.

    Attributes
    ----------
    source : str
        Who interrupts (``"pstn"``, ``"application"``, a device name ...); one open
        interruption per source.
    reason : InterruptionReason
        Why.
    voip : bool
        True when the source says the interrupting party is a VoIP call (the call then
        ends with ``VOIP_CALL_DETECTED`` instead of ``GSM_CALL_DETECTED``).
    """

    source: str
    reason: InterruptionReason = InterruptionReason.DEFAULT
    voip: bool = False


def _empty_causes() -> Mapping[str, EndCause]:
    return MappingProxyType({})


@dataclass(frozen=True)
class InterruptionPolicy:
    """How long an interrupted call may wait, and how it ends if it waits too long.

    Parameters
    ----------
    grace_period : float
        Seconds from the start of an interruption to the end of every call it holds
        (30 s, the calling SDK's rule). Must be finite and > 0.
    clock : Clock
        The monotonic clock the deadline runs on; a :class:`~callaudio.clock.ManualClock`
        in tests.
    default_cause : EndCause
        The end cause when nothing more specific applies: ``GSM_CALL_DETECTED``.
    causes : Mapping[str, EndCause]
        End causes for particular sources; they win over everything else.

    Notes
    -----
    :meth:`end_cause` chooses, in order: ``causes[source]``; ``VOIP_CALL_DETECTED`` when
    the interruption says it is a VoIP call; ``INACTIVE`` when the application itself
    deactivated the session (reason ``APP_DEACTIVATED``; the SDK's documentation is silent here and
    "GSM call detected" would be untrue); else ``default_cause``.
    """

    grace_period: float = 30.0
    clock: Clock = field(default_factory=MonotonicClock)
    default_cause: EndCause = EndCause.GSM_CALL_DETECTED
    causes: Mapping[str, EndCause] = field(default_factory=_empty_causes)

    def __post_init__(self) -> None:
        try:  # an int beyond float range overflows, a float subclass may raise
            grace = float(self.grace_period)
        except Exception:
            grace = math.nan
        if (
            isinstance(self.grace_period, bool)
            or not isinstance(self.grace_period, (int, float))
            or not (math.isfinite(grace) and grace > 0)
        ):
            raise ConfigError(
                "grace_period", f"must be a finite number of seconds > 0, got {self.grace_period!r}"
            )
        if not (
            callable(getattr(self.clock, "now", None))
            and callable(getattr(self.clock, "call_at", None))
        ):
            raise ConfigError("clock", f"must be a Clock (now, call_at), got {self.clock!r}")
        if not isinstance(self.causes, Mapping):
            raise ConfigError(
                "causes", f"must be a mapping of source -> EndCause, got {self.causes!r:.80}"
            )
        for name, cause in (("default_cause", self.default_cause), *self.causes.items()):
            if not isinstance(cause, EndCause) or cause is EndCause.NONE:
                raise ConfigError(
                    "causes" if name != "default_cause" else name,
                    f"{name}: must be an EndCause other than NONE, got {cause!r}",
                )
        object.__setattr__(self, "causes", MappingProxyType(dict(self.causes)))

    def __reduce__(self) -> tuple[Any, ...]:
        # the read-only view of causes does not pickle or deep-copy: a plain dict does
        return (type(self), (self.grace_period, self.clock, self.default_cause, dict(self.causes)))

    def end_cause(self, interruption: Interruption) -> EndCause:
        """The end cause for a call that ``interruption`` held past the grace period."""
        if interruption.source in self.causes:
            return self.causes[interruption.source]
        if interruption.voip:
            return EndCause.VOIP_CALL_DETECTED
        if interruption.reason is InterruptionReason.APP_DEACTIVATED:
            return EndCause.INACTIVE
        return self.default_cause


class GraceTimer:
    """The single grace deadline of an interruption episode.

    Parameters
    ----------
    policy : InterruptionPolicy
        Supplies the grace period and the clock.
    on_deadline : callable
        Called as ``on_deadline(generation)`` from the clock (another thread for
        :class:`~callaudio.clock.MonotonicClock`). The receiver takes its lock and calls
        :meth:`claim` with that generation; only a True answer means "end the calls":
        a timer cancelled or restarted meanwhile answers False.
    """

    def __init__(self, policy: InterruptionPolicy, on_deadline: Callable[[int], None]) -> None:
        self._policy = policy
        self._on_deadline = on_deadline
        self._handle: TimerHandle | None = None
        self._deadline: float | None = None
        self._generation = 0

    @property
    def deadline(self) -> float | None:
        """The current deadline in clock seconds, or None when not running."""
        return self._deadline

    @property
    def running(self) -> bool:
        """Whether a deadline is pending."""
        return self._deadline is not None

    def start(self) -> bool:
        """Start the grace period now unless one is running; True when it started.

        What the clock raises (a timer thread that cannot start) passes through, with no
        deadline set."""
        if self._deadline is not None:
            return False
        self._generation += 1
        generation = self._generation
        deadline = self._policy.clock.now() + self._policy.grace_period
        self._handle = self._policy.clock.call_at(deadline, lambda: self._on_deadline(generation))
        self._deadline = deadline
        return True

    def cancel(self) -> None:
        """Cancel the pending deadline, if any."""
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self._deadline = None
        self._generation += 1

    def claim(self, generation: int) -> bool:
        """Accept a firing: True (and stop) if ``generation`` is the running deadline's."""
        if generation != self._generation or self._deadline is None:
            return False
        self._handle = None
        self._deadline = None
        return True
