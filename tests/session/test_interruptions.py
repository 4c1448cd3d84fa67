"""The 30-second rule: every edge case of the session spec, with a manual clock."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

from callaudio.audio.recording import MemoryBackend
from callaudio.call import CallState, EndCause
from callaudio.client import VoiceClient
from callaudio.clock import ManualClock, MonotonicClock, TimerHandle
from callaudio.errors import ConfigError, SessionBusyError
from callaudio.events import SynchronousDispatcher
from callaudio.session import (
    AudioSession,
    GraceTimer,
    Interruption,
    InterruptionPolicy,
    InterruptionReason,
)

from .helpers import EventLog, check_invariants, established, write_wav

# -- the policy ------------------------------------------------------------------------------


def test_policy_defaults_and_causes() -> None:
    policy = InterruptionPolicy(causes={"alarm": EndCause.INACTIVE})
    assert policy.grace_period == 30.0
    assert policy.end_cause(Interruption("pstn")) is EndCause.GSM_CALL_DETECTED
    assert policy.end_cause(Interruption("app", voip=True)) is EndCause.VOIP_CALL_DETECTED
    assert policy.end_cause(Interruption("alarm", voip=True)) is EndCause.INACTIVE
    assert (
        policy.end_cause(Interruption("application", InterruptionReason.APP_DEACTIVATED))
        is EndCause.INACTIVE
    )
    custom = InterruptionPolicy(grace_period=5, default_cause=EndCause.TIMEOUT)
    assert custom.end_cause(Interruption("pstn")) is EndCause.TIMEOUT


@pytest.mark.parametrize("grace", [0, -1, float("nan"), float("inf"), "30"])
def test_policy_rejects_bad_grace_periods(grace: object) -> None:
    with pytest.raises(ConfigError, match="grace_period"):
        InterruptionPolicy(grace_period=grace)  # type: ignore[arg-type]


def test_policy_rejects_none_as_a_cause() -> None:
    with pytest.raises(ConfigError):
        InterruptionPolicy(causes={"pstn": EndCause.NONE})
    with pytest.raises(ConfigError, match="default_cause"):
        InterruptionPolicy(default_cause=EndCause.NONE)


def test_configurable_grace_period(
    session: AudioSession, backend: MemoryBackend, clock: ManualClock
) -> None:
    client = VoiceClient(
        backend, session=session, policy=InterruptionPolicy(grace_period=5.0, clock=clock)
    )
    call = established(client)
    session.begin_interruption("pstn")
    clock.advance(4.99)
    assert call.state is CallState.ESTABLISHED
    clock.advance(0.01)
    assert call.details.end_cause is EndCause.GSM_CALL_DETECTED


def test_grace_timer_claim_rejects_stale_firings(clock: ManualClock) -> None:
    fired: list[int] = []
    timer = GraceTimer(InterruptionPolicy(clock=clock), fired.append)
    assert timer.start() and not timer.start()
    assert timer.deadline == 30.0
    timer.cancel()
    assert timer.start()  # a new episode
    clock.advance(30.0)
    assert len(fired) == 1 and timer.claim(fired[0])
    assert not timer.claim(fired[0])  # only once
    assert not timer.claim(fired[0] - 1)


# -- the clock starts at the begin; overlapping interruptions --------------------------------


def test_overlapping_interruptions_keep_the_first_deadline(
    session: AudioSession, client: VoiceClient, clock: ManualClock, log: EventLog
) -> None:
    call = established(client)
    session.begin_interruption("pstn")  # t = 0: deadline 30
    clock.advance(10.0)
    session.begin_interruption("other-voip", voip=True)  # does not extend it
    assert client.grace_deadline == 30.0
    clock.advance(10.0)
    session.end_interruption("pstn")  # one is still open: no resume
    assert call.is_interrupted and not session.is_active
    log.take()
    clock.advance(9.999)
    assert call.state is CallState.ESTABLISHED
    clock.advance(0.001)  # t = 30, not 40
    assert call.state is CallState.ENDED
    # the cause comes from the earliest interruption still open
    assert log.take()[0] == "call_ended(call=call-1, cause=VOIP_CALL_DETECTED)"
    check_invariants(session, client)


def test_call_resumes_only_when_every_interruption_ended(
    session: AudioSession, client: VoiceClient, clock: ManualClock, log: EventLog
) -> None:
    call = established(client)
    log.take()
    session.begin_interruption("pstn")
    session.begin_interruption("alarm")
    session.end_interruption("pstn")
    assert log.take() == [
        "interruption_began(reason=DEFAULT, source='pstn')",
        "call_interrupted(call=call-1)",
        "interruption_began(reason=DEFAULT, source='alarm')",
        "interruption_ended(source='pstn', should_resume=True)",
    ]
    clock.advance(20.0)
    session.end_interruption("alarm")
    assert log.take() == [
        "interruption_ended(source='alarm', should_resume=True)",
        "call_resumed(call=call-1)",
    ]
    assert not call.is_interrupted and session.is_active
    clock.advance(100.0)
    assert call.state is CallState.ESTABLISHED


def test_repeated_begin_from_the_same_source_changes_nothing(
    session: AudioSession,
    client: VoiceClient,
    backend: MemoryBackend,
    clock: ManualClock,
    log: EventLog,
) -> None:
    established(client)
    session.begin_interruption("pstn")
    clock.advance(20.0)
    log.take()
    backend.clear()
    assert session.begin_interruption("pstn") is False
    assert log.lines == [] and backend.calls == []
    assert client.grace_deadline == 30.0 and len(session.open_interruptions) == 1


# -- the call ended before the interruption did ------------------------------------------------


def test_interruption_ending_after_the_call_ended_does_not_reactivate(
    session: AudioSession,
    client: VoiceClient,
    backend: MemoryBackend,
    clock: ManualClock,
    log: EventLog,
) -> None:
    call = established(client)
    session.begin_interruption("pstn")
    clock.advance(3.0)
    log.take()
    call.hangup()
    assert log.take() == [
        "call_ended(call=call-1, cause=HUNG_UP)",
        "will_set_active(active=False)",
        "did_set_active(active=False)",
        "configuration_restored(configuration=SOLO_AMBIENT/DEFAULT/NONE)",
    ]
    assert client.grace_deadline is None and clock.pending == 0  # timer cancelled
    backend.clear()
    session.end_interruption("pstn")
    assert log.take() == ["interruption_ended(source='pstn', should_resume=True)"]
    assert not session.is_active and backend.calls == []
    check_invariants(session, client)


def test_interruption_ending_after_one_call_ended_resumes_the_other(
    session: AudioSession,
    client: VoiceClient,
    backend: MemoryBackend,
    clock: ManualClock,
    log: EventLog,
) -> None:
    first = established(client)
    second = established(client)
    session.begin_interruption("pstn")
    first.hangup()
    assert client.grace_deadline == 30.0  # the second call is still interrupted
    log.take()
    session.end_interruption("pstn")
    assert log.take() == [
        "interruption_ended(source='pstn', should_resume=True)",
        "call_resumed(call=call-2)",
    ]
    assert session.is_active and second.state is CallState.ESTABLISHED and not second.is_interrupted
    check_invariants(session, client)


# -- ringing, and established while interrupted ------------------------------------------------


def test_interruption_while_ringing_starts_no_timer_and_pauses_the_tone(
    session: AudioSession,
    client: VoiceClient,
    backend: MemoryBackend,
    clock: ManualClock,
    log: EventLog,
) -> None:
    call = client.start_call()
    call.progress()
    client.audio_controller.start_progress_tone()
    call.ring()
    log.take()
    backend.clear()
    session.begin_interruption("pstn")
    assert log.take() == ["interruption_began(reason=DEFAULT, source='pstn')"]
    assert backend.calls == [("stop_playback",)]
    assert client.grace_deadline is None and clock.pending == 0
    clock.advance(60.0)
    assert call.state is CallState.RINGING
    backend.clear()
    log.take()
    session.end_interruption("pstn")
    assert log.take() == ["interruption_ended(source='pstn', should_resume=True)"]
    assert [c[0] for c in backend.calls] == ["start_playback"]  # the tone resumes
    assert client.audio_controller.is_playing and session.is_active
    check_invariants(session, client)


def test_established_while_interrupted_starts_the_timer_then(
    session: AudioSession,
    client: VoiceClient,
    backend: MemoryBackend,
    clock: ManualClock,
    log: EventLog,
) -> None:
    call = client.incoming_call()
    call.answer()
    session.begin_interruption("pstn")
    clock.advance(12.0)
    log.take()
    call.establish()
    assert log.take() == [
        "will_set_active(active=True)",
        "did_set_active(active=True)",
        "call_established(call=call-1)",
        "call_interrupted(call=call-1)",
    ]
    assert session.is_activated
    assert call.is_interrupted and not session.is_active and session.activation_count == 1
    assert client.grace_deadline == 42.0
    assert not backend.duplex_running
    clock.advance(29.9)
    session.end_interruption("pstn")
    assert log.take() == [
        "interruption_ended(source='pstn', should_resume=True)",
        "call_resumed(call=call-1)",
    ]
    assert backend.duplex_running and session.is_active


def test_established_while_interrupted_then_deadline(
    session: AudioSession, client: VoiceClient, clock: ManualClock
) -> None:
    call = client.incoming_call()
    call.answer()
    session.begin_interruption("pstn")
    clock.advance(12.0)
    call.establish()
    clock.advance(30.0)
    assert call.details.end_cause is EndCause.GSM_CALL_DETECTED
    assert call.details.ended_at == 42.0
    check_invariants(session, client)


# -- the application deactivating the session ------------------------------------------------


def test_app_deactivation_during_a_call_is_an_interruption(
    session: AudioSession,
    client: VoiceClient,
    backend: MemoryBackend,
    clock: ManualClock,
    log: EventLog,
) -> None:
    call = established(client)
    log.take()
    backend.clear()
    with pytest.raises(SessionBusyError, match="I/O was running"):
        session.deactivate()
    # as iOS: it did deactivate, and the I/O stopped
    assert log.take() == [
        "interruption_began(reason=APP_DEACTIVATED, source='application')",
        "call_interrupted(call=call-1)",
    ]
    assert not session.is_active and backend.calls == [("stop_duplex",)]
    assert call.is_interrupted and client.grace_deadline == 30.0
    clock.advance(10.0)
    backend.clear()
    hold = session.activate()  # the application's reactivation resumes the call
    assert log.take() == [
        "interruption_ended(source='application', should_resume=True)",
        "call_resumed(call=call-1)",
    ]
    assert session.is_active and not call.is_interrupted and backend.duplex_running
    assert session.activation_count == 2 and hold.live
    check_invariants(session, client)


def test_app_deactivation_past_the_deadline_ends_the_call_as_inactive(
    session: AudioSession, client: VoiceClient, clock: ManualClock
) -> None:
    call = established(client)
    with pytest.raises(SessionBusyError):
        session.deactivate()
    clock.advance(30.0)
    assert call.details.end_cause is EndCause.INACTIVE


@pytest.mark.parametrize("how", ["hangup", "deadline"])
def test_app_deactivation_ends_with_the_last_call(
    session: AudioSession,
    client: VoiceClient,
    backend: MemoryBackend,
    clock: ManualClock,
    log: EventLog,
    how: str,
) -> None:
    # Adversarial round 13: the 'application' interruption outlived the call it
    # interrupted, so the next call came up interrupted (no audio) and ended INACTIVE.
    call = established(client)
    with pytest.raises(SessionBusyError):
        session.deactivate()
    log.take()
    if how == "hangup":
        call.hangup()
    else:
        clock.advance(30.0)
    assert "interruption_ended(source='application', should_resume=False)" in log.take()
    assert not session.is_interrupted and client.grace_deadline is None
    check_invariants(session, client)
    backend.clear()
    second = established(client)
    assert not second.is_interrupted and session.is_active and backend.duplex_running
    clock.advance(31.0)
    assert second.state is CallState.ESTABLISHED
    check_invariants(session, client)


def test_app_deactivation_with_a_second_call_still_up_stays_open(
    session: AudioSession, client: VoiceClient
) -> None:
    first, second = established(client), established(client)
    with pytest.raises(SessionBusyError):
        session.deactivate()
    first.hangup()  # the second call still holds the session: it stays interrupted
    assert second.is_interrupted and [i.source for i in session.open_interruptions] == [
        "application"
    ]


def test_an_application_source_interruption_of_another_reason_stays_open(
    session: AudioSession, client: VoiceClient
) -> None:
    call = established(client)
    session.begin_interruption("application")  # the application's own begin, not deactivate()
    call.hangup()
    assert [i.source for i in session.open_interruptions] == ["application"]


def test_app_deactivation_while_already_interrupted_raises_nothing(
    session: AudioSession, client: VoiceClient
) -> None:
    established(client)
    session.begin_interruption("pstn")
    session.deactivate()  # no I/O runs any more: no error
    assert [i.source for i in session.open_interruptions] == ["pstn", "application"]


def test_forced_deactivation_with_a_sound_playing_raises_busy(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, log: EventLog
) -> None:
    client.audio_controller.start_busy_tone()
    assert backend.playback_running
    log.take()
    with pytest.raises(SessionBusyError):
        session.deactivate()
    assert not session.is_active and not backend.is_running
    assert client.audio_controller.sound is None
    assert log.take() == ["will_set_active(active=False)", "did_set_active(active=False)"]
    check_invariants(session, client)


# -- should_resume=False, deferred faults -----------------------------------------------------


def test_should_resume_false_resumes_the_call_but_not_the_sound(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, log: EventLog, tmp_path
) -> None:
    path = write_wav(tmp_path / "music.wav", np.zeros(800, dtype=np.int16))
    call = established(client)
    client.audio_controller.start_playing_sound_file(path, loop=True)
    session.begin_interruption("pstn")
    backend.clear()
    log.take()
    session.end_interruption("pstn", should_resume=False)
    assert log.take() == [
        "interruption_ended(source='pstn', should_resume=False)",
        "call_resumed(call=call-1)",
    ]
    assert backend.duplex_running and not backend.playback_running
    assert client.audio_controller.sound is None and not call.is_interrupted


def test_should_resume_false_drops_a_sound_played_without_a_call(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, log: EventLog
) -> None:
    client.audio_controller.start_busy_tone()
    session.begin_interruption("pstn")
    log.take()
    session.end_interruption("pstn", should_resume=False)
    assert log.take() == [
        "interruption_ended(source='pstn', should_resume=False)",
        "will_set_active(active=False)",
        "did_set_active(active=False)",
    ]
    assert client.audio_controller.sound is None
    assert session.activation_count == 0 and not session.is_active
    check_invariants(session, client)


def test_device_lost_during_an_interruption_is_acted_on_at_its_end(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, log: EventLog
) -> None:
    from callaudio.audio.base import FaultKind
    from callaudio.session import Port, Route, RouteChangeReason

    session.change_route(
        Route(Port.HEADSET_MIC, Port.HEADPHONES), RouteChangeReason.NEW_DEVICE_AVAILABLE
    )
    established(client)
    session.begin_interruption("pstn")
    backend.clear()
    backend.inject_fault(FaultKind.DEVICE_LOST, device="headset")
    assert backend.calls == []
    session.end_interruption("pstn")
    assert backend.calls[-2:] == [
        ("reset_echo_canceller",),
        ("start_duplex", client.stream_config()),
    ]
    assert backend.duplex_config is not None
    assert backend.duplex_config.output_port == Port.BUILT_IN_RECEIVER


# -- the production clock --------------------------------------------------------------------


def test_monotonic_clock_runs_the_rule_on_a_timer_thread() -> None:
    """The real clock with a 20 ms grace period: the call ends on the timer thread."""
    session = AudioSession(dispatcher=SynchronousDispatcher())
    ended = threading.Event()
    threads: list[str] = []

    class Observer:
        def on_call_ended(self, call: object, cause: EndCause) -> None:
            threads.append(threading.current_thread().name)
            ended.set()

    session.add_observer(Observer())
    client = VoiceClient(
        MemoryBackend(),
        session=session,
        policy=InterruptionPolicy(grace_period=0.02, clock=MonotonicClock()),
    )
    call = established(client)
    session.begin_interruption("pstn")
    assert ended.wait(5.0)
    assert call.details.end_cause is EndCause.GSM_CALL_DETECTED
    assert threads == ["callaudio-timer"]
    check_invariants(session, client)


def test_monotonic_clock_cancel_prevents_the_callback() -> None:
    clock = MonotonicClock()
    fired = threading.Event()
    # the cancelled deadline is 0.5 s out: at 10 ms a busy machine (load 9) sometimes let
    # it pass before cancel() ran, and the callback fired as it should have
    handle = clock.call_at(clock.now() + 0.5, fired.set)
    handle.cancel()
    assert handle.deadline > 0
    late = threading.Event()
    clock.call_at(clock.now() + 0.6, late.set)
    assert late.wait(10.0) and not fired.is_set()


class _FailingClock(ManualClock):
    """A manual clock whose call_at fails while ``fail`` is set, as MonotonicClock's does
    at the process's thread limit (Thread.start: "can't start new thread")."""

    fail = False

    def call_at(self, deadline: float, callback: Callable[[], None]) -> TimerHandle:
        if self.fail:
            raise RuntimeError("can't start new thread")
        return super().call_at(deadline, callback)


@pytest.mark.parametrize("when", ["interrupted while established", "established while interrupted"])
def test_a_grace_timer_that_cannot_start_ends_the_interrupted_calls(
    session: AudioSession, backend: MemoryBackend, when: str
) -> None:
    """The interruption is a fact (the device is taken), so it is recorded; without a
    deadline the call would hang in limbo, so it ends at once (ERROR, the clock's error)."""
    clock = _FailingClock()
    client = VoiceClient(backend, session=session, policy=InterruptionPolicy(clock=clock))
    if when == "interrupted while established":
        call = established(client)
        clock.fail = True
        assert session.begin_interruption("pstn")
    else:
        call = client.start_call()
        call.progress()
        call.ring()
        call.answer()
        session.begin_interruption("pstn")
        clock.fail = True
        call.establish()
    assert call.state is CallState.ENDED
    assert call.details.end_cause is EndCause.ERROR
    assert isinstance(call.details.error, RuntimeError)
    assert client.grace_deadline is None and session.is_interrupted
    check_invariants(session, client)
    clock.fail = False
    session.end_interruption("pstn")
    assert not session.is_active and session.activation_count == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("grace_period", 10**400), ("causes", [("pstn", EndCause.HUNG_UP)]), ("causes", "pstn")],
)
def test_an_interruption_policy_with_odd_values_is_a_config_error(
    field: str, value: object
) -> None:
    """10**400: OverflowError from math.isfinite; a non-mapping causes: AttributeError."""
    with pytest.raises(ConfigError, match=field):
        InterruptionPolicy(**{field: value})  # type: ignore[arg-type]
