"""The engine's application-side contracts: shapes, blocking writes and reads with a
timeout (sounddevice's conventions), and the per-frame dtype rule."""

from __future__ import annotations

import numpy as np
import pytest

import callaudio as ca
from callaudio.audio import StreamConfig
from callaudio.devices.simulated import SimulatedBackend
from callaudio.engine import AudioEngine
from callaudio.errors import ConfigError, FrameError

RATE = 16000
N = RATE // 100


@pytest.mark.parametrize("channels", [1, 2])
def test_capture_callback_frames_are_shaped_as_read_capture_returns_audio(channels: int) -> None:
    got: list[np.ndarray] = []
    room = SimulatedBackend(RATE, realtime=False)
    with AudioEngine(room, RATE, channels=channels, capture=lambda f: got.append(f.copy())):
        room.run_frames(3)
    expect = (N,) if channels == 1 else (N, channels)
    assert [f.shape for f in got] == [expect] * 3
    room = SimulatedBackend(RATE, realtime=False)
    with AudioEngine(room, RATE, channels=channels) as engine:
        room.run_frames(3)
        data = engine.read_capture()
    assert data.shape == ((3 * N,) if channels == 1 else (3 * N, channels))


def test_a_blocking_write_waits_for_room_and_queues_everything() -> None:
    room = SimulatedBackend(
        RATE, realtime=True
    )  # real time: the callback frees a frame every 10 ms
    with AudioEngine(room, RATE, far_buffer_ms=50) as engine:
        x = np.full(15 * N, 0.1, np.float32)  # 150 ms into a 50 ms ring
        assert engine.write_far(x, timeout=5.0) == x.size
        assert engine.stats.far_rejected == 0
        assert engine.write_far(np.zeros(6 * N, np.float32), timeout=None) == 6 * N


def test_a_write_that_times_out_returns_what_it_took_and_counts_the_rest() -> None:
    room = SimulatedBackend(RATE, realtime=False)  # caller-driven: nothing frees the ring
    with AudioEngine(room, RATE, far_buffer_ms=50) as engine:
        assert engine.write_far(np.zeros(8 * N, np.float32), timeout=0.05) == 5 * N
        assert engine.stats.far_rejected == 3 * N
        assert engine.write_far(np.zeros(N, np.float32)) == 0  # default: never blocks


def test_a_blocking_read_waits_for_the_frames_asked_for() -> None:
    room = SimulatedBackend(RATE, realtime=True)
    with AudioEngine(room, RATE) as engine:
        assert engine.read_capture(5, timeout=5.0).shape == (5 * N,)
        assert engine.read_capture(timeout=5.0).size >= N  # at least one frame
    room = SimulatedBackend(RATE, realtime=False)
    with AudioEngine(room, RATE) as engine:
        assert engine.read_capture(5, timeout=None).size == 0  # caller-driven: no wait


@pytest.mark.parametrize("bad", [-1.0, "1", True, float("nan")])
def test_a_bad_timeout_is_refused_and_nothing_moves(bad: object) -> None:
    room = SimulatedBackend(RATE, realtime=False)
    with AudioEngine(room, RATE) as engine:
        with pytest.raises(ConfigError, match="timeout"):
            engine.write_far(np.zeros(N, np.float32), timeout=bad)  # type: ignore[arg-type]
        assert engine.far_queued_ms() == 0.0
        room.run_frames(1)
        with pytest.raises(ConfigError, match="timeout"):
            engine.read_capture(timeout=bad)  # type: ignore[arg-type]
        assert engine.read_capture().shape == (N,)


def test_the_backend_passes_timeouts_through() -> None:
    backend = ca.make_backend("simulated", sample_rate=RATE)
    backend.start_duplex(StreamConfig(RATE, 0.01, True, "mic", "speaker"))
    try:
        assert backend.write_far(np.zeros(60 * N, np.float32), timeout=5.0) == 60 * N
        assert backend.read_capture(3, timeout=5.0).shape == (3 * N,)
    finally:
        backend.stop_duplex()
    assert backend.write_far(np.zeros(N, np.float32), timeout=None) == 0  # no stream


def test_per_frame_calls_refuse_float64_and_say_how_to_convert() -> None:
    vp = ca.VoiceProcessor(RATE)
    with pytest.raises(FrameError, match=r"astype\(np.float32\)"):
        vp.process_capture(np.zeros(N, np.float64))
    with pytest.raises(FrameError, match=r"astype\(np.float32\)"):
        vp.process_render(np.zeros(N, np.float64))
    y = ca.process_arrays(np.zeros(N, np.float64), sample_rate=RATE)
    assert y.dtype == np.float32 and y.shape == (N,)
