"""Hostile use of the session layer: shared sessions, re-entrant observers, bad arguments.

Every case that could hang runs in a daemon thread joined with a timeout, so a deadlock
fails the test instead of stopping the run.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from callaudio.audio.base import FaultKind, StreamConfig
from callaudio.audio.recording import MemoryBackend
from callaudio.call import CallState, EndCause
from callaudio.client import VoiceClient
from callaudio.clock import ManualClock
from callaudio.errors import CallAudioError, ConfigError, InvalidStateError
from callaudio.events import (
    EVENT_FIELDS,
    EVENT_NAMES,
    Event,
    QueueDispatcher,
    SynchronousDispatcher,
    ThreadDispatcher,
)
from callaudio.session import (
    SESSION_TRANSITIONS,
    AudioSession,
    Category,
    InterruptionPolicy,
    Port,
    Route,
    RouteChangeReason,
    SessionState,
)

from .helpers import EventLog, established, write_wav

TIMEOUT = 10.0


def run_bounded(fn: Callable[[], object], timeout: float = TIMEOUT) -> None:
    """Run ``fn`` on a daemon thread; fail if it does not finish within ``timeout`` s."""
    errors: list[BaseException] = []

    def body() -> None:
        try:
            fn()
        except BaseException as exc:  # pragma: no cover - re-raised below
            errors.append(exc)

    worker = threading.Thread(target=body, daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), f"{fn} did not finish within {timeout} s (deadlock)"
    if errors:
        raise errors[0]


def streams_open(backend: MemoryBackend) -> bool:
    return backend.duplex_running or backend.record_running or backend.playback_running


def assert_microphone_invariant(session: AudioSession, clients: list[VoiceClient]) -> None:
    """No stream on a client without an established call (or its own sound), and none on
    any client while the session is inactive."""
    for client in clients:
        backend = client.backend
        assert isinstance(backend, MemoryBackend)
        has_call = any(c.state is CallState.ESTABLISHED for c in client.calls)
        if not session.is_active:
            assert not streams_open(backend), (client, session)
        if backend.duplex_running:
            assert has_call, client
        if backend.playback_running:
            assert has_call or client.audio_controller.sound is not None, client
        assert not backend.record_running


@pytest.fixture
def pair(session: AudioSession, clock: ManualClock) -> list[VoiceClient]:
    return [
        VoiceClient(MemoryBackend(), session=session, policy=InterruptionPolicy(clock=clock))
        for _ in range(2)
    ]


# -- the microphone invariant with a shared session --------------------------------------------


def test_another_clients_interruption_does_not_open_my_microphone(
    session: AudioSession, pair: list[VoiceClient]
) -> None:
    a, b = pair
    call = established(b)
    session.begin_interruption("pstn")
    session.end_interruption("pstn")
    assert b.backend.duplex_running  # type: ignore[attr-defined]
    assert a.backend.calls == []  # type: ignore[attr-defined]
    assert_microphone_invariant(session, pair)
    call.hangup()
    assert not session.is_active
    assert_microphone_invariant(session, pair)
    assert a.backend.calls == []  # type: ignore[attr-defined]


def test_a_fault_on_my_backend_during_anothers_call_opens_nothing(
    session: AudioSession, pair: list[VoiceClient]
) -> None:
    a, b = pair
    call = established(b)
    a.backend.inject_fault(FaultKind.MEDIA_SERVICES_RESET, "sound server restarted")  # type: ignore[attr-defined]
    assert not streams_open(a.backend)  # type: ignore[arg-type]
    assert "start_duplex" not in a.backend.names  # type: ignore[attr-defined]
    assert b.backend.duplex_running  # type: ignore[attr-defined]
    assert_microphone_invariant(session, pair)
    call.hangup()
    assert_microphone_invariant(session, pair)


def test_a_fault_during_anothers_interrupted_call_opens_nothing_at_the_end(
    session: AudioSession, pair: list[VoiceClient]
) -> None:
    a, b = pair
    established(b)
    session.begin_interruption("pstn")
    a.backend.inject_fault(FaultKind.MEDIA_SERVICES_RESET)  # type: ignore[attr-defined]
    session.end_interruption("pstn")
    assert "start_duplex" not in a.backend.names  # type: ignore[attr-defined]
    assert_microphone_invariant(session, pair)


def test_two_clients_each_with_a_call_resume_their_own(
    session: AudioSession, pair: list[VoiceClient]
) -> None:
    a, b = pair
    ca, cb = established(a), established(b)
    session.begin_interruption("pstn")
    assert_microphone_invariant(session, pair)
    session.end_interruption("pstn")
    assert a.backend.duplex_running and b.backend.duplex_running  # type: ignore[attr-defined]
    ca.hangup()
    assert not a.backend.duplex_running and b.backend.duplex_running  # type: ignore[attr-defined]
    cb.hangup()
    assert_microphone_invariant(session, pair)


def test_a_sound_started_during_anothers_call_stops_when_the_session_deactivates(
    session: AudioSession, pair: list[VoiceClient]
) -> None:
    a, b = pair
    call = established(b)
    a.audio_controller.start_progress_tone()
    assert a.backend.playback_running  # type: ignore[attr-defined]
    call.hangup()  # the last call: every hold is revoked, the session deactivates
    assert not session.is_active and a.audio_controller.sound is None
    assert_microphone_invariant(session, pair)


def test_a_sound_of_a_call_that_ended_first_stops_with_the_last_call(
    session: AudioSession, pair: list[VoiceClient]
) -> None:
    a, b = pair
    mine, theirs = established(a), established(b)
    a.audio_controller.start_busy_tone()
    mine.hangup()  # b's call keeps the session: the tone goes on under its own hold
    assert a.backend.playback_running and session.is_active  # type: ignore[attr-defined]
    assert_microphone_invariant(session, pair)
    theirs.hangup()
    assert not session.is_active and a.audio_controller.sound is None
    assert_microphone_invariant(session, pair)


def test_a_category_borrowed_by_another_clients_sound_is_what_the_call_restores(
    session: AudioSession, pair: list[VoiceClient]
) -> None:
    a, b = pair
    session.set_category(Category.RECORD)
    a.audio_controller.start_progress_tone()  # RECORD cannot play: PLAYBACK for the tone
    assert session.category is Category.PLAYBACK
    call = established(b)
    assert b.snapshot is not None and b.snapshot.category is Category.RECORD
    call.hangup()
    assert session.category is Category.RECORD and a.audio_controller.sound is None
    assert_microphone_invariant(session, pair)


def test_the_last_call_clears_every_clients_mute(
    session: AudioSession, pair: list[VoiceClient]
) -> None:
    a, b = pair
    mine, theirs = established(a), established(b)
    a.audio_controller.mute()
    mine.hangup()
    assert a.audio_controller.is_muted  # b's call still holds the session
    theirs.hangup()
    assert not a.audio_controller.is_muted and not b.audio_controller.is_muted
    assert ("set_muted", False) in a.backend.calls  # type: ignore[attr-defined]


# -- the lock order ----------------------------------------------------------------------------


class LockCheckingBackend(MemoryBackend):
    """Records each request made while the session lock was held (through the protocol's
    methods only)."""

    def __init__(self, session: AudioSession) -> None:
        super().__init__()
        self.session = session
        self.held: list[str] = []

    def _check(self, name: str) -> None:
        if self.session.lock.held_by_me():
            self.held.append(name)

    def start_duplex(self, config: StreamConfig, *, resume: bool = False) -> None:
        self._check("start_duplex")
        super().start_duplex(config, resume=resume)

    def stop_duplex(self) -> None:
        self._check("stop_duplex")
        super().stop_duplex()

    def start_playback(self, source: Any, on_finished: Any = None) -> None:
        self._check("start_playback")
        super().start_playback(source, on_finished)

    def stop_playback(self) -> None:
        self._check("stop_playback")
        super().stop_playback()

    def reset_echo_canceller(self) -> None:
        self._check("reset_echo_canceller")
        super().reset_echo_canceller()

    def set_muted(self, muted: bool) -> None:
        self._check("set_muted")
        super().set_muted(muted)

    def set_speaker(self, enabled: bool) -> None:
        self._check("set_speaker")
        super().set_speaker(enabled)


def test_no_backend_request_is_made_under_the_session_lock(
    session: AudioSession, clock: ManualClock, tmp_path: Any
) -> None:
    backend = LockCheckingBackend(session)
    client = VoiceClient(backend, session=session, policy=InterruptionPolicy(clock=clock))
    ctrl = client.audio_controller
    ctrl.start_progress_tone()
    call = established(client)
    ctrl.enable_speaker()
    ctrl.mute()
    session.change_route(
        Route(Port.HEADSET_MIC, Port.HEADPHONES), RouteChangeReason.NEW_DEVICE_AVAILABLE
    )
    session.begin_interruption("pstn")
    session.end_interruption("pstn")
    backend.inject_fault(FaultKind.MEDIA_SERVICES_RESET)
    with session.lock:  # the application's compound operation: actions wait for its end
        call.hangup()
        assert backend.duplex_running  # not stopped while the lock is held
    assert not backend.duplex_running
    assert len(backend.calls) > 10 and backend.held == []


def test_a_session_lock_holder_hanging_up_does_not_wait_for_the_audio_thread(
    session: AudioSession, clock: ManualClock
) -> None:
    """The audio thread needs the session lock to finish a block (a capture callback that
    reads the session under its lock); the application hangs up holding the lock. The
    stream's stop waits for the audio thread, so it must happen after the release."""
    audio_blocks: list[bool] = []

    class AudioThreadBackend(MemoryBackend):
        def stop_duplex(self) -> None:
            # the audio thread's last block takes the session lock, and stop waits for it
            worker = threading.Thread(target=lambda: audio_blocks.append(last_block()))
            worker.start()
            worker.join(TIMEOUT)
            super().stop_duplex()

    def last_block() -> bool:
        if not session.lock.acquire(timeout=2.0):
            return False  # it would have waited for ever
        session.lock.release()
        return True

    client = VoiceClient(
        AudioThreadBackend(), session=session, policy=InterruptionPolicy(clock=clock)
    )
    call = established(client)

    def app() -> None:
        with session.lock:
            call.hangup()

    run_bounded(app)
    assert audio_blocks == [True] and not client.is_duplex_running


def test_an_audio_thread_muting_while_its_stream_is_stopped_does_not_deadlock(
    session: AudioSession, clock: ManualClock
) -> None:
    """Stopping the stream waits for the audio thread; the audio thread's last block calls
    into the session (mute). It must not wait for the stop in turn."""
    finished: list[bool] = []

    class AudioThreadBackend(MemoryBackend):
        def stop_duplex(self) -> None:
            audio = threading.Thread(target=lambda: finished.append(mute_from_audio()))
            audio.start()
            audio.join(TIMEOUT)
            super().stop_duplex()

    client = VoiceClient(
        AudioThreadBackend(), session=session, policy=InterruptionPolicy(clock=clock)
    )

    def mute_from_audio() -> bool:
        client.audio_controller.mute()
        return True

    log = EventLog()
    session.add_observer(log)
    call = established(client)
    run_bounded(call.hangup)
    assert finished == [True] and "muted" in log.names()
    assert ("set_muted", True) in client.backend.calls  # type: ignore[attr-defined]


def test_a_failed_start_followed_by_a_restart_decided_in_the_same_block(
    session: AudioSession, client: VoiceClient
) -> None:
    """Two start decisions queued behind the lock; the first fails. The call ends, and the
    second start must not leave the microphone open with no call."""
    backend = client.backend
    assert isinstance(backend, MemoryBackend)
    call = client.incoming_call()
    call.answer()
    backend.fail_next("start_duplex")
    with pytest.raises(CallAudioError, match="simulated failure"):
        with session.lock:
            call.establish()
            session.change_route(
                Route(Port.HEADSET_MIC, Port.HEADPHONES), RouteChangeReason.NEW_DEVICE_AVAILABLE
            )
    assert call.details.end_cause is EndCause.ERROR
    assert not backend.duplex_running and not client.is_duplex_running
    assert not session.is_active
    assert_microphone_invariant(session, [client])


# -- dispatchers that could block --------------------------------------------------------------


def test_a_bounded_application_queue_with_an_observer_reading_the_session() -> None:
    app_queue: queue.Queue[Callable[[], None]] = queue.Queue(maxsize=1)
    session = AudioSession(dispatcher=QueueDispatcher(app_queue))
    backend = MemoryBackend()
    client = VoiceClient(backend, session=session, policy=InterruptionPolicy(clock=ManualClock()))
    seen: list[tuple[str, Route]] = []
    stop = threading.Event()

    class Reader:
        def on_event(self, event: Event) -> None:
            seen.append((event.name, session.route))
            assert session.activation_count >= 0 and session.configuration is not None

    session.add_observer(Reader())

    def app_loop() -> None:
        while not stop.is_set() or not app_queue.empty():
            try:
                app_queue.get(timeout=0.05)()
            except queue.Empty:
                pass

    loop = threading.Thread(target=app_loop, daemon=True)
    loop.start()

    def calls() -> None:
        for _ in range(5):
            call = established(client)
            session.begin_interruption("pstn")
            session.end_interruption("pstn")
            call.hangup()

    run_bounded(calls)
    stop.set()
    loop.join(TIMEOUT)
    assert not loop.is_alive()
    names = [name for name, _ in seen]
    assert names.count("call_established") == names.count("call_resumed") == 5
    assert names[-1] == "configuration_restored"


def test_an_observer_flushing_the_thread_dispatcher_does_not_wait_for_itself() -> None:
    dispatcher = ThreadDispatcher()
    session = AudioSession(dispatcher=dispatcher)
    results: list[bool] = []
    got: list[str] = []

    class Flusher:
        def on_will_set_active(self, active: bool) -> None:
            results.append(dispatcher.flush(timeout=TIMEOUT))

        def on_event(self, event: Event) -> None:
            got.append(event.name)

    session.add_observer(Flusher())

    def work() -> None:
        with session.activate():
            pass
        with session.activate():
            pass
        assert dispatcher.flush(timeout=TIMEOUT)

    run_bounded(work)
    assert len(results) == 4 and got.count("did_set_active") == 4
    dispatcher.close(timeout=TIMEOUT)


# -- observers raising SystemExit / KeyboardInterrupt ------------------------------------------


@pytest.mark.parametrize("fatal", [SystemExit, KeyboardInterrupt])
def test_a_fatal_observer_exception_reaches_the_caller_after_every_observer(
    fatal: type[BaseException], session: AudioSession, client: VoiceClient
) -> None:
    log = EventLog()

    class Fatal:
        def on_will_set_active(self, active: bool) -> None:
            raise fatal("observer wants out")

    fatal_observer = Fatal()
    session.add_observer(fatal_observer)
    session.add_observer(log)
    call = client.incoming_call()
    call.answer()
    with pytest.raises(fatal):
        call.establish()
    # the transition is complete and every observer got every event
    assert call.state is CallState.ESTABLISHED and session.is_active
    assert log.names() == [
        "call_answered",
        "will_set_active",
        "did_set_active",
        "call_established",
    ]
    assert client.is_duplex_running and client.backend.duplex_running  # type: ignore[attr-defined]
    session.remove_observer(fatal_observer)
    call.hangup()
    assert not session.is_active


@pytest.mark.parametrize("fatal", [SystemExit, KeyboardInterrupt])
def test_a_fatal_observer_exception_does_not_kill_the_event_thread(
    fatal: type[BaseException], caplog: pytest.LogCaptureFixture
) -> None:
    dispatcher = ThreadDispatcher()
    session = AudioSession(dispatcher=dispatcher)
    log = EventLog()

    class Fatal:
        def on_did_set_active(self, active: bool) -> None:
            raise fatal("observer wants out")

    session.add_observer(Fatal())
    session.add_observer(log)
    with caplog.at_level(logging.ERROR, logger="callaudio.events"):
        for _ in range(3):
            with session.activate():
                pass
        assert dispatcher.flush(timeout=TIMEOUT)
    assert log.names().count("did_set_active") == 6
    assert dispatcher.thread is not None and dispatcher.thread.is_alive()
    dispatcher.close(timeout=TIMEOUT)


# -- bad arguments change nothing --------------------------------------------------------------


@pytest.mark.parametrize(
    "route",
    ["headphones", None, Route(None, "x"), Route("mic", ""), ("a", "b")],  # type: ignore[arg-type]
    ids=["str", "None", "none-port", "empty-port", "tuple"],
)
def test_change_route_refuses_non_routes(
    route: object, session: AudioSession, client: VoiceClient, log: EventLog
) -> None:
    call = established(client)
    log.take()
    before = session.route
    with pytest.raises(ConfigError, match="route"):
        session.change_route(route)  # type: ignore[arg-type]
    assert session.route == before and log.lines == []
    call.hangup()
    established(client)  # new calls still work


def test_category_changed_mid_call_then_speaker_then_second_call(
    session: AudioSession, client: VoiceClient, log: EventLog
) -> None:
    first = established(client)
    session.set_category(Category.PLAYBACK)
    log.take()
    with pytest.raises(InvalidStateError, match="speaker"):
        client.audio_controller.enable_speaker()
    assert not client.audio_controller.is_speaker_enabled and log.lines == []  # no wish kept
    second = established(client)
    assert second.state is CallState.ESTABLISHED and session.call_hold_count == 2
    assert "call_established(call=call-2)" in log.take()
    second.hangup()
    first.hangup()
    assert not session.is_active and session.call_hold_count == 0


def test_a_speaker_wish_that_cannot_apply_does_not_break_establishment(
    session: AudioSession, client: VoiceClient, log: EventLog
) -> None:
    first = established(client)
    client.audio_controller.enable_speaker()
    session.override_output_to_speaker(False)  # the application removes the override
    session.set_category(Category.PLAYBACK)  # and leaves PLAY_AND_RECORD
    second = established(client)
    assert second.state is CallState.ESTABLISHED and not session.speaker_override
    first.hangup()
    second.hangup()
    assert not session.is_active


def test_release_of_a_non_hold_and_bad_policies(session: AudioSession) -> None:
    with pytest.raises(ConfigError, match="hold"):
        session.release(object())  # type: ignore[arg-type]
    other = AudioSession(dispatcher=SynchronousDispatcher())
    with pytest.raises(ConfigError, match="hold"):
        session.release(other.activate())
    assert other.activation_count == 1 and session.activation_count == 0
    for bad in (True, False, 0, -1.0, float("nan"), float("inf"), "30"):
        with pytest.raises(ConfigError, match="grace_period"):
            InterruptionPolicy(grace_period=bad)  # type: ignore[arg-type]


def test_hangup_twice_is_harmless(client: VoiceClient, log: EventLog) -> None:
    call = established(client)
    call.hangup()
    log.take()
    call.hangup()
    assert log.lines == [] and call.details.end_cause is EndCause.HUNG_UP
    with pytest.raises(InvalidStateError):  # end() with a cause still says it is too late
        call.end(EndCause.TIMEOUT)


def test_start_call_after_close_is_a_state_error(client: VoiceClient) -> None:
    client.close()
    client.close()
    for start in (client.start_call, client.incoming_call):
        with pytest.raises(InvalidStateError, match="CLOSED") as info:
            start()
        assert not isinstance(info.value, ConfigError)


def test_observer_handler_signatures_are_checked_at_registration(session: AudioSession) -> None:
    class NoArgs:
        def on_call_ended(self) -> None: ...

    class WrongName:
        def on_did_set_active(self, is_active: bool) -> None: ...

    class NoEvent:
        def on_event(self) -> None: ...

    class Fine:
        def on_call_ended(self, call: object, cause: object) -> None: ...

        def on_route_changed(self, **fields: object) -> None: ...

        def on_event(self, event: object, *extra: object) -> None: ...

    for bad, name in ((NoArgs(), "on_call_ended"), (WrongName(), "active"), (NoEvent(), "event")):
        with pytest.raises(ConfigError, match=name):
            session.add_observer(bad)
    session.add_observer(Fine())
    assert set(EVENT_FIELDS) == EVENT_NAMES
    with pytest.raises(ValueError, match="fields"):
        session.emit("call_ended", call=None)  # cause missing


def test_an_observer_with_no_handler_is_refused(session: AudioSession, client: VoiceClient) -> None:
    # None, a number, a function (add_observer(print)) or an object whose only handler is
    # misspelt were registered and never called: the application heard no event
    class Misspelt:
        def on_call_end(self, call: object, cause: object) -> None: ...

    for bad in (None, 5, print, lambda event: None, Misspelt(), object()):
        with pytest.raises(ConfigError, match="no handler"):
            session.add_observer(bad)
        with pytest.raises(ConfigError, match="no handler"):
            client.add_observer(bad)
    heard: list[str] = []

    class Recorder:
        def on_event(self, event: Event) -> None:
            heard.append(event.name)

    session.add_observer(Recorder())
    with session.activate():
        pass
    assert heard[:2] == ["will_set_active", "did_set_active"]  # only the recorder heard them


def test_the_session_state_table(session: AudioSession, client: VoiceClient) -> None:
    assert session.state is SessionState.INACTIVE
    session.begin_interruption("alarm")
    assert session.state is SessionState.PREEMPTED
    with pytest.raises(CallAudioError):
        session.activate()
    call = established(client)
    assert session.state is SessionState.INTERRUPTED and call.is_interrupted
    session.end_interruption("alarm")
    assert session.state is SessionState.ACTIVE
    call.hangup()
    assert session.state is SessionState.INACTIVE
    states = {s for pair in SESSION_TRANSITIONS for s in pair if isinstance(s, SessionState)}
    assert states == set(SessionState)


def test_a_refused_sample_rate_says_what_to_change(session: AudioSession) -> None:
    class FixedRate(MemoryBackend):
        def start_duplex(self, config: StreamConfig, *, resume: bool = False) -> None:
            if config.sample_rate != 16000:
                raise CallAudioError(f"the device runs at 16000 Hz, not {config.sample_rate} Hz")
            super().start_duplex(config, resume=resume)

    client = VoiceClient(FixedRate(), session=session)
    call = client.incoming_call()
    call.answer()
    with pytest.raises(CallAudioError, match=r"set_preferred_sample_rate"):
        call.establish()
    assert call.details.end_cause is EndCause.ERROR
    session.set_preferred_sample_rate(16000)
    assert established(client).state is CallState.ESTABLISHED


def test_default_client_uses_the_simulated_room() -> None:
    client = VoiceClient(session=AudioSession(dispatcher=SynchronousDispatcher()))
    try:
        assert not isinstance(client.backend, MemoryBackend)
        assert type(client.backend).__name__ == "EngineBackend"
    finally:
        client.close()


# -- wave 2: the adversary's second report ----------------------------------------------------


def _pcm_wav(path: Any, rate: int, *, bits: int = 16, junk: int = 0, frames: int = 800) -> None:
    """A mono integer-PCM WAV written byte by byte (any rate, any declared bit depth, an
    optional JUNK chunk of ``junk`` bytes before ``fmt ``)."""
    import struct

    width = (bits + 7) // 8
    data = bytes(frames * width) if width != 1 else bytes([128]) * frames
    fmt = struct.pack("<HHIIHH", 1, 1, rate, min(rate * width, 2**32 - 1), width, bits)
    chunks = b""
    if junk:
        chunks += b"JUNK" + struct.pack("<I", junk) + bytes(junk)
    chunks += b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)


def test_a_closed_clients_controller_refuses_to_play(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, tmp_path: Any
) -> None:
    path = tmp_path / "s.wav"
    _pcm_wav(path, 16000)
    client.close()
    controller = client.audio_controller
    for start in (
        controller.start_progress_tone,
        controller.start_busy_tone,
        lambda: controller.start_playing_sound_file(path),
    ):
        with pytest.raises(InvalidStateError, match="CLOSED"):
            start()
    assert not session.is_active and not backend.playback_running and controller.sound is None


def test_events_submitted_after_the_thread_dispatcher_closed_are_delivered() -> None:
    dispatcher = ThreadDispatcher()
    session = AudioSession(dispatcher=dispatcher)
    got: list[str] = []
    delivering, closed = threading.Event(), threading.Event()

    class Slow:
        def on_event(self, event: Event) -> None:
            if not got:  # the close below happens while this first delivery runs
                delivering.set()
                closed.wait(5.0)
            got.append(event.name)

    session.add_observer(Slow())
    hold = session.activate()
    assert delivering.wait(5.0)
    dispatcher.close(timeout=0)
    closed.set()
    session.release(hold)
    run_bounded(lambda: dispatcher.flush())
    assert got == ["will_set_active", "did_set_active"] * 2
    dispatcher.close(timeout=5.0)
    with session.activate():  # a later event starts a new thread
        pass
    run_bounded(lambda: dispatcher.flush())
    assert len(got) == 8


@pytest.mark.parametrize("rate", [7919, 1000, 384000, 768000])
def test_a_sound_file_at_an_odd_rate_is_resampled(
    session: AudioSession, tmp_path: Any, rate: int
) -> None:
    from callaudio.audio.service import make_backend

    path = tmp_path / "odd.wav"
    _pcm_wav(path, rate, frames=max(rate // 50, 1))
    backend = make_backend("simulated", sample_rate=48000, realtime=False)
    client = VoiceClient(backend, session=session)
    session.begin_interruption("pstn")  # the sound waits, then starts at the end
    client.audio_controller.start_playing_sound_file(path)
    assert session.end_interruption("pstn")
    assert client.audio_controller.is_playing and backend.is_running
    backend.device.run_frames(3)
    client.close()


@pytest.mark.parametrize("rate", [1, 3, 100, 4294967295])
def test_a_sound_file_at_an_unconvertible_rate_is_refused_up_front(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, tmp_path: Any, rate: int
) -> None:
    from callaudio.errors import SoundFileError

    path = tmp_path / "bad.wav"
    _pcm_wav(path, rate, frames=4)
    with pytest.raises(SoundFileError, match="sample rate") as info:
        client.audio_controller.start_playing_sound_file(path)
    assert info.value.reason == "unsupported"
    assert not session.is_active and session.holds == () and not backend.playback_running


def test_bad_session_arguments_change_nothing(session: AudioSession, client: VoiceClient) -> None:
    dispatcher = session.dispatcher
    for bad in (None, 5, object()):
        with pytest.raises(ConfigError, match="dispatcher"):
            session.dispatcher = bad  # type: ignore[assignment]
        with pytest.raises(ConfigError, match="delegate"):
            session.attach(bad)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="action"):
            session.defer(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="dispatcher"):
        AudioSession(dispatcher=5)  # type: ignore[arg-type]
    for name in ("bogus", None, 5):
        with pytest.raises(ConfigError, match="unknown event"):
            session.emit(name)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="clock"):
        InterruptionPolicy(clock=object())  # type: ignore[arg-type]
    assert session.dispatcher is dispatcher
    established(client).hangup()  # the session still works


def test_a_client_refuses_what_is_not_a_backend_or_a_session(session: AudioSession) -> None:
    for bad in (None, 5, object()):
        with pytest.raises(ConfigError, match="backend"):
            VoiceClient(bad, session=session)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="session"):
        VoiceClient("memory", session="x")  # type: ignore[arg-type]
    assert session.holds == ()


@pytest.mark.parametrize("path", [None, 5, b"x.wav", "a" * 5000, "nul\0.wav"])
def test_a_sound_file_path_that_is_not_a_path(
    session: AudioSession, client: VoiceClient, path: Any
) -> None:
    from callaudio.errors import SoundFileError

    with pytest.raises(SoundFileError) as info:
        client.audio_controller.start_playing_sound_file(path)
    assert len(str(info.value)) < 400
    assert not session.is_active and client.audio_controller.sound is None


def test_read_wav_finds_the_bit_depth_after_a_large_chunk(tmp_path: Any) -> None:
    from callaudio.errors import SoundFileError
    from callaudio.wavfile import read_wav

    seven = tmp_path / "seven.wav"
    _pcm_wav(seven, 8000, bits=7, junk=5000)
    with pytest.raises(SoundFileError, match="7-bit") as info:
        read_wav(seven)
    assert info.value.reason == "unsupported"
    eight = tmp_path / "eight.wav"
    _pcm_wav(eight, 8000, bits=8, junk=5000)
    assert read_wav(eight).sample_width == 1


def test_interruption_arguments_that_are_not_a_source_change_nothing(
    session: AudioSession, client: VoiceClient
) -> None:
    call = established(client)
    session.begin_interruption("pstn")
    # an unhashable source raised TypeError from the dict lookup; a non-str is never open
    for bad in (["pstn"], {"a": 1}, None, 5):
        assert session.end_interruption(bad) is False  # type: ignore[arg-type]
    # voip=<array> raised numpy's ValueError (its truth value) from inside the lock
    with pytest.raises(ConfigError, match="voip"):
        session.begin_interruption("voip", voip=np.ones(3))  # type: ignore[arg-type]
    assert [i.source for i in session.open_interruptions] == ["pstn"]
    assert call.is_interrupted
    assert session.end_interruption("pstn") is True
    assert not call.is_interrupted and client.is_duplex_running


def test_a_sound_files_loop_flag_must_be_a_bool(
    session: AudioSession, client: VoiceClient, tmp_path: Any
) -> None:
    # loop="no" played in a loop (a truthy str); loop=<array> raised numpy's ValueError
    from pathlib import Path

    path = write_wav(Path(tmp_path) / "s.wav", np.zeros(1600))
    controller = client.audio_controller
    for bad in ("no", np.ones(3), None, 0.5):
        with pytest.raises(ConfigError, match="loop"):
            controller.start_playing_sound_file(path, loop=bad)  # type: ignore[arg-type]
        assert not session.is_active and controller.sound is None
    controller.start_playing_sound_file(path, loop=True)
    assert controller.is_playing


class _LyingFloat(float):
    """A float whose comparisons say "in range" whatever the value."""

    def __le__(self, other: object) -> bool:
        return True

    def __ge__(self, other: object) -> bool:
        return True

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return False


class _RaisingHashStr(str):
    def __hash__(self) -> int:
        raise RuntimeError("__hash__")


def test_flags_and_numbers_that_lie_change_nothing(
    session: AudioSession, client: VoiceClient
) -> None:
    """A truthy str turned the override on and resumed; lying or huge numbers were stored
    (every later call failed to start its audio) or escaped as raw errors."""
    session.set_category(Category.PLAY_AND_RECORD)
    for bad in ("no", np.array([1, 0]), None, 1):
        with pytest.raises(ConfigError, match="enabled"):
            session.override_output_to_speaker(bad)  # type: ignore[arg-type]
        assert not session.speaker_override
    before = session.preferred_io_buffer_duration
    for seconds in (_LyingFloat(-5.0), 2**2000, float("nan")):
        with pytest.raises(ConfigError, match="preferred_io_buffer_duration"):
            session.set_preferred_io_buffer_duration(seconds)
    assert session.preferred_io_buffer_duration == before
    call = established(client)
    assert session.begin_interruption(_RaisingHashStr("pstn"))
    assert [type(i.source) for i in session.open_interruptions] == [str]
    with pytest.raises(ConfigError, match="should_resume"):
        session.end_interruption("pstn", should_resume="no")  # type: ignore[arg-type]
    assert call.is_interrupted and session.is_interrupted
    assert session.end_interruption(_RaisingHashStr("pstn"), should_resume=False) is True
    assert not call.is_interrupted and client.is_duplex_running


# -- dispatchers whose hand-over fails ---------------------------------------------------------


class _RefusingDispatcher:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def submit(self, delivery: Callable[[], None]) -> None:
        raise self.error


@pytest.mark.parametrize(
    "dispatcher",
    [
        _RefusingDispatcher(ValueError("closed")),
        QueueDispatcher(type("FullQueue", (), {"put": lambda self, item: _raise(queue.Full())})()),
    ],
    ids=["custom", "queue-full"],
)
def test_a_dispatcher_that_refuses_an_event_does_not_fail_the_change(
    dispatcher: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The change is made before its events are handed over: a raising submit() used to
    come out of activate() as that raw exception, with the session active and the hold
    never returned (nothing could release it)."""
    session = AudioSession(dispatcher=dispatcher)
    with caplog.at_level(logging.ERROR):
        hold = session.activate()
        assert session.is_active
        session.release(hold)
    assert not session.is_active
    assert "dispatcher failed" in caplog.text


def _raise(exc: Exception) -> None:
    raise exc


def test_an_executor_dispatcher_on_a_shut_down_executor_drops_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from callaudio.events import ExecutorDispatcher

    pool = ThreadPoolExecutor(1)
    dispatcher = ExecutorDispatcher(pool)
    pool.shutdown()
    session = AudioSession(dispatcher=dispatcher)
    with caplog.at_level(logging.ERROR):
        hold = session.activate()  # raised RuntimeError('cannot schedule new futures ...')
    assert session.is_active and "executor refused" in caplog.text
    session.release(hold)
    # A working executor afterwards gets the later events (the dispatcher is not stuck).
    seen: list[str] = []
    with ThreadPoolExecutor(1) as pool2:
        dispatcher._executor = pool2
        session.add_observer(type("O", (), {"on_event": lambda self, e: seen.append(e.name)})())
        session.release(session.activate())
    assert "did_set_active" in seen


@pytest.mark.parametrize("executor", [None, 5, "pool", object()])
def test_an_executor_dispatcher_needs_an_executor(executor: object) -> None:
    from callaudio.errors import ConfigTypeError
    from callaudio.events import ExecutorDispatcher

    with pytest.raises(ConfigTypeError, match="submit"):
        ExecutorDispatcher(executor)  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", [float("nan"), -1.0, 10**400, np.zeros(2), "1", True])
def test_thread_dispatcher_waits_refuse_what_is_no_timeout(timeout: object) -> None:
    """close(nan): ValueError, close(10**400): OverflowError from the join. 10**400
    seconds is a wait of threading.TIMEOUT_MAX now (nothing is pending: no wait here)."""
    dispatcher = ThreadDispatcher()
    done = threading.Event()
    dispatcher.submit(done.set)
    assert done.wait(TIMEOUT)
    if type(timeout) is int:  # 10**400
        assert dispatcher.flush(timeout)  # type: ignore[arg-type]
        dispatcher.close(timeout)  # type: ignore[arg-type]
        return
    with pytest.raises(ConfigError, match="timeout"):
        dispatcher.flush(timeout)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="timeout"):
        dispatcher.close(timeout)  # type: ignore[arg-type]
    assert dispatcher.thread is not None and dispatcher.thread.is_alive()
    dispatcher.close(TIMEOUT)


def test_defer_takes_a_bool_wait(session: AudioSession) -> None:
    with pytest.raises(ConfigError, match="wait"):
        session.defer(lambda: None, wait=np.ones(2))  # type: ignore[arg-type]
    assert session.lock  # nothing queued: the next release runs nothing of it


def test_category_options_from_an_int_subclass_are_read_as_its_value(
    session: AudioSession,
) -> None:
    """int(options) ran a subclass's __int__: its RuntimeError came out of set_category."""
    from callaudio.session import CategoryOptions

    class RaisingInt(int):
        def __int__(self) -> int:
            raise RuntimeError("no int")

    wanted = CategoryOptions.ALLOW_BLUETOOTH
    session.set_category(Category.PLAY_AND_RECORD, options=RaisingInt(int(wanted)))
    assert session.options is wanted
    with pytest.raises(ConfigError, match="options"):
        session.set_category(Category.PLAY_AND_RECORD, options=RaisingInt(1 << 20))
    assert session.options is wanted
