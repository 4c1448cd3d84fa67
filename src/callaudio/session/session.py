"""The shared audio session: configuration, activation holds, interruptions and route.

This models AVAudioSession as the Sinch iOS SDK and WebRTC's RTCAudioSession use it,
on a desktop. It is pure state and events: no audio I/O, no DSP. Each
:class:`~callaudio.client.VoiceClient` attaches itself as a :class:`SessionDelegate`; its
:class:`~callaudio.rules.SessionRules` turn the session's changes into audio actions.

Names follow Apple's (``AVAudioSessionCategoryPlayAndRecord`` is
``Category.PLAY_AND_RECORD``, ``overrideOutputAudioPort(.speaker)`` is
:meth:`AudioSession.override_output_to_speaker`, ``setActive(true)`` is
:meth:`AudioSession.activate`, ``setActive(false)`` is :meth:`AudioSession.deactivate`).

States (:class:`SessionState`, the table :data:`SESSION_TRANSITIONS`): INACTIVE (no hold,
no interruption), ACTIVE (holds, no interruption), INTERRUPTED (holds, an interruption
open) and PREEMPTED (no hold, an interruption open: activation by the application fails).

Activation model (the choices made, written down):

- Every user of the session holds a :class:`SessionHold`; ``activation_count`` is the
  number of live holds. The session is active exactly when at least one hold is live and
  no interruption is open.
- Holds are of two kinds. The client takes a ``CALL`` hold for each established call;
  everything else (the application, the audio controller) takes ``APPLICATION`` holds
  with :meth:`AudioSession.activate`.
- When the last ``CALL`` hold is released, every ``APPLICATION`` hold is revoked too and
  the session deactivates: after each call the application's own audio stays off until it
  activates the session again. Releasing a revoked hold is a quiet no-op; releasing a hold
  twice logs a warning and changes nothing; releasing something that is not a hold raises
  :class:`~callaudio.errors.ConfigError`.
- ``will/did_set_active`` report *activation*: ``True`` when the first hold is taken,
  ``False`` when the last is released, so they strictly alternate. That happens while
  interrupted too. An interruption itself makes the session inactive and, when it ends,
  active again without these events, as with iOS's interruption notifications:
  ``interruption_began/ended`` say it. :attr:`AudioSession.is_active` is "activated and
  not interrupted".
- :meth:`AudioSession.deactivate` by the application while a call holds the session opens
  an interruption from source ``"application"`` with reason ``APP_DEACTIVATED``; its
  :meth:`AudioSession.activate` ends that interruption again, as does the end of the last
  call (it interrupted the calls only). If audio I/O was running,
  ``deactivate`` still deactivates and then raises :class:`~callaudio.errors.SessionBusyError`.

Lock order (the rule every module of the session layer follows):

- One re-entrant :class:`~callaudio.session.lock.SessionLock` (:attr:`AudioSession.lock`)
  guards the session, the calls, the clients and controllers that share it.
- Decide under the lock, act after releasing it: audio actions (:meth:`AudioSession.defer`)
  and events (:meth:`AudioSession.emit`) are queued and run after the outermost release.
  The session lock is therefore never held while waiting for the audio thread (stopping a
  stream), for an observer, or for the application's queue.
- Reading state never takes the lock: every property returns one immutable value, so an
  audio callback or an observer may read ``session.route`` at any time.
- Locks of other objects (a backend's own lock, a dispatcher's) may be taken inside the
  session lock, never the other way round: a backend calls its fault handler and
  ``on_finished`` without holding its own lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from ..errors import ActivationError, ConfigError, InvalidStateError, LiveObject, SessionBusyError
from ..events import Dispatcher, EventHub, check_dispatcher
from .categories import (
    Category,
    CategoryOptions,
    Mode,
    SessionConfiguration,
    flag_names,
    mode_for,
    validate_configuration,
)
from .checks import check_flag, check_io_buffer, check_preferred_rate, check_source
from .delegate import SessionDelegate, check_delegate
from .holds import HoldKind, SessionHold
from .interruption import APPLICATION_SOURCE, Interruption, InterruptionReason
from .lock import Outbox, SessionLock
from .route import Port, Route, RouteChangeReason, check_route
from .state import SESSION_TRANSITIONS, SessionState, state_of

__all__ = [
    "SESSION_TRANSITIONS",
    "AudioSession",
    "HoldKind",
    "SessionDelegate",
    "SessionHold",
    "SessionState",
]

logger = logging.getLogger("callaudio.session")
_T = SessionState


class AudioSession(LiveObject):
    """The process's audio session.

    Parameters
    ----------
    dispatcher : Dispatcher, optional
        How events reach observers; one daemon event thread by default
        (:class:`~callaudio.events.ThreadDispatcher`); tests pass a
        :class:`~callaudio.events.SynchronousDispatcher`.
    preferred_sample_rate : int
        Hz, one of :data:`callaudio.config.SAMPLE_RATES` (48000).
    preferred_io_buffer_duration : float
        Seconds, 0.001 to 0.5 (0.01: one 10 ms processing frame).
    route : Route
        The initial device route.

    Notes
    -----
    Use :meth:`shared` for the process-wide instance; construct one directly in tests.
    Every method is thread-safe; see the module docstring for the lock order.
    Collaborators (the client, its rules and its controller) use the public methods
    :meth:`emit`, :meth:`defer`, :meth:`acquire`, :meth:`set_call_snapshot` and
    :meth:`take_call_snapshot`, always while holding :attr:`lock`.
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
        self._outbox = Outbox(lambda: any(d.session_on_audio_thread() for d in self._delegates))
        self._lock = SessionLock(self._outbox)
        self._hub = EventHub(dispatcher)
        self._config = SessionConfiguration()
        self._state = SessionState.INACTIVE
        self._holds: tuple[SessionHold, ...] = ()
        self._interruptions: dict[str, Interruption] = {}
        self._open: tuple[Interruption, ...] = ()
        self._device_route = check_route(route) if route is not None else Route()
        self._speaker_override = False
        self._route = self._effective_route()
        self._delegates: tuple[SessionDelegate, ...] = ()
        self._call_snapshot: SessionConfiguration | None = None
        self._sample_rate = check_preferred_rate(preferred_sample_rate)
        self._io_buffer = check_io_buffer(preferred_io_buffer_duration)

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
            f"<AudioSession {c.category.name}/{c.mode.name} options={flag_names(c.options)} "
            f"{self._state.name} holds={len(self._holds)} "
            f"interruptions={[i.source for i in self._open]}>"
        )

    # -- locking, deferred work and events -----------------------------------------------

    @property
    def lock(self) -> SessionLock:
        """The session's re-entrant lock, for compound operations by the application.

        Audio actions and events that the operations inside the block imply run when the
        block ends (the lock is released), in order; an error they raise (the audio of a
        call established inside the block could not start) is raised there.
        """
        return self._lock

    def emit(self, name: str, **data: Any) -> None:
        """Announce the event ``name`` to the observers registered now (see
        :mod:`callaudio.events` for the fields); delivered after the lock is released."""
        with self._lock:
            self._outbox.post_event(self._hub.delivery(name, **data))

    def defer(self, action: Callable[[], None], *, wait: bool = False) -> None:
        """Run the audio action ``action()`` after the outermost release of the lock,
        after the actions decided before it.

        With ``wait=True`` the deciding thread waits for it even when another thread runs
        the queue, and gets its error (starting audio). Otherwise the deciding thread does
        not wait for other threads (an audio thread that mutes never blocks on a stream
        being stopped elsewhere); the error is raised when it ran the action itself. An
        audio thread (a delegate's ``session_on_audio_thread()``) never runs or waits for
        actions, ``wait=True`` or not: another thread runs them (see :mod:`.lock`).
        """
        wait = check_flag("wait", wait)  # (an array had no truth value)
        with self._lock:
            self._outbox.post_action(action, wait=wait)

    @property
    def dispatcher(self) -> Dispatcher:
        """How events reach observers (settable)."""
        return self._hub.dispatcher

    @dispatcher.setter
    def dispatcher(self, dispatcher: Dispatcher) -> None:
        with self._lock:
            self._hub.dispatcher = check_dispatcher(dispatcher)

    def add_observer(self, observer: object) -> None:
        """Register an observer (``on_<event>`` methods, and/or ``on_event(event)``).

        Raises
        ------
        ConfigError
            When it has no handler (None, a function), or a handler cannot take its
            event's keyword arguments (nothing changed).
        """
        with self._lock:
            self._hub.add_observer(observer)

    def remove_observer(self, observer: object) -> None:
        """Unregister an observer."""
        with self._lock:
            self._hub.remove_observer(observer)

    def attach(self, delegate: SessionDelegate) -> None:
        """Attach the component that runs audio for this session (the client does this)."""
        check_delegate(delegate)
        with self._lock:
            if not any(d is delegate for d in self._delegates):
                self._delegates = (*self._delegates, delegate)

    def detach(self, delegate: SessionDelegate) -> None:
        """Detach a delegate."""
        with self._lock:
            self._delegates = tuple(d for d in self._delegates if d is not delegate)

    # -- state ---------------------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        """The session's state (see :data:`SESSION_TRANSITIONS`)."""
        return self._state

    def _sync_state(self) -> None:
        """Follow the holds and interruptions through the transition table.

        Emits ``will/did_set_active`` when activation changes; ``is_active`` follows
        silently when only the interruptions changed.
        """
        old = self._state
        new = state_of(bool(self._holds), bool(self._interruptions))
        if new is old:
            return
        activated = new in (_T.ACTIVE, _T.INTERRUPTED)
        was = old in (_T.ACTIVE, _T.INTERRUPTED)
        if activated != was:
            event = "activate" if activated else "deactivate"
        else:
            event = "interrupt" if new in (_T.INTERRUPTED, _T.PREEMPTED) else "resume"
        if SESSION_TRANSITIONS.get((old, event)) is not new:  # pragma: no cover - table bug
            raise InvalidStateError(event, old.name)
        if activated != was:
            self.emit("will_set_active", active=activated)
            self._state = new
            self.emit("did_set_active", active=activated)
        else:
            self._state = new

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
        with self._lock:
            if mode is None and isinstance(category, Category):
                mode = mode_for(category, self._config.mode)
            normalised = validate_configuration(category, mode, options)
            self._config = SessionConfiguration(category, mode, normalised)
            self._route = self._effective_route()

    def set_mode(self, mode: Mode) -> None:
        """Set the mode for the current category (InvalidCategoryOptionsError if not allowed)."""
        c = self._config
        self.set_category(c.category, mode, c.options)

    def set_configuration(self, configuration: SessionConfiguration) -> None:
        """Set category, mode and options from one value (validated; all or nothing)."""
        if not isinstance(configuration, SessionConfiguration):
            raise ConfigError(
                "configuration", f"must be a SessionConfiguration, got {configuration!r}"
            )
        self.set_category(configuration.category, configuration.mode, configuration.options)

    def snapshot(self) -> SessionConfiguration:
        """The configuration now, to :meth:`restore` later (for your own audio)."""
        return self._config

    @property
    def call_snapshot(self) -> SessionConfiguration | None:
        """The configuration taken when the first call was established, restored when the
        last call ends (None between calls)."""
        return self._call_snapshot

    def returned_configuration(self) -> SessionConfiguration | None:
        """Ask every delegate for a configuration it borrowed (see
        :meth:`SessionDelegate.session_return_configuration`); the first one, or None."""
        with self._lock:
            found: SessionConfiguration | None = None
            for d in self._delegates:
                returned = d.session_return_configuration()
                found = found if found is not None else returned
            return found

    def set_call_snapshot(self, configuration: SessionConfiguration) -> None:
        """Keep the configuration to restore when the last call ends (row 1)."""
        with self._lock:
            self._call_snapshot = configuration

    def take_call_snapshot(self) -> SessionConfiguration | None:
        """Return the call snapshot and forget it (row 4)."""
        with self._lock:
            snapshot, self._call_snapshot = self._call_snapshot, None
            return snapshot

    def calls_over(self) -> None:
        """Tell every delegate that the last call hold went (after the restore)."""
        with self._lock:
            for d in self._delegates:
                d.session_calls_over(self)

    def restore(self, configuration: SessionConfiguration) -> None:
        """Put a snapshot back and emit ``configuration_restored(configuration)``."""
        with self._lock:
            self.set_configuration(configuration)
            self.emit("configuration_restored", configuration=self._config)

    # -- sample rate and buffer ----------------------------------------------------------

    @property
    def preferred_sample_rate(self) -> int:
        """The sample rate (Hz) streams are opened with."""
        return self._sample_rate

    def set_preferred_sample_rate(self, hz: int) -> None:
        """Set the preferred sample rate (one of ``callaudio.SAMPLE_RATES`` Hz); takes
        effect at the next stream start."""
        with self._lock:
            self._sample_rate = check_preferred_rate(hz)

    @property
    def preferred_io_buffer_duration(self) -> float:
        """The I/O buffer duration in seconds streams are opened with."""
        return self._io_buffer

    def set_preferred_io_buffer_duration(self, seconds: float) -> None:
        """Set the preferred I/O buffer duration in seconds (0.001..0.5)."""
        with self._lock:
            self._io_buffer = check_io_buffer(seconds)

    # -- activation ----------------------------------------------------------------------

    @property
    def is_active(self) -> bool:
        """True when some hold is live and no interruption is open."""
        return self._state is SessionState.ACTIVE

    @property
    def is_activated(self) -> bool:
        """True when some hold is live (interrupted or not)."""
        return self._state in (SessionState.ACTIVE, SessionState.INTERRUPTED)

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
        return self._holds

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
        with self._lock:
            others = [i for s, i in self._interruptions.items() if s != APPLICATION_SOURCE]
            if others:
                first = others[0]
                error = ActivationError(
                    "cannot activate the audio session: a higher-priority session holds the "
                    f"device (interruption from {first.source!r}, reason {first.reason.name})",
                    holder=first.source,
                )
                self.emit("will_set_active", active=True)
                self.emit("failed_to_set_active", active=True, error=error)
                raise error
            if APPLICATION_SOURCE in self._interruptions:
                self.end_interruption(APPLICATION_SOURCE)
            return self.acquire(owner, HoldKind.APPLICATION)

    def acquire(
        self,
        owner: str,
        kind: HoldKind,
        on_revoked: Callable[[SessionHold], None] | None = None,
    ) -> SessionHold:
        """Take a hold without the checks of :meth:`activate` (the client's call holds and
        the controller's sound holds). Allowed while interrupted: the session activates
        but stays inactive until the interruption ends. ``on_revoked(hold)`` is called,
        under the lock, if the session revokes the hold (the last call ended)."""
        if not isinstance(kind, HoldKind):
            raise ConfigError("kind", f"must be a HoldKind, got {kind!r}")
        with self._lock:
            hold = SessionHold(self, str(owner), kind, on_revoked)
            self._holds = (*self._holds, hold)
            self._sync_state()
            return hold

    def release(self, hold: SessionHold) -> None:
        """Give back a hold taken from :meth:`activate`.

        When the last hold goes, the session deactivates (``will/did_set_active(False)``).
        When the last *call* hold goes, application holds are revoked first.
        Releasing a hold twice logs a warning and changes nothing; releasing a revoked
        hold does nothing.

        Raises
        ------
        ConfigError
            When ``hold`` is not a :class:`SessionHold` of this session (nothing changed).
        """
        if not isinstance(hold, SessionHold) or hold.session is not self:
            raise ConfigError("hold", f"must be a SessionHold of this session, got {hold!r}")
        with self._lock:
            if not any(h is hold for h in self._holds):
                if hold.revoked:
                    logger.debug("release of revoked %r ignored", hold)
                else:
                    logger.warning("unbalanced release of %r: nothing changed", hold)
                return
            self._holds = tuple(h for h in self._holds if h is not hold)
            hold.released = True
            calls_over = hold.kind is HoldKind.CALL and not any(
                h.kind is HoldKind.CALL for h in self._holds
            )
            if calls_over:
                self._revoke_all()
            self._sync_state()
            own = self._interruptions.get(APPLICATION_SOURCE)
            if calls_over and own is not None and own.reason is InterruptionReason.APP_DEACTIVATED:
                # deactivate() interrupted the calls, and they are over: left open, it
                # interrupted the next call from its start (ended INACTIVE 30 s later)
                self.end_interruption(APPLICATION_SOURCE, should_resume=False)

    def _revoke_all(self) -> None:
        revoked, self._holds = self._holds, ()
        for h in revoked:
            h.revoked = True
        for h in revoked:
            h.notify_revoked()

    def deactivate(self) -> None:
        """Deactivate the session now, as the application (iOS ``setActive(false)``).

        During a call this is an interruption (source ``"application"``, reason
        ``APP_DEACTIVATED``) under the 30-second rule, until :meth:`activate` or the end
        of the last call (``interruption_ended``, ``should_resume=False``). Otherwise
        every hold is revoked and the session goes inactive.

        Raises
        ------
        SessionBusyError
            When audio I/O was running: the session is inactive and the I/O stopped anyway.
        """
        with self._lock:
            io_running = any(d.session_io_running() for d in self._delegates)
            if any(h.kind is HoldKind.CALL for h in self._holds):
                self.begin_interruption(APPLICATION_SOURCE, InterruptionReason.APP_DEACTIVATED)
            elif self._holds:
                self._revoke_all()
                self._sync_state()
            if io_running:
                raise SessionBusyError(
                    "the audio session was deactivated while audio I/O was running: the I/O "
                    "was stopped; stop your audio before deactivating"
                )

    # -- interruptions -------------------------------------------------------------------

    @property
    def is_interrupted(self) -> bool:
        """True while at least one interruption is open."""
        return bool(self._open)

    @property
    def open_interruptions(self) -> tuple[Interruption, ...]:
        """The open interruptions, in the order they began."""
        return self._open

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
        source = check_source(source, voip)
        with self._lock:
            if source in self._interruptions:
                return False
            first = not self._interruptions
            interruption = Interruption(source, reason, bool(voip))
            self._interruptions[source] = interruption
            self._open = tuple(self._interruptions.values())
            self._sync_state()
            self.emit("interruption_began", reason=reason, source=source)
            for d in self._delegates:
                d.session_interruption_began(self, interruption, first)
            return True

    def end_interruption(self, source: str, *, should_resume: bool = True) -> bool:
        """The interruption from ``source`` is over.

        When none is left open the session is active again if any hold is live.
        Ending a source that is not open logs a warning, changes nothing, returns False.
        """
        should_resume = check_flag("should_resume", should_resume)
        with self._lock:
            is_str = isinstance(source, str)  # a non-str source (unhashable too) is never open
            interruption = self._interruptions.pop(str.__str__(source), None) if is_str else None
            if interruption is None:
                logger.warning("end of interruption from %r, which is not open: ignored", source)
                return False
            self._open = tuple(self._interruptions.values())
            last = not self._interruptions
            self.emit("interruption_ended", source=source, should_resume=should_resume)
            if last:
                self._sync_state()
            for d in self._delegates:
                d.session_interruption_ended(self, interruption, should_resume, last)
            return True

    # -- route ---------------------------------------------------------------------------

    def _effective_route(self) -> Route:
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
    def device_route(self) -> Route:
        """The route the devices give, before the speaker override."""
        return self._device_route

    @property
    def route(self) -> Route:
        """The effective route: the speaker when overridden, or when the built-in receiver
        would be used outside PLAY_AND_RECORD or with DEFAULT_TO_SPEAKER (iOS's rules).

        Never takes the lock: an audio callback may read it."""
        return self._route

    @property
    def speaker_override(self) -> bool:
        """Whether the output is overridden to the built-in speaker."""
        return self._speaker_override

    def can_override_to_speaker(self) -> bool:
        """Whether :meth:`override_output_to_speaker(True)` would be accepted now."""
        return self._config.category is Category.PLAY_AND_RECORD

    def override_output_to_speaker(self, enabled: bool) -> None:
        """Override the output to the speaker (or remove the override).

        Emits ``route_changed(OVERRIDE, previous)`` when the override changes.

        Raises
        ------
        InvalidStateError
            Overriding to the speaker outside PLAY_AND_RECORD (as on iOS).
        """
        with self._lock:
            enabled = check_flag("enabled", enabled)
            if enabled == self._speaker_override:
                return
            if enabled and not self.can_override_to_speaker():
                raise InvalidStateError(
                    "override the output to the speaker", self._config.category.name
                )
            previous = self._route
            self._speaker_override = enabled
            self._route = self._effective_route()
            self.emit("route_changed", reason=RouteChangeReason.OVERRIDE, previous=previous)
            for d in self._delegates:
                d.session_route_changed(self, RouteChangeReason.OVERRIDE, previous, False)

    def change_route(
        self, route: Route, reason: RouteChangeReason = RouteChangeReason.UNKNOWN
    ) -> None:
        """The devices changed (a headset plugged in, a device lost ...).

        A device change clears a transient speaker override, except while interrupted:
        then the change is only recorded (route and event) and the override is reapplied
        when the call resumes.

        Raises
        ------
        ConfigError
            When ``route`` is not a :class:`Route` or ``reason`` not a
            :class:`RouteChangeReason`; nothing is changed.
        """
        route = check_route(route)
        if not isinstance(reason, RouteChangeReason):
            raise ConfigError("reason", f"must be a RouteChangeReason, got {reason!r}")
        with self._lock:
            previous = self._route
            self._device_route = route
            cleared = False
            if reason.is_device_change and self._speaker_override and not self._interruptions:
                self._speaker_override = False
                cleared = True
            self._route = self._effective_route()
            self.emit("route_changed", reason=reason, previous=previous)
            for d in self._delegates:
                d.session_route_changed(self, reason, previous, cleared)
