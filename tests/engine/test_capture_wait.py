"""A blocking ``read_capture`` sleeps on a semaphore the callback posts when a frame lands.

No timing is asserted: a wake-up that never came would show as the wait running to its
(long) timeout, and the frame counts below are exact.
"""

from __future__ import annotations

import threading

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
