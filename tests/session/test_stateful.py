"""Property-based (hypothesis stateful) test of the whole session layer.

Random sequences of calls and their transitions, interruptions, clock advances,
application activations, releases and deactivations, speaker/mute changes, tones and route
changes never break the invariants:

- active iff (holds > 0 and no open interruption); the activation count is never negative;
- after the last call ends, the configuration equals the snapshot taken before the first;
- no call stays interrupted past its deadline;
- the duplex stream runs iff a call holds the session and no interruption is open;
- an illegal transition raises and changes nothing (no event, no backend request);
- did_set_active alternates True/False.
"""

from __future__ import annotations

import itertools

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from callaudio.audio.recording import MemoryBackend
from callaudio.call import Call, CallState, EndCause
from callaudio.client import VoiceClient
from callaudio.clock import ManualClock
from callaudio.errors import ActivationError, InvalidStateError, SessionBusyError
from callaudio.events import SynchronousDispatcher
from callaudio.session import (
    AudioSession,
    Category,
    CategoryOptions,
    InterruptionPolicy,
    Mode,
    Port,
    Route,
    RouteChangeReason,
    SessionConfiguration,
    SessionHold,
)

from .helpers import EventLog, check_invariants

APP_CONFIGS = [
    SessionConfiguration(),
    SessionConfiguration(Category.PLAYBACK, Mode.SPOKEN_AUDIO, CategoryOptions.MIX_WITH_OTHERS),
    SessionConfiguration(Category.RECORD, Mode.DEFAULT, CategoryOptions.ALLOW_BLUETOOTH),
    SessionConfiguration(Category.AMBIENT, Mode.DEFAULT, CategoryOptions.NONE),
    SessionConfiguration(
        Category.PLAY_AND_RECORD, Mode.VIDEO_CHAT, CategoryOptions.DEFAULT_TO_SPEAKER
    ),
]
SOURCES = ["pstn", "voip-app", "alarm", "application"]
EVENTS = ["progress", "ring", "answer", "establish", "end"]
CAUSES = [c for c in EndCause if c is not EndCause.NONE]
ROUTES = [
    Route(),
    Route(Port.HEADSET_MIC, Port.HEADPHONES),
    Route(Port.BLUETOOTH_HFP, Port.BLUETOOTH_HFP),
]


class SessionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.session = AudioSession(dispatcher=SynchronousDispatcher())
        self.log = EventLog()
        self.session.add_observer(self.log)
        self.backend = MemoryBackend()
        self.client = VoiceClient(
            self.backend, session=self.session, policy=InterruptionPolicy(clock=self.clock)
        )
        self.calls: list[Call] = []
        self.holds: list[SessionHold] = []
        self.app_config = self.session.configuration

    # -- calls ---------------------------------------------------------------------------------

    @rule(incoming=st.booleans())
    def new_call(self, incoming: bool) -> None:
        self.calls.append(self.client.incoming_call() if incoming else self.client.start_call())

    @rule(incoming=st.booleans())
    def call_comes_up(self, incoming: bool) -> None:
        """A whole call set-up in one step, so random runs reach ESTABLISHED often."""
        call = self.client.incoming_call() if incoming else self.client.start_call()
        if not incoming:
            call.progress()
            call.ring()
        call.answer()
        call.establish()
        assert call.state is CallState.ESTABLISHED
        self.calls.append(call)

    @precondition(lambda self: bool(self.calls))
    @rule(cause=st.sampled_from(CAUSES))
    def every_call_ends(self, cause: EndCause) -> None:
        """The last call ends: the configuration must be back to the snapshot."""
        had_call_holds = self.session.call_hold_count > 0
        for call in self.calls:
            call.end(cause)
        self.calls = []
        assert self.session.call_hold_count == 0
        if had_call_holds:  # rule 2: every other hold went with the last call
            assert self.session.activation_count == 0 and not self.session.is_activated

    @precondition(lambda self: bool(self.calls))
    @rule(data=st.data())
    def call_moves_forward(self, data: st.DataObject) -> None:
        """The next event of a call's normal life (progress, ring, answer, establish, end)."""
        call = data.draw(st.sampled_from(self.calls))
        event = next(e for e in EVENTS if call.can(e))
        if event == "end":
            call.hangup()
            self.calls.remove(call)
        else:
            getattr(call, event)()

    @precondition(lambda self: bool(self.calls))
    @rule(data=st.data(), event=st.sampled_from(EVENTS), cause=st.sampled_from(CAUSES))
    def call_event(self, data: st.DataObject, event: str, cause: EndCause) -> None:
        call = data.draw(st.sampled_from(self.calls))
        if call.can(event):
            if event == "end":
                call.end(cause)
            else:
                getattr(call, event)()
            if not call.is_live:
                self.calls.remove(call)
            return
        state, events, requests = call.state, len(self.log.events), len(self.backend.calls)
        try:
            call.end(cause) if event == "end" else getattr(call, event)()
        except InvalidStateError as err:
            assert (err.event, err.state) == (event, state.name)
        else:
            raise AssertionError(f"{event} allowed in {state}")
        assert call.state is state
        assert len(self.log.events) == events and len(self.backend.calls) == requests

    # -- interruptions and time ----------------------------------------------------------------

    @rule(source=st.sampled_from(SOURCES), voip=st.booleans())
    def begin_interruption(self, source: str, voip: bool) -> None:
        self.session.begin_interruption(source, voip=voip)

    @rule(data=st.data(), should_resume=st.booleans())
    def end_interruption(self, data: st.DataObject, should_resume: bool) -> None:
        open_sources = [i.source for i in self.session.open_interruptions]
        source = data.draw(st.sampled_from([*open_sources, "nobody"]))
        self.session.end_interruption(source, should_resume=should_resume)

    @rule(seconds=st.sampled_from([0.0, 0.1, 5.0, 14.9, 29.9, 30.0, 31.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.calls = [c for c in self.calls if c.is_live]

    # -- the application -----------------------------------------------------------------------

    @rule()
    def activate(self) -> None:
        try:
            self.holds.append(self.session.activate())
        except ActivationError:
            assert any(i.source != "application" for i in self.session.open_interruptions)

    @precondition(lambda self: bool(self.holds))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        hold = data.draw(st.sampled_from(self.holds))
        count = self.session.activation_count
        was_live = hold.live
        self.session.release(hold)
        assert self.session.activation_count <= count - (1 if was_live else 0)

    @rule()
    def deactivate(self) -> None:
        io = self.backend.is_running
        try:
            self.session.deactivate()
        except SessionBusyError:
            assert io
        else:
            assert not io
        assert not self.session.is_active

    @precondition(
        lambda self: (
            self.session.call_hold_count == 0 and self.client.audio_controller.sound is None
        )
    )
    @rule(config=st.sampled_from(APP_CONFIGS))
    def configure(self, config: SessionConfiguration) -> None:
        self.session.set_configuration(config)
        self.app_config = config

    @rule(on=st.booleans())
    def speaker(self, on: bool) -> None:
        ctrl = self.client.audio_controller
        ctrl.enable_speaker() if on else ctrl.disable_speaker()

    @rule(on=st.booleans())
    def mute(self, on: bool) -> None:
        ctrl = self.client.audio_controller
        ctrl.mute() if on else ctrl.unmute()

    @rule(kind=st.sampled_from(["progress", "busy", "stop"]))
    def tone(self, kind: str) -> None:
        ctrl = self.client.audio_controller
        if kind == "progress":
            ctrl.start_progress_tone()
        elif kind == "busy":
            ctrl.start_busy_tone()
        else:
            ctrl.stop_tone()

    @rule(route=st.sampled_from(ROUTES), added=st.booleans())
    def route_change(self, route: Route, added: bool) -> None:
        reason = (
            RouteChangeReason.NEW_DEVICE_AVAILABLE
            if added
            else RouteChangeReason.OLD_DEVICE_UNAVAILABLE
        )
        self.session.change_route(route, reason)

    @rule()
    def playback_finishes(self) -> None:
        self.backend.finish_playback()

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def session_invariants(self) -> None:
        check_invariants(self.session, self.client)

    @invariant()
    def configuration_restored_after_calls(self) -> None:
        if self.session.call_hold_count:
            assert self.client.snapshot == self.app_config
            return
        saved = self.client.audio_controller.borrowed_configuration
        if saved is not None:
            assert saved == self.app_config
            assert self.session.category is Category.PLAYBACK
        else:
            assert self.session.configuration == self.app_config

    @invariant()
    def duplex_matches_backend(self) -> None:
        assert self.backend.duplex_running == self.client.is_duplex_running

    @invariant()
    def activity_events_alternate(self) -> None:
        flags = [e.data["active"] for e in self.log.events if e.name == "did_set_active"]
        assert all(a != b for a, b in itertools.pairwise(flags))
        assert not flags or flags[0] is True

    @invariant()
    def calls_past_establishment_hold_the_session(self) -> None:
        live = {c.call_id for c in self.client.calls if c.state is CallState.ESTABLISHED}
        holders = {h.owner for h in self.session.holds if h.kind.name == "CALL"}
        assert live == holders


SessionMachine.TestCase.settings = settings(
    max_examples=50, stateful_step_count=30, deadline=None, derandomize=True
)
TestSessionMachine = SessionMachine.TestCase
