"""Adversarial reproducer (wave 4): a deadlock between the session's action queue and the
audio thread.

The application's thread ends the call: its deferred stop_duplex runs (this thread is the
Outbox's acting thread) and stops the stream, which joins the audio thread (the simulated
room's pacing thread here; Pa_StopStream waits for the callback the same way). Meanwhile
the capture callback, on that audio thread, starts a progress tone: a ``wait=True`` action,
so Outbox._run_actions (session/lock.py) makes the audio thread wait until the acting
thread has run it -- but the acting thread is waiting for the audio thread. Both wait
forever. README: "an observer or an audio callback that reads or changes the session never
deadlocks". Run in a subprocess: the deadlock hangs the interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
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
    try:
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=8
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("deadlock: the process hung for 8 s") from None
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr
