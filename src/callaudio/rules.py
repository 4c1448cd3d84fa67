"""The session rules: the only code that turns session and call changes into audio actions.

One :class:`SessionRules` per :class:`~callaudio.client.VoiceClient`. It listens to the
client's calls (a :class:`~callaudio.call.CallListener`) and to the shared session (a
:class:`~callaudio.session.SessionDelegate`) and applies the transition table of the
README's "Audio session" section, one method per row (:data:`ROWS`):

==  =========================================  ============================================
#   trigger -> method                          effects, in order (events)
==  =========================================  ============================================
1   first call ESTABLISHED (call holds 0->1)   snapshot (category, options, mode); set
    :meth:`first_call_established`             PLAY_AND_RECORD + call mode + call options;
                                               activate; apply the speaker wish; start
                                               duplex audio (will/did_set_active(True),
                                               [route_changed], call_established); while
                                               interrupted: no audio, the call is marked
                                               interrupted and the grace timer starts
                                               (... call_established, call_interrupted)
2   another call ESTABLISHED                   one more hold, no snapshot; this client's
    :meth:`another_call_established`           audio starts if it was not running
                                               (call_established)
3   a call ends (any cause)                    stop this client's audio when it was its
    :meth:`call_ended`                         last established call, release the hold
                                               (call_ended(cause)); the client's last call
                                               never established: forget its speaker wish
                                               and mute ([speaker_disabled, unmuted])
4   last call hold released (1->0)             stop every sound, deactivate (revoking
    :meth:`last_call_hold_released`            application holds); restore the snapshot
                                               while inactive; clear the speaker override
                                               and every client's mute
                                               (will/did_set_active(False),
                                               configuration_restored, [route_changed,
                                               speaker_disabled, unmuted])
5   interruption begins while active           inactive; stop audio; calls marked
    :meth:`interruption_began`                 interrupted; grace timer starts at the first
                                               source if a call is established
                                               (interruption_began, call_interrupted)
6   last open interruption ends                cancel timer; if this client holds calls:
    :meth:`interruption_ended`                 reapply the call configuration and speaker
                                               override, reset the echo canceller, restart
                                               audio resuming the chain
                                               (interruption_ended, call_resumed)
7   grace deadline, interruptions still open   end every interrupted call with the policy's
    :meth:`grace_deadline`                     cause, then rows 3-4 (call_ended(cause))
8   route change                               the speaker flag follows the override; a
    :meth:`route_changed`                      device change clears a transient override
                                               and restarts the duplex stream on the new
                                               route; the echo canceller is reset; while
                                               interrupted only recorded
                                               (route_changed, [speaker_disabled])
9   audio system reset (backend fault)         drop and rebuild streams; reapply the
    :meth:`media_services_reset`               configuration; restart this client's calls'
                                               audio resuming the chain; a sound file is
                                               dropped, never restarted; while interrupted,
                                               acted on at the end (media_services_lost,
                                               media_services_reset)
==  =========================================  ============================================

Choices made where the rules leave room:

- All calls of a client share one duplex stream (the engine mixes them), so row 3's "stop
  its audio" stops the stream when the client's last established call ends.
- Several clients may share one session: activation counting, the snapshot and the one
  restore are session-wide; streams, timers and controllers are per client, and each
  client acts only for its own calls. The microphone invariant: a client's backend has a
  stream open only while the session is active and the client has an established call
  (the duplex stream) or plays a sound it was asked to play (output only).
- A call whose audio fails to start (the backend raises) ends with ``EndCause.ERROR``
  (``details.error`` set) and ``establish()`` raises :class:`~callaudio.errors.BackendError`;
  a restart that fails (rows 6, 8, 9) ends the client's live calls the same way.
- The application may not stop a call's duplex stream behind the rules' back (the call
  would stay ESTABLISHED with no audio, and nothing would end it): the rules start and stop
  it inside :func:`~callaudio.audio.base.session_request`, and
  :class:`~callaudio.audio.service.EngineBackend` refuses any other ``stop_duplex`` or
  ``close`` of it with InvalidStateError. Hang up, or begin an interruption, instead.
- Every backend request is decided under the session lock and runs after it is released
  (:meth:`~callaudio.session.AudioSession.defer`), in order; what depends on the outcome
  (``call_established``, ``call_resumed``, ``media_services_reset``) is emitted after it.
- Decided on the backend's audio thread (a capture callback that ends a call, begins an
  interruption, changes the route or starts a tone; :meth:`SessionRules.session_on_audio_thread`),
  the requests run on another thread and the audio thread does not wait for them: a stop
  there would wait for the callback itself. ``establish()`` called there returns before the
  call's audio started, so a start that fails ends the call with ``EndCause.ERROR`` (logged)
  instead of raising in the callback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from .audio.base import (
    AudioBackend,
    BackendFault,
    Dropout,
    FaultKind,
    StreamConfig,
    session_request,
)
from .call import Call, CallDirection, CallState, EndCause
from .errors import BackendError
from .session import (
    AudioSession,
    Category,
    CategoryOptions,
    GraceTimer,
    HoldKind,
    Interruption,
    InterruptionPolicy,
    Mode,
    Route,
    RouteChangeReason,
    SessionConfiguration,
    SessionHold,
)

if TYPE_CHECKING:
    from .controller import AudioController

__all__ = ["ROWS", "SessionRules"]

log = logging.getLogger("callaudio.rules")

#: The transition table's rows and the :class:`SessionRules` method that applies each.
ROWS: Mapping[int, str] = {
    1: "first_call_established",
    2: "another_call_established",
    3: "call_ended",
    4: "last_call_hold_released",
    5: "interruption_began",
    6: "interruption_ended",
    7: "grace_deadline",
    8: "route_changed",
    9: "media_services_reset",
}


class SessionRules:
    """The transition table for one client: its calls, its backend, its controller.

    Every method runs under the session lock; backend requests are deferred to its release.
    """

    def __init__(
        self,
        session: AudioSession,
        backend: AudioBackend,
        controller: AudioController,
        policy: InterruptionPolicy,
        call_mode: Mode,
        call_options: CategoryOptions,
    ) -> None:
        self.session = session
        self.backend = backend
        self.controller = controller
        self.policy = policy
        self.call_mode = call_mode
        self.call_options = call_options
        self.calls: list[Call] = []
        self._holds: dict[str, SessionHold] = {}
        self._timer = GraceTimer(policy, self.grace_deadline)
        self._duplex = False
        self._duplex_starts = 0  # numbers the start decisions: a late failure knows its own
        self._reset_pending = False
        self._told_interrupted: set[str] = set()  # call_interrupted emitted, no call_resumed yet
        self._establishing: set[str] = set()  # call_established waits for the call's audio
        self.closed = False

    # -- state the client shows -------------------------------------------------------------

    @property
    def duplex_running(self) -> bool:
        """Whether this client's duplex stream runs (as decided; the backend follows)."""
        return self._duplex

    @property
    def grace_deadline_at(self) -> float | None:
        """When interrupted calls will be ended (clock seconds); None when no timer runs."""
        return self._timer.deadline

    @property
    def holds_calls(self) -> bool:
        """Whether this client has an established call holding the session."""
        return bool(self._holds)

    def stream_config(self) -> StreamConfig:
        """The duplex stream's configuration from the session's state now: at the
        backend's fixed rate when it declares one, else at the session's preferred rate."""
        s = self.session
        route = s.route
        fixed = self.backend.sample_rate
        return StreamConfig(
            sample_rate=s.preferred_sample_rate if fixed is None else fixed,
            io_buffer_duration=s.preferred_io_buffer_duration,
            voice_processing=s.mode.voice_processing,
            input_port=route.input,
            output_port=route.output,
        )

    def close(self) -> None:
        """End every live call (HUNG_UP), stop the sound, cancel the timer."""
        for call in list(self.calls):
            if call.is_live:
                call.end(EndCause.HUNG_UP)
        self._timer.cancel()
        self.controller.close()
        self.closed = True

    # -- calls (CallListener) ---------------------------------------------------------------

    def call_transitioned(self, call: Call, event: str, previous: CallState) -> None:
        """Apply the table to a call's transition."""
        emit = self.session.emit
        if event == "progress":
            emit("call_progressing", call=call)
        elif event == "ring":
            emit("call_ringing", call=call)
        elif event == "answer":
            if call.direction is CallDirection.OUTGOING:
                self.controller.stop_progress_tone()
            emit("call_answered", call=call)
        elif event == "establish":
            self.controller.stop_progress_tone()
            if self.session.call_hold_count == 0:
                self.first_call_established(call)
            else:
                self.another_call_established(call)
        elif event == "end":
            self.call_ended(call)

    def first_call_established(self, call: Call) -> None:
        """Row 1."""
        session = self.session
        found = session.returned_configuration()  # a sound of any client may have borrowed
        session.set_call_snapshot(found if found is not None else session.snapshot())
        session.set_category(Category.PLAY_AND_RECORD, self.call_mode, self.call_options)
        self.another_call_established(call)

    def another_call_established(self, call: Call) -> None:
        """Row 2 (and the end of row 1): hold the session, start this client's audio."""
        session = self.session
        self._holds[call.call_id] = session.acquire(call.call_id, HoldKind.CALL)
        self.controller.apply_speaker_wish()
        if session.is_interrupted:
            call.set_interrupted(True)
            session.emit("call_established", call=call)
            self._tell_interrupted(call)
            self._start_grace()
            return
        if self._duplex:
            session.emit("call_established", call=call)
            return

        def established(ok: bool) -> None:
            self._establishing.discard(call.call_id)
            if ok and call.state is CallState.ESTABLISHED:
                session.emit("call_established", call=call)
                if call.is_interrupted:  # interrupted while its audio was starting
                    self._tell_interrupted(call)

        self._establishing.add(call.call_id)
        self._start_duplex(resume=False, establishing=call, then=established)

    def call_ended(self, call: Call) -> None:
        """Row 3 (and row 4 when it was the session's last call hold)."""
        session = self.session
        if call.direction is CallDirection.OUTGOING and not any(
            c.state in (CallState.PROGRESSING, CallState.RINGING) for c in self.calls
        ):
            self.controller.stop_progress_tone()
        hold = self._holds.pop(call.call_id, None)
        self._told_interrupted.discard(call.call_id)
        self._establishing.discard(call.call_id)
        session.emit("call_ended", call=call, cause=call.details.end_cause)
        if hold is None:
            if not any(c.is_live for c in self.calls):
                self.controller.forget_call_wishes()  # a mute kept went on into the next call
            return
        if not self._holds:  # this client's last established call: its audio stops
            self._stop_duplex()
            self._timer.cancel()
        if session.call_hold_count > 1:
            if not self._holds:
                self.controller.keep_sound()
            session.release(hold)  # other calls keep the session
            return
        self.last_call_hold_released(hold)

    def last_call_hold_released(self, hold: SessionHold) -> None:
        """Row 4."""
        session = self.session
        self.controller.stop_sound()
        session.release(hold)
        snapshot = session.take_call_snapshot()
        if snapshot is not None:
            session.restore(snapshot)
        session.calls_over()  # every client's controller drops the override and the mute

    # -- the session (SessionDelegate) ------------------------------------------------------

    def session_io_running(self) -> bool:
        """Whether any audio I/O runs on this client's backend."""
        return self._duplex or self.backend.is_running

    def session_on_audio_thread(self) -> bool:
        """Whether the calling thread is an audio thread of this client's backend (its
        optional ``on_audio_thread()``; a backend without one has none)."""
        check = getattr(self.backend, "on_audio_thread", None)
        return bool(check()) if callable(check) else False

    def session_calls_over(self, session: AudioSession) -> None:
        """Row 4's last step, for this client's controller."""
        self.controller.clear_call_state()

    def session_return_configuration(self) -> SessionConfiguration | None:
        """Hand over the configuration this client's sound borrowed, if any."""
        return self.controller.take_found_configuration()

    def session_interruption_began(
        self, session: AudioSession, interruption: Interruption, first: bool
    ) -> None:
        """Row 5 (delegate entry)."""
        if first:
            self.interruption_began()

    def interruption_began(self) -> None:
        """Row 5."""
        self.controller.pause_sound()
        self._stop_duplex()
        established = [c for c in self.calls if c.state is CallState.ESTABLISHED]
        for call in established:
            call.set_interrupted(True)
            self._tell_interrupted(call)
        if established:
            self._start_grace()

    def _start_grace(self) -> None:
        """Start the grace timer of rows 5 and 2; when the clock cannot (a timer thread
        at the process's limit, a closed event loop) the interruption could outlast any
        deadline, so the interrupted calls end now (ERROR, with the clock's exception)."""
        try:
            self._timer.start()
        except Exception as exc:
            log.error("the grace timer could not start (%r): the interrupted calls end", exc)
            for call in [c for c in self.calls if c.is_interrupted]:
                call.end(EndCause.ERROR, exc)

    def _tell_interrupted(self, call: Call) -> None:
        """Emit ``call_interrupted`` unless the call's last resume was never announced
        (its audio had not answered yet: the call was never told it resumed), or its
        establishment is not announced yet (then it is emitted after ``call_established``)."""
        if call.call_id not in self._told_interrupted | self._establishing:
            self._told_interrupted.add(call.call_id)
            self.session.emit("call_interrupted", call=call)

    def session_interruption_ended(
        self,
        session: AudioSession,
        interruption: Interruption,
        should_resume: bool,
        last: bool,
    ) -> None:
        """Row 6 (delegate entry)."""
        if last:
            self.interruption_ended(should_resume)

    def interruption_ended(self, should_resume: bool) -> None:
        """Row 6 (and the deferred parts of rows 8 and 9).

        The session is no longer interrupted, so the calls stop being marked interrupted
        in the same step (with the timer cancelled): the mark, the timer and the session
        agree whenever the lock is free. ``call_resumed`` waits for the restarted audio;
        it is not emitted when the call was interrupted again (or ended) before the audio
        answered: the next resume announces it.
        """
        session = self.session
        ctrl = self.controller
        self._timer.cancel()
        for call in self.calls:
            call.set_interrupted(False)
        if not should_resume:
            ctrl.drop_paused_sound()
        reset_pending, self._reset_pending = self._reset_pending, False

        def resumed(ok: bool) -> None:
            if ok:
                for call in self.calls:
                    if (
                        call.call_id in self._told_interrupted
                        and call.state is CallState.ESTABLISHED
                        and not call.is_interrupted
                    ):
                        self._told_interrupted.discard(call.call_id)
                        session.emit("call_resumed", call=call)
            ctrl.resume_sound(should_resume)
            if reset_pending:
                session.emit("media_services_reset")

        if not self._holds:
            resumed(False)
            return
        session.set_category(Category.PLAY_AND_RECORD, self.call_mode, self.call_options)
        ctrl.apply_speaker_wish()
        self._sync_speaker()
        self._defer(self.backend.reset_echo_canceller)
        self._start_duplex(resume=True, then=resumed)

    def session_route_changed(
        self,
        session: AudioSession,
        reason: RouteChangeReason,
        previous: Route,
        override_cleared: bool,
    ) -> None:
        """Row 8 (delegate entry)."""
        self.route_changed(reason, override_cleared)

    def route_changed(self, reason: RouteChangeReason, override_cleared: bool) -> None:
        """Row 8."""
        if reason is RouteChangeReason.OVERRIDE or override_cleared:
            self._sync_speaker()
        if self.session.is_interrupted:
            return  # recorded by the session; the resume resets and restarts everything
        if override_cleared:
            self.controller.speaker_cleared()
        if not self._duplex:
            return
        if reason.is_device_change:
            self._stop_duplex()
            self._defer(self.backend.reset_echo_canceller)
            self._start_duplex(resume=True)
        else:
            self._defer(self.backend.reset_echo_canceller)

    # -- the clock and the backend -----------------------------------------------------------

    def grace_deadline(self, generation: int) -> None:
        """Row 7 (from the clock, possibly on a timer thread)."""
        with self.session.lock:
            if not self._timer.claim(generation):
                return
            open_now = self.session.open_interruptions
            if not open_now:
                return
            cause = self.policy.end_cause(open_now[0])
            for call in [c for c in self.calls if c.is_interrupted]:
                call.end(cause)

    def backend_fault(self, fault: BackendFault) -> None:
        """A fault reported by this client's backend (from a backend thread): rows 8, 9."""
        with self.session.lock:
            if self.closed:
                return
            if fault.kind is FaultKind.DEVICE_LOST:
                self.session.change_route(Route(), RouteChangeReason.OLD_DEVICE_UNAVAILABLE)
                return
            self.media_services_reset()

    def backend_dropout(self, dropout: Dropout) -> None:
        """Audio lost on a running stream (from a backend thread): ``audio_dropout``."""
        with self.session.lock:
            if self.closed:
                return
            self.session.emit(
                "audio_dropout",
                xruns=dropout.xruns,
                underruns=dropout.underruns,
                overruns=dropout.overruns,
                device=dropout.device,
            )

    def media_services_reset(self) -> None:
        """Row 9."""
        session = self.session
        ctrl = self.controller
        session.emit("media_services_lost")
        ctrl.sound_lost()
        self._stop_duplex()
        if session.is_interrupted:
            self._reset_pending = True  # acted on when the interruption ends
            return
        if self._holds:
            session.set_category(Category.PLAY_AND_RECORD, self.call_mode, self.call_options)
        self._defer(self.backend.set_muted, ctrl.is_muted)
        self._sync_speaker()

        def reset(ok: bool) -> None:
            ctrl.sound_reset()
            session.emit("media_services_reset")

        if self._holds:
            self._defer(self.backend.reset_echo_canceller)
            self._start_duplex(resume=True, then=reset)
        else:
            reset(True)

    # -- audio actions ------------------------------------------------------------------------

    def _defer(self, request: Callable[..., None], *args: object) -> None:
        self.session.defer(lambda: request(*args))

    def _sync_speaker(self) -> None:
        """The one place the backend's speaker flag is set: it follows the session's
        speaker override."""
        self._defer(self.backend.set_speaker, self.session.speaker_override)

    def _stop_duplex(self) -> None:
        if self._duplex:
            self._duplex = False
            self.session.defer(self._backend_stop_duplex)

    def _backend_stop_duplex(self) -> None:
        with session_request():  # the rules' own stop: the backend refuses the application's
            self.backend.stop_duplex()

    def _start_duplex(
        self,
        *,
        resume: bool,
        establishing: Call | None = None,
        then: Callable[[bool], None] | None = None,
    ) -> None:
        """Start the calls' duplex stream after the lock is released.

        ``then(ok)`` runs under the lock once the backend answered. If the backend
        refuses, the establishing call (or, for a restart, every live call of this client)
        ends with ``EndCause.ERROR``: a call never stays ESTABLISHED with no audio. For an
        establishment the error is raised to the thread that established.
        """
        config = self.stream_config()
        self._duplex = True
        self._duplex_starts += 1
        number = self._duplex_starts

        def start() -> None:
            error: BaseException | None = None
            try:
                with session_request():  # a call's stream: only the rules stop it
                    self.backend.start_duplex(config, resume=resume)
            except Exception as exc:  # a BackendError, or whatever the backend raised
                error = exc
            with self.session.lock:
                if error is not None:
                    self._audio_failed(error, establishing, latest=number == self._duplex_starts)
                if then is not None:
                    then(error is None)
            if error is not None and establishing is not None:
                raised = _as_backend_error(error, config, self.backend.sample_rate)
                if raised is error:
                    raise error
                raise raised from error

        self.session.defer(start, wait=establishing is not None)

    def _audio_failed(
        self, error: BaseException, establishing: Call | None, *, latest: bool
    ) -> None:
        """A start failed. Unless a later start was decided meanwhile (it answers for
        itself), this client's audio is off and its live calls end."""
        log.error("call audio could not start: %s", error)
        ended = [establishing] if establishing is not None and establishing.is_live else []
        if latest:
            self._duplex = False
            if establishing is None:
                ended = [c for c in self.calls if c.is_live]
        for call in ended:
            call.end(EndCause.ERROR, error=error)


def _as_backend_error(
    error: BaseException, config: StreamConfig, fixed: int | None = None
) -> BackendError:
    """The error ``establish()`` raises, with what to change when the rate is refused."""
    message = str(error)
    if "Hz" in message and fixed is not None:
        message += (
            f" (the device runs at {fixed} Hz only: open it at one of "
            "callaudio.SAMPLE_RATES, or choose another device)"
        )
    elif "Hz" in message:
        message += (
            f" (the session asked for {config.sample_rate} Hz: set the device's rate with "
            "session.set_preferred_sample_rate(hz) before the call)"
        )
    if isinstance(error, BackendError) and message == str(error):
        return error
    operation = error.operation if isinstance(error, BackendError) else "start_duplex"
    if isinstance(error, BackendError):
        message = message.removeprefix(f"{operation}: ")
    return BackendError(operation, message)
