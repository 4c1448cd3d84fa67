"""Adversarial reproducers (wave 4): a session change made inside the engine's capture
callback (the README allows it: "an observer or an audio callback that reads or changes
the session never deadlocks") stops the duplex stream *on the audio thread*. There
AudioEngine.stop() only halts and leaves the stream's close -- and the release of the
processor's claim -- to a helper thread. EngineBackend forgets that engine at once, so
the next start_duplex races the helper: the device still has its stream open
(BackendError), or the kept processor is still claimed (InvalidStateError from
reset_echo_path). The next call (or the resumed call) ends with ERROR.

The capture callback lingers 0.2 s after the session change, so the helper thread
cannot have finished when the application acts: deterministic."""

from __future__ import annotations

import threading
import time

from callaudio.audio import make_backend
from callaudio.call import CallState, EndCause
from callaudio.client import VoiceClient
from callaudio.events import SynchronousDispatcher
from callaudio.session import AudioSession

RATE = 16000


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
    session, _, client, armed, done = _client(lambda: session.begin_interruption("pstn"))
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
    finally:
        client.close()


def test_a_device_change_announced_in_the_capture_callback_keeps_the_call() -> None:
    """No timing at all: row 8 decides stop_duplex, reset_echo_canceller and
    start_duplex(resume=True); they run in order on the releasing thread, here the audio
    thread. The stop only halts the engine, so the reset finds the kept processor still
    claimed: change_route raised InvalidStateError inside the callback and the call ended
    with EndCause.ERROR."""
    from callaudio.session.route import Port, Route, RouteChangeReason

    errors: list[BaseException] = []

    def action() -> None:
        try:
            session.change_route(
                Route(Port.HEADSET_MIC, Port.HEADPHONES), RouteChangeReason.NEW_DEVICE_AVAILABLE
            )
        except BaseException as exc:
            errors.append(exc)

    session, backend, client, armed, done = _client(action)
    try:
        call = client.incoming_call()
        call.answer()
        call.establish()
        armed.set()
        assert done.wait(5.0)
        time.sleep(0.3)  # the helper thread has closed the old stream by now
        assert not errors, errors
        assert call.state is CallState.ESTABLISHED, call.details
        assert backend.is_running
    finally:
        client.close()
