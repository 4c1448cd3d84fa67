"""A capture callback (on the audio thread) that changes the session.

README: "an observer or an audio callback that reads or changes the session never
deadlocks", and a call must not end with ERROR because the application changed the session
from its capture callback. Stopping a stream waits for its callback to return, so the
audio thread never runs or waits for the audio actions it decides (session/lock.py): the
thread running the queue, or a worker, runs them in order.

The first tests are the adversarial reproducers of wave 4 on the real-time simulated room
(the capture callback lingers 0.2 s after the session change, so the stream cannot have
finished stopping when the application acts: deterministic). The last ones play the audio
thread with a thread of their own on the recording double (``MemoryBackend.audio_threads``).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from callaudio.audio import make_backend
from callaudio.audio.recording import MemoryBackend
from callaudio.call import CallState, EndCause
from callaudio.client import VoiceClient
from callaudio.clock import ManualClock
from callaudio.events import SynchronousDispatcher
from callaudio.session import AudioSession, InterruptionPolicy, Port, Route, RouteChangeReason
from callaudio.session.lock import Outbox

from .helpers import established

RATE = 16000
TIMEOUT = 10.0

DEADLOCK_SCRIPT = textwrap.dedent(
    """
    import threading, time
    from callaudio.audio import make_backend
    from callaudio.call import EndCause
    from callaudio.client import VoiceClient
    from callaudio.events import SynchronousDispatcher
    from callaudio.session import AudioSession

    armed, go, done = threading.Event(), threading.Event(), threading.Event()

    def capture(frame):
        if armed.is_set():
            armed.clear()
            go.wait(5)
            time.sleep(0.05)  # the application's thread is stopping the stream by now
            try:
                client.audio_controller.start_progress_tone()
            except Exception:
                pass
            done.set()

    session = AudioSession(dispatcher=SynchronousDispatcher())
    backend = make_backend("simulated", sample_rate=16000, realtime=True, capture=capture)
    client = VoiceClient(backend, session=session)
    call = client.incoming_call()
    call.answer()
    call.establish()
    time.sleep(0.05)
    armed.set()
    time.sleep(0.03)
    go.set()
    call.end(EndCause.HUNG_UP)
    assert done.wait(5)
    client.close()
    print("ok")
    """
)


def test_a_sound_started_in_the_capture_callback_while_the_call_ends_does_not_deadlock() -> None:
    """The application's thread ends the call: its stop_duplex runs on it (the Outbox's
    acting thread) and joins the audio thread. Meanwhile the capture callback starts a
    progress tone, a ``wait=True`` action: the audio thread waited for the acting thread,
    which waited for it. In a subprocess: a deadlock hangs the interpreter."""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", DEADLOCK_SCRIPT], capture_output=True, text=True, timeout=8
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("deadlock: the process hung for 8 s") from None
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr


def _client(action):  # type: ignore[no-untyped-def]
    """A client on a real-time simulated room whose capture callback runs ``action()``
    once, when armed, then lingers 0.2 s on the audio thread."""
    armed, done = threading.Event(), threading.Event()

    def capture(frame):  # type: ignore[no-untyped-def]
        if armed.is_set():
            armed.clear()
            action()
            done.set()
            time.sleep(0.2)

    session = AudioSession(dispatcher=SynchronousDispatcher())
    backend = make_backend("simulated", sample_rate=RATE, realtime=True, capture=capture)
    return session, backend, VoiceClient(backend, session=session), armed, done


def test_a_call_ended_in_the_capture_callback_lets_the_next_call_start() -> None:
    holder: dict[str, object] = {}
    _, _, client, armed, done = _client(
        lambda: holder["call"].end(EndCause.HUNG_UP)  # type: ignore[attr-defined]
    )
    try:
        first = client.incoming_call()
        first.answer()
        first.establish()
        holder["call"] = first
        armed.set()
        assert done.wait(5.0)
        assert first.state is CallState.ENDED
        second = client.incoming_call()
        second.answer()
        second.establish()  # raised BackendError: the device still had its stream open
        assert second.state is CallState.ESTABLISHED
    finally:
        client.close()


def test_an_interruption_begun_in_the_capture_callback_resumes() -> None:
    session, backend, client, armed, done = _client(lambda: session.begin_interruption("pstn"))
    try:
        call = client.incoming_call()
        call.answer()
        call.establish()
        armed.set()
        assert done.wait(5.0)
        assert call.is_interrupted
        session.end_interruption("pstn")  # raised InvalidStateError (processor IN USE)
        assert call.state is CallState.ESTABLISHED, call.details
        assert not call.is_interrupted
        deadline = time.monotonic() + 5.0  # the restart runs after the old stream's stop
        while backend.stream_kind != "duplex" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert backend.stream_kind == "duplex" and call.state is CallState.ESTABLISHED
    finally:
        client.close()


def test_a_device_change_announced_in_the_capture_callback_keeps_the_call() -> None:
    """No timing at all: row 8 decides stop_duplex, reset_echo_canceller and
    start_duplex(resume=True); they run in order on the releasing thread, here the audio
    thread. The stop only halts the engine, so the reset finds the kept processor still
    claimed: change_route raised InvalidStateError inside the callback and the call ended
    with EndCause.ERROR."""
    errors: list[BaseException] = []

    def action() -> None:
        try:
            session.change_route(
                Route(Port.HEADSET_MIC, Port.HEADPHONES), RouteChangeReason.NEW_DEVICE_AVAILABLE
            )
        except BaseException as exc:
            errors.append(exc)

    session, backend, client, armed, done = _client(action)
    seen = _Seen("route_changed")  # delivered after the stop, reset and start ran
    session.add_observer(seen)
    try:
        call = client.incoming_call()
        call.answer()
        call.establish()
        armed.set()
        assert done.wait(5.0)
        assert seen.got.wait(5.0)
        assert not errors, errors
        assert call.state is CallState.ESTABLISHED, call.details
        assert backend.is_running
    finally:
        client.close()


# -- the audio thread played by a thread of the test, on the recording double -----------------


class _ThreadLog(MemoryBackend):
    """Records the thread of every request; ``on_stop_duplex`` runs inside the next
    ``stop_duplex`` (a stream's stop waits for its last callback)."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[tuple[str, threading.Thread]] = []
        self.on_stop_duplex = None

    def _log(self, *entry):  # type: ignore[no-untyped-def]
        self.threads.append((entry[0], threading.current_thread()))
        super()._log(*entry)

    def stop_duplex(self) -> None:
        hook, self.on_stop_duplex = self.on_stop_duplex, None
        if hook is not None:
            hook()
        super().stop_duplex()


def _on_audio_thread(backend: MemoryBackend, fn) -> threading.Thread:  # type: ignore[no-untyped-def]
    """Run ``fn()`` on a new thread that ``backend`` counts as its audio thread."""

    def body() -> None:
        backend.audio_threads.add(threading.get_ident())
        try:
            fn()
        finally:
            backend.audio_threads.discard(threading.get_ident())

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread


class _Seen:
    """An observer keeping each event's name and the thread it was delivered on."""

    def __init__(self, wanted: str) -> None:
        self.events: list[tuple[str, threading.Thread]] = []
        self.got = threading.Event()
        self.wanted = wanted

    def on_event(self, event) -> None:  # type: ignore[no-untyped-def]
        self.events.append((event.name, threading.current_thread()))
        if event.name == self.wanted:
            self.got.set()


def test_an_audio_thread_starting_a_sound_while_its_stream_stops_does_not_wait(
    session: AudioSession, clock: ManualClock
) -> None:
    """The recording double's version of the deadlock: the application's thread runs the
    hang-up's stop_duplex, which waits for the audio thread's last block; that block starts
    a progress tone (a ``wait=True`` action). The audio thread must not wait for it: the
    acting thread plays the tone after the stop."""
    backend = _ThreadLog()
    client = VoiceClient(backend, session=session, policy=InterruptionPolicy(clock=clock))
    call = established(client)
    finished: list[bool] = []

    def last_block() -> None:
        client.audio_controller.start_progress_tone()
        finished.append(True)

    def stop_waits_for_the_audio_thread() -> None:
        audio = _on_audio_thread(backend, last_block)
        audio.join(5.0)
        finished.append(not audio.is_alive())

    backend.on_stop_duplex = stop_waits_for_the_audio_thread
    app = threading.Thread(target=call.hangup, daemon=True)
    app.start()
    app.join(TIMEOUT)
    assert not app.is_alive() and finished == [True, True]
    names = backend.names
    assert names.index("start_playback") > names.index("stop_duplex")
    assert dict(backend.threads)["start_playback"] is app  # the acting thread ran it
    client.close()


def test_a_route_change_decided_on_an_audio_thread_runs_in_order_on_another_thread(
    session: AudioSession, clock: ManualClock
) -> None:
    """Row 8 decided in a capture callback with no other thread acting: a worker runs
    stop, reset and start in order, then delivers the events (a synchronous dispatcher
    included: never on the audio thread)."""
    backend = _ThreadLog()
    client = VoiceClient(backend, session=session, policy=InterruptionPolicy(clock=clock))
    call = established(client)
    seen = _Seen("route_changed")
    session.add_observer(seen)
    backend.threads.clear()
    audio = _on_audio_thread(
        backend,
        lambda: session.change_route(
            Route(Port.HEADSET_MIC, Port.HEADPHONES), RouteChangeReason.NEW_DEVICE_AVAILABLE
        ),
    )
    audio.join(TIMEOUT)
    assert not audio.is_alive() and seen.got.wait(TIMEOUT)
    restart = [(n, t) for n, t in backend.threads if n != "set_speaker"]
    assert [n for n, _ in restart] == ["stop_duplex", "reset_echo_canceller", "start_duplex"]
    assert len({t for _, t in restart}) == 1 and restart[0][1] is not audio
    assert all(t is not audio for _, t in seen.events)
    assert call.state is CallState.ESTABLISHED and backend.duplex_running
    assert backend.duplex_resumes[-1] is True
    client.close()


def test_a_call_established_on_an_audio_thread_whose_audio_fails_ends_with_error(
    session: AudioSession, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """``establish()`` on an audio thread does not wait for the call's audio (another
    thread starts it) and so cannot raise its error: the call ends with ERROR, logged."""
    backend = _ThreadLog()
    client = VoiceClient(backend, session=session, policy=InterruptionPolicy(clock=clock))
    seen = _Seen("call_ended")
    session.add_observer(seen)
    call = client.incoming_call()
    call.answer()
    backend.fail_next("start_duplex")
    raised: list[BaseException] = []

    def establish() -> None:
        try:
            call.establish()
        except BaseException as exc:
            raised.append(exc)

    with caplog.at_level(logging.ERROR):
        audio = _on_audio_thread(backend, establish)
        audio.join(TIMEOUT)
        assert not audio.is_alive() and seen.got.wait(TIMEOUT)
    assert raised == []
    assert call.details.end_cause is EndCause.ERROR
    assert "simulated failure" in caplog.text
    assert dict(backend.threads)["start_duplex"] is not audio
    assert not backend.duplex_running and not session.is_active
    client.close()


def test_the_outbox_never_runs_or_waits_for_actions_on_an_audio_thread() -> None:
    audio_ids: set[int] = set()
    box = Outbox(lambda: threading.get_ident() in audio_ids)
    gate, returned = threading.Event(), threading.Event()
    ran: list[tuple[str, threading.Thread]] = []

    def action(name: str):  # type: ignore[no-untyped-def]
        def run() -> None:
            if name == "a":
                gate.wait(TIMEOUT)
            ran.append((name, threading.current_thread()))

        return run

    def audio() -> None:
        audio_ids.add(threading.get_ident())
        box.post_action(action("a"), wait=True)
        box.post_action(action("b"))
        box.run()  # at once: "a" waits for the gate, opened after this returned
        returned.set()

    thread = threading.Thread(target=audio, daemon=True)
    thread.start()
    assert returned.wait(TIMEOUT)
    gate.set()
    deadline = time.monotonic() + TIMEOUT
    while len(ran) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert [n for n, _ in ran] == ["a", "b"]
    assert ran[0][1] is ran[1][1] and ran[0][1] is not thread
