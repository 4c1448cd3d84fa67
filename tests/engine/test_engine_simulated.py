"""The engine's callback on the simulated room (as fast as possible, deterministic)."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

from callaudio import VoiceProcessor, process_arrays
from callaudio.config import ProcessingConfig
from callaudio.devices.simulated import CallbackFlags, SimulatedBackend
from callaudio.engine import AudioEngine, CallbackError, PreparedSound
from callaudio.errors import AudioDropWarning, BackendError, ConfigError
from callaudio.tones import ToneSource, render_period, tone_plan

RATES = [pytest.param(r, id=f"{r // 1000}k") for r in (8000, 16000, 32000, 44100, 48000)]


def _noise(n: int, seed: int = 0, level: float = 0.1) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def _delay_by_xcorr(y: np.ndarray, x: np.ndarray) -> int:
    size = 1 << int(np.ceil(np.log2(y.size + x.size)))
    c = np.fft.irfft(np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size)), size)
    return int(np.argmax(c[: y.size]))


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("delay_ms", [10.0, 37.5, 250.0])
def test_echo_arrives_at_the_mic_after_the_configured_delay(rate, delay_ms):
    room = SimulatedBackend(rate, delay_ms=delay_ms, impulse_response=[1.0])
    n = rate // 100
    x = _noise(50 * n, seed=rate)
    with AudioEngine(room, rate, capture_buffer_ms=1000) as engine:  # no processor: bypass
        engine.write_far(x)
        room.run_frames(80)
        y = engine.read_capture()
    d = round(delay_ms * rate / 1000)
    assert room.delay_samples == d
    assert _delay_by_xcorr(y, x) == d
    # A unit response: the echo is the played signal, sample for sample.
    np.testing.assert_array_equal(y[d : d + x.size], x)
    assert np.all(y[:d] == 0.0)


def test_room_response_is_the_convolution_of_what_was_played():
    """Overlap-add per frame equals one whole-signal convolution (chunked equals whole)."""
    rate = 16000
    room = SimulatedBackend(rate, delay_ms=30.0, rt60_s=0.2, seed=3, record=True)
    h = room.impulse_response
    assert h.size > 1000
    np.testing.assert_allclose(np.sum(h * h), 10 ** (-6 / 10), rtol=1e-9)  # echo_gain_db=-6
    x = _noise(200 * 160, seed=1)
    with AudioEngine(room, rate) as engine:
        engine.write_far(x[: 40 * 160])
        for k in range(40, 200, 20):  # keep the 500 ms ring fed
            room.run_frames(20)
            engine.write_far(x[k * 160 : (k + 20) * 160])
        room.run_frames(40)
    rec = room.recording()
    d = room.delay_samples
    played = rec["played"].astype(np.float64)
    np.testing.assert_array_equal(played[: x.size], x)
    ref = np.convolve(played, h)[: played.size - d]
    np.testing.assert_allclose(rec["echo"][d:], ref, atol=2e-6)
    np.testing.assert_array_equal(rec["mic"], rec["echo"])  # no near end, no noise


def test_near_end_and_noise_are_added_and_the_earpiece_route_attenuates_the_echo():
    rate = 16000
    near = _noise(3200, seed=5, level=0.05)
    noise = _noise(6400, seed=6, level=0.001)
    room = SimulatedBackend(
        rate, delay_ms=20.0, impulse_response=[0.5], near=near, noise=noise, record=True
    )
    x = _noise(6400, seed=7)
    with AudioEngine(room, rate) as engine:
        engine.write_far(x)
        room.run_frames(20)
        engine.speaker = False
        room.run_frames(20)
    rec = room.recording()
    np.testing.assert_array_equal(rec["near"][:3200], near)
    assert np.all(rec["near"][3200:] == 0.0)
    np.testing.assert_array_equal(rec["noise"], noise)
    np.testing.assert_allclose(rec["mic"], rec["echo"] + rec["near"] + rec["noise"], atol=1e-7)
    d = 320
    # Frames played on the loudspeaker route come back at 0.5; on the earpiece route at
    # 0.5 * 10**(-20/20).
    np.testing.assert_allclose(rec["echo"][d : 3200 + d], 0.5 * x[:3200], rtol=1e-6)
    np.testing.assert_allclose(rec["echo"][3200 + d :], 0.05 * x[3200 : 6400 - d], rtol=1e-5)


def test_underruns_play_silence_and_are_counted():
    rate = 16000
    room = SimulatedBackend(rate, delay_ms=10.0, impulse_response=[1.0], record=True)
    x = _noise(7 * 160, seed=2)
    with AudioEngine(room, rate) as engine:
        engine.write_far(x)
        room.run_frames(12)
        stats = engine.stats
    assert stats.frames == 12
    assert stats.underruns == 5
    played = room.recording()["played"]
    np.testing.assert_array_equal(played[: x.size], x)
    assert np.all(played[x.size :] == 0.0)


def test_capture_ring_overruns_are_counted_and_a_capture_callback_gets_every_frame():
    rate = 16000
    room = SimulatedBackend(rate, impulse_response=[1.0], near=_noise(4000, seed=9), loop=True)
    engine = AudioEngine(room, rate, capture_buffer_ms=100)
    engine.start()
    room.run_frames(15)
    assert engine.stats.overruns == 5
    with pytest.warns(AudioDropWarning, match="5 captured frame"):
        assert engine.read_capture().size == 10 * 160
    engine.stop()

    got: list[np.ndarray] = []
    engine = AudioEngine(room, rate, capture=lambda f: got.append(f.copy()))
    with engine:
        room.run_frames(15)
    assert len(got) == 15 and engine.stats.overruns == 0
    assert all(f.shape == (160,) for f in got)  # 1-D for one channel, as read_capture


def test_mute_zeroes_what_the_application_gets_but_keeps_processing():
    rate = 16000
    near = _noise(16000, seed=4, level=0.1)
    room = SimulatedBackend(rate, impulse_response=[1.0], near=near)
    vp = VoiceProcessor(rate, config=ProcessingConfig())
    with AudioEngine(room, rate, vp) as engine:
        room.run_frames(10)
        engine.muted = True
        room.run_frames(10)
        engine.muted = False
        room.run_frames(10)
        y = engine.read_capture()
    frames = y.reshape(30, 160)
    assert np.all(frames[10:20] == 0.0)
    assert np.all(np.abs(frames[:10]).max(axis=1) > 0.0)
    assert np.all(np.abs(frames[20:]).max(axis=1) > 0.0)
    assert vp.stats.capture_frames == 30  # the chain ran through the muted frames


@pytest.mark.parametrize("rate", RATES)
def test_measurement_mode_bypass_passes_the_microphone_through(rate):
    near = _noise(rate, seed=11)
    outs = []
    for vp in (None, VoiceProcessor(rate, config=ProcessingConfig.bypass())):
        room = SimulatedBackend(rate, delay_ms=20.0, near=near, record=True)
        with AudioEngine(room, rate, vp) as engine:
            engine.write_far(_noise(rate // 4, seed=12))
            room.run_frames(50)
            outs.append(engine.read_capture())
            np.testing.assert_array_equal(outs[-1], room.recording()["mic"])
    np.testing.assert_array_equal(outs[0], outs[1])


@pytest.mark.parametrize("rate", RATES)
def test_processing_in_the_callback_equals_offline_processing(rate):
    """The engine runs process_render then process_capture per frame, like process_arrays."""
    near = _noise(rate, seed=13, level=0.05)
    room = SimulatedBackend(rate, delay_ms=40.0, rt60_s=0.15, near=near, record=True, seed=1)
    vp = VoiceProcessor(rate, config=ProcessingConfig())
    with AudioEngine(room, rate, vp, capture_buffer_ms=1000) as engine:
        engine.write_far(_noise(rate // 2, seed=14))
        room.run_frames(60)
        y = engine.read_capture()
    rec = room.recording()
    offline = process_arrays(rec["mic"], rec["played"], sample_rate=rate, config=ProcessingConfig())
    assert not np.array_equal(y, rec["mic"])  # the chain did something
    np.testing.assert_array_equal(y, offline)


def test_progress_tone_is_played_and_is_the_echo_reference():
    rate = 16000
    room = SimulatedBackend(rate, impulse_response=[1.0], record=True)
    spec = tone_plan("CEPT").ringback  # 425 Hz, 1 s on, 4 s off
    tone = PreparedSound.from_source(ToneSource(spec, rate), rate)
    vp = VoiceProcessor(rate)
    with AudioEngine(room, rate, vp, capture_buffer_ms=2000) as engine:
        engine.play(tone)
        room.run_frames(150)
        assert engine.source is tone
        engine.play(None)
        room.run_frames(10)
        stats = engine.stats
        y = engine.read_capture()
    rec = room.recording()
    played = rec["played"]
    period = render_period(spec, rate)
    np.testing.assert_array_equal(played[: 150 * 160], period[: 150 * 160])
    on = played[int(0.1 * rate) : int(0.9 * rate)]
    spectrum = np.abs(np.fft.rfft(on))
    assert abs(np.argmax(spectrum) * rate / on.size - 425.0) < 2.0
    assert np.all(played[int(1.0 * rate) : int(1.5 * rate)] == 0.0)  # the cadence's pause
    assert np.all(played[150 * 160 :] == 0.0)  # stopped
    assert stats.silent_frames == 160  # no far-end audio was queued meanwhile
    assert stats.underruns == 0  # ... and none had ever been: silence, not an underrun
    # The tone was the render reference: the chain saw exactly what was played.
    offline = process_arrays(rec["mic"], played, sample_rate=rate)
    np.testing.assert_array_equal(y, offline)


def test_a_sound_file_source_is_resampled_and_finishes():
    rate = 16000
    room = SimulatedBackend(rate, impulse_response=[1.0], record=True)
    from callaudio.audio.base import ArraySource

    t = np.arange(4800) / 48000
    stereo = np.stack([np.sin(2 * np.pi * 1000 * t), np.zeros_like(t)], axis=1) * 0.5
    sound = PreparedSound.from_source(ArraySource(stereo, 48000), rate)
    x = _noise(3200, seed=15)
    with AudioEngine(room, rate) as engine:
        engine.write_far(x)
        engine.play(sound)
        room.run_frames(20)
        assert sound.done and engine.source is None
    played = room.recording()["played"].astype(np.float64)
    tone = played[:1600] - x[:1600]
    # 0.1 s at 48 kHz became 1600 samples at 16 kHz; the mono mix is 0.25 * sin(1 kHz).
    ref = 0.25 * np.sin(2 * np.pi * 1000 * np.arange(1600) / rate)
    assert np.max(np.abs(tone[100:-100] - ref[100:-100])) < 2e-3
    np.testing.assert_array_equal(played[1600:3200], x[1600:])


def test_playback_and_record_modes_use_one_direction_only():
    rate = 16000
    near = _noise(3200, seed=16)
    room = SimulatedBackend(rate, impulse_response=[1.0], near=near, record=True)
    with AudioEngine(room, rate, mode="record") as engine:
        engine.write_far(_noise(1600, seed=17))
        room.run_frames(10)
        y = engine.read_capture()
        assert engine.far_queued_ms() == 100.0  # nothing consumed
    np.testing.assert_array_equal(y, near[:1600])
    with AudioEngine(room, rate, mode="playback") as engine:
        room.run_frames(10)
        assert engine.read_capture().size == 0
        assert engine.far_queued_ms() == 0.0
    played = room.recording()["played"]
    assert played.size == 3200 and np.all(played[:1600] == 0.0)  # record mode played nothing


def _callback_args(rate: int):
    n = rate // 100
    rng = np.random.default_rng(0)
    indata = (0.1 * rng.standard_normal((n, 1))).astype(np.float32)
    outdata = np.zeros((n, 1), np.float32)
    return indata, outdata, n


@pytest.mark.parametrize("rate", RATES)
def test_the_callback_allocates_no_buffer(rate):
    """tracemalloc around callback calls: no net growth and no buffer allocated.

    Python's own small objects (ints, bound methods) come and go in any Python callback;
    the peak stays under 1 KiB, less than one 10 ms frame at 48 kHz (1920 bytes as float32).
    """
    room = SimulatedBackend(rate, impulse_response=[1.0])
    vp = VoiceProcessor(rate, config=ProcessingConfig())
    engine = AudioEngine(room, rate, vp, capture_buffer_ms=3000)
    engine.start()  # allocates the buffers; the callback is driven by hand below
    cb = engine.callback
    indata, outdata, n = _callback_args(rate)
    status = CallbackFlags()
    engine.play(PreparedSound.from_source(ToneSource(tone_plan("CEPT").busy, rate), rate))

    def run(frames: int) -> None:
        for _ in range(frames):
            cb(indata, outdata, n, None, status)

    run(20)  # warm up (first-call caches)
    tracemalloc.start()
    try:
        run(5)
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        run(200)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        engine.stop()
    assert peak - before < 1024, f"peak grew {peak - before} B"
    assert after - before < 512, f"kept {after - before} B"
    assert engine.stats.frames == 225
    assert engine.stats.callback_errors == 0
    assert engine.stats.overruns == 0


def test_feeding_far_end_audio_to_the_ring_is_allocation_free_in_the_callback():
    """The far-end path: the application fills the ring, the callback only copies out."""
    rate = 48000
    room = SimulatedBackend(rate, impulse_response=[1.0])
    engine = AudioEngine(room, rate, VoiceProcessor(rate), far_buffer_ms=1000)
    engine.start()
    indata, outdata, n = _callback_args(rate)
    status = CallbackFlags()
    engine.write_far(_noise(100 * n, seed=8))
    cb = engine.callback
    for _ in range(10):
        cb(indata, outdata, n, None, status)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(80):
            cb(indata, outdata, n, None, status)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        engine.stop()
    assert peak - before < 1024
    assert after - before < 512
    assert engine.stats.underruns == 0
    assert not np.all(outdata == 0.0)


def test_a_callback_exception_is_recorded_and_raised_by_stop():
    rate = 16000
    room = SimulatedBackend(rate, impulse_response=[1.0], record=True)
    calls = []

    def capture(frame: np.ndarray) -> None:
        calls.append(1)
        if len(calls) in (3, 4):
            raise RuntimeError(f"boom {len(calls)}")

    engine = AudioEngine(room, rate, capture=capture)
    engine.start()
    engine.write_far(_noise(1600, seed=1))
    room.run_frames(10)  # the stream keeps running after the errors
    assert engine.stats.callback_errors == 2
    with pytest.raises(CallbackError, match="2 audio callback") as info:
        engine.stop()
    err = info.value
    assert err.count == 2
    assert [str(e) for e in err.errors] == ["boom 3", "boom 4"]
    assert isinstance(err.__cause__, RuntimeError)
    assert "capture" in err.tracebacks[0]
    assert len(calls) == 10
    assert not engine.running


def test_a_wrong_blocksize_is_a_recorded_error_and_the_output_is_silent():
    rate = 16000
    engine = AudioEngine(SimulatedBackend(rate, impulse_response=[1.0]), rate)
    engine.start()
    engine.write_far(np.ones(1600, np.float32))
    outdata = np.full((80, 1), 9.0, np.float32)
    engine.callback(np.zeros((80, 1), np.float32), outdata, 80, None, CallbackFlags())
    assert np.all(outdata == 0.0)
    stats = engine.stop(raise_errors=False)
    assert stats.callback_errors == 1
    assert engine.stop(raise_errors=False).callback_errors == 1  # stop twice is harmless


def test_xrun_flags_are_accumulated_and_counted():
    rate = 16000
    engine = AudioEngine(SimulatedBackend(rate, impulse_response=[1.0]), rate)
    engine.start()
    indata, outdata, n = _callback_args(rate)
    engine.callback(indata, outdata, n, None, CallbackFlags(0x2))  # input overflow
    engine.callback(indata, outdata, n, None, CallbackFlags(0x0))
    engine.callback(indata, outdata, n, None, CallbackFlags(0x4))  # output underflow
    engine.callback(indata, outdata, n, None, CallbackFlags(0x10))  # priming: no xrun
    stats = engine.stop()
    assert stats.xruns == 2
    assert stats.xrun_flags == "input overflow, output underflow, priming output"


def test_real_time_pacing_runs_one_frame_per_10_ms():
    rate = 16000
    room = SimulatedBackend(rate, impulse_response=[1.0], realtime=True)
    engine = AudioEngine(room, rate)
    with pytest.raises(BackendError, match="real time"):
        room.run_frames(1)
    t0 = time.monotonic()
    engine.start()
    time.sleep(0.3)  # real time is what this test measures
    stats = engine.stop()
    elapsed = time.monotonic() - t0
    # never ahead of real time; behind it only by frames a reported xrun accounts for (the
    # pacing thread re-anchors after a stall of the host: 29 frames in 0.33 s, 1 xrun, once
    # at load 8.6 on 2 cores)
    assert stats.frames <= elapsed * 100 + 3
    if stats.xruns == 0:
        assert stats.frames >= elapsed * 100 - 3, (stats.frames, elapsed)
    else:
        assert "input overflow" in stats.xrun_flags, stats.xrun_flags
        assert stats.frames >= 10  # it ran, paced
    assert stats.cost_us_mean is not None and stats.cost_us_max is not None
    assert stats.interval_us_max is not None and stats.interval_us_max > 5000


def test_reset_processor_while_running_happens_at_the_next_frame():
    """The reset is applied between frames 50 and 51, exactly as an offline reset there."""
    rate = 16000
    room = SimulatedBackend(
        rate, delay_ms=30.0, rt60_s=0.15, near=_noise(16000, seed=3, level=0.02), record=True
    )
    vp = VoiceProcessor(rate)
    with AudioEngine(room, rate, vp, capture_buffer_ms=1000) as engine:
        engine.write_far(_noise(60 * 160, seed=4))
        room.run_frames(50)
        engine.reset_processor()
        room.run_frames(10)
        y = engine.read_capture()
    rec = room.recording()
    ref = VoiceProcessor(rate)
    expected = np.empty_like(y)
    for k in range(60):
        if k == 50:
            ref.reset_echo_path()
        sl = slice(k * 160, (k + 1) * 160)
        ref.process_render(rec["played"][sl])
        ref.process_capture(rec["mic"][sl], out=expected[sl])
    np.testing.assert_array_equal(y, expected)
    # ... and it mattered: without it the same frames come out differently.
    plain = process_arrays(rec["mic"], rec["played"], sample_rate=rate)
    assert not np.array_equal(y[50 * 160 :], plain[50 * 160 :])
    np.testing.assert_array_equal(y[: 50 * 160], plain[: 50 * 160])


def test_configuration_errors_are_clear():
    room = SimulatedBackend(16000)
    with pytest.raises(ConfigError, match="48000 Hz"):
        AudioEngine(room, 16000, VoiceProcessor(48000))
    with pytest.raises(ConfigError, match="mode"):
        AudioEngine(room, 16000, mode="loud")
    with pytest.raises(ConfigError, match="delay_ms"):
        SimulatedBackend(16000, delay_ms=5.0)
    engine = AudioEngine(room, 16000)
    engine.start()
    with pytest.raises(BackendError, match="already has an open stream"):
        AudioEngine(room, 16000).start()
    engine.stop()
    with pytest.raises(BackendError, match="16000 Hz"):
        AudioEngine(room, 48000).start()


def _fifo_allowed(priority: int) -> bool:
    """Whether this process may put a thread under SCHED_FIFO (tried on a throwaway thread)."""
    import os
    import threading

    result: list[bool] = []

    def probe() -> None:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
            result.append(True)
        except (OSError, AttributeError):
            result.append(False)

    t = threading.Thread(target=probe)
    t.start()
    t.join()
    return result[0]


def test_the_audio_thread_asks_for_real_time_priority_and_records_the_answer():
    rate = 16000
    room = SimulatedBackend(rate, impulse_response=[1.0], realtime=True)
    engine = AudioEngine(room, rate, realtime_priority=10)
    engine.start()
    time.sleep(0.05)
    stats = engine.stop()
    if _fifo_allowed(10):
        assert stats.thread_priority == "SCHED_FIFO 10"
    else:
        assert stats.thread_priority.startswith("normal (SCHED_FIFO 10 refused")
    assert AudioEngine(room, rate).stats.thread_priority == "normal"
    with pytest.raises(ConfigError, match="realtime_priority"):
        AudioEngine(room, rate, realtime_priority=100)


def test_the_monitor_keeps_what_was_played_and_the_raw_microphone():
    rate = 16000
    room = SimulatedBackend(rate, delay_ms=20.0, near=_noise(4000, seed=20), record=True)
    vp = VoiceProcessor(rate)
    with AudioEngine(room, rate, vp, monitor=True) as engine:
        engine.write_far(_noise(3200, seed=21))
        room.run_frames(25)
        played, mic = engine.read_monitor()
        y = engine.read_capture()
    rec = room.recording()
    np.testing.assert_array_equal(played, rec["played"])
    np.testing.assert_array_equal(mic, rec["mic"])
    assert y.size == mic.size and not np.array_equal(y, mic)
    with pytest.raises(ConfigError, match="monitor"):
        AudioEngine(room, rate).read_monitor()


def test_run_frames_from_inside_a_frame_is_refused_not_recursed() -> None:
    """A capture callback (or frame hook) driving its own simulated device recursed until
    RecursionError, inside the callback."""
    device = SimulatedBackend(16000)
    seen: list[str] = []

    def capture(frame: object) -> None:
        try:
            device.run_frames(1)
            seen.append("ran")
        except BackendError:
            seen.append("refused")

    engine = AudioEngine(device, 16000, capture=capture)
    engine.start()
    device.run_frames(3)
    engine.stop()
    assert seen == ["refused"] * 3
    hook_seen: list[str] = []

    def hook() -> None:
        try:
            device.run_seconds(0.01)
        except BackendError:
            hook_seen.append("refused")

    device.add_frame_hook(hook)
    engine.start()
    device.run_frames(2)  # and the device runs on from the outside afterwards
    device.run_frames(1)
    engine.stop()
    assert hook_seen == ["refused"] * 3


def test_a_callback_exception_whose_str_raises_still_gives_a_callback_error() -> None:
    """stop() raised the RuntimeError of the exception's own __str__ instead."""

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no str")

    def capture(frame: object) -> None:
        raise Unprintable()

    device = SimulatedBackend(16000)
    engine = AudioEngine(device, 16000, capture=capture)
    engine.start()
    device.run_frames(2)
    with pytest.raises(CallbackError, match="Unprintable: <str"):
        engine.stop()
    assert not engine.running
