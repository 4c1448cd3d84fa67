"""The voice client: calls, the session rules and the audio side, wired together.

:class:`VoiceClient` owns the calls, the :class:`~callaudio.controller.AudioController`
and the grace timer, and is the only component that turns the session's and the calls'
changes into backend requests. It applies the session spec's transition table:

==  =========================================  ============================================
#   trigger                                    effects, in order (events)
==  =========================================  ============================================
1   first call ESTABLISHED (call holds 0->1)   snapshot (category, options, mode); set
                                               PLAY_AND_RECORD + call mode + call options;
                                               activate; apply the speaker wish; start
                                               duplex audio (will/did_set_active(True),
                                               [route_changed], call_established); while
                                               interrupted: no audio, the call is marked
                                               interrupted and the grace timer starts
                                               (... call_established, call_interrupted)
2   another call ESTABLISHED                   one more hold, no snapshot
                                               (call_established)
3   a call ends (any cause)                    stop its audio, release its hold
                                               (call_ended(cause))
4   last call hold released (1->0)             stop every sound, stop duplex, deactivate
                                               (revoking application holds); restore the
                                               snapshot while inactive; clear the speaker
                                               override and the mute (will/did_set_active
                                               (False), configuration_restored,
                                               [route_changed, speaker_disabled, unmuted])
5   interruption begins while active           inactive; stop audio; calls marked
                                               interrupted; grace timer starts at the first
                                               source if a call is established
                                               (interruption_began, call_interrupted)
6   last open interruption ends                cancel timer; if holds: reactivate, reapply
                                               the call configuration and speaker override,
                                               reset the echo canceller, restart audio
                                               (interruption_ended, call_resumed)
7   grace deadline, interruptions still open   end every interrupted call with the policy's
                                               cause, then rows 3-4 (call_ended(cause))
8   route change                               a device change clears a transient speaker
                                               override and restarts the duplex stream on
                                               the new route; the echo canceller is reset;
                                               while interrupted only recorded
                                               (route_changed, [speaker_disabled])
9   audio system reset (backend fault)         drop and rebuild streams; reapply the
                                               configuration; reactivate if holds; a sound
                                               file is dropped, never restarted; while
                                               interrupted, acted on at the end
                                               (media_services_lost, media_services_reset)
==  =========================================  ============================================

Choices the spec leaves open:

- All calls of a client share one duplex stream (the engine mixes them), so row 3's "stop
  its audio" stops the stream when the client's last call ends.
- Several clients may share one session (``AudioSession.shared()``): activation counting,
  the snapshot (kept by the session, :attr:`AudioSession.call_snapshot`) and the one
  restore are session-wide; streams, timers and controllers are per client.
- The progress tone is stopped when an outgoing call is answered or ends.
- A call whose audio fails to start (the backend raises) ends with ``EndCause.ERROR``
  (``details.error`` set) and the error is raised as
  :class:`~callaudio.errors.BackendError`.
- ``backend`` may be an :class:`~callaudio.backends.base.AudioBackend` or the name
  ``"memory"``; the real backends' names come with the engine.
"""

from __future__ import annotations

import itertools
import logging
from types import TracebackType

from .audio.base import AudioBackend, BackendFault, FaultKind, StreamConfig
from .audio.recording import MemoryBackend
from .call import Call, CallDirection, CallState, EndCause
from .controller import AudioController, SoundKind
from .errors import BackendError, ConfigError
from .interruption import GraceTimer, Interruption, InterruptionPolicy
from .session import (
    AudioSession,
    Category,
    CategoryOptions,
    HoldKind,
    Mode,
    Route,
    RouteChangeReason,
    SessionConfiguration,
    SessionHold,
    validate_configuration,
)

__all__ = ["VoiceClient"]


log = logging.getLogger(__name__)


def _resolve_backend(backend: AudioBackend | str) -> AudioBackend:
    if isinstance(backend, str):
        if backend == "memory":
            return MemoryBackend()
        if backend in ("simulated", "sounddevice"):
            # The engine (real-time callback + VoiceProcessor) on a device backend; imported
            # here so the session layer itself imports no audio I/O.
            from .audio.service import make_backend

            return make_backend(backend)
        raise ConfigError(
            "backend",
            f"unknown backend {backend!r} (available: 'memory', 'simulated', 'sounddevice')",
        )
    return backend


class VoiceClient:
    """Calls plus the audio session rules.

    Parameters
    ----------
    backend : AudioBackend or str
        The audio side: ``"memory"`` (a :class:`~callaudio.backends.memory.MemoryBackend`
        that records what was asked of it; the default), ``"simulated"`` (the engine on the
        built-in simulated room, paced in real time) or ``"sounddevice"`` (the engine on
        PortAudio through python-sounddevice), or any :class:`AudioBackend`.
    session : AudioSession, optional
        ``AudioSession.shared()`` by default; tests pass their own.
    policy : InterruptionPolicy, optional
        Grace period, end causes and the clock; the default is 30 s on the monotonic clock.
    call_options : CategoryOptions
        The options set with PLAY_AND_RECORD while calls run (``ALLOW_BLUETOOTH``).
    call_mode : Mode
        The mode while calls run (``VOICE_CHAT``: the voice-processing chain is on).
    tone_plan : str
        The controller's default regional tone plan.
    """

    def __init__(
        self,
        backend: AudioBackend | str = "memory",
        *,
        session: AudioSession | None = None,
        policy: InterruptionPolicy | None = None,
        call_options: CategoryOptions = CategoryOptions.ALLOW_BLUETOOTH,
        call_mode: Mode = Mode.VOICE_CHAT,
        tone_plan: str = "US",
    ) -> None:
        self.call_options = validate_configuration(
            Category.PLAY_AND_RECORD, call_mode, call_options
        )
        self.call_mode = call_mode
        self.backend = _resolve_backend(backend)
        self.session = session if session is not None else AudioSession.shared()
        self.policy = policy if policy is not None else InterruptionPolicy()
        self.audio_controller = AudioController(self.session, self.backend, tone_plan)
        self._calls: list[Call] = []
        self._holds: dict[str, SessionHold] = {}
        self._timer = GraceTimer(self.policy, self._on_deadline)
        self._duplex = False
        self._reset_pending = False
        self._closed = False
        self._ids = itertools.count(1)
        self.session.attach(self)
        self.backend.set_fault_handler(self._on_fault)

    def __repr__(self) -> str:
        return f"<VoiceClient calls={[c.call_id for c in self._calls]} session={self.session!r}>"

    def __enter__(self) -> VoiceClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """End every live call (HUNG_UP), detach from the session and the backend."""
        with self.session._operation():
            if self._closed:
                return
            for call in list(self._calls):
                if call.is_live:
                    call.end(EndCause.HUNG_UP)
            self._timer.cancel()
            self.audio_controller._stop()
            self.session.detach(self)
            self.backend.set_fault_handler(None)
            self._closed = True

    # -- calls ---------------------------------------------------------------------------

    @property
    def calls(self) -> tuple[Call, ...]:
        """The live calls, oldest first."""
        return tuple(c for c in self._calls if c.is_live)

    @property
    def snapshot(self) -> SessionConfiguration | None:
        """The configuration to restore when the last call ends (None between calls)."""
        return self.session.call_snapshot

    @property
    def grace_deadline(self) -> float | None:
        """When interrupted calls will be ended (clock seconds), None when no timer runs."""
        return self._timer.deadline

    @property
    def is_duplex_running(self) -> bool:
        """Whether the client has the duplex stream running."""
        return self._duplex

    def start_call(self, remote: str | None = None) -> Call:
        """Create an outgoing call (INITIATING), numbered ``"call-<n>"`` per client."""
        return self._new_call(CallDirection.OUTGOING, remote)

    def incoming_call(self, remote: str | None = None) -> Call:
        """Create an incoming call (INITIATING); ``answer()`` then ``establish()`` it."""
        return self._new_call(CallDirection.INCOMING, remote)

    def _new_call(self, direction: CallDirection, remote: str | None) -> Call:
        with self.session._operation():
            if self._closed:
                raise ConfigError("client", "the client is closed")
            self._calls = [c for c in self._calls if c.is_live]
            call = Call(
                direction,
                call_id=f"call-{next(self._ids)}",
                remote=remote,
                clock=self.policy.clock,
                listener=self,
                lock=self.session._operation,
            )
            self._calls.append(call)
            return call

    def add_observer(self, observer: object) -> None:
        """Register an observer of every event (the session's observers)."""
        self.session.add_observer(observer)

    def remove_observer(self, observer: object) -> None:
        """Unregister an observer."""
        self.session.remove_observer(observer)

    # -- call transitions (CallListener) -------------------------------------------------

    def call_transitioned(self, call: Call, event: str, previous: CallState) -> None:
        """Apply the session rules to a call's transition (runs inside the session lock)."""
        emit = self.session._emit
        if event == "progress":
            emit("call_progressing", call=call)
        elif event == "ring":
            emit("call_ringing", call=call)
        elif event == "answer":
            if call.direction is CallDirection.OUTGOING:
                self._stop_progress_tone()
            emit("call_answered", call=call)
        elif event == "establish":
            self._establish(call)
        elif event == "end":
            self._end(call)

    def _stop_progress_tone(self) -> None:
        if self.audio_controller.sound is SoundKind.PROGRESS_TONE:
            self.audio_controller.stop_tone()

    def _establish(self, call: Call) -> None:
        session = self.session
        ctrl = self.audio_controller
        self._stop_progress_tone()
        first = session.call_hold_count == 0
        if first:  # row 1
            found = ctrl._yield_category()
            session._call_snapshot = found if found is not None else session.snapshot()
            session.set_category(Category.PLAY_AND_RECORD, self.call_mode, self.call_options)
        self._holds[call.call_id] = session._acquire(call.call_id, HoldKind.CALL)
        ctrl._apply_speaker()
        if session.is_interrupted:
            call._set_interrupted(True)
            session._emit("call_established", call=call)
            session._emit("call_interrupted", call=call)
            self._timer.start()
            return
        if not self._duplex:
            try:
                self._start_duplex()
            except Exception as exc:
                call.end(EndCause.ERROR, error=exc)
                if isinstance(exc, BackendError):
                    raise
                raise BackendError("start_duplex", str(exc)) from exc
        session._emit("call_established", call=call)

    def _end(self, call: Call) -> None:
        session = self.session
        ctrl = self.audio_controller
        if call.direction is CallDirection.OUTGOING and not any(
            c.state in (CallState.PROGRESSING, CallState.RINGING) for c in self._calls
        ):
            self._stop_progress_tone()
        hold = self._holds.pop(call.call_id, None)
        session._emit("call_ended", call=call, cause=call.details.end_cause)  # row 3
        if hold is None:
            if not any(c.is_live for c in self._calls):
                ctrl._forget_speaker_wish()
            return
        if not self._holds:  # this client's last established call: its audio stops
            if self._duplex:
                self._stop_duplex()
            self._timer.cancel()
        if session.call_hold_count > 1:
            session.release(hold)  # other calls keep the session (row 3 only)
            return
        # row 4: the last call hold goes
        ctrl._stop()
        session.release(hold)
        snapshot, session._call_snapshot = session._call_snapshot, None
        if snapshot is not None:
            session.restore(snapshot)
        ctrl._clear_call_state()

    # -- the audio side ------------------------------------------------------------------

    def _stream_config(self) -> StreamConfig:
        s = self.session
        route = s.route
        return StreamConfig(
            sample_rate=s.preferred_sample_rate,
            io_buffer_duration=s.preferred_io_buffer_duration,
            voice_processing=s.mode.voice_processing,
            input_port=route.input,
            output_port=route.output,
        )

    def _start_duplex(self) -> None:
        self.backend.start_duplex(self._stream_config())
        self._duplex = True

    def _restart_duplex(self) -> bool:
        """Start the calls' audio again (after a fault, a route change or a resume).

        If the audio side cannot start (the device is gone for good), every live call
        ends with ``EndCause.ERROR`` and the error in its details, as a failed
        establishment does: a call must never stay ESTABLISHED with no audio. Returns
        whether the audio runs.
        """
        try:
            self._start_duplex()
        except Exception as exc:  # a BackendError, or whatever the backend raised
            log.error("call audio could not restart: %s", exc)
            for call in [c for c in self._calls if c.state is not CallState.ENDED]:
                call.end(EndCause.ERROR, error=exc)
            return False
        return True

    def _stop_duplex(self) -> None:
        self._duplex = False
        self.backend.stop_duplex()

    # -- session delegate ----------------------------------------------------------------

    def session_io_running(self) -> bool:
        """Whether any audio I/O runs on the backend."""
        return self._duplex or self.backend.is_running

    def session_interruption_began(
        self, session: AudioSession, interruption: Interruption, first: bool
    ) -> None:
        """Row 5."""
        if not first:
            return
        self.audio_controller._pause()
        if self._duplex:
            self._stop_duplex()
        established = [c for c in self._calls if c.state is CallState.ESTABLISHED]
        for call in established:
            call._set_interrupted(True)
            session._emit("call_interrupted", call=call)
        if established:
            self._timer.start()

    def session_interruption_ended(
        self,
        session: AudioSession,
        interruption: Interruption,
        should_resume: bool,
        last: bool,
    ) -> None:
        """Row 6 (and the deferred parts of rows 8 and 9)."""
        if not last:
            return
        self._timer.cancel()
        ctrl = self.audio_controller
        if not should_resume:
            ctrl._drop_paused()
        session._refresh_active()
        if session.call_hold_count:
            session.set_category(Category.PLAY_AND_RECORD, self.call_mode, self.call_options)
            ctrl._apply_speaker()
            self.backend.set_speaker(session.speaker_override)
            self.backend.reset_echo_canceller()
            if not self._restart_duplex():
                ctrl._interruption_over(should_resume)
                return
            for call in self._calls:
                if call.is_interrupted:
                    call._set_interrupted(False)
                    session._emit("call_resumed", call=call)
        ctrl._interruption_over(should_resume)
        if self._reset_pending:
            self._reset_pending = False
            session._emit("media_services_reset")

    def session_route_changed(
        self,
        session: AudioSession,
        reason: RouteChangeReason,
        previous: Route,
        override_cleared: bool,
    ) -> None:
        """Row 8."""
        if session.is_interrupted:
            return  # recorded by the session; the resume resets and restarts everything
        if override_cleared:
            self.audio_controller._speaker_cleared()
        if not self._duplex:
            return
        if reason.is_device_change:
            self._stop_duplex()
            self.backend.reset_echo_canceller()
            self._restart_duplex()
        else:
            self.backend.reset_echo_canceller()

    # -- grace deadline and backend faults -----------------------------------------------

    def _on_deadline(self, generation: int) -> None:
        """Row 7 (from the clock, possibly on a timer thread)."""
        with self.session._operation():
            if not self._timer.claim(generation):
                return
            open_now = self.session.open_interruptions
            if not open_now:
                return
            cause = self.policy.end_cause(open_now[0])
            for call in [c for c in self._calls if c.is_interrupted]:
                call.end(cause)

    def _on_fault(self, fault: BackendFault) -> None:
        """Backend faults (from a backend thread): rows 8 and 9."""
        session = self.session
        with session._operation():
            if self._closed:
                return
            if fault.kind is FaultKind.DEVICE_LOST:
                session.change_route(Route(), RouteChangeReason.OLD_DEVICE_UNAVAILABLE)
                return
            session._emit("media_services_lost")
            ctrl = self.audio_controller
            ctrl._media_services_lost()
            if self._duplex:
                self._stop_duplex()
            if session.is_interrupted:
                self._reset_pending = True  # acted on when the interruption ends
                return
            if session.call_hold_count:
                session.set_category(Category.PLAY_AND_RECORD, self.call_mode, self.call_options)
            self.backend.set_muted(ctrl.is_muted)
            self.backend.set_speaker(session.speaker_override)
            session._refresh_active()
            if session.call_hold_count:
                self.backend.reset_echo_canceller()
                self._restart_duplex()
            ctrl._media_services_reset()
            session._emit("media_services_reset")
