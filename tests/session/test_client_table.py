"""The session spec's transition table, row by row: exact events, state and backend requests."""

from __future__ import annotations

import pytest

from callaudio.audio.base import FaultKind, StreamConfig
from callaudio.audio.recording import MemoryBackend
from callaudio.call import CallState, EndCause
from callaudio.client import VoiceClient
from callaudio.clock import ManualClock
from callaudio.errors import BackendError, ConfigError, InvalidStateError
from callaudio.session import (
    AudioSession,
    Category,
    CategoryOptions,
    Mode,
    Port,
    Route,
    RouteChangeReason,
    SessionConfiguration,
)

from .helpers import EventLog, check_invariants, established

C = Category
Opt = CategoryOptions
CALL_CONFIG = SessionConfiguration(C.PLAY_AND_RECORD, Mode.VOICE_CHAT, Opt.ALLOW_BLUETOOTH)
APP_CONFIG = SessionConfiguration(
    C.PLAYBACK, Mode.SPOKEN_AUDIO, Opt.DUCK_OTHERS | Opt.MIX_WITH_OTHERS
)
HEADSET = Route(Port.HEADSET_MIC, Port.HEADPHONES)


def duplex(
    output: str = Port.BUILT_IN_RECEIVER, input: str = Port.BUILT_IN_MIC
) -> tuple[str, StreamConfig]:
    return ("start_duplex", StreamConfig(48000, 0.01, True, input, output))


@pytest.fixture
def app_configured(session: AudioSession) -> SessionConfiguration:
    session.set_configuration(APP_CONFIG)
    return session.configuration


def test_row1_first_call_established(
    session: AudioSession,
    client: VoiceClient,
    backend: MemoryBackend,
    log: EventLog,
    app_configured: SessionConfiguration,
) -> None:
    call = client.start_call("alice")
    call.progress()
    call.ring()
    call.answer()
    assert log.take() == [
        "call_progressing(call=call-1)",
        "call_ringing(call=call-1)",
        "call_answered(call=call-1)",
    ]
    assert backend.calls == [] and not session.is_active
    call.establish()
    assert log.take() == [
        "will_set_active(active=True)",
        "did_set_active(active=True)",
        "call_established(call=call-1)",
    ]
    assert client.snapshot == app_configured
    assert session.configuration == CALL_CONFIG
    assert (session.is_active, session.activation_count, session.call_hold_count) == (True, 1, 1)
    assert backend.calls == [duplex()]
    check_invariants(session, client)


def test_row1_uses_the_clients_call_options_and_mode(
    session: AudioSession, backend: MemoryBackend, clock: ManualClock
) -> None:
    from callaudio.session import InterruptionPolicy

    client = VoiceClient(
        backend,
        session=session,
        policy=InterruptionPolicy(clock=clock),
        call_options=Opt.DEFAULT_TO_SPEAKER | Opt.ALLOW_BLUETOOTH_A2DP,
        call_mode=Mode.MEASUREMENT,
    )
    established(client, incoming=True)
    assert session.configuration == SessionConfiguration(
        C.PLAY_AND_RECORD, Mode.MEASUREMENT, Opt.DEFAULT_TO_SPEAKER | Opt.ALLOW_BLUETOOTH_A2DP
    )
    # MEASUREMENT bypasses the processing chain; DEFAULT_TO_SPEAKER routes to the speaker
    assert backend.calls == [
        ("start_duplex", StreamConfig(48000, 0.01, False, Port.BUILT_IN_MIC, Port.BUILT_IN_SPEAKER))
    ]
    with pytest.raises(ConfigError):
        VoiceClient(
            backend,
            session=session,
            call_options=Opt.MIX_WITH_OTHERS,
            call_mode=Mode.MOVIE_PLAYBACK,
        )


def test_rows_2_3_4_two_concurrent_calls_restore_once(
    session: AudioSession,
    client: VoiceClient,
    backend: MemoryBackend,
    log: EventLog,
    app_configured: SessionConfiguration,
) -> None:
    first = established(client)
    log.take()
    second = established(client, incoming=True)
    # row 2: one more hold, no new snapshot, no new stream
    assert log.take() == ["call_answered(call=call-2)", "call_established(call=call-2)"]
    assert (session.activation_count, session.call_hold_count) == (2, 2)
    assert client.snapshot == app_configured
    assert backend.calls == [duplex()]
    # row 3 for the first call: the second keeps its audio
    first.hangup()
    assert log.take() == ["call_ended(call=call-1, cause=HUNG_UP)"]
    assert session.is_active and session.configuration == CALL_CONFIG
    assert backend.duplex_running and backend.calls == [duplex()]
    check_invariants(session, client)
    # rows 3 + 4 for the last call: stop audio, deactivate, restore (once)
    second.end(EndCause.CANCELED)
    assert log.take() == [
        "call_ended(call=call-2, cause=CANCELED)",
        "will_set_active(active=False)",
        "did_set_active(active=False)",
        f"configuration_restored(configuration={app_configured})",
    ]
    assert session.configuration == app_configured
    assert (session.is_active, session.activation_count) == (False, 0)
    assert backend.calls == [duplex(), ("stop_duplex",)]
    assert client.calls == ()
    check_invariants(session, client)


def test_row4_clears_speaker_override_and_mute(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, log: EventLog
) -> None:
    call = established(client)
    client.audio_controller.enable_speaker()
    client.audio_controller.mute()
    log.take()
    backend.clear()
    call.hangup()
    assert log.take() == [
        "call_ended(call=call-1, cause=HUNG_UP)",
        "will_set_active(active=False)",
        "did_set_active(active=False)",
        "configuration_restored(configuration=SOLO_AMBIENT/DEFAULT/NONE)",
        "route_changed(reason=OVERRIDE, previous=built_in_mic->built_in_speaker)",
        "speaker_disabled()",
        "unmuted()",
    ]
    assert backend.calls == [("stop_duplex",), ("set_speaker", False), ("set_muted", False)]
    assert not session.speaker_override
    assert not client.audio_controller.is_muted and not client.audio_controller.is_speaker_enabled


def test_rule2_application_holds_end_with_the_last_call(
    session: AudioSession, client: VoiceClient, log: EventLog
) -> None:
    mine = session.activate()
    call = established(client)
    assert session.activation_count == 2
    log.take()
    call.hangup()
    assert mine.revoked and not session.is_active and session.activation_count == 0
    assert log.take()[:3] == [
        "call_ended(call=call-1, cause=HUNG_UP)",
        "will_set_active(active=False)",
        "did_set_active(active=False)",
    ]
    mine.release()  # quiet: it was revoked
    with session.activate():  # the application reactivates for its own audio
        assert session.is_active


def test_row5_interruption_begins(
    session: AudioSession,
    client: VoiceClient,
    backend: MemoryBackend,
    log: EventLog,
    clock: ManualClock,
) -> None:
    call = established(client)
    clock.advance(5.0)
    log.take()
    backend.clear()
    session.begin_interruption("pstn")
    assert log.take() == [
        "interruption_began(reason=DEFAULT, source='pstn')",
        "call_interrupted(call=call-1)",
    ]
    assert backend.calls == [("stop_duplex",)]
    assert not session.is_active and session.activation_count == 1
    assert call.state is CallState.ESTABLISHED and call.is_interrupted
    assert client.grace_deadline == 35.0
    check_invariants(session, client)


def test_row6_interruption_ended_at_29_9_s_resumes_with_everything_reapplied(
    session: AudioSession,
    client: VoiceClient,
    backend: MemoryBackend,
    log: EventLog,
    clock: ManualClock,
) -> None:
    call = established(client)
    client.audio_controller.enable_speaker()
    session.begin_interruption("pstn")
    # someone changes the session while we are interrupted
    session.set_category(C.PLAYBACK, Mode.MOVIE_PLAYBACK)
    clock.advance(29.9)
    assert call.state is CallState.ESTABLISHED and call.is_interrupted
    log.take()
    backend.clear()
    session.end_interruption("pstn")
    assert log.take() == [
        "interruption_ended(source='pstn', should_resume=True)",
        "call_resumed(call=call-1)",
    ]
    assert session.configuration == CALL_CONFIG
    assert session.speaker_override and session.is_active and not call.is_interrupted
    assert backend.calls == [
        ("set_speaker", True),
        ("reset_echo_canceller",),
        duplex(Port.BUILT_IN_SPEAKER),
    ]
    assert client.grace_deadline is None and clock.pending == 0
    clock.advance(60.0)  # the cancelled deadline never fires
    assert call.state is CallState.ESTABLISHED
    check_invariants(session, client)


def test_row7_deadline_at_30_s_ends_the_call_and_restores(
    session: AudioSession,
    client: VoiceClient,
    backend: MemoryBackend,
    log: EventLog,
    clock: ManualClock,
    app_configured: SessionConfiguration,
) -> None:
    call = established(client)
    session.begin_interruption("pstn")
    clock.advance(29.999)
    assert call.state is CallState.ESTABLISHED
    log.take()
    backend.clear()
    clock.advance(0.001)
    assert clock.now() == 30.0
    assert log.take() == [
        "call_ended(call=call-1, cause=GSM_CALL_DETECTED)",
        "will_set_active(active=False)",
        "did_set_active(active=False)",
        f"configuration_restored(configuration={app_configured})",
    ]
    assert call.details.end_cause is EndCause.GSM_CALL_DETECTED and call.details.ended_at == 30.0
    assert session.configuration == app_configured
    assert (session.is_active, session.activation_count) == (False, 0)
    assert backend.calls == []  # the audio had already stopped at the interruption
    check_invariants(session, client)
    # the interruption ends later: no reactivation, but the event is still emitted
    session.end_interruption("pstn")
    assert log.take() == ["interruption_ended(source='pstn', should_resume=True)"]
    assert not session.is_active and backend.calls == []


def test_row7_voip_source_ends_with_voip_call_detected(
    session: AudioSession, client: VoiceClient, log: EventLog, clock: ManualClock
) -> None:
    call = established(client)
    session.begin_interruption("other-app", voip=True)
    clock.advance(30.0)
    assert call.details.end_cause is EndCause.VOIP_CALL_DETECTED


def test_row7_ends_every_interrupted_call(
    session: AudioSession, client: VoiceClient, log: EventLog, clock: ManualClock
) -> None:
    a = established(client)
    b = established(client)
    session.begin_interruption("pstn")
    log.take()
    clock.advance(30.0)
    assert log.take() == [
        "call_ended(call=call-1, cause=GSM_CALL_DETECTED)",
        "call_ended(call=call-2, cause=GSM_CALL_DETECTED)",
        "will_set_active(active=False)",
        "did_set_active(active=False)",
        "configuration_restored(configuration=SOLO_AMBIENT/DEFAULT/NONE)",
    ]
    assert a.state is b.state is CallState.ENDED


def test_row8_device_change_clears_override_and_resets_echo_canceller(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, log: EventLog
) -> None:
    established(client)
    client.audio_controller.enable_speaker()
    log.take()
    backend.clear()
    session.change_route(HEADSET, RouteChangeReason.NEW_DEVICE_AVAILABLE)
    assert log.take() == [
        "route_changed(reason=NEW_DEVICE_AVAILABLE, previous=built_in_mic->built_in_speaker)",
        "speaker_disabled()",
    ]
    assert backend.calls == [
        ("set_speaker", False),
        ("stop_duplex",),
        ("reset_echo_canceller",),
        duplex(Port.HEADPHONES, Port.HEADSET_MIC),
    ]
    assert not session.speaker_override and not client.audio_controller.is_speaker_enabled


def test_row8_speaker_toggle_resets_echo_canceller(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, log: EventLog
) -> None:
    established(client)
    log.take()
    backend.clear()
    client.audio_controller.enable_speaker()
    assert log.take() == [
        "route_changed(reason=OVERRIDE, previous=built_in_mic->built_in_receiver)",
        "speaker_enabled()",
    ]
    assert backend.calls == [("set_speaker", True), ("reset_echo_canceller",)]
    client.audio_controller.disable_speaker()
    assert log.take() == [
        "route_changed(reason=OVERRIDE, previous=built_in_mic->built_in_speaker)",
        "speaker_disabled()",
    ]


def test_row8_while_interrupted_only_recorded(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, log: EventLog
) -> None:
    established(client)
    client.audio_controller.enable_speaker()
    session.begin_interruption("pstn")
    log.take()
    backend.clear()
    session.change_route(HEADSET, RouteChangeReason.NEW_DEVICE_AVAILABLE)
    assert log.take() == [
        "route_changed(reason=NEW_DEVICE_AVAILABLE, previous=built_in_mic->built_in_speaker)"
    ]
    assert backend.calls == []  # only recorded
    session.end_interruption("pstn")
    # acted on at the resume: echo canceller reset, stream restarted on the new devices,
    # the speaker override (the user's choice) reapplied
    assert backend.calls == [
        ("set_speaker", True),
        ("reset_echo_canceller",),
        duplex(Port.BUILT_IN_SPEAKER, Port.HEADSET_MIC),
    ]


def test_row8_device_lost_fault_falls_back_to_built_in(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, log: EventLog
) -> None:
    session.change_route(HEADSET, RouteChangeReason.NEW_DEVICE_AVAILABLE)
    established(client)
    log.take()
    backend.clear()
    backend.inject_fault(FaultKind.DEVICE_LOST, "USB headset unplugged", device="headset")
    assert log.take() == [
        "route_changed(reason=OLD_DEVICE_UNAVAILABLE, previous=headset_mic->headphones)"
    ]
    assert backend.calls == [("stop_duplex",), ("reset_echo_canceller",), duplex()]


def test_row9_media_services_reset_rebuilds_and_drops_the_sound_file(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, log: EventLog, tmp_path
) -> None:
    import numpy as np

    from .helpers import write_wav

    established(client)
    client.audio_controller.enable_speaker()
    client.audio_controller.mute()
    path = write_wav(tmp_path / "beep.wav", np.arange(100) * 10)
    client.audio_controller.start_playing_sound_file(path, loop=True)
    log.take()
    backend.clear()
    backend.inject_fault(FaultKind.MEDIA_SERVICES_RESET, "PortAudio: host error")
    assert log.take() == ["media_services_lost()", "media_services_reset()"]
    assert backend.calls == [
        ("stop_playback",),
        ("stop_duplex",),
        ("set_muted", True),
        ("set_speaker", True),
        ("reset_echo_canceller",),
        duplex(Port.BUILT_IN_SPEAKER),
    ]
    assert client.audio_controller.sound is None  # never restarted by itself
    assert session.is_active and session.configuration == CALL_CONFIG
    check_invariants(session, client)


def test_row9_during_an_interruption_is_acted_on_at_its_end(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, log: EventLog
) -> None:
    established(client)
    session.begin_interruption("pstn")
    log.take()
    backend.clear()
    backend.inject_fault(FaultKind.MEDIA_SERVICES_RESET, "sound server restarted")
    assert log.take() == ["media_services_lost()"]
    assert backend.calls == []
    session.end_interruption("pstn")
    assert log.take() == [
        "interruption_ended(source='pstn', should_resume=True)",
        "call_resumed(call=call-1)",
        "media_services_reset()",
    ]
    assert backend.calls == [("set_speaker", False), ("reset_echo_canceller",), duplex()]


def test_row9_without_a_call(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, log: EventLog
) -> None:
    backend.inject_fault(FaultKind.MEDIA_SERVICES_RESET)
    assert log.take() == ["media_services_lost()", "media_services_reset()"]
    assert not session.is_active and not backend.duplex_running


def test_audio_start_failure_ends_the_call_with_error(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, log: EventLog
) -> None:
    call = client.start_call()
    call.answer()
    log.take()
    backend.fail_next("start_duplex", OSError("no default input device"))
    with pytest.raises(BackendError, match="no default input device"):
        call.establish()
    assert call.state is CallState.ENDED and call.details.end_cause is EndCause.ERROR
    assert isinstance(call.details.error, OSError)
    assert log.take() == [
        "will_set_active(active=True)",
        "did_set_active(active=True)",
        "call_ended(call=call-1, cause=ERROR)",
        "will_set_active(active=False)",
        "did_set_active(active=False)",
        "configuration_restored(configuration=SOLO_AMBIENT/DEFAULT/NONE)",
    ]
    check_invariants(session, client)


def test_illegal_transition_through_the_client_changes_nothing(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, log: EventLog
) -> None:
    from callaudio.errors import InvalidStateError

    call = established(client)
    call.hangup()
    log.take()
    backend.clear()
    before = session.configuration
    with pytest.raises(InvalidStateError, match=r"^can't establish when ENDED$"):
        call.establish()
    assert log.lines == [] and backend.calls == [] and session.configuration == before
    assert not session.is_active


def test_close_ends_calls_and_detaches(
    session: AudioSession, backend: MemoryBackend, clock: ManualClock, log: EventLog
) -> None:
    from callaudio.session import InterruptionPolicy

    with VoiceClient(backend, session=session, policy=InterruptionPolicy(clock=clock)) as client:
        established(client)
    assert not session.is_active and client.calls == ()
    log.take()
    backend.inject_fault(FaultKind.MEDIA_SERVICES_RESET)
    assert log.lines == []
    with pytest.raises(InvalidStateError, match="closed"):  # a state error, not a config one
        client.start_call()


def test_unknown_backend_name() -> None:
    with pytest.raises(ConfigError, match="unknown backend 'portaudio'"):
        VoiceClient("portaudio", session=AudioSession())


def test_two_clients_on_one_session_restore_once(
    session: AudioSession, clock: ManualClock, log: EventLog, app_configured: SessionConfiguration
) -> None:
    from callaudio.session import InterruptionPolicy

    backends = [MemoryBackend(), MemoryBackend()]
    a, b = (
        VoiceClient(be, session=session, policy=InterruptionPolicy(clock=clock)) for be in backends
    )
    first = established(a)
    second = established(b)
    assert session.call_hold_count == 2 and a.snapshot == b.snapshot == app_configured
    assert backends[0].duplex_running and backends[1].duplex_running
    log.take()
    first.hangup()
    assert log.take() == ["call_ended(call=call-1, cause=HUNG_UP)"]
    assert not backends[0].duplex_running and backends[1].duplex_running  # its own stream only
    assert session.is_active and session.configuration == CALL_CONFIG
    second.hangup()
    assert log.take() == [
        "call_ended(call=call-1, cause=HUNG_UP)",
        "will_set_active(active=False)",
        "did_set_active(active=False)",
        f"configuration_restored(configuration={app_configured})",
    ]
    assert session.configuration == app_configured and not backends[1].duplex_running


def test_row9_audio_that_cannot_restart_ends_the_call_with_error(
    session: AudioSession,
    client: VoiceClient,
    backend: MemoryBackend,
    log: EventLog,
    app_configured: SessionConfiguration,
) -> None:
    """A reset after which the device will not open again: the call must not stay
    ESTABLISHED with no audio; it ends with ERROR and the session restores."""
    call = established(client)
    log.take()
    failure = BackendError("start_duplex", "device vanished")
    backend.fail_next("start_duplex", failure)
    backend.inject_fault(FaultKind.MEDIA_SERVICES_RESET, "sound server gone")
    assert call.state is CallState.ENDED
    assert call.details.end_cause is EndCause.ERROR and call.details.error is failure
    assert log.take() == [
        "media_services_lost()",
        "call_ended(call=call-1, cause=ERROR)",
        "will_set_active(active=False)",
        "did_set_active(active=False)",
        f"configuration_restored(configuration={APP_CONFIG})",
        "media_services_reset()",
    ]
    assert not session.is_active and session.configuration == APP_CONFIG
    check_invariants(session, client)
