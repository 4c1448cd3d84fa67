"""A stateful test: three clients on one session, interruptions, deadlines, faults, hangups.

After every step the microphone invariant holds: a client's backend has a stream open only
while the session is active, the duplex stream only while that client has an established
call, a playback only while it has a call or a sound it was asked to play; and the session
bookkeeping matches the clients' calls.
"""

from __future__ import annotations

import itertools

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from callaudio.audio.base import FaultKind
from callaudio.audio.recording import MemoryBackend
from callaudio.call import Call, CallDirection, CallState, EndCause
from callaudio.client import VoiceClient
from callaudio.clock import ManualClock
from callaudio.errors import ActivationError, BackendError, InvalidStateError, SessionBusyError
from callaudio.events import SynchronousDispatcher
from callaudio.session import (
    AudioSession,
    HoldKind,
    InterruptionPolicy,
    Port,
    Route,
    RouteChangeReason,
    SessionHold,
)

from .helpers import EventLog

CLIENTS = 3
SOURCES = ("pstn", "alarm", "voip")
ROUTES = (
    (Route(), RouteChangeReason.OLD_DEVICE_UNAVAILABLE),
    (Route(Port.HEADSET_MIC, Port.HEADPHONES), RouteChangeReason.NEW_DEVICE_AVAILABLE),
    (Route(Port.BLUETOOTH_HFP, Port.BLUETOOTH_HFP), RouteChangeReason.NEW_DEVICE_AVAILABLE),
)
client_index = st.integers(0, CLIENTS - 1)


class SharedSessionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.session = AudioSession(dispatcher=SynchronousDispatcher())
        self.log = EventLog()
        self.session.add_observer(self.log)
        self.backends = [MemoryBackend() for _ in range(CLIENTS)]
        self.clients = [
            VoiceClient(b, session=self.session, policy=InterruptionPolicy(clock=self.clock))
            for b in self.backends
        ]
        self.app_holds: list[SessionHold] = []

    # -- calls --------------------------------------------------------------------------------

    @rule(i=client_index, outgoing=st.booleans())
    def new_call(self, i: int, outgoing: bool) -> None:
        client = self.clients[i]
        if len(client.calls) < 3:
            (client.start_call if outgoing else client.incoming_call)()

    def _live(self) -> list[Call]:
        return [c for client in self.clients for c in client.calls]

    @precondition(lambda self: self._live())
    @rule(data=st.data(), fail=st.booleans())
    def advance_call(self, data: st.DataObject, fail: bool) -> None:
        call = data.draw(st.sampled_from(self._live()))
        if call.state is CallState.ANSWERED:
            owner = next(c for c in self.clients if call in c.calls)
            # a failure only when the audio will be started (else it would leak)
            fail = fail and not owner.is_duplex_running and not self.session.is_interrupted
            if fail:
                owner.backend.fail_next("start_duplex")  # type: ignore[attr-defined]
            try:
                call.establish()
            except BackendError:
                assert fail and call.details.end_cause is EndCause.ERROR
            else:
                assert not fail
            return
        if call.direction is CallDirection.OUTGOING and call.state is CallState.INITIATING:
            data.draw(st.sampled_from([call.progress, call.ring, call.answer]))()
        elif call.state in (CallState.PROGRESSING, CallState.RINGING):
            call.answer()
        elif call.state is CallState.INITIATING:
            call.answer()

    @precondition(lambda self: self._live())
    @rule(data=st.data(), twice=st.booleans())
    def hang_up(self, data: st.DataObject, twice: bool) -> None:
        call = data.draw(st.sampled_from(self._live()))
        call.hangup()
        if twice:
            call.hangup()
        assert call.state is CallState.ENDED

    # -- interruptions and time ---------------------------------------------------------------

    @rule(source=st.sampled_from(SOURCES))
    def begin_interruption(self, source: str) -> None:
        self.session.begin_interruption(source, voip=source == "voip")

    @precondition(lambda self: self.session.is_interrupted)
    @rule(data=st.data(), should_resume=st.booleans())
    def end_interruption(self, data: st.DataObject, should_resume: bool) -> None:
        source = data.draw(st.sampled_from([i.source for i in self.session.open_interruptions]))
        self.session.end_interruption(source, should_resume=should_resume)

    @rule(seconds=st.sampled_from([0.5, 10.0, 29.0, 31.0]))
    def advance_clock(self, seconds: float) -> None:
        interrupted = [c for c in self._live() if c.is_interrupted]
        deadlines = {c.call_id: self._deadline_of(c) for c in interrupted}
        self.clock.advance(seconds)
        for call in interrupted:
            deadline = deadlines[call.call_id]
            if deadline is not None and self.clock.now() >= deadline:
                assert call.state is CallState.ENDED
                assert call.details.end_cause in (
                    EndCause.GSM_CALL_DETECTED,
                    EndCause.VOIP_CALL_DETECTED,
                    EndCause.INACTIVE,
                )

    def _deadline_of(self, call: Call) -> float | None:
        owner = next(c for c in self.clients if call in c.calls)
        return owner.grace_deadline

    # -- faults, routes, sounds, the application ----------------------------------------------

    @rule(i=client_index, kind=st.sampled_from(list(FaultKind)), fail_restart=st.booleans())
    def fault(self, i: int, kind: FaultKind, fail_restart: bool) -> None:
        backend = self.backends[i]
        client = self.clients[i]
        restarts = client.is_duplex_running  # both kinds restart a running call stream
        if fail_restart and restarts:
            backend.fail_next("start_duplex", BackendError("start_duplex", "device gone"))
        backend.inject_fault(kind, "injected")
        if fail_restart and restarts:
            assert not client.calls and not backend.duplex_running

    @rule(which=st.sampled_from(ROUTES))
    def change_route(self, which: tuple[Route, RouteChangeReason]) -> None:
        self.session.change_route(*which)

    @rule(i=client_index, action=st.sampled_from(["progress", "busy", "stop", "finish"]))
    def sound(self, i: int, action: str) -> None:
        ctrl = self.clients[i].audio_controller
        if action == "progress":
            ctrl.start_progress_tone()
        elif action == "busy":
            ctrl.start_busy_tone()
        elif action == "stop":
            ctrl.stop_tone()
        else:
            self.backends[i].finish_playback()

    @rule(i=client_index, action=st.sampled_from(["mute", "unmute", "speaker", "earpiece"]))
    def controls(self, i: int, action: str) -> None:
        ctrl = self.clients[i].audio_controller
        try:
            {
                "mute": ctrl.mute,
                "unmute": ctrl.unmute,
                "speaker": ctrl.enable_speaker,
                "earpiece": ctrl.disable_speaker,
            }[action]()
        except InvalidStateError:
            assert action == "speaker"

    @rule(action=st.sampled_from(["activate", "release", "deactivate"]))
    def application(self, action: str) -> None:
        try:
            if action == "activate":
                self.app_holds.append(self.session.activate())
            elif action == "release" and self.app_holds:
                self.session.release(self.app_holds.pop(0))
            elif action == "deactivate":
                self.session.deactivate()
        except (ActivationError, SessionBusyError):
            pass

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def microphone(self) -> None:
        session = self.session
        for client, backend in zip(self.clients, self.backends, strict=True):
            established = [c for c in client.calls if c.state is CallState.ESTABLISHED]
            if not session.is_active:
                assert not backend.is_running, (client, session)
            if backend.duplex_running:
                assert established, client
            if backend.playback_running:
                assert established or client.audio_controller.sound is not None
            assert not backend.record_running
            assert backend.duplex_running == client.is_duplex_running
            assert client.is_duplex_running == bool(established and not session.is_interrupted)

    @invariant()
    def bookkeeping(self) -> None:
        session = self.session
        assert session.is_active == (session.activation_count > 0 and not session.is_interrupted)
        established = {
            c.call_id + f"@{k}"
            for k, client in enumerate(self.clients)
            for c in client.calls
            if c.state is CallState.ESTABLISHED
        }
        assert session.call_hold_count == len(established)
        if session.call_hold_count == 0:
            assert session.call_snapshot is None
            assert all(h.kind is HoldKind.APPLICATION for h in session.holds)
        for client in self.clients:
            for c in client.calls:
                assert c.is_interrupted == (
                    c.state is CallState.ESTABLISHED and session.is_interrupted
                )
            if any(c.is_interrupted for c in client.calls):
                assert client.grace_deadline is not None
                assert self.clock.now() < client.grace_deadline

    @invariant()
    def activity_events_alternate(self) -> None:
        flags = [e.data["active"] for e in self.log.events if e.name == "did_set_active"]
        assert all(a != b for a, b in itertools.pairwise(flags))
        assert not flags or flags[0] is True

    def teardown(self) -> None:
        for client in self.clients:
            client.close()
        for hold in self.app_holds:
            hold.release()
        assert not self.session.is_active
        assert not any(b.is_running for b in self.backends)


SharedSessionMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, derandomize=True
)
TestSharedSessionMachine = SharedSessionMachine.TestCase
