"""The compiled callback (callaudio._dsp.rt): one code path, no GIL, chosen automatically.

- It runs on a native thread while the test's thread holds the GIL (it needs no GIL) and
  leaves the C heap as it found it (it allocates nothing).
- The compiled and the Python callback process a call identically, and both equal the
  VoiceProcessor run offline on what was played and heard, frame by frame.
- A configuration change while running reaches the callback (a new chain) at the next
  frame, exactly as an offline processor changed at the same frame.
- The choice between the two callbacks, and what each refuses.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from typing import Any

import numpy as np
import pytest

from callaudio.config import NoiseSuppressorConfig, ProcessingConfig
from callaudio.devices.base import DeviceCapabilities
from callaudio.devices.simulated import SimulatedBackend
from callaudio.engine import AudioEngine, PreparedSound
from callaudio.errors import ConfigError
from callaudio.processing import VoiceProcessor

RATE = 16000
N = RATE // 100


def _noise(seconds: float, seed: int, level: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (level * rng.standard_normal(int(seconds * RATE))).astype(np.float32)


def _room() -> SimulatedBackend:
    return SimulatedBackend(
        RATE, delay_ms=30.0, rt60_s=0.15, near=_noise(4.0, 5, 0.02), record=True, seed=1
    )


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _mallinfo() -> Any:
    """glibc's mallinfo2 (None elsewhere)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = _MallInfo2
    return fn


_MALLINFO = _mallinfo()


def _heap_growth(run: Any) -> int | None:
    """Bytes the C heap's main arena gained over ``run()`` (None without glibc)."""
    if _MALLINFO is None:
        return None
    gc.disable()
    try:
        before = _MALLINFO().uordblks
        run()
        return int(_MALLINFO().uordblks - before)
    finally:
        gc.enable()


def test_the_compiled_callback_runs_on_a_native_thread_while_the_gil_is_held():
    from callaudio._dsp.rt import native_thread_run

    vp = VoiceProcessor(RATE, channels=2)
    engine = AudioEngine(_room(), RATE, None, channels=1)
    stereo = AudioEngine(SimulatedBackend(RATE), RATE, vp, channels=2)
    for eng in (engine, stereo):
        eng.write_far(_noise(1.0, 2, 0.1))
        core = eng._core
        done: list[bool] = []
        # native_thread_run waits with the GIL held: a callback that needed the GIL would
        # never finish, and it would return False after the timeout
        assert native_thread_run(core, 10)  # warm: first touch of the rings' pages
        # The arena is the process's: another thread (a session worker or a JACK client
        # left by an earlier test) may allocate during a measurement. A callback that
        # allocates grows it on every try; up to three tries, one equal pair passes.
        tries = []
        for _ in range(3):
            idle = _heap_growth(lambda c=core, d=done: d.append(native_thread_run(c, 0)))
            busy = _heap_growth(lambda c=core, d=done: d.append(native_thread_run(c, 200, 20.0)))
            tries.append((busy, idle))
            if busy == idle:
                break
        assert all(done), done
        assert any(b == i for b, i in tries), f"200 callbacks grew the C heap (busy, idle): {tries}"
        assert core.counters()["frames"] == 10 + 200 * len(tries)
        assert core.capture_ready > 0


@pytest.mark.parametrize("channels", [1, 2])
def test_compiled_and_python_callbacks_equal_the_offline_processor(channels: int) -> None:
    far = _noise(3.0, 7, 0.1)
    runs = {}
    for compiled in (None, False):
        room = _room()
        vp = VoiceProcessor(RATE, channels=channels)
        sound = PreparedSound(_noise(0.5, 9, 0.05))
        with AudioEngine(
            room,
            RATE,
            vp,
            channels=channels,
            compiled=compiled,
            far_buffer_ms=3000,
            capture_buffer_ms=3000,
        ) as engine:
            assert engine.callback_kind == ("python" if compiled is False else "compiled")
            engine.write_far(far)
            room.run_frames(100)
            engine.play(sound)
            engine.muted = True
            room.run_frames(20)
            engine.muted = False
            engine.reset_processor()
            room.run_frames(150)
            out = engine.read_capture()
        rec = room.recording()
        runs[compiled] = (out, rec["played"], rec["mic"], engine.stats)
    (out_c, played, mic, stats_c), (out_p, played_p, _, stats_p) = runs[None], runs[False]
    np.testing.assert_array_equal(played, played_p)
    np.testing.assert_array_equal(out_c, out_p)
    assert stats_c.callback_kind == "compiled" and stats_p.callback_kind == "python"
    assert stats_c.echo_path_resets == stats_p.echo_path_resets == 1
    assert stats_c.cost_us_median is not None and stats_c.cost_us_p99 is not None
    # offline: the same frames through a fresh processor, reset and muted alike
    vp = VoiceProcessor(RATE, channels=channels)
    mic = mic.reshape(-1, 1)
    expected = []
    for k in range(270):
        if k == 120:
            vp.reset_echo_path()
        vp.process_render(np.ascontiguousarray(played[k * N : (k + 1) * N, None]))
        frame = np.ascontiguousarray(np.repeat(mic[k * N : (k + 1) * N], channels, axis=1))
        y = vp.process_capture(frame if channels > 1 else frame[:, 0])
        expected.append(np.zeros_like(y) if 100 <= k < 120 else y)
    np.testing.assert_array_equal(out_c, np.concatenate(expected))


def test_a_new_configuration_reaches_the_callback_at_the_next_frame() -> None:
    room = _room()
    vp = VoiceProcessor(RATE)
    twin = VoiceProcessor(RATE)
    quiet = ProcessingConfig(noise_suppressor=NoiseSuppressorConfig(enabled=False))
    with AudioEngine(room, RATE, vp, far_buffer_ms=2000, capture_buffer_ms=2000) as engine:
        engine.write_far(_noise(2.0, 3, 0.1))
        room.run_frames(50)
        vp.apply_config(quiet)
        room.run_frames(50)
        out = engine.read_capture()
        assert engine.callback_kind == "compiled"
    rec = room.recording()
    expected = []
    for k in range(100):
        if k == 50:
            twin.apply_config(quiet)
        twin.process_render(np.ascontiguousarray(rec["played"][k * N : (k + 1) * N]))
        expected.append(twin.process_capture(np.ascontiguousarray(rec["mic"][k * N : (k + 1) * N])))
    np.testing.assert_array_equal(out, np.concatenate(expected))


class _NativeDevice(SimulatedBackend):
    """The simulated room declaring a native raw callback (as PortAudio does)."""

    def __init__(self) -> None:
        super().__init__(RATE)
        self.capabilities = DeviceCapabilities(
            fixed_sample_rate=RATE, caller_driven=True, raw_callback="native"
        )


class _Tone:
    done = False

    def mix_into(self, buf: np.ndarray) -> None:
        buf += 0.1


def test_the_choice_of_callback_and_what_each_refuses() -> None:
    room = SimulatedBackend(RATE)
    assert AudioEngine(room, RATE).callback_kind == "compiled"
    engine = AudioEngine(room, RATE, capture=lambda frame: None)
    assert engine.callback_kind == "python"
    assert "capture callback" in engine.callback_kind_reason
    with pytest.raises(ConfigError, match="cannot run here: a capture callback"):
        AudioEngine(room, RATE, capture=lambda frame: None, compiled=True).start()
    assert AudioEngine(room, RATE, compiled=False).callback_kind == "python"
    with pytest.raises(ConfigError, match="compiled"):
        AudioEngine(room, RATE, compiled="yes")  # type: ignore[arg-type]
    # a sound Python must mix: fine where frames run in Python, refused on a native stream
    native = AudioEngine(_NativeDevice(), RATE)
    assert native.callback_kind == "compiled"
    with pytest.raises(ConfigError, match="PreparedSound"):
        native.play(_Tone())
    assert native.source is None
    native.play(PreparedSound(np.full(N, 0.1)))  # a prepared one is mixed in C
    assert native.source is not None
    other = AudioEngine(_NativeDevice(), RATE)
    other._source = _Tone()  # chosen before start: the Python callback then
    assert other.callback_kind == "python"


def test_a_python_mixed_sound_on_the_simulated_room_plays_through_the_compiled_frame() -> None:
    room = SimulatedBackend(RATE, record=True, impulse_response=[1.0])
    with AudioEngine(room, RATE) as engine:
        engine.play(_Tone())
        room.run_frames(3)
        assert engine.callback_kind == "compiled"
    np.testing.assert_allclose(room.recording()["played"], 0.1)
