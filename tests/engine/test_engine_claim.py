"""A running engine owns its VoiceProcessor: its callback runs the chains without their
locks, so while it runs the application's own frame, reset and close calls on that
processor are refused (InvalidStateError, nothing changed), a second engine cannot start
on it, and everything works again after ``stop()``. The fast capture path refuses
misshaped frames. Races run in a subprocess with a timeout."""

from __future__ import annotations

import numpy as np
import pytest
from test_engine_races import _run  # the subprocess runner with a timeout

from callaudio import VoiceProcessor
from callaudio.config import EchoCancellerConfig, ProcessingConfig
from callaudio.devices.simulated import SimulatedBackend
from callaudio.engine import AudioEngine
from callaudio.errors import FrameError, InvalidStateError

RATE = 16000
N = RATE // 100


def _frame(seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(N)).astype(np.float32)


@pytest.mark.parametrize("compiled", [True, False])
def test_a_running_engine_refuses_the_applications_own_calls(compiled: bool) -> None:
    vp = VoiceProcessor(RATE)
    dev = SimulatedBackend(RATE)
    engine = AudioEngine(dev, RATE, vp, compiled=compiled)
    engine.start()
    dev.run_frames(5)
    before = vp.stats.capture_frames
    out = np.zeros(N, np.float32)
    calls = {
        "process_capture": lambda: vp.process_capture(_frame(), out=out),
        "process_capture_fast": lambda: vp.process_capture_fast(_frame(), out),
        "process_render": lambda: vp.process_render(_frame()),
        "process_render_fast": lambda: vp.process_render_fast(_frame()),
        "reset": vp.reset,
        "reset_echo_path": vp.reset_echo_path,
        "close": vp.close,
    }
    for name, call in calls.items():
        with pytest.raises(InvalidStateError, match="IN USE"):
            call()
        assert not out.any(), name  # nothing written
    assert vp.stats.capture_frames == before  # stats still readable; nothing processed
    engine.reset_processor()  # the engine's own way works
    dev.run_frames(5)
    assert engine.stats.echo_path_resets == 1
    assert vp.stats.capture_frames == before + 5
    engine.stop()
    vp.process_render(_frame())
    vp.process_capture(_frame(), out=out)
    assert out.any()
    vp.reset()
    vp.close()


def test_a_second_engine_cannot_run_the_same_processor() -> None:
    vp = VoiceProcessor(RATE)
    dev1, dev2 = SimulatedBackend(RATE), SimulatedBackend(RATE)
    first, second = AudioEngine(dev1, RATE, vp), AudioEngine(dev2, RATE, vp)
    first.start()
    with pytest.raises(InvalidStateError, match="IN USE"):
        second.start()
    assert not second.running and dev2.stream is None  # its stream was closed again
    dev1.run_frames(3)
    assert first.stats.frames == 3
    first.stop()
    second.start()  # free again
    dev2.run_frames(2)
    assert second.stop().frames == 2


def test_a_closed_processor_does_not_start() -> None:
    vp = VoiceProcessor(RATE)
    vp.close()
    engine = AudioEngine(SimulatedBackend(RATE), RATE, vp)
    with pytest.raises(InvalidStateError, match="CLOSED"):
        engine.start()
    assert not engine.running


def test_a_new_configuration_while_running_stays_the_engines() -> None:
    vp = VoiceProcessor(RATE)
    dev = SimulatedBackend(RATE)
    with AudioEngine(dev, RATE, vp) as engine:
        dev.run_frames(2)
        vp.apply_config(ProcessingConfig(echo_canceller=EchoCancellerConfig(tail_ms=64.0)))
        dev.run_frames(2)
        with pytest.raises(InvalidStateError):
            vp.process_capture(_frame())
        assert engine.stats.frames == 4
    vp.process_capture(_frame())  # released with the rebuilt chains


@pytest.mark.parametrize(
    ("channels", "shape"),
    [(1, (N // 2, 2)), (1, (1, N)), (1, (2, N // 2)), (2, (2, N)), (2, (2 * N,))],
)
def test_the_fast_capture_path_refuses_misshaped_frames(
    channels: int, shape: tuple[int, ...]
) -> None:
    vp = VoiceProcessor(RATE, channels=channels)
    mic = np.zeros(shape, np.float32)
    with pytest.raises(FrameError, match="shape"):
        vp.process_capture_fast(mic, mic.copy())
    assert vp.stats.capture_frames == 0


@pytest.mark.parametrize(("channels", "shape"), [(1, (N,)), (1, (N, 1)), (2, (N, 2))])
def test_the_fast_capture_path_takes_the_frame_shapes(
    channels: int, shape: tuple[int, ...]
) -> None:
    vp = VoiceProcessor(RATE, channels=channels)
    mic = np.zeros(shape, np.float32)
    assert vp.process_capture_fast(mic, mic) is mic
    assert vp.stats.capture_frames == 1


CALLS_WHILE_STARTING = """
import threading, numpy as np, callaudio as ca
from callaudio.devices.simulated import SimulatedBackend
from callaudio.engine import AudioEngine
vp = ca.VoiceProcessor(16000)
e = AudioEngine(SimulatedBackend(16000, realtime=True), 16000, vp)
done = threading.Event()
seen = {"ok": 0, "refused": 0, "other": []}
def app():
    out = np.empty(160, np.float32)
    f = np.full(160, 0.1, np.float32)
    while not done.is_set():
        for call in (lambda: vp.process_render(f), lambda: vp.process_capture(f, out=out),
                     vp.reset_echo_path):
            try:
                call(); seen["ok"] += 1
            except ca.InvalidStateError:
                seen["refused"] += 1
            except BaseException as x:
                seen["other"].append(repr(x))
def startstop():
    for _ in range(200):
        e.start(); e.stop(raise_errors=False)
    done.set()
ts = [threading.Thread(target=f) for f in (app, app, startstop)]
[t.start() for t in ts]; [t.join() for t in ts]
print(seen["ok"] > 0, seen["refused"] > 0, seen["other"][:2])
"""


def test_application_calls_racing_with_start_and_stop_are_run_or_refused() -> None:
    """Two application threads use the processor while the engine starts and stops 200
    times: every call runs or is refused, nothing else, no crash."""
    assert _run(CALLS_WHILE_STARTING).split() == ["True", "True", "[]"]


@pytest.mark.parametrize("link_channels", [True, False])
def test_link_refuses_every_chain_a_running_engine_claimed(link_channels: bool) -> None:
    """Linked or not, no chain the callback runs without locks changes group: leader or
    follower, old group or new (unlinked claimed chains were linked under a running
    callback: a crash); a refused link changes nothing; the processor's own rebuild of its
    chains while running still links the new ones."""
    vp = VoiceProcessor(RATE, channels=2, link_channels=link_channels)
    dev = SimulatedBackend(RATE, realtime=False)
    engine = AudioEngine(dev, RATE, vp, channels=2)
    engine.start()
    dev.run_frames(2)
    c0, c1 = vp.chains()
    before = (c0.linked_channels, c1.linked_channels)
    free = VoiceProcessor(RATE, channels=2, link_channels=False).chains()[0]
    for leader, followers in ((c0, [c1]), (c0, []), (c1, [c0]), (c1, []), (free, [c1])):
        with pytest.raises(ValueError, match="claimed"):
            leader.link(followers)
        assert (c0.linked_channels, c1.linked_channels, free.linked_channels) == (*before, 0)
    vp.apply_config(ProcessingConfig(echo_canceller=EchoCancellerConfig(tail_ms=64.0)))
    dev.run_frames(2)
    assert vp.chains()[0].linked_channels == (2 if link_channels else 0)
    engine.stop()
    c0, c1 = vp.chains()
    assert c0.link([c1]) and c0.linked_channels == 2  # released: allowed again


LINK_WHILE_STARTING = """
import threading, time, callaudio as ca
from callaudio.engine import AudioEngine
from callaudio.devices.simulated import SimulatedBackend
vp = ca.VoiceProcessor(16000, channels=2)
dev = SimulatedBackend(sample_rate=16000, realtime=False)
eng = AudioEngine(dev, 16000, vp, channels=2)
stop = time.monotonic() + 0.8
def engine_side():
    while time.monotonic() < stop:
        eng.start(); dev.run_frames(2); eng.stop()
def linker():
    while time.monotonic() < stop:
        c0, c1 = vp.chains()
        for leader, followers in ((c0, []), (c0, [c1]), (c1, [c0]), (c1, []), (c0, [c1])):
            try:
                leader.link(followers)
            except ValueError:
                pass
ts = [threading.Thread(target=engine_side), threading.Thread(target=linker)]
[t.start() for t in ts]; [t.join() for t in ts]
print("survived")
"""


def test_links_racing_with_start_and_stop_never_reach_a_running_callback() -> None:
    """The callback reads a chain's live group (fixed once claimed), not the one its C API
    saw when the engine last synced: a group changed between two runs crashed it."""
    assert _run(LINK_WHILE_STARTING, timeout=60).split() == ["survived"]


def test_only_the_engine_itself_releases_its_processor() -> None:
    """``vp.release(engine)`` from outside un-claimed the chains of a running engine: the
    application's frames then ran them beside the callback."""
    vp = VoiceProcessor(RATE)
    dev = SimulatedBackend(RATE)
    with AudioEngine(dev, RATE, vp) as engine:
        dev.run_frames(2)
        vp.release(engine)
        assert vp.chains()[0].claimed
        with pytest.raises(InvalidStateError, match=r"IN USE.*AudioEngine"):
            vp.process_capture(_frame())
        dev.run_frames(2)
        assert engine.stats.frames == 4
    assert not vp.chains()[0].claimed
    vp.process_capture(_frame())  # released by the engine's stop()
