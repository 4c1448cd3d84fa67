"""The session under faults: misbehaving observers, lost devices, concurrent chaos.

Audio runs on the engine over a simulated room (EngineBackend + SimulatedBackend), real-time
paced where the test is about the audio thread not being stalled, caller-driven where it
needs determinism. "The audio path" is the engine's callback: its frame counter must keep
rising and the application must keep getting processed frames.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from callaudio.audio.service import EngineBackend
from callaudio.call import Call, CallState, EndCause
from callaudio.client import VoiceClient
from callaudio.devices.simulated import SimulatedBackend
from callaudio.errors import CallAudioError
from callaudio.events import SynchronousDispatcher, ThreadDispatcher
from callaudio.session import AudioSession, Port, Route, RouteChangeReason

from ._support import fuzz_settings

RATE = 16000
N = RATE // 100


def _rig(
    *, realtime: bool, dispatcher: Any = None
) -> tuple[SimulatedBackend, EngineBackend, AudioSession, VoiceClient]:
    room = SimulatedBackend(
        RATE,
        impulse_response=[0.5],
        realtime=realtime,
        near=np.full(RATE, 0.01, np.float32),
        loop=True,
    )
    backend = EngineBackend(room, poll_interval=0.02 if realtime else None, capture_buffer_ms=2000)
    session = AudioSession(
        preferred_sample_rate=RATE,
        dispatcher=dispatcher if dispatcher is not None else ThreadDispatcher(),
    )
    return room, backend, session, VoiceClient(backend, session=session)


def _establish(client: VoiceClient) -> Call:
    call = client.incoming_call("peer")
    call.answer()
    call.establish()
    return call


def _frames(backend: EngineBackend) -> int:
    eng = backend.engine
    return -1 if eng is None else int(eng.stats.frames)


def _wait_frames(backend: EngineBackend, more: int, timeout: float = 5.0) -> bool:
    start = _frames(backend)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _frames(backend) >= start + more:
            return True
        time.sleep(0.01)
    return False


class Raiser:
    def __init__(self) -> None:
        self.count = 0

    def on_event(self, event: Any) -> None:
        self.count += 1
        raise RuntimeError(f"observer bug on {event.name}")


class Blocker:
    """Blocks inside on_call_established until released (or 10 s)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def on_call_established(self, **_: Any) -> None:
        self.entered.set()
        self.release.wait(10.0)


@pytest.mark.parametrize("sync", [False, True], ids=["thread-dispatch", "sync-dispatch"])
def test_an_observer_that_raises_or_blocks_does_not_stall_the_audio(sync: bool) -> None:
    threads_before = set(threading.enumerate())
    _room, backend, session, client = _rig(
        realtime=True, dispatcher=SynchronousDispatcher() if sync else None
    )
    raiser, blocker = Raiser(), Blocker()
    session.add_observer(raiser)
    session.add_observer(blocker)
    result: dict[str, Any] = {}

    def bring_up() -> None:  # blocks here under sync dispatch
        result["call"] = _establish(client)

    t = threading.Thread(target=bring_up, name="app")
    t.start()
    try:
        assert blocker.entered.wait(5.0), "the blocking observer was never called"
        # The observer is stuck; the audio thread must not be.
        assert _wait_frames(backend, 30), "audio callbacks stalled behind an observer"
        backend.write_far(np.full(10 * N, 0.1, np.float32))
        assert _wait_frames(backend, 20)
        got = backend.read_capture()
        assert got.size >= 20 * N and np.all(np.isfinite(got))
    finally:
        blocker.release.set()
        t.join(10.0)
    assert not t.is_alive()
    call = result["call"]
    assert call.state is CallState.ESTABLISHED and raiser.count > 0
    call.hangup()
    client.close()
    session.dispatcher.close(5.0) if hasattr(session.dispatcher, "close") else None
    _assert_no_leftover_threads(threads_before)


def _assert_no_leftover_threads(before: set[threading.Thread], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        extra = [
            t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon
        ]
        if not extra:
            return
        time.sleep(0.02)
    raise AssertionError(f"threads left running: {extra}")


@pytest.mark.parametrize("kind", ["device_lost", "media_services_reset", "stall"])
def test_device_disappears_mid_call_then_the_next_call_works(kind: str) -> None:
    """Real-time room: the call's device dies. The session reports it, nothing hangs, the
    call survives (audio restarted) or ends with a cause, and a new call has audio."""
    threads_before = set(threading.enumerate())
    events: list[str] = []

    class Log:
        def on_event(self, event: Any) -> None:
            events.append(event.name)

    room, backend, session, client = _rig(realtime=True, dispatcher=SynchronousDispatcher())
    session.add_observer(Log())
    call = _establish(client)
    assert _wait_frames(backend, 10)
    room.inject_fault(kind)
    deadline = time.monotonic() + 5.0
    expected = "route_changed" if kind in ("device_lost", "stall") else "media_services_reset"
    while expected not in events and time.monotonic() < deadline:
        time.sleep(0.02)
    assert expected in events, events
    if call.is_live:
        # Row 8/9: the duplex stream was restarted on the new route / rebuilt system.
        assert _wait_frames(backend, 10), "the surviving call has no audio"
        call.hangup()
    else:
        assert call.details.end_cause is not EndCause.NONE
    assert not backend.is_running
    nxt = _establish(client)
    assert _wait_frames(backend, 20), "the next call has no audio"
    nxt.hangup()
    client.close()
    _assert_no_leftover_threads(threads_before)


# -- hypothesis: calls, interruptions and faults from several threads at once ---------------

OPS = (
    "call_up",
    "hangup",
    "interrupt",
    "resume",
    "fault_lost",
    "fault_reset",
    "route",
    "speaker",
    "mute",
    "frames",
    "far",
)


class ConcurrentSession(RuleBasedStateMachine):
    """Each step runs 2-4 operations at once, each on its own thread."""

    def __init__(self) -> None:
        super().__init__()
        self.room, self.backend, self.session, self.client = _rig(
            realtime=False, dispatcher=SynchronousDispatcher()
        )
        self.calls: list[Call] = []
        self.calls_lock = threading.Lock()
        self.sources = ["pstn", "alarm", "voip"]
        self.unexpected: list[BaseException] = []
        self.frames_lock = threading.Lock()  # run_frames is caller-driven: one pump at a time

    def _op(self, name: str, arg: int) -> None:
        try:
            if name == "call_up":
                call = _establish(self.client)
                with self.calls_lock:
                    self.calls.append(call)
            elif name == "hangup":
                with self.calls_lock:
                    live = [c for c in self.calls if c.is_live]
                if live:
                    live[arg % len(live)].hangup()
            elif name == "interrupt":
                self.session.begin_interruption(self.sources[arg % 3])
            elif name == "resume":
                self.session.end_interruption(self.sources[arg % 3], should_resume=True)
            elif name in ("fault_lost", "fault_reset"):
                kind = "device_lost" if name == "fault_lost" else "media_services_reset"
                try:
                    self.room.inject_fault(kind)
                except CallAudioError:
                    pass  # no open stream right now
            elif name == "route":
                route = (Route(), Route(Port.HEADSET_MIC, Port.HEADPHONES))[arg % 2]
                self.session.change_route(route, RouteChangeReason.NEW_DEVICE_AVAILABLE)
            elif name == "speaker":
                ctrl = self.client.audio_controller
                ctrl.enable_speaker() if arg % 2 else ctrl.disable_speaker()
            elif name == "mute":
                ctrl = self.client.audio_controller
                ctrl.mute() if arg % 2 else ctrl.unmute()
            elif name == "frames":
                with self.frames_lock:
                    try:
                        self.room.run_frames(1 + arg % 5)
                    except CallAudioError:
                        pass  # no started stream
            elif name == "far":
                self.backend.write_far(np.full(N * (1 + arg % 3), 0.05, np.float32))
        except CallAudioError:
            pass  # documented refusals
        except BaseException as exc:
            self.unexpected.append(exc)

    @rule(ops=st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 99)), min_size=2, max_size=4))
    def burst(self, ops: list[tuple[str, int]]) -> None:
        barrier = threading.Barrier(len(ops))

        def body(name: str, arg: int) -> None:
            try:
                barrier.wait(5.0)
            except threading.BrokenBarrierError:
                pass
            self._op(name, arg)

        ts = [threading.Thread(target=body, args=op) for op in ops]
        for t in ts:
            t.start()
        for t in ts:
            t.join(10.0)
        assert not any(t.is_alive() for t in ts), f"deadlock in {ops}"
        assert not self.unexpected, self.unexpected
        with self.calls_lock:
            self.calls = [c for c in self.calls if c.is_live]

    @precondition(lambda self: True)
    @rule()
    def settle_and_pump(self) -> None:
        """Audio keeps flowing whenever a call is up and no interruption is open."""
        with self.frames_lock:
            if self.backend.is_running:
                before = _frames(self.backend)
                self.room.run_frames(3)
                self.backend.poll() if hasattr(self.backend, "poll") else None
                if self.backend.is_running and _frames(self.backend) >= 0:
                    assert _frames(self.backend) >= before + 3 or before < 0
                cap = self.backend.read_capture()
                assert np.all(np.isfinite(cap))

    @invariant()
    def audio_matches_the_session(self) -> None:
        live = [c for c in self.calls if c.is_live]
        established = any(c.state is CallState.ESTABLISHED for c in live)
        if not live and self.session.call_hold_count == 0:
            assert not self.client.is_duplex_running
        if self.client.is_duplex_running:
            assert established and not self.session.is_interrupted
        assert self.session.activation_count >= 0

    def teardown(self) -> None:
        for c in self.calls:
            if c.is_live:
                c.hangup()
        self.client.close()
        assert not self.backend.is_running


TestConcurrentSession = ConcurrentSession.TestCase
TestConcurrentSession.settings = fuzz_settings(40, stateful_steps=12)


# -- hangs: the audio thread, the session lock and the application -----------------------------


def test_capture_callback_reading_the_session_while_the_app_hangs_up_under_its_lock() -> None:
    """A capture callback on the audio thread reads ``session.route`` (and takes the
    session lock for a consistent view); the application hangs up while holding the lock.
    Stopping the stream waits for the audio thread, so it must happen after the release."""
    room = SimulatedBackend(RATE, impulse_response=[0.5], realtime=True)
    session = AudioSession(preferred_sample_rate=RATE, dispatcher=SynchronousDispatcher())
    seen: list[str] = []

    def capture(frame: Any) -> None:
        seen.append(session.route.output)
        with session.lock:
            _ = session.is_active

    backend = EngineBackend(room, poll_interval=0.02, capture=capture)
    client = VoiceClient(backend, session=session)

    def app() -> None:
        for _ in range(3):
            call = _establish(client)
            assert _wait_frames(backend, 2)
            with session.lock:
                time.sleep(0.03)  # the audio thread is now waiting for the lock
                call.hangup()
                assert backend.engine is not None  # stopped only after the release
            assert not client.is_duplex_running and backend.engine is None

    done = threading.Thread(target=app, daemon=True)
    done.start()
    done.join(20.0)
    assert not done.is_alive(), "hang-up under the session lock deadlocked with the audio thread"
    assert seen and not session.is_active
    backend.close()
