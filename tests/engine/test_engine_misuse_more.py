"""Hostile use found by an adversarial probe: the fast capture path with an overlapping
out, a blocking read while a capture callback takes the frames, hostile ring arguments,
a stream whose close fails."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from callaudio import VoiceProcessor
from callaudio.devices.simulated import SimulatedBackend
from callaudio.engine import AudioEngine
from callaudio.errors import CallAudioError, FrameError

RATE = 16000
N = RATE // 100


def test_fast_capture_with_an_overlapping_out_is_refused_or_right() -> None:
    """mic and out one sample apart in one buffer (2 channels): channel 0's output
    overwrote channel 1's input before it was read, and the wrong frame came back with
    no error. The docstring forbids the overlap; it should be refused (FrameError), as
    the other misuses are, or processed as process_capture does (it copies)."""
    rng = np.random.default_rng(0)
    ref_vp, vp = VoiceProcessor(RATE, channels=2), VoiceProcessor(RATE, channels=2)
    buf = np.zeros(2 * N + 1, np.float32)
    for _ in range(5):
        frame = (0.1 * rng.standard_normal((N, 2))).astype(np.float32)
        want = ref_vp.process_capture(frame.copy())
        buf[: 2 * N] = frame.ravel()
        mic, out = buf[: 2 * N].reshape(N, 2), buf[1:].reshape(N, 2)
        try:
            vp.process_capture_fast(mic, out)
        except FrameError:
            return
        np.testing.assert_allclose(out, want, atol=1e-6)


def test_a_blocking_read_on_an_engine_that_delivers_to_a_callback_does_not_hang() -> None:
    """With a capture callback nothing ever lands in the capture ring, so
    read_capture(timeout=None) blocked until the engine stopped. It should be refused
    (ConfigError) or return at once."""
    dev = SimulatedBackend(RATE, realtime=True)
    engine = AudioEngine(dev, RATE, VoiceProcessor(RATE), capture=lambda frame: None)
    engine.start()
    outcome: list[object] = []

    def read() -> None:
        try:
            outcome.append(engine.read_capture(1, timeout=None))
        except CallAudioError as exc:
            outcome.append(exc)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(1.0)
    hung = t.is_alive()
    engine.stop()
    t.join(5.0)
    assert not hung, "read_capture(timeout=None) blocked while the engine ran"


def test_ring_calls_refuse_hostile_arguments_with_one_library_error() -> None:
    """write_far(ragged list) raised numpy's ValueError (rings.py: np.asarray unguarded);
    read_capture(max_frames=2**70) raised OverflowError (ring.py check_max_frames has no
    upper bound). Both should be CallAudioError subclasses."""
    dev = SimulatedBackend(RATE)
    engine = AudioEngine(dev, RATE, VoiceProcessor(RATE))
    engine.start()
    try:
        with pytest.raises(CallAudioError):
            engine.write_far([[0.0], [0.0, 0.0]])
        with pytest.raises(CallAudioError):
            engine.read_capture(2**70)
    finally:
        engine.stop()


def test_a_stream_whose_close_fails_does_not_keep_the_processor_claimed() -> None:
    """AudioEngine._close_stream runs ``stream.close(); self._set_stopped()`` in one
    ``finally``: when close() raises (sounddevice wraps a PortAudioError from
    Pa_CloseStream in DeviceError: a device unplugged, a JACK server gone), _set_stopped
    never runs. stop() raises the DeviceError -- fine -- but the processor stays claimed
    by an engine that is no longer running and can never be stopped again: frames,
    reset, close and any other engine are refused with IN USE for good."""
    from callaudio.errors import DeviceError, InvalidStateError

    class ClosingFails(SimulatedBackend):
        def open_stream(self, **kw):  # type: ignore[no-untyped-def]
            stream = super().open_stream(**kw)
            close = stream.close

            def failing_close() -> None:
                close()
                raise DeviceError("close", "the device went away")

            stream.close = failing_close  # type: ignore[method-assign]
            return stream

    vp = VoiceProcessor(RATE)
    dev = ClosingFails(RATE)
    engine = AudioEngine(dev, RATE, vp)
    engine.start()
    dev.run_frames(2)
    with pytest.raises(DeviceError):
        engine.stop()
    assert not engine.running
    engine.stop()  # nothing left to stop
    try:
        vp.process_capture(np.zeros(N, np.float32))
    except InvalidStateError as exc:
        raise AssertionError(f"the processor is still claimed: {exc}") from None


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "python"])
def test_the_audio_thread_never_waits_for_itself_on_a_full_command_queue(compiled) -> None:
    """64 queued commands fill the queue; a configuration change then makes the audio
    thread sync the new chains before its frame: it used to wait up to 1 s for "the
    callback" (itself) to drain the queue and then fail the frame (a ConfigError from
    run_frames, or a callback error)."""
    import dataclasses

    rate = 16000
    dev = SimulatedBackend(rate)  # the caller's thread runs the frames (Python raw driver)
    vp = VoiceProcessor(rate, channels=2)
    eng = AudioEngine(dev, rate, vp, channels=2, compiled=compiled)
    eng.start()
    try:
        dev.run_frames(1)
        for _ in range(64):
            eng.reset_processor()
        cfg = vp.config
        ns = dataclasses.replace(cfg.noise_suppressor, enabled=False)
        vp.apply_config(dataclasses.replace(cfg, noise_suppressor=ns))
        dev.run_frames(5)  # the first drains the queue, a later one takes the new chains
    finally:
        stats = eng.stop(raise_errors=False)
    assert stats.callback_errors == 0


def test_flags_must_be_bools_and_a_refused_one_changes_nothing() -> None:
    # engine.speaker = <array> raised numpy's ValueError (muted was checked, speaker not);
    # PreparedSound(loop="no") looped (a truthy str)
    from callaudio.engine.sound import PreparedSound
    from callaudio.errors import ConfigError

    room = SimulatedBackend(16000, impulse_response=[1.0])
    engine = AudioEngine(room, 16000)
    engine.speaker = np.True_
    for bad in (np.ones(3), "no", None, 1):
        with pytest.raises(ConfigError, match="speaker"):
            engine.speaker = bad
        with pytest.raises(ConfigError, match="muted"):
            engine.muted = bad
        with pytest.raises(ConfigError, match="loop"):
            PreparedSound(np.zeros(10), loop=bad)
    assert engine.speaker is True and engine.muted is False
    assert PreparedSound(np.zeros(10), loop=np.True_).loop is True


@pytest.mark.parametrize(
    "device", ["default", 5, None, object()], ids=["name", "int", "none", "object"]
)
def test_an_engine_or_backend_on_something_that_is_no_device_is_refused_at_construction(
    device: object,
) -> None:
    """EngineBackend("default") (a device name where make_backend takes one) and
    AudioEngine(object(), ...) were accepted; the first stream's open failed with a raw
    AttributeError ('str' object has no attribute 'capabilities'), at a call's
    establishment. Now ConfigError naming the device, before anything is built."""
    from callaudio import AudioEngine, ConfigError, EngineBackend

    with pytest.raises(ConfigError, match="must be a Device"):
        EngineBackend(device)  # type: ignore[type-var]
    with pytest.raises(ConfigError, match="must be a Device"):
        AudioEngine(device, RATE)  # type: ignore[arg-type]
