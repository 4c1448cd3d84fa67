"""The shared audio session: configuration, activation holds, interruptions and route.

This models AVAudioSession as the Sinch iOS SDK and WebRTC's RTCAudioSession use it,
on a desktop. It is pure state and events: no audio I/O, no DSP. The
:class:`~callaudio.client.VoiceClient` attaches itself as a :class:`SessionDelegate`
and turns the session's changes into backend requests (session spec, transition table).

Names follow Apple's (``AVAudioSessionCategoryPlayAndRecord`` is
``Category.PLAY_AND_RECORD``, ``overrideOutputAudioPort(.speaker)`` is
:meth:`AudioSession.override_output_to_speaker`, ``setActive(true)`` is
:meth:`AudioSession.activate`, ``setActive(false)`` is :meth:`AudioSession.deactivate`).

Activation model (the choices the spec leaves open, written down):

- Every user of the session holds a :class:`SessionHold`; ``activation_count`` is the
  number of live holds. The session is active exactly when at least one hold is live and
  no interruption is open.
- Holds are of two kinds. The client takes a ``CALL`` hold for each established call;
  everything else (the application, the audio controller) takes ``APPLICATION`` holds
  with :meth:`AudioSession.activate`.
- When the last ``CALL`` hold is released, every ``APPLICATION`` hold is revoked too and
  the session deactivates: after each call the application's own audio stays off until it
  activates the session again (rule 2). Releasing a revoked hold is a quiet no-op;
  releasing a hold twice logs a warning and changes nothing.
- ``will/did_set_active`` report *activation*: ``True`` when the first hold is taken,
  ``False`` when the last is released (the table's "activate" and "deactivate (notifying
  others)"), so they strictly alternate. That happens while interrupted too (a call
  established during an interruption activates; the grace deadline deactivates). An
  interruption itself makes the session inactive and, when it ends, active again without
  these events, as with iOS's interruption notifications: ``interruption_began/ended``
  say it. :attr:`AudioSession.is_active` is "activated and not interrupted".
- :meth:`AudioSession.deactivate` by the application while a call holds the session opens
  an interruption from source ``"application"`` with reason ``APP_DEACTIVATED``; its
  :meth:`AudioSession.activate` ends that interruption again. If audio I/O was running,
  ``deactivate`` still deactivates and then raises :class:`~callaudio.errors.SessionBusyError`.
"""

from __future__ import annotations

import enum
import logging
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Protocol

from .errors import (
    ActivationError,
    ConfigError,
    InvalidCategoryOptionsError,
    InvalidStateError,
    SessionBusyError,
)
from .events import Dispatcher, EventHub
from .interruption import APPLICATION_SOURCE, Interruption, InterruptionReason

__all__ = [
    "AudioSession",
    "Category",
    "CategoryOptions",
    "HoldKind",
    "Mode",
    "Port",
    "Route",
    "RouteChangeReason",
    "SessionConfiguration",
    "SessionDelegate",
    "SessionHold",
    "validate_configuration",
]

logger = logging.getLogger("callaudio.session")


class Category(enum.Enum):
    """The session category (Apple's ``AVAudioSession.Category``)."""

    AMBIENT = "ambient"
    SOLO_AMBIENT = "solo_ambient"
    PLAYBACK = "playback"
    RECORD = "record"
    PLAY_AND_RECORD = "play_and_record"
    MULTI_ROUTE = "multi_route"

    @property
    def can_play(self) -> bool:
        """Whether this category has an output (everything but RECORD)."""
        return self is not Category.RECORD

    @property
    def can_record(self) -> bool:
        """Whether this category has an input."""
        return self in (Category.RECORD, Category.PLAY_AND_RECORD, Category.MULTI_ROUTE)


class Mode(enum.Enum):
    """The session mode (Apple's ``AVAudioSession.Mode``)."""

    DEFAULT = "default"
    VOICE_CHAT = "voice_chat"
    VIDEO_CHAT = "video_chat"
    GAME_CHAT = "game_chat"
    MEASUREMENT = "measurement"
    MOVIE_PLAYBACK = "movie_playback"
    VIDEO_RECORDING = "video_recording"
    SPOKEN_AUDIO = "spoken_audio"
    VOICE_PROMPT = "voice_prompt"

    @property
    def voice_processing(self) -> bool:
        """Whether the mode runs the voice-processing chain (AEC, NS, AGC).

        VOICE_CHAT, VIDEO_CHAT and GAME_CHAT do; MEASUREMENT bypasses all processing;
        the others do not process either.
        """
        return self in (Mode.VOICE_CHAT, Mode.VIDEO_CHAT, Mode.GAME_CHAT)


class CategoryOptions(enum.IntFlag):
    """Category options (Apple's ``AVAudioSession.CategoryOptions``).

    The bit values are Apple's except ``INTERRUPT_SPOKEN_AUDIO_AND_MIX_WITH_OTHERS``,
    which Apple defines as ``0x11`` (its own bit plus MIX_WITH_OTHERS); here it is its own
    bit and :func:`validate_configuration` adds MIX_WITH_OTHERS, as for DUCK_OTHERS.
    """

    NONE = 0
    MIX_WITH_OTHERS = 0x1
    DUCK_OTHERS = 0x2
    ALLOW_BLUETOOTH = 0x4
    DEFAULT_TO_SPEAKER = 0x8
    INTERRUPT_SPOKEN_AUDIO_AND_MIX_WITH_OTHERS = 0x10
    ALLOW_BLUETOOTH_A2DP = 0x20
    ALLOW_AIR_PLAY = 0x40


_O = CategoryOptions
_MIXING = _O.MIX_WITH_OTHERS | _O.DUCK_OTHERS | _O.INTERRUPT_SPOKEN_AUDIO_AND_MIX_WITH_OTHERS

#: The options each category accepts (Apple's rules). AMBIENT accepts none: it always mixes.
ALLOWED_OPTIONS: dict[Category, CategoryOptions] = {
    Category.AMBIENT: _O.NONE,
    Category.SOLO_AMBIENT: _O.NONE,
    Category.PLAYBACK: _MIXING,
    Category.RECORD: _O.ALLOW_BLUETOOTH,
    Category.PLAY_AND_RECORD: _MIXING
    | _O.ALLOW_BLUETOOTH
    | _O.DEFAULT_TO_SPEAKER
    | _O.ALLOW_BLUETOOTH_A2DP
    | _O.ALLOW_AIR_PLAY,
    Category.MULTI_ROUTE: _MIXING,
}

_ANY = frozenset(Category)
#: The categories each mode may be used with (Apple's mode documentation).
MODE_CATEGORIES: dict[Mode, frozenset[Category]] = {
    Mode.DEFAULT: _ANY,
    Mode.MEASUREMENT: _ANY,
    Mode.VOICE_CHAT: frozenset({Category.PLAY_AND_RECORD}),
    Mode.VIDEO_CHAT: frozenset({Category.PLAY_AND_RECORD}),
    Mode.GAME_CHAT: frozenset({Category.PLAY_AND_RECORD}),
    Mode.MOVIE_PLAYBACK: frozenset({Category.PLAYBACK}),
    Mode.VIDEO_RECORDING: frozenset({Category.RECORD, Category.PLAY_AND_RECORD}),
    Mode.SPOKEN_AUDIO: frozenset({Category.PLAYBACK, Category.PLAY_AND_RECORD}),
    Mode.VOICE_PROMPT: frozenset({Category.PLAYBACK, Category.PLAY_AND_RECORD}),
}


def _flag_names(flags: CategoryOptions) -> str:
    return "|".join(f.name for f in CategoryOptions if f and f in flags and f.name) or "NONE"


def validate_configuration(
    category: Category, mode: Mode, options: CategoryOptions
) -> CategoryOptions:
    """Check a (category, mode, options) triple against Apple's rules.

    Returns
    -------
    CategoryOptions
        ``options`` normalised: DUCK_OTHERS and INTERRUPT_SPOKEN_AUDIO_AND_MIX_WITH_OTHERS
        imply MIX_WITH_OTHERS, which is added.

    Raises
    ------
    InvalidCategoryOptionsError
        Naming the category and the options (or mode) it does not accept.
    """
    if not isinstance(category, Category):
        raise ConfigError("category", f"must be a Category, got {category!r}")
    if not isinstance(mode, Mode):
        raise ConfigError("mode", f"must be a Mode, got {mode!r}")
    known = sum(CategoryOptions)
    if isinstance(options, bool) or not isinstance(options, int) or int(options) & ~known:
        raise ConfigError("options", f"not CategoryOptions: {options!r}")
    options = CategoryOptions(options)
    invalid = options & ~ALLOWED_OPTIONS[category]
    if invalid:
        names = _flag_names(invalid)
        raise InvalidCategoryOptionsError(
            "options",
            category.name,
            names,
            f"{names} not allowed with category {category.name}"
            + (" (AMBIENT always mixes with others)" if category is Category.AMBIENT else ""),
        )
    if category not in MODE_CATEGORIES[mode]:
        allowed = ", ".join(sorted(c.name for c in MODE_CATEGORIES[mode]))
        raise InvalidCategoryOptionsError(
            "mode",
            category.name,
            mode.name,
            f"mode {mode.name} not allowed with category {category.name} (only {allowed})",
        )
    if options & (_O.DUCK_OTHERS | _O.INTERRUPT_SPOKEN_AUDIO_AND_MIX_WITH_OTHERS):
        options |= _O.MIX_WITH_OTHERS
    return options


@dataclass(frozen=True)
class SessionConfiguration:
    """What a snapshot holds and restore puts back: category, mode and options."""

    category: Category = Category.SOLO_AMBIENT
    mode: Mode = Mode.DEFAULT
    options: CategoryOptions = CategoryOptions.NONE

    def __str__(self) -> str:
        return f"{self.category.name}/{self.mode.name}/{_flag_names(self.options)}"


class Port:
    """Names of the built-in ports (a route uses these or a device name)."""

    BUILT_IN_MIC = "built_in_mic"
    BUILT_IN_RECEIVER = "built_in_receiver"
    BUILT_IN_SPEAKER = "built_in_speaker"
    HEADPHONES = "headphones"
    HEADSET_MIC = "headset_mic"
    BLUETOOTH_HFP = "bluetooth_hfp"


@dataclass(frozen=True)
class Route:
    """The current input and output ports."""

    input: str = Port.BUILT_IN_MIC
    output: str = Port.BUILT_IN_RECEIVER

    def __str__(self) -> str:
        return f"{self.input}->{self.output}"


class RouteChangeReason(enum.Enum):
    """Why the route changed (Apple's ``AVAudioSession.RouteChangeReason``)."""

    UNKNOWN = "unknown"
    NEW_DEVICE_AVAILABLE = "new_device_available"
    OLD_DEVICE_UNAVAILABLE = "old_device_unavailable"
    CATEGORY_CHANGE = "category_change"
    OVERRIDE = "override"
    WAKE_FROM_SLEEP = "wake_from_sleep"
    NO_SUITABLE_ROUTE_FOR_CATEGORY = "no_suitable_route_for_category"
    ROUTE_CONFIGURATION_CHANGE = "route_configuration_change"

    @property
    def is_device_change(self) -> bool:
        """A device was added or lost: this clears a transient speaker override."""
        return self in (
            RouteChangeReason.NEW_DEVICE_AVAILABLE,
            RouteChangeReason.OLD_DEVICE_UNAVAILABLE,
        )


class HoldKind(enum.Enum):
    """Who holds the session: a call (the client) or the application (incl. the controller)."""

    CALL = "call"
    APPLICATION = "application"


class SessionHold:
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


MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 192000
MIN_IO_BUFFER = 0.001
MAX_IO_BUFFER = 0.5


class AudioSession:
    """The process's audio session.

    Parameters
    ----------
    dispatcher : Dispatcher, optional
        How events reach observers; one daemon event thread by default
        (:class:`~callaudio.events.ThreadDispatcher`); tests pass a
        :class:`~callaudio.events.SynchronousDispatcher`.
    preferred_sample_rate : int
        Hz, 8000 to 192000 (48000).
    preferred_io_buffer_duration : float
        Seconds, 0.001 to 0.5 (0.01: one 10 ms processing frame).
    route : Route
        The initial device route.

    Notes
    -----
    Use :meth:`shared` for the process-wide instance; construct one directly in tests.
    Every method is thread-safe: one re-entrant lock (:attr:`lock`) guards the session and
    everything the client and controller do with it, so a transition is one atomic step.
    """

    _shared: ClassVar[AudioSession | None] = None
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        *,
        dispatcher: Dispatcher | None = None,
        preferred_sample_rate: int = 48000,
        preferred_io_buffer_duration: float = 0.01,
        route: Route | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self._hub = EventHub(dispatcher)
        self._config = SessionConfiguration()
        self._active = False
        self._activated = False
        self._holds: list[SessionHold] = []
        self._interruptions: dict[str, Interruption] = {}
        self._device_route = route if route is not None else Route()
        self._speaker_override = False
        self._delegates: list[SessionDelegate] = []
        self._call_snapshot: SessionConfiguration | None = None
        self._sample_rate = self._check_rate(preferred_sample_rate)
        self._io_buffer = self._check_buffer(preferred_io_buffer_duration)

    @classmethod
    def shared(cls) -> AudioSession:
        """The one session of this process (created at the first call)."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def __repr__(self) -> str:
        c = self._config
        return (
            f"<AudioSession {c.category.name}/{c.mode.name} options={_flag_names(c.options)} "
            f"active={self._active} holds={len(self._holds)} "
            f"interruptions={list(self._interruptions)}>"
        )

    # -- locking and events --------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """The session's re-entrant lock, for compound operations by the application."""
        return self._lock

    @contextmanager
    def _operation(self) -> Iterator[None]:
        """Hold the lock; at the end of the outermost operation, hand out queued events."""
        with self._lock:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._hub.flush()

    def _emit(self, name: str, **data: Any) -> None:
        self._hub.emit(name, **data)

    @property
    def dispatcher(self) -> Dispatcher:
        """How events reach observers (settable)."""
        return self._hub.dispatcher

    @dispatcher.setter
    def dispatcher(self, dispatcher: Dispatcher) -> None:
        with self._operation():
            self._hub.dispatcher = dispatcher

    def add_observer(self, observer: object) -> None:
        """Register an observer (``on_<event>`` methods, and/or ``on_event(event)``)."""
        with self._operation():
            self._hub.add_observer(observer)

    def remove_observer(self, observer: object) -> None:
        """Unregister an observer."""
        with self._operation():
            self._hub.remove_observer(observer)

    def attach(self, delegate: SessionDelegate) -> None:
        """Attach the component that runs audio for this session (the client does this)."""
        with self._operation():
            if not any(d is delegate for d in self._delegates):
                self._delegates.append(delegate)

    def detach(self, delegate: SessionDelegate) -> None:
        """Detach a delegate."""
        with self._operation():
            self._delegates = [d for d in self._delegates if d is not delegate]

    # -- configuration -------------------------------------------------------------------

    @property
    def category(self) -> Category:
        """The current category."""
        return self._config.category

    @property
    def mode(self) -> Mode:
        """The current mode."""
        return self._config.mode

    @property
    def options(self) -> CategoryOptions:
        """The current category options (normalised)."""
        return self._config.options

    @property
    def configuration(self) -> SessionConfiguration:
        """Category, mode and options as one value."""
        return self._config

    def set_category(
        self,
        category: Category,
        mode: Mode | None = None,
        options: CategoryOptions = CategoryOptions.NONE,
    ) -> None:
        """Set the category with its options (and mode) in one step.

        Options never survive a category change: the new category gets exactly
        ``options``. ``mode=None`` keeps the current mode when the new category allows it,
        else it becomes ``Mode.DEFAULT``.

        Raises
        ------
        InvalidCategoryOptionsError
            For a combination Apple's rules forbid; nothing is changed.
        """
        with self._operation():
            if mode is None:
                current = self._config.mode
                mode = current if category in MODE_CATEGORIES.get(current, _ANY) else Mode.DEFAULT
            normalised = validate_configuration(category, mode, options)
            self._config = SessionConfiguration(category, mode, normalised)

    def set_mode(self, mode: Mode) -> None:
        """Set the mode for the current category (InvalidCategoryOptionsError if not allowed)."""
        with self._operation():
            c = self._config
            self._config = SessionConfiguration(
                c.category, mode, validate_configuration(c.category, mode, c.options)
            )

    def set_configuration(self, configuration: SessionConfiguration) -> None:
        """Set category, mode and options from one value (validated; all or nothing)."""
        self.set_category(configuration.category, configuration.mode, configuration.options)

    def snapshot(self) -> SessionConfiguration:
        """The configuration now, to :meth:`restore` later (rule 4, for your own audio)."""
        return self._config

    @property
    def call_snapshot(self) -> SessionConfiguration | None:
        """The configuration taken when the first call was established, restored when the
        last call ends (None between calls)."""
        return self._call_snapshot

    def restore(self, configuration: SessionConfiguration) -> None:
        """Put a snapshot back and emit ``configuration_restored(configuration)``."""
        with self._operation():
            self.set_configuration(configuration)
            self._emit("configuration_restored", configuration=self._config)

    # -- sample rate and buffer ----------------------------------------------------------

    @staticmethod
    def _check_rate(hz: int) -> int:
        if (
            isinstance(hz, bool)
            or not isinstance(hz, int)
            or not (MIN_SAMPLE_RATE <= hz <= MAX_SAMPLE_RATE)
        ):
            raise ConfigError(
                "preferred_sample_rate",
                f"must be an int in [{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}] Hz, got {hz!r}",
            )
        return hz

    @staticmethod
    def _check_buffer(seconds: float) -> float:
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not (math.isfinite(seconds) and MIN_IO_BUFFER <= seconds <= MAX_IO_BUFFER)
        ):
            raise ConfigError(
                "preferred_io_buffer_duration",
                f"must be seconds in [{MIN_IO_BUFFER}, {MAX_IO_BUFFER}], got {seconds!r}",
            )
        return float(seconds)

    @property
    def preferred_sample_rate(self) -> int:
        """The sample rate (Hz) streams are opened with."""
        return self._sample_rate

    def set_preferred_sample_rate(self, hz: int) -> None:
        """Set the preferred sample rate in Hz (8000..192000); takes effect at the next start."""
        with self._operation():
            self._sample_rate = self._check_rate(hz)

    @property
    def preferred_io_buffer_duration(self) -> float:
        """The I/O buffer duration in seconds streams are opened with."""
        return self._io_buffer

    def set_preferred_io_buffer_duration(self, seconds: float) -> None:
        """Set the preferred I/O buffer duration in seconds (0.001..0.5)."""
        with self._operation():
            self._io_buffer = self._check_buffer(seconds)

    # -- activation ----------------------------------------------------------------------

    @property
    def is_active(self) -> bool:
        """True when some hold is live and no interruption is open."""
        return self._active

    @property
    def is_activated(self) -> bool:
        """True when some hold is live (interrupted or not)."""
        return self._activated

    @property
    def activation_count(self) -> int:
        """The number of live holds (never negative)."""
        return len(self._holds)

    @property
    def call_hold_count(self) -> int:
        """The number of live holds taken for established calls."""
        return sum(1 for h in self._holds if h.kind is HoldKind.CALL)

    @property
    def holds(self) -> tuple[SessionHold, ...]:
        """The live holds, oldest first."""
        return tuple(self._holds)

    def _refresh_active(self) -> None:
        """Make the state follow the holds and interruptions.

        Emits ``will/did_set_active`` when activation (holds > 0) changes; ``is_active``
        follows silently when only the interruptions changed.
        """
        activated = bool(self._holds)
        if activated != self._activated:
            self._emit("will_set_active", active=activated)
            self._activated = activated
            self._active = activated and not self._interruptions
            self._emit("did_set_active", active=activated)
        else:
            self._active = activated and not self._interruptions

    def activate(self, owner: str = "application") -> SessionHold:
        """Activate the session for your own audio; returns the hold to release later.

        Takes an ``APPLICATION`` hold. If the application itself had deactivated the
        session during a call, this ends that ``APP_DEACTIVATED`` interruption (and the
        call resumes).

        Raises
        ------
        ActivationError
            While another source's interruption is open (a higher-priority session holds
            the device); ``failed_to_set_active`` is emitted and nothing changes.
        """
        with self._operation():
            others = [i for s, i in self._interruptions.items() if s != APPLICATION_SOURCE]
            if others:
                first = others[0]
                error = ActivationError(
                    "cannot activate the audio session: a higher-priority session holds the "
                    f"device (interruption from {first.source!r}, reason {first.reason.name})",
                    holder=first.source,
                )
                self._emit("will_set_active", active=True)
                self._emit("failed_to_set_active", active=True, error=error)
                raise error
            if APPLICATION_SOURCE in self._interruptions:
                self.end_interruption(APPLICATION_SOURCE)
            return self._acquire(owner, HoldKind.APPLICATION)

    def _acquire(
        self,
        owner: str,
        kind: HoldKind,
        on_revoked: Callable[[SessionHold], None] | None = None,
    ) -> SessionHold:
        """Take a hold (allowed while interrupted: the session activates but stays inactive
        until the interruption ends)."""
        with self._operation():
            hold = SessionHold(self, owner, kind, on_revoked)
            self._holds.append(hold)
            self._refresh_active()
            return hold

    def release(self, hold: SessionHold) -> None:
        """Give back a hold taken from :meth:`activate`.

        When the last hold goes, the session deactivates (``will/did_set_active(False)``).
        When the last *call* hold goes, application holds are revoked first (rule 2).
        Releasing a hold twice logs a warning and changes nothing; releasing a revoked
        hold does nothing.
        """
        with self._operation():
            if not any(h is hold for h in self._holds):
                if hold.revoked:
                    logger.debug("release of revoked %r ignored", hold)
                else:
                    logger.warning("unbalanced release of %r: nothing changed", hold)
                return
            self._holds = [h for h in self._holds if h is not hold]
            hold.released = True
            if hold.kind is HoldKind.CALL and not any(h.kind is HoldKind.CALL for h in self._holds):
                self._revoke_all()
            self._refresh_active()

    def _revoke_all(self) -> None:
        revoked, self._holds = self._holds, []
        for h in revoked:
            h.revoked = True
        for h in revoked:
            if h._on_revoked is not None:
                h._on_revoked(h)

    def deactivate(self) -> None:
        """Deactivate the session now, as the application (iOS ``setActive(false)``).

        During a call this is an interruption (source ``"application"``, reason
        ``APP_DEACTIVATED``) under the 30-second rule, until :meth:`activate`. Otherwise
        every hold is revoked and the session goes inactive.

        Raises
        ------
        SessionBusyError
            When audio I/O was running: the session is inactive and the I/O stopped anyway.
        """
        with self._operation():
            io_running = any(d.session_io_running() for d in self._delegates)
            if any(h.kind is HoldKind.CALL for h in self._holds):
                self.begin_interruption(APPLICATION_SOURCE, InterruptionReason.APP_DEACTIVATED)
            elif self._holds:
                self._revoke_all()
                self._refresh_active()
            if io_running:
                raise SessionBusyError(
                    "the audio session was deactivated while audio I/O was running: the I/O "
                    "was stopped; stop your audio before deactivating"
                )

    # -- interruptions -------------------------------------------------------------------

    @property
    def is_interrupted(self) -> bool:
        """True while at least one interruption is open."""
        return bool(self._interruptions)

    @property
    def open_interruptions(self) -> tuple[Interruption, ...]:
        """The open interruptions, in the order they began."""
        return tuple(self._interruptions.values())

    def begin_interruption(
        self,
        source: str,
        reason: InterruptionReason = InterruptionReason.DEFAULT,
        *,
        voip: bool = False,
    ) -> bool:
        """Another session took the device: the session is inactive until it ends.

        A repeated begin from an open source changes nothing (no event) and returns False.
        """
        if not isinstance(reason, InterruptionReason):
            raise ConfigError("reason", f"must be an InterruptionReason, got {reason!r}")
        with self._operation():
            if source in self._interruptions:
                return False
            first = not self._interruptions
            interruption = Interruption(source, reason, voip)
            self._interruptions[source] = interruption
            self._refresh_active()
            self._emit("interruption_began", reason=reason, source=source)
            for d in tuple(self._delegates):
                d.session_interruption_began(self, interruption, first)
            return True

    def end_interruption(self, source: str, *, should_resume: bool = True) -> bool:
        """The interruption from ``source`` is over.

        When none is left open the session is active again if any hold is live.
        Ending a source that is not open logs a warning, changes nothing, returns False.
        """
        with self._operation():
            interruption = self._interruptions.pop(source, None)
            if interruption is None:
                logger.warning("end of interruption from %r, which is not open: ignored", source)
                return False
            last = not self._interruptions
            self._emit("interruption_ended", source=source, should_resume=should_resume)
            for d in tuple(self._delegates):
                d.session_interruption_ended(self, interruption, should_resume, last)
            if last:
                self._refresh_active()
            return True

    # -- route ---------------------------------------------------------------------------

    @property
    def device_route(self) -> Route:
        """The route the devices give, before the speaker override."""
        return self._device_route

    @property
    def route(self) -> Route:
        """The effective route: the speaker when overridden, or when the built-in receiver
        would be used outside PLAY_AND_RECORD or with DEFAULT_TO_SPEAKER (iOS's rules)."""
        with self._lock:
            route = self._device_route
            to_speaker = self._speaker_override or (
                route.output == Port.BUILT_IN_RECEIVER
                and (
                    self._config.category is not Category.PLAY_AND_RECORD
                    or CategoryOptions.DEFAULT_TO_SPEAKER in self._config.options
                )
            )
            return Route(route.input, Port.BUILT_IN_SPEAKER) if to_speaker else route

    @property
    def speaker_override(self) -> bool:
        """Whether the output is overridden to the built-in speaker."""
        return self._speaker_override

    def override_output_to_speaker(self, enabled: bool) -> None:
        """Override the output to the speaker (or remove the override).

        Emits ``route_changed(OVERRIDE, previous)`` when the override changes.

        Raises
        ------
        InvalidStateError
            Overriding to the speaker outside PLAY_AND_RECORD (as on iOS).
        """
        with self._operation():
            if enabled == self._speaker_override:
                return
            if enabled and self._config.category is not Category.PLAY_AND_RECORD:
                raise InvalidStateError(
                    "override the output to the speaker", self._config.category.name
                )
            previous = self.route
            self._speaker_override = enabled
            self._emit("route_changed", reason=RouteChangeReason.OVERRIDE, previous=previous)
            for d in tuple(self._delegates):
                d.session_route_changed(self, RouteChangeReason.OVERRIDE, previous, False)

    def change_route(
        self, route: Route, reason: RouteChangeReason = RouteChangeReason.UNKNOWN
    ) -> None:
        """The devices changed (a headset plugged in, a device lost ...).

        A device change clears a transient speaker override, except while interrupted:
        then the change is only recorded (route and event) and the override is reapplied
        when the call resumes (rows 6 and 8 of the spec's table).
        """
        if not isinstance(reason, RouteChangeReason):
            raise ConfigError("reason", f"must be a RouteChangeReason, got {reason!r}")
        with self._operation():
            previous = self.route
            self._device_route = route
            cleared = False
            if reason.is_device_change and self._speaker_override and not self._interruptions:
                self._speaker_override = False
                cleared = True
            self._emit("route_changed", reason=reason, previous=previous)
            for d in tuple(self._delegates):
                d.session_route_changed(self, reason, previous, cleared)
