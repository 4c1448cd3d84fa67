"""Hostile use of the engine: what reaches the loudspeaker, bad arguments, exceptions that
are no ``Exception`` raised in the callback, and ``stop()`` called from inside it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from callaudio.devices.simulated import SimulatedBackend
from callaudio.engine import AudioEngine, PreparedSound
from callaudio.errors import CallAudioError, CallbackError, ConfigError, FrameError
from callaudio.processing import VoiceProcessor

RATE = 16000
N = RATE // 100


def _room(**kw) -> SimulatedBackend:
    return SimulatedBackend(RATE, delay_ms=10.0, impulse_response=[1.0], record=True, **kw)


def _played(far: np.ndarray, frames: int, *, processor: bool = True) -> np.ndarray:
    room = _room()
    vp = VoiceProcessor(RATE) if processor else None
    with AudioEngine(room, RATE, vp) as engine:
        assert engine.write_far(far) == far.shape[0]
        room.run_frames(frames)
    return room.recording()["played"]


# -- the loudspeaker path ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "dtype", "expected"),
    [
        (np.nan, np.float32, 0.0),
        (np.inf, np.float32, 1.0),
        (-np.inf, np.float32, -1.0),
        (1e30, np.float32, 1.0),
        (-1e30, np.float32, -1.0),
        (1e300, np.float64, 1.0),
        (-1e300, np.float64, -1.0),
        (3.0, np.float64, 1.0),
    ],
    ids=["nan", "inf", "-inf", "1e30", "-1e30", "f64-1e300", "f64--1e300", "3.0"],
)
def test_far_end_audio_reaching_the_loudspeaker_is_finite_and_within_full_scale(
    value, dtype, expected
):
    far = np.full(4 * N, 0.25, dtype=dtype)
    far[N : 2 * N] = value
    played = _played(far, 4)
    assert np.all(np.isfinite(played)) and np.max(np.abs(played)) <= 1.0
    np.testing.assert_array_equal(played[N : 2 * N], np.float32(expected))
    np.testing.assert_array_equal(played[:N], np.float32(0.25))  # the rest unchanged
    np.testing.assert_array_equal(played[2 * N :], np.float32(0.25))


@pytest.mark.parametrize("kind", ["f4", "i2"])
def test_byte_swapped_far_end_audio_plays_like_native(kind):
    rng = np.random.default_rng(3)
    native = (rng.standard_normal(3 * N) * (0.2 if kind == "f4" else 6000)).astype("=" + kind)
    swapped = native.astype(">" + kind if np.little_endian else "<" + kind)
    assert swapped.dtype.byteorder != native.dtype.byteorder or swapped.dtype.byteorder == "|"
    a = _played(native, 3, processor=False)
    b = _played(swapped, 3, processor=False)
    np.testing.assert_array_equal(a, b)
    scale = 32768.0 if kind == "i2" else 1.0
    np.testing.assert_array_equal(a, native.astype(np.float32) / np.float32(scale))


@pytest.mark.parametrize("gain", [float("nan"), float("inf"), -float("inf"), True, "2", None])
def test_a_sound_with_a_bad_gain_is_refused(gain):
    with pytest.raises(ConfigError, match="gain"):
        PreparedSound(np.ones(10), gain=gain)


@pytest.mark.parametrize("gain", [1e39, -1e39, 1e6])
def test_a_sound_with_a_huge_gain_plays_within_full_scale(gain):
    room = _room()
    x = np.sin(np.arange(5 * N) * 0.05).astype(np.float32) * 0.5
    with AudioEngine(room, RATE, VoiceProcessor(RATE)) as engine:
        engine.play(PreparedSound(x, gain=gain))
        room.run_frames(5)
    played = room.recording()["played"]
    assert np.all(np.isfinite(played)) and np.max(np.abs(played)) == 1.0
    np.testing.assert_array_equal(np.sign(played), np.sign(x * np.sign(gain)))


def test_a_sound_with_huge_samples_is_clipped_and_non_finite_ones_refused():
    sound = PreparedSound(np.array([1e300, -1e300, 0.5]))
    buf = np.zeros((3, 1), np.float32)
    sound.mix_into(buf)
    np.testing.assert_array_equal(buf[:, 0], [1.0, -1.0, 0.5])
    for bad in (np.array([0.0, np.nan]), np.array([np.inf])):
        with pytest.raises(FrameError, match="finite"):
            PreparedSound(bad)


class _Rogue:
    """A MixSource that adds NaN, Inf and huge values."""

    done = False

    def mix_into(self, buf: np.ndarray) -> None:
        buf[0::3] += np.nan
        buf[1::3] += np.inf
        buf[2::3] -= 1e30


def test_whatever_a_mixed_in_source_adds_the_output_is_guarded():
    room = _room()
    with AudioEngine(room, RATE, VoiceProcessor(RATE)) as engine:
        engine.play(_Rogue())
        room.run_frames(3)
        assert engine.stats.callback_errors == 0
    played = room.recording()["played"].reshape(-1, 1)
    assert np.all(np.isfinite(played)) and np.max(np.abs(played)) <= 1.0
    frame = played[:N, 0]
    np.testing.assert_array_equal(frame[0::3], 0.0)
    np.testing.assert_array_equal(frame[1::3], 1.0)
    np.testing.assert_array_equal(frame[2::3], -1.0)


# -- bad arguments change nothing -------------------------------------------------------------


@pytest.mark.parametrize("arg", [-1, -100, 1.5, True, "2", [1]])
def test_read_capture_with_a_bad_count_is_refused_and_reads_nothing(arg):
    room = _room(near=np.full(8 * N, 0.1, np.float32))
    with AudioEngine(room, RATE, monitor=True) as engine:
        room.run_frames(4)
        with pytest.raises(ConfigError, match="max_frames"):
            engine.read_capture(arg)
        with pytest.raises(ConfigError, match="max_frames"):
            engine.read_monitor(arg)
        assert engine.read_capture(2).size == 2 * N  # an int and numpy ints are fine
        assert engine.read_capture(np.int64(5)).size == 2 * N
        played, mic = engine.read_monitor()
        assert played.size == mic.size == 4 * N


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros(10, np.int32),
        np.zeros(10, np.complex64),
        np.zeros(10, bool),
        np.array(["a", "b"]),
        np.array([None, 1.0], dtype=object),
        np.zeros((10, 2), np.float32),
        np.float32(0.5),
        None,
    ],
    ids=["int32", "complex", "bool", "str", "object", "stereo", "scalar", "none"],
)
def test_write_far_refuses_what_it_cannot_play_and_queues_nothing(bad):
    room = _room()
    engine = AudioEngine(room, RATE)
    with pytest.raises(FrameError):
        engine.write_far(bad)
    assert engine.far_queued_ms() == 0.0
    assert engine.stats.far_rejected == 0


# -- exceptions in the callback, and stop() from inside it --------------------------------------


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_keyboard_interrupt_or_system_exit_in_the_capture_callback_halts_the_engine(exc_type):
    seen: list[int] = []

    def capture(frame: np.ndarray) -> None:
        seen.append(1)
        if len(seen) == 3:
            raise exc_type("from the application's callback")

    room = _room()
    engine = AudioEngine(room, RATE, VoiceProcessor(RATE), capture=capture)
    engine.start()
    engine.write_far(np.full(10 * N, 0.2, np.float32))
    room.run_frames(10)  # nothing escapes run_frames
    assert not engine.running and engine.stats.halted
    assert len(seen) == 3  # nothing delivered after the halt
    assert engine.stats.frames == 3 and engine.stats.callback_errors == 1
    played = room.recording()["played"]
    assert np.all(played[2 * N :] == 0.0)  # silence from the halting frame on
    with pytest.raises(CallbackError, match=exc_type.__name__) as info:
        engine.stop()
    assert isinstance(info.value.__cause__, exc_type)
    assert isinstance(info.value, CallAudioError)
    assert room.stream is None and engine.stream is None  # stopped and closed
    engine.start()  # a halted engine starts again cleanly
    assert engine.running and not engine.stats.halted
    room.run_frames(2)
    assert engine.stop().frames == 2


def test_system_exit_on_a_real_time_stream_stops_it_and_running_is_false():
    room = SimulatedBackend(RATE, impulse_response=[1.0], realtime=True)
    halted = threading.Event()

    def capture(frame: np.ndarray) -> None:
        halted.set()
        raise SystemExit(3)

    engine = AudioEngine(room, RATE, capture=capture)
    engine.start()
    assert halted.wait(5.0)
    with pytest.raises(CallbackError, match="SystemExit") as info:
        engine.stop()  # waits for the helper that stops the stream
    assert info.value.count == 1 and not engine.running
    assert room.stream is None


def test_stop_called_inside_the_callback_of_a_caller_driven_stream():
    box: list[AudioEngine] = []
    results = []

    def capture(frame: np.ndarray) -> None:
        if box[0].stats.frames == 2:
            results.append(box[0].stop())  # no RuntimeError, nothing raised

    room = _room()
    engine = AudioEngine(room, RATE, capture=capture)
    box.append(engine)
    engine.start()
    room.run_frames(6)
    assert not engine.running and len(results) == 1 and results[0].halted
    stats = engine.stop()  # no errors to report
    assert stats.callback_errors == 0 and stats.frames == 3
    assert room.stream is None


def test_stop_called_inside_the_callback_of_a_real_time_stream():
    room = SimulatedBackend(RATE, impulse_response=[1.0], realtime=True)
    box: list[AudioEngine] = []
    done = threading.Event()

    def capture(frame: np.ndarray) -> None:
        if not done.is_set():
            box[0].stop()  # would be a thread joining itself
            done.set()

    engine = AudioEngine(room, RATE, capture=capture)
    box.append(engine)
    engine.start()
    assert done.wait(5.0)
    stats = engine.stop()
    assert stats.callback_errors == 0 and stats.halted and stats.frames == 1
    assert not engine.running and room.stream is None


def test_an_ordinary_exception_does_not_halt_the_engine():
    def capture(frame: np.ndarray) -> None:
        raise ValueError("consumer failed")

    room = _room()
    engine = AudioEngine(room, RATE, capture=capture)
    engine.start()
    room.run_frames(4)
    assert engine.running and not engine.stats.halted
    with pytest.raises(CallbackError, match="4 audio callback"):
        engine.stop()


# -- drop reporting: nothing is lost silently -------------------------------------------------


def test_underruns_count_only_a_stream_that_stopped_short_and_silence_is_counted_apart():
    room = _room()
    far = np.full(3 * N, 0.1, np.float32)
    with AudioEngine(room, RATE) as engine:
        room.run_frames(4)  # nothing sent yet: silence, no underrun
        assert (engine.stats.silent_frames, engine.stats.underruns) == (4, 0)
        engine.write_far(far)
        room.run_frames(5)  # 3 frames of audio, then the application stopped short
        assert (engine.stats.silent_frames, engine.stats.underruns) == (6, 2)
        engine.write_far(far[: N + 10])
        engine.flush_far()  # the far end's talk ends here: what follows is silence
        room.run_frames(6)
        assert (engine.stats.silent_frames, engine.stats.underruns) == (10, 2)
        engine.write_far(far)  # sending again: a stall counts again
        room.run_frames(4)
        stats = engine.stats
    assert (stats.frames, stats.silent_frames, stats.underruns) == (19, 11, 3)
    played = room.recording()["played"]
    assert np.count_nonzero(played) == 3 * N + N + 10 + 3 * N


def test_write_far_says_what_it_took_and_counts_what_it_refused():
    room = _room()
    engine = AudioEngine(room, RATE, far_buffer_ms=50)
    assert engine.write_far(np.zeros(8 * N, np.float32)) == 5 * N
    assert engine.stats.far_rejected == 3 * N
    assert engine.write_far(np.zeros(N, np.float32)) == 0
    assert engine.stats.far_rejected == 4 * N
    engine.start()
    room.run_frames(2)
    assert engine.write_far(np.zeros(3 * N, np.float32)) == 2 * N
    assert engine.stats.far_rejected == N  # counters restart at start()
    engine.stop()


def test_a_capture_overrun_warns_once_per_read_and_is_counted():
    import warnings

    from callaudio.errors import AudioDropWarning

    room = _room(near=np.full(RATE, 0.1, np.float32))
    with AudioEngine(room, RATE, capture_buffer_ms=30) as engine:
        room.run_frames(5)
        with pytest.warns(AudioDropWarning, match=r"2 captured frame\(s\) \(20 ms\)"):
            assert engine.read_capture().size == 3 * N
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            room.run_frames(3)
            assert engine.read_capture().size == 3 * N  # nothing dropped: no warning
        assert engine.stats.overruns == 2


# -- wave 2: the adversary's second report ----------------------------------------------------


@pytest.mark.parametrize("interval", [float("inf"), float("nan"), -1.0, 0.0, 1e9, True, "0.02"])
def test_a_poll_interval_out_of_range_is_refused(interval):
    from callaudio.audio.service import EngineBackend, make_backend

    with pytest.raises(ConfigError, match="poll_interval"):
        make_backend("simulated", sample_rate=48000, poll_interval=interval)
    with pytest.raises(ConfigError, match="poll_interval"):
        EngineBackend(_room(realtime=False), poll_interval=interval)


def test_a_short_sound_on_a_polled_backend_stops_by_itself():
    """The watcher thread lives (a valid interval): a 0.1 s sound is over within the timeout."""
    import time

    from callaudio.audio.base import ArraySource
    from callaudio.audio.service import make_backend

    backend = make_backend("simulated", sample_rate=48000, poll_interval=0.01)
    finished = threading.Event()
    backend.start_playback(ArraySource(np.zeros(4800, np.float32), 48000), finished.set)
    try:
        assert finished.wait(10.0)
        deadline = time.monotonic() + 10.0
        while backend.is_running and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not backend.is_running
    finally:
        backend.stop_playback()


def test_make_backend_refuses_unknown_options():
    from callaudio.audio.service import make_backend

    with pytest.raises(ConfigError, match="bogus_opt"):
        make_backend("simulated", sample_rate=48000, bogus_opt=1)


def test_engine_constructor_and_play_refuse_what_they_cannot_use():
    room = _room(realtime=False)
    with pytest.raises(ConfigError, match="far_buffer_ms"):
        AudioEngine(room, RATE, far_buffer_ms=10**12)
    with pytest.raises(ConfigError, match="capture_buffer_ms"):
        AudioEngine(room, RATE, capture_buffer_ms=10**9)
    with pytest.raises(ConfigError, match="processor"):
        AudioEngine(room, RATE, processor="vp")
    with AudioEngine(room, RATE, VoiceProcessor(RATE)) as engine:
        for bad in (5, "tone", object()):
            with pytest.raises(ConfigError, match="source"):
                engine.play(bad)
        assert engine.source is None
        room.run_frames(3)
    assert engine.stats.callback_errors == 0


def test_the_simulated_device_refuses_non_numbers():
    room = _room(realtime=False)
    for bad in (float("nan"), float("inf"), "1", None):
        with pytest.raises(ConfigError, match="seconds"):
            room.run_seconds(bad)
    for bad in ("x", [1, "a"], np.ones(4, complex)):
        with pytest.raises(ConfigError, match="noise"):
            room.set_noise(bad)
        with pytest.raises(ConfigError, match="near"):
            room.set_near(bad)


def test_prepared_sound_refuses_or_downmixes_what_is_not_mono_real():
    stereo = np.stack([np.full(10, 0.5), np.full(10, -0.1)], axis=1)
    sound = PreparedSound(stereo)
    assert len(sound) == 10
    buf = np.zeros((10, 1), np.float32)
    sound.mix_into(buf)
    np.testing.assert_allclose(buf[:, 0], 0.2, rtol=1e-6)
    three = PreparedSound(np.ones((10, 3)))
    assert len(three) == 10
    with pytest.raises(FrameError, match="real"):
        PreparedSound(np.ones(10, complex))
    with pytest.raises(FrameError):
        PreparedSound(np.ones((2, 2, 2)))
    for start in (float("nan"), "3", 1.5, True):
        with pytest.raises(ConfigError, match="start"):
            PreparedSound(np.ones(10), start=start)


@pytest.mark.parametrize("rate_in", [7919, 44100, 1000])
def test_from_source_resamples_any_ratio_it_can(rate_in):
    """7919 Hz is too fine a ratio for the polyphase bank: the arbitrary-ratio path plays
    it at the right length and pitch."""
    from callaudio.audio.base import ArraySource

    t = np.arange(rate_in) / rate_in
    tone = (0.5 * np.sin(2 * np.pi * 200.0 * t)).astype(np.float32)
    sound = PreparedSound.from_source(ArraySource(tone, rate_in), 16000)
    assert abs(len(sound) - 16000) <= 1
    buf = np.zeros((16000, 1), np.float32)
    sound.mix_into(buf)
    spectrum = np.abs(np.fft.rfft(buf[2000:14000, 0]))
    peak_hz = np.argmax(spectrum) * 16000 / 12000
    assert abs(peak_hz - 200.0) < 2.0


def test_from_source_refuses_a_ratio_it_cannot_do():
    from callaudio.audio.base import ArraySource

    for rate_in in (100, 2_000_000):
        with pytest.raises(ConfigError, match="resample"):
            PreparedSound.from_source(ArraySource(np.zeros(100, np.float32), rate_in), 16000)
