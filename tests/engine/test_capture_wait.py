"""A blocking ``read_capture`` sleeps on a semaphore the callback posts when a frame lands.

No timing is asserted: a wake-up that never came would show as the wait running to its
(long) timeout, and the frame counts below are exact.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from callaudio._dsp.rt import Core
from callaudio.devices.simulated import SimulatedBackend
from callaudio.engine import AudioEngine

RATE = 16000
N = RATE // 100


def test_a_waiting_reader_wakes_when_another_thread_pushes_frames() -> None:
    core = Core(N, 1, 10, 10)
    mic = np.full((N, 1), 0.25, np.float32)
    out = np.zeros((N, 1), np.float32)
    assert core.wait_capture(1, 0.01) is False  # nothing captured: the wait times out
    waiting = threading.Event()

    def produce() -> None:
        waiting.wait()
        for _ in range(3):
            core.run(mic, out, N)

    thread = threading.Thread(target=produce)
    thread.start()
    waiting.set()
    assert core.wait_capture(3, 60.0) is True
    thread.join()
    assert core.capture_ready == 3
    assert np.all(core.read_capture() == 0.25)
    assert core.wait_capture(0, 0.0) is True


def test_blocking_read_capture_on_a_real_time_room() -> None:
    device = SimulatedBackend(RATE, realtime=True)
    with AudioEngine(device, RATE) as engine:
        got = engine.read_capture(max_frames=5, timeout=60.0)
        assert got.shape == (5 * N,)
        more = engine.read_capture(max_frames=2, timeout=None)
        assert more.shape == (2 * N,)


def test_a_blocking_read_of_more_than_the_ring_reads_the_frames_as_they_land() -> None:
    # it waited for all of them in the ring at once: for ever, dropping what did not fit
    device = SimulatedBackend(RATE, realtime=True)
    engine = AudioEngine(device, RATE, capture_buffer_ms=100)  # 10 frames
    engine.start()
    got: dict[str, object] = {}

    def reader() -> None:
        got["none"] = engine.read_capture(max_frames=25, timeout=None).shape
        got["timed"] = engine.read_capture(max_frames=21, timeout=60.0).shape

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(30.0)
    hung = thread.is_alive()
    engine.stop()
    thread.join(5.0)
    assert not hung, "the read of more frames than the ring holds never returned"
    assert got == {"none": (25 * N,), "timed": (21 * N,)}


def test_a_long_read_does_not_hold_other_readers_past_their_timeout() -> None:
    # the reader of more than the ring held the read lock through its whole wait: a
    # read with timeout=0 in another thread waited for it (3 s and more)
    device = SimulatedBackend(RATE, realtime=True)
    engine = AudioEngine(device, RATE, capture_buffer_ms=100)  # 10 frames
    engine.start()
    started = threading.Event()

    def long_reader() -> None:
        started.set()
        engine.read_capture(max_frames=6000, timeout=None)  # a minute: ends with stop()

    thread = threading.Thread(target=long_reader, daemon=True)
    thread.start()
    started.wait()
    done = threading.Event()
    shapes: list[tuple[int, ...]] = []

    def short_reader() -> None:
        time.sleep(0.2)  # the long reader has the lock by then
        for _ in range(20):
            shapes.append(engine.read_capture(timeout=0).shape)
            shapes.append(engine.read_capture(max_frames=1, timeout=0.01).shape)
        done.set()

    other = threading.Thread(target=short_reader, daemon=True)
    other.start()
    returned = done.wait(30.0)
    engine.stop()
    thread.join(5.0)
    other.join(5.0)
    assert returned, "reads with timeout 0 / 10 ms waited for the long reader"
    assert all(s[0] <= 10 * N for s in shapes)  # never more than the ring held


def test_an_infinite_or_huge_timeout_waits_without_limit() -> None:
    """``timeout=inf`` (or 1e300) reached ``Lock.acquire`` and raised a raw OverflowError;
    now it waits as None does, and a capture callback refuses it as it refuses None."""
    import math

    import pytest

    from callaudio.errors import ConfigError

    device = SimulatedBackend(RATE, realtime=True)
    with AudioEngine(device, RATE) as engine:
        for timeout in (math.inf, 1e300):
            assert engine.read_capture(max_frames=2, timeout=timeout).shape == (2 * N,)
        assert engine.write_far(np.zeros(N, np.float32), timeout=math.inf) == N
    with AudioEngine(SimulatedBackend(RATE), RATE, capture=lambda _: None) as engine:
        with pytest.raises(ConfigError, match="inf would wait forever"):
            engine.read_capture(timeout=math.inf)
