"""AudioSession on its own: configuration rules, holds, interruptions, route, observers."""

from __future__ import annotations

import logging

import pytest

from callaudio.errors import (
    ActivationError,
    CallAudioError,
    ConfigError,
    InvalidCategoryOptionsError,
    InvalidStateError,
)
from callaudio.events import SynchronousDispatcher
from callaudio.session import (
    ALLOWED_OPTIONS,
    MODE_CATEGORIES,
    AudioSession,
    Category,
    CategoryOptions,
    HoldKind,
    InterruptionReason,
    Mode,
    Port,
    Route,
    RouteChangeReason,
    SessionConfiguration,
)

from .helpers import EventLog, check_invariants

C = Category
Opt = CategoryOptions
SINGLE_OPTIONS = [o for o in CategoryOptions if o is not Opt.NONE]


def test_defaults(session: AudioSession) -> None:
    assert session.configuration == SessionConfiguration(C.SOLO_AMBIENT, Mode.DEFAULT, Opt.NONE)
    assert (session.is_active, session.activation_count, session.is_interrupted) == (
        False,
        0,
        False,
    )
    assert session.preferred_sample_rate == 48000
    assert session.preferred_io_buffer_duration == 0.01
    assert session.device_route == Route(Port.BUILT_IN_MIC, Port.BUILT_IN_RECEIVER)
    # Outside PLAY_AND_RECORD the built-in output is the speaker (iOS).
    assert session.route.output == Port.BUILT_IN_SPEAKER


def test_shared_is_one_instance() -> None:
    assert AudioSession.shared() is AudioSession.shared()
    assert AudioSession() is not AudioSession.shared()


# -- Apple's option rules ------------------------------------------------------------------


def _expected_valid(category: Category, option: CategoryOptions) -> bool:
    mixing = {Opt.MIX_WITH_OTHERS, Opt.DUCK_OTHERS, Opt.INTERRUPT_SPOKEN_AUDIO_AND_MIX_WITH_OTHERS}
    if option in mixing:
        return category in (C.PLAY_AND_RECORD, C.PLAYBACK, C.MULTI_ROUTE)
    if option is Opt.ALLOW_BLUETOOTH:
        return category in (C.RECORD, C.PLAY_AND_RECORD)
    return category is C.PLAY_AND_RECORD  # DEFAULT_TO_SPEAKER, A2DP, AIR_PLAY


@pytest.mark.parametrize("category", list(Category), ids=lambda c: c.name)
@pytest.mark.parametrize("option", SINGLE_OPTIONS, ids=lambda o: o.name)
def test_option_validity_follows_apples_table(
    session: AudioSession, log: EventLog, category: Category, option: CategoryOptions
) -> None:
    session.set_category(C.PLAYBACK, Mode.SPOKEN_AUDIO, Opt.DUCK_OTHERS)
    before = session.configuration
    if _expected_valid(category, option):
        session.set_category(category, Mode.DEFAULT, option)
        assert option in session.options and session.category is category
    else:
        with pytest.raises(InvalidCategoryOptionsError) as info:
            session.set_category(category, Mode.DEFAULT, option)
        assert info.value.category == category.name and option.name in str(info.value)
        assert info.value.field == "options"
        assert isinstance(info.value, ConfigError) and isinstance(info.value, CallAudioError)
        assert session.configuration == before  # nothing changed
    assert log.lines == []


def test_allowed_table_matches_expectations() -> None:
    for category, allowed in ALLOWED_OPTIONS.items():
        for option in SINGLE_OPTIONS:
            assert (option in allowed) == _expected_valid(category, option), (category, option)


@pytest.mark.parametrize(
    "option",
    [Opt.DUCK_OTHERS, Opt.INTERRUPT_SPOKEN_AUDIO_AND_MIX_WITH_OTHERS],
    ids=lambda o: o.name,
)
def test_ducking_and_interrupting_imply_mixing(
    session: AudioSession, option: CategoryOptions
) -> None:
    session.set_category(C.PLAYBACK, options=option)
    assert session.options == option | Opt.MIX_WITH_OTHERS


def test_ambient_accepts_no_option_because_it_always_mixes(session: AudioSession) -> None:
    with pytest.raises(InvalidCategoryOptionsError, match="AMBIENT always mixes"):
        session.set_category(C.AMBIENT, options=Opt.MIX_WITH_OTHERS)


@pytest.mark.parametrize("mode", list(Mode), ids=lambda m: m.name)
@pytest.mark.parametrize("category", list(Category), ids=lambda c: c.name)
def test_mode_validity(session: AudioSession, mode: Mode, category: Category) -> None:
    before = session.configuration
    if category in MODE_CATEGORIES[mode]:
        session.set_category(category, mode)
        assert (session.category, session.mode) == (category, mode)
    else:
        with pytest.raises(InvalidCategoryOptionsError, match=f"mode {mode.name} not allowed"):
            session.set_category(category, mode)
        assert session.configuration == before


def test_voice_chat_needs_play_and_record_and_set_mode_checks(session: AudioSession) -> None:
    session.set_category(C.PLAYBACK)
    with pytest.raises(InvalidCategoryOptionsError):
        session.set_mode(Mode.VOICE_CHAT)
    assert session.mode is Mode.DEFAULT
    session.set_category(C.PLAY_AND_RECORD, Mode.VOICE_CHAT)
    assert Mode.VOICE_CHAT.voice_processing and not Mode.MEASUREMENT.voice_processing


def test_options_do_not_survive_a_category_change(session: AudioSession) -> None:
    session.set_category(
        C.PLAY_AND_RECORD, Mode.VOICE_CHAT, Opt.DEFAULT_TO_SPEAKER | Opt.ALLOW_BLUETOOTH
    )
    session.set_category(C.PLAYBACK)
    assert session.options is Opt.NONE or session.options == Opt.NONE
    # mode=None keeps a mode the new category allows, else falls back to DEFAULT
    assert session.mode is Mode.DEFAULT
    session.set_category(C.PLAYBACK, Mode.SPOKEN_AUDIO)
    session.set_category(C.PLAY_AND_RECORD)
    assert session.mode is Mode.SPOKEN_AUDIO


def test_bad_types_are_config_errors(session: AudioSession) -> None:
    with pytest.raises(ConfigError, match="category"):
        session.set_category("playback")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="mode"):
        session.set_category(C.PLAYBACK, "default")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="options"):
        session.set_category(C.PLAYBACK, options=1 << 12)  # type: ignore[arg-type]


def test_snapshot_and_restore(session: AudioSession, log: EventLog) -> None:
    session.set_category(C.PLAYBACK, Mode.SPOKEN_AUDIO, Opt.DUCK_OTHERS)
    snap = session.snapshot()
    session.set_category(C.PLAY_AND_RECORD, Mode.VOICE_CHAT, Opt.ALLOW_BLUETOOTH)
    session.restore(snap)
    assert session.configuration == snap
    assert log.lines == [
        "configuration_restored(configuration=PLAYBACK/SPOKEN_AUDIO/MIX_WITH_OTHERS|DUCK_OTHERS)"
    ]


# -- preferred rate and buffer ---------------------------------------------------------------


@pytest.mark.parametrize("hz", [16000, 32000, 48000])
def test_preferred_sample_rate(session: AudioSession, hz: int) -> None:
    session.set_preferred_sample_rate(hz)
    assert session.preferred_sample_rate == hz


@pytest.mark.parametrize("hz", [0, 7999, 192001, 44100.0, True, "48000"])
def test_bad_sample_rate_changes_nothing(session: AudioSession, hz: object) -> None:
    with pytest.raises(ConfigError, match="preferred_sample_rate"):
        session.set_preferred_sample_rate(hz)  # type: ignore[arg-type]
    assert session.preferred_sample_rate == 48000


@pytest.mark.parametrize("seconds", [0.0, 0.0005, 0.6, float("nan"), float("inf")])
def test_bad_io_buffer_changes_nothing(session: AudioSession, seconds: float) -> None:
    with pytest.raises(ConfigError, match="preferred_io_buffer_duration"):
        session.set_preferred_io_buffer_duration(seconds)
    session.set_preferred_io_buffer_duration(0.02)
    assert session.preferred_io_buffer_duration == 0.02


# -- holds -------------------------------------------------------------------------------------


def test_activate_and_release_count(session: AudioSession, log: EventLog) -> None:
    a = session.activate()
    b = session.activate("game")
    assert (session.activation_count, session.is_active) == (2, True)
    a.release()
    assert (session.activation_count, session.is_active) == (1, True)
    b.release()
    assert (session.activation_count, session.is_active) == (0, False)
    assert log.take() == [
        "will_set_active(active=True)",
        "did_set_active(active=True)",
        "will_set_active(active=False)",
        "did_set_active(active=False)",
    ]
    assert a.kind is HoldKind.APPLICATION and b.owner == "game"


def test_hold_is_a_context_manager(session: AudioSession) -> None:
    with session.activate() as hold:
        assert session.is_active and hold.live
    assert not session.is_active and hold.released and not hold.live


def test_unbalanced_release_warns_and_changes_nothing(
    session: AudioSession, log: EventLog, caplog: pytest.LogCaptureFixture
) -> None:
    keep = session.activate()
    gone = session.activate()
    gone.release()
    log.take()
    with caplog.at_level(logging.WARNING, logger="callaudio.session"):
        gone.release()
    assert "unbalanced release" in caplog.text
    assert (session.activation_count, session.is_active, session.holds) == (1, True, (keep,))
    assert log.lines == []


def test_activation_fails_while_a_higher_priority_session_holds_the_device(
    session: AudioSession, log: EventLog
) -> None:
    session.begin_interruption("pstn")
    log.take()
    with pytest.raises(
        ActivationError, match=r"higher-priority session holds the device.*'pstn'"
    ) as info:
        session.activate()
    assert info.value.holder == "pstn"
    assert log.take() == [
        "will_set_active(active=True)",
        f"failed_to_set_active(active=True, error={info.value})",
    ]
    assert (session.activation_count, session.is_active) == (0, False)


def test_deactivate_without_calls_revokes_every_hold(session: AudioSession, log: EventLog) -> None:
    a = session.activate()
    log.take()
    session.deactivate()  # no I/O runs: no SessionBusyError
    assert a.revoked and session.activation_count == 0 and not session.is_active
    assert log.take() == ["will_set_active(active=False)", "did_set_active(active=False)"]
    a.release()  # releasing a revoked hold is a quiet no-op
    session.deactivate()  # already inactive: nothing
    assert log.lines == []


# -- interruptions without a client ------------------------------------------------------------


def test_interruption_keeps_the_invariant(session: AudioSession, log: EventLog) -> None:
    hold = session.activate()
    log.take()
    assert session.begin_interruption("pstn", voip=False)
    check_invariants(session)
    assert not session.is_active
    assert not session.begin_interruption("pstn")  # repeated begin: nothing
    assert session.begin_interruption("alarm", InterruptionReason.DEFAULT)
    assert [i.source for i in session.open_interruptions] == ["pstn", "alarm"]
    assert session.end_interruption("pstn", should_resume=False)
    assert not session.is_active
    assert session.end_interruption("alarm")
    assert session.is_active
    check_invariants(session)
    hold.release()
    assert log.take() == [
        "interruption_began(reason=DEFAULT, source='pstn')",
        "interruption_began(reason=DEFAULT, source='alarm')",
        "interruption_ended(source='pstn', should_resume=False)",
        "interruption_ended(source='alarm', should_resume=True)",
        "will_set_active(active=False)",
        "did_set_active(active=False)",
    ]


def test_ending_an_unknown_interruption_warns(
    session: AudioSession, log: EventLog, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="callaudio.session"):
        assert not session.end_interruption("nobody")
    assert "not open" in caplog.text and log.lines == []


def test_interruption_reason_is_checked(session: AudioSession) -> None:
    with pytest.raises(ConfigError, match="reason"):
        session.begin_interruption("x", "phone")  # type: ignore[arg-type]
    assert not session.is_interrupted


# -- route -------------------------------------------------------------------------------------


def test_route_rules(session: AudioSession, log: EventLog) -> None:
    with pytest.raises(
        InvalidStateError, match="can't override the output to the speaker when SOLO_AMBIENT"
    ):
        session.override_output_to_speaker(True)
    session.set_category(C.PLAY_AND_RECORD, Mode.VOICE_CHAT)
    assert session.route == Route(Port.BUILT_IN_MIC, Port.BUILT_IN_RECEIVER)
    session.set_category(C.PLAY_AND_RECORD, Mode.VOICE_CHAT, Opt.DEFAULT_TO_SPEAKER)
    assert session.route.output == Port.BUILT_IN_SPEAKER
    session.set_category(C.PLAY_AND_RECORD, Mode.VOICE_CHAT)
    session.override_output_to_speaker(True)
    session.override_output_to_speaker(True)  # no change, no event
    assert session.route.output == Port.BUILT_IN_SPEAKER
    headset = Route(Port.HEADSET_MIC, Port.HEADPHONES)
    session.change_route(headset, RouteChangeReason.NEW_DEVICE_AVAILABLE)
    assert not session.speaker_override and session.route == headset
    assert log.take() == [
        "route_changed(reason=OVERRIDE, previous=built_in_mic->built_in_receiver)",
        "route_changed(reason=NEW_DEVICE_AVAILABLE, previous=built_in_mic->built_in_speaker)",
    ]


def test_route_change_while_interrupted_keeps_the_override(session: AudioSession) -> None:
    session.set_category(C.PLAY_AND_RECORD, Mode.VOICE_CHAT)
    session.override_output_to_speaker(True)
    session.begin_interruption("pstn")
    session.change_route(
        Route(Port.HEADSET_MIC, Port.HEADPHONES), RouteChangeReason.NEW_DEVICE_AVAILABLE
    )
    assert session.speaker_override and session.device_route.output == Port.HEADPHONES
    with pytest.raises(ConfigError, match="reason"):
        session.change_route(Route(), "unplugged")  # type: ignore[arg-type]


# -- observers ---------------------------------------------------------------------------------


def test_observers_in_registration_order_and_a_raising_one_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = AudioSession(dispatcher=SynchronousDispatcher())
    calls: list[str] = []

    class First:
        def on_did_set_active(self, active: bool) -> None:
            calls.append(f"first {active}")

    class Broken:
        def on_did_set_active(self, active: bool) -> None:
            raise RuntimeError("observer bug")

    class Last:
        def on_did_set_active(self, active: bool) -> None:
            calls.append(f"last {active}")

    broken = Broken()
    for obs in (First(), broken, Last()):
        session.add_observer(obs)
    session.add_observer(broken)  # once only
    with caplog.at_level(logging.ERROR, logger="callaudio.events"):
        with session.activate():
            pass
    assert calls == ["first True", "last True", "first False", "last False"]
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.ERROR]
    session.remove_observer(broken)
    caplog.clear()
    with session.activate():
        pass
    assert "observer bug" not in caplog.text


def test_observer_reentering_the_session_sees_finished_transitions(session: AudioSession) -> None:
    seen: list[tuple[bool, int]] = []

    class Reentrant:
        def on_did_set_active(self, active: bool) -> None:
            seen.append((session.is_active, session.activation_count))
            if active:
                session.restore(session.snapshot())  # re-entry from an observer is allowed

    log = EventLog()
    session.add_observer(Reentrant())
    session.add_observer(log)
    with session.activate():
        pass
    assert seen == [(True, 1), (False, 0)]
    # the re-entrant event comes after the events already queued, not in the middle
    assert log.names() == [
        "will_set_active",
        "did_set_active",
        "configuration_restored",
        "will_set_active",
        "did_set_active",
    ]


def test_unknown_event_names_are_refused(session: AudioSession) -> None:
    with pytest.raises(ValueError, match="unknown event"):
        session.emit("did_explode")
