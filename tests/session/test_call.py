"""The call's forward-only state machine, on its own (no session, no audio)."""

from __future__ import annotations

import pytest

from callaudio.call import TRANSITIONS, Call, CallDirection, CallState, EndCause
from callaudio.client import VoiceClient
from callaudio.clock import ManualClock
from callaudio.errors import CallAudioError, ConfigError, InvalidStateError

S = CallState
OUT = CallDirection.OUTGOING
IN = CallDirection.INCOMING

# The shortest event path from INITIATING to each state, per direction.
PATHS = {
    (OUT, S.INITIATING): [],
    (OUT, S.PROGRESSING): ["progress"],
    (OUT, S.RINGING): ["progress", "ring"],
    (OUT, S.ANSWERED): ["progress", "ring", "answer"],
    (OUT, S.ESTABLISHED): ["progress", "ring", "answer", "establish"],
    (OUT, S.ENDED): ["end"],
    (IN, S.INITIATING): [],
    (IN, S.ANSWERED): ["answer"],
    (IN, S.ESTABLISHED): ["answer", "establish"],
    (IN, S.ENDED): ["end"],
}

ALLOWED = {
    (OUT, S.INITIATING): {"progress", "ring", "answer", "end"},
    (OUT, S.PROGRESSING): {"ring", "answer", "end"},
    (OUT, S.RINGING): {"answer", "end"},
    (OUT, S.ANSWERED): {"establish", "end"},
    (OUT, S.ESTABLISHED): {"end"},
    (OUT, S.ENDED): set(),
    (IN, S.INITIATING): {"answer", "end"},
    (IN, S.ANSWERED): {"establish", "end"},
    (IN, S.ESTABLISHED): {"end"},
    (IN, S.ENDED): set(),
}


def make(direction: CallDirection, state: CallState, clock: ManualClock | None = None) -> Call:
    call = Call(direction, call_id="c", clock=clock or ManualClock())
    for event in PATHS[(direction, state)]:
        getattr(call, event)()
    assert call.state is state
    return call


def fire(call: Call, event: str) -> None:
    getattr(call, event)()


def test_outgoing_path_records_times() -> None:
    clock = ManualClock(100.0)
    call = Call(OUT, call_id="c1", remote="alice", clock=clock)
    assert (call.state, call.details.started_at, call.details.end_cause) == (
        S.INITIATING,
        100.0,
        EndCause.NONE,
    )
    for event, state, field in [
        ("progress", S.PROGRESSING, "progressed_at"),
        ("ring", S.RINGING, "rang_at"),
        ("answer", S.ANSWERED, "answered_at"),
        ("establish", S.ESTABLISHED, "established_at"),
    ]:
        clock.advance(1.5)
        fire(call, event)
        assert call.state is state
        assert getattr(call.details, field) == clock.now()
    clock.advance(60.0)
    call.hangup()
    d = call.details
    assert (call.state, d.end_cause, d.ended_at, d.duration) == (
        S.ENDED,
        EndCause.HUNG_UP,
        166.0,
        60.0,
    )
    assert not call.is_live


def test_incoming_path_answer_then_establish() -> None:
    call = make(IN, S.ESTABLISHED)
    assert call.details.progressed_at is None and call.details.rang_at is None
    call.end(EndCause.OTHER_DEVICE_ANSWERED)
    assert call.details.end_cause is EndCause.OTHER_DEVICE_ANSWERED


def test_table_is_forward_only() -> None:
    order = list(CallState)
    for row in TRANSITIONS.values():
        assert all(order.index(src) < order.index(row.target) for src in row.sources), row


CASES = [(direction, state, event) for (direction, state) in PATHS for event in TRANSITIONS]


@pytest.mark.parametrize(
    ("direction", "state", "event"),
    CASES,
    ids=[f"{d.name.lower()}-{s.name}-{e}" for d, s, e in CASES],
)
def test_every_event_in_every_state(direction: CallDirection, state: CallState, event: str) -> None:
    call = make(direction, state)
    before = (call.state, vars(call.details).copy())
    if event in ALLOWED[(direction, state)]:
        fire(call, event)
        assert call.state is TRANSITIONS[event].target
        return
    with pytest.raises(InvalidStateError) as info:
        fire(call, event)
    err = info.value
    assert (err.event, err.state) == (event, state.name)
    assert str(err).startswith(f"can't {event} when {state.name}")
    assert isinstance(err, CallAudioError)
    assert (call.state, vars(call.details)) == before  # nothing changed


def test_incoming_call_cannot_progress_and_says_why() -> None:
    call = make(IN, S.INITIATING)
    with pytest.raises(
        InvalidStateError, match=r"can't progress when INITIATING \(only an outgoing"
    ):
        call.progress()
    with pytest.raises(InvalidStateError, match="can't ring when INITIATING"):
        call.ring()


def test_establish_after_end_is_refused() -> None:
    call = make(OUT, S.ENDED)
    with pytest.raises(InvalidStateError, match=r"^can't establish when ENDED$"):
        call.establish()


@pytest.mark.parametrize("cause", [EndCause.NONE, "hung_up", None])
def test_end_needs_a_real_cause(cause: object) -> None:
    call = make(OUT, S.RINGING)
    with pytest.raises(ConfigError, match="cause"):
        call.end(cause)  # type: ignore[arg-type]
    assert call.state is S.RINGING


def test_end_keeps_the_error() -> None:
    call = make(OUT, S.ANSWERED)
    boom = RuntimeError("device gone")
    call.end(EndCause.ERROR, error=boom)
    assert call.details.error is boom and call.details.end_cause is EndCause.ERROR


def test_direction_must_be_an_enum() -> None:
    with pytest.raises(ConfigError, match="direction"):
        Call("outgoing")  # type: ignore[arg-type]


def test_can_reports_without_side_effects() -> None:
    call = make(OUT, S.RINGING)
    assert call.can("answer") and call.can("end")
    assert not call.can("progress") and not call.can("establish")
    assert call.state is S.RINGING
    with pytest.raises(ValueError, match="unknown call event"):
        call.can("teleport")
    for bad in (["answer"], {}, b"answer"):  # unhashable ones were a TypeError
        with pytest.raises(ConfigError, match="unknown call event"):
            call.can(bad)  # type: ignore[arg-type]


def test_listener_sees_each_transition_after_the_change() -> None:
    seen: list[tuple[str, CallState, CallState]] = []

    class Listener:
        def call_transitioned(self, call: Call, event: str, previous: CallState) -> None:
            seen.append((event, previous, call.state))

    call = Call(OUT, listener=Listener(), clock=ManualClock())
    call.progress()
    call.answer()
    call.establish()
    call.end(EndCause.TIMEOUT)
    assert seen == [
        ("progress", S.INITIATING, S.PROGRESSING),
        ("answer", S.PROGRESSING, S.ANSWERED),
        ("establish", S.ANSWERED, S.ESTABLISHED),
        ("end", S.ESTABLISHED, S.ENDED),
    ]


def test_interrupted_flag_only_on_established_calls() -> None:
    call = make(OUT, S.RINGING)
    call.set_interrupted(True)
    assert not call.is_interrupted
    call.answer()
    call.establish()
    call.set_interrupted(True)
    assert call.is_interrupted and "interrupted" in repr(call)
    call.hangup()
    assert not call.is_interrupted


def test_a_remote_or_error_that_is_not_one_is_refused_and_changes_nothing(
    client: VoiceClient,
) -> None:
    # start_call(5) / incoming_call(["x"]) kept a non-str remote; end(error=5) a non-exception
    for bad in (5, ["x"], b"alice"):
        with pytest.raises(ConfigError, match="remote"):
            client.start_call(bad)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="remote"):
            client.incoming_call(bad)  # type: ignore[arg-type]
    assert client.calls == ()
    call = client.start_call("alice")
    with pytest.raises(ConfigError, match="error"):
        call.end(EndCause.ERROR, error=5)  # type: ignore[arg-type]
    assert call.state is CallState.INITIATING
    call.end(EndCause.ERROR, error=RuntimeError("x"))
    assert call.state is CallState.ENDED
