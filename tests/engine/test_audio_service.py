"""The audio service's contract: resume and echo resets, no stream nobody asked for, live
stats, the recording double's ``resume`` log, and devices that declare their capabilities."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from callaudio.audio import (
    ArraySource,
    AudioBackend,
    EngineBackend,
    MemoryBackend,
    RecordingAudioService,
    StreamConfig,
)
from callaudio.devices.base import Device, DeviceCapabilities, Stream
from callaudio.devices.simulated import SimulatedBackend
from callaudio.devices.sounddevice_backend import SounddeviceBackend
from callaudio.errors import BackendError, CallAudioError, ConfigError
from callaudio.tones import ToneSource, tone_plan

RATE = 16000
N = RATE // 100


def _config(rate: int = RATE, voice_processing: bool = True) -> StreamConfig:
    return StreamConfig(
        sample_rate=rate,
        io_buffer_duration=0.01,
        voice_processing=voice_processing,
        input_port="built_in_mic",
        output_port="built_in_speaker",
    )


def _backend() -> tuple[EngineBackend, SimulatedBackend]:
    room = SimulatedBackend(RATE, impulse_response=[1.0])
    return EngineBackend(room, poll_interval=None, capture_buffer_ms=2000), room


class _Counting:
    """Counts a processor's in-place echo resets and the thread each ran on; with an
    engine, also the resets its compiled callback applied (no Python call to count)."""

    def __init__(self, vp, engine=None) -> None:  # type: ignore[no-untyped-def]
        import threading

        self.calls = 0
        self.threads: list[str] = []
        self._engine = engine
        inner = vp.reset_echo_path

        def counted() -> None:
            self.calls += 1
            self.threads.append(threading.current_thread().name)
            inner()

        vp.reset_echo_path = counted

    @property
    def count(self) -> int:
        engine = self._engine
        return self.calls + (0 if engine is None else engine.stats.echo_path_resets)


# -- resume and the echo canceller reset ------------------------------------------------------


def test_resume_reuses_the_kept_chain_with_its_echo_path_reset():
    backend, room = _backend()
    backend.start_duplex(_config())
    first = backend.engine.processor
    room.run_frames(5)
    backend.stop_duplex()
    resets = _Counting(first)
    backend.start_duplex(_config(), resume=True)
    assert backend.engine.processor is first and resets.count == 1
    backend.stop_duplex()
    backend.close()


def test_a_reset_while_stopped_resets_the_kept_chain_but_does_not_mean_resume():
    backend, room = _backend()
    backend.start_duplex(_config())
    first = backend.engine.processor
    room.run_frames(3)
    backend.stop_duplex()
    resets = _Counting(first)
    backend.reset_echo_canceller()
    assert resets.count == 1  # the kept chain, now
    backend.start_duplex(_config())  # resume=False: a new call
    assert backend.engine.processor is not first
    backend.stop_duplex()
    backend.close()


def test_resume_without_a_matching_kept_chain_builds_a_fresh_one():
    backend, room = _backend()
    backend.start_duplex(_config(), resume=True)  # nothing kept yet
    first = backend.engine.processor
    assert first is not None
    room.run_frames(2)
    backend.stop_duplex()
    backend.start_duplex(_config(voice_processing=False), resume=True)
    assert backend.engine.processor is None  # no chain asked for; the kept one is dropped
    backend.stop_duplex()
    backend.start_duplex(_config(), resume=True)
    assert backend.engine.processor is not first
    backend.stop_duplex()
    backend.close()


def test_a_reset_while_running_is_done_in_place_by_the_callback():
    backend, room = _backend()
    backend.start_duplex(_config())
    vp = backend.engine.processor
    resets = _Counting(vp, backend.engine)
    room.run_frames(2)
    backend.reset_echo_canceller()
    assert resets.count == 0  # not on the caller's thread
    room.run_frames(1)
    assert resets.count == 1 and backend.engine.processor is vp  # nothing rebuilt
    backend.stop_duplex()
    backend.close()


def test_the_recording_double_logs_resume_separately():
    backend = MemoryBackend()
    assert RecordingAudioService is MemoryBackend and isinstance(backend, AudioBackend)
    backend.start_duplex(_config())
    backend.stop_duplex()
    backend.start_duplex(_config(), resume=True)
    assert backend.names == ["start_duplex", "stop_duplex", "start_duplex"]
    assert backend.calls[0] == ("start_duplex", _config())  # unchanged log entries
    assert backend.duplex_resumes == [False, True]
    backend.close()
    assert not backend.is_running


# -- live stats -------------------------------------------------------------------------------


def test_stats_are_live_while_the_stream_runs():
    backend, room = _backend()
    assert backend.stats is None
    backend.start_duplex(_config())
    room.run_frames(7)
    assert backend.stats is not None and backend.stats.frames == 7
    assert backend.last_stats is None  # only set at stop
    room.run_frames(3)
    assert backend.stats.frames == 10
    backend.stop_duplex()
    assert backend.stats == backend.last_stats and backend.stats.frames == 10
    backend.close()


# -- no stream nobody asked for ---------------------------------------------------------------


def _no_stream(backend: EngineBackend, room: SimulatedBackend) -> None:
    assert backend.stream is None and room.stream is None and not backend.is_running


def test_after_every_stop_and_after_close_no_stream_is_open():
    backend, room = _backend()
    tone = ToneSource(tone_plan("US").ringback, RATE)
    backend.start_duplex(_config())
    room.run_frames(2)
    backend.stop_duplex()
    _no_stream(backend, room)
    backend.start_record(_config())
    backend.stop_record()
    _no_stream(backend, room)
    backend.start_playback(tone)
    backend.start_duplex(_config())
    backend.stop_playback()
    backend.stop_duplex()
    _no_stream(backend, room)
    backend.start_playback(tone)
    backend.start_duplex(_config())
    backend.close()  # the sound and the call at once
    _no_stream(backend, room)


def test_a_failed_stop_still_closes_the_stream():
    def capture(frame: np.ndarray) -> None:
        raise KeyboardInterrupt

    room = SimulatedBackend(RATE, impulse_response=[1.0])
    backend = EngineBackend(room, poll_interval=None, capture=capture)
    backend.start_duplex(_config())
    room.run_frames(2)
    with pytest.raises(BackendError, match="KeyboardInterrupt"):
        backend.stop_duplex()
    _no_stream(backend, room)


class ServiceMachine(RuleBasedStateMachine):
    """Any sequence of requests: a stream is open exactly while something asked for runs."""

    def __init__(self) -> None:
        super().__init__()
        self.room = SimulatedBackend(RATE, impulse_response=[1.0])
        self.backend = EngineBackend(self.room, poll_interval=None)
        self.duplex = False
        self.record = False
        self.sound = False

    @precondition(lambda self: not self.duplex and not self.record)
    @rule(resume=st.booleans(), vp=st.booleans())
    def start_duplex(self, resume: bool, vp: bool) -> None:
        self.backend.start_duplex(_config(voice_processing=vp), resume=resume)
        self.duplex = True

    @rule()
    def stop_duplex(self) -> None:
        self.backend.stop_duplex()
        self.duplex = False

    @precondition(lambda self: not self.duplex and not self.record and not self.sound)
    @rule()
    def start_record(self) -> None:
        self.backend.start_record(_config())
        self.record = True

    @rule()
    def stop_record(self) -> None:
        self.backend.stop_record()
        self.record = False

    @precondition(lambda self: not self.record)
    @rule(looping=st.booleans())
    def start_playback(self, looping: bool) -> None:
        # Long enough not to end within the frames a run of the machine plays.
        self.backend.start_playback(ArraySource(np.full(RATE * 60, 0.1), RATE, loop=looping))
        self.sound = True

    @rule()
    def stop_playback(self) -> None:
        self.backend.stop_playback()
        self.sound = False

    @rule()
    def reset(self) -> None:
        self.backend.reset_echo_canceller()

    @rule(speaker=st.booleans(), muted=st.booleans())
    def flags(self, speaker: bool, muted: bool) -> None:
        self.backend.set_speaker(speaker)
        self.backend.set_muted(muted)

    @precondition(lambda self: self.room.stream is not None and self.room.stream.active)
    @rule(frames=st.integers(1, 5))
    def run(self, frames: int) -> None:
        self.room.run_frames(frames)

    @invariant()
    def a_stream_exactly_while_something_asked_for_runs(self) -> None:
        wanted = self.duplex or self.record or self.sound
        assert (self.backend.stream is not None) == wanted
        assert (self.room.stream is not None) == wanted
        kind = self.backend.stream_kind
        if self.duplex:
            assert kind == "duplex"
        elif self.record:
            assert kind == "record"
        elif self.sound:
            assert kind == "playback"

    def teardown(self) -> None:
        self.backend.close()
        assert self.backend.stream is None and self.room.stream is None


ServiceMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
test_the_service_never_keeps_a_stream_nobody_asked_for = ServiceMachine.TestCase


# -- devices declare what they can do ---------------------------------------------------------


def test_devices_declare_their_capabilities_and_implement_the_whole_protocol():
    room = SimulatedBackend(RATE)
    assert isinstance(room, Device)
    assert room.capabilities == DeviceCapabilities(
        fixed_sample_rate=RATE,
        caller_driven=True,
        speaker_route=True,
        port_routing=False,
        raw_callback="python",
    )
    paced = SimulatedBackend(RATE, realtime=True)
    assert not paced.capabilities.caller_driven
    assert room.route("usb_mic", "usb_speaker") is room
    stream = room.open_stream(
        sample_rate=RATE, blocksize=N, channels=1, mode="duplex", callback=lambda *a: None
    )
    assert isinstance(stream, Stream) and stream.check_alive() is None
    stream.declare_lost("no callbacks")
    fault = stream.check_alive()
    assert fault is not None and fault.detail == "no callbacks"
    stream.close()

    pa = SounddeviceBackend("nothing")
    assert isinstance(pa, Device)
    assert pa.capabilities.fixed_sample_rate is None and not pa.capabilities.caller_driven
    with pytest.raises(BackendError, match="add_frame_hook"):
        pa.add_frame_hook(lambda: None)


def test_the_service_reads_declared_capabilities_instead_of_probing():
    import ast
    import inspect

    from callaudio.audio import service

    tree = ast.parse(inspect.getsource(service))
    probes = [
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("getattr", "hasattr", "setattr")
    ]
    assert probes == []


def test_make_backend_is_importable_from_the_top_level():
    import callaudio
    from callaudio import make_backend

    assert callaudio.EngineBackend is EngineBackend
    with pytest.raises(ConfigError, match="unknown backend"):
        make_backend("alsa")


def test_far_end_audio_given_while_no_call_stream_runs_is_counted_not_lost_silently():
    backend, _ = _backend()
    assert backend.write_far(np.zeros(3 * N, np.float32)) == 0
    assert backend.far_discarded == 3 * N
    backend.start_duplex(_config())
    assert backend.write_far(np.zeros(2 * N, np.float32)) == 2 * N
    backend.stop_duplex()  # an interruption
    assert backend.write_far(np.zeros(N, np.float32)) == 0
    assert backend.far_discarded == 4 * N
    backend.close()


def test_backend_write_far_validates_its_input_with_no_duplex_stream() -> None:
    """EngineBackend.write_far with no duplex stream (before the call's audio, during an
    interruption) returned 0 for anything -- a string, a stereo or complex array, a
    negative timeout -- and raised numpy's ValueError for a ragged list, while the same
    calls during a call raise FrameError/ConfigError. Bad input should get the same one
    library error whether or not a stream runs."""
    from callaudio.audio import make_backend

    backend = make_backend("simulated", sample_rate=RATE, realtime=False)
    for args in (
        ("abc",),
        (np.zeros((10, 2), np.float32),),
        (np.zeros(10, complex),),
        (np.zeros(10, np.float32), -5),
        ([[0.0], [0.0, 0.0]],),
    ):
        with pytest.raises(CallAudioError):
            backend.write_far(*args)


def test_write_far_raises_the_same_error_with_and_without_a_stream() -> None:
    backend, _ = _backend()
    bad = (("abc",), (np.zeros((10, 2), np.float32),), (np.zeros(4, np.float32), -1.0))
    without = []
    for args in bad:
        with pytest.raises(CallAudioError) as info:
            backend.write_far(*args)
        without.append((type(info.value), str(info.value)))
    assert backend.far_discarded == 0  # bad input changes nothing
    backend.start_duplex(_config())
    for args, expected in zip(bad, without, strict=True):
        with pytest.raises(CallAudioError) as info:
            backend.write_far(*args)
        assert (type(info.value), str(info.value)) == expected
    backend.close()


# -- a stream stopped inside its own capture callback -----------------------------------------


def test_the_engine_and_the_service_tell_the_audio_thread_from_the_others() -> None:
    """Inside a capture callback (the room runs it on this very thread): the engine, the
    service and the module function say so; another engine does not; outside, after a
    callback that raised too, none does."""
    from callaudio.engine import AudioEngine, in_audio_callback
    from callaudio.errors import CallbackError

    seen: list[tuple[bool, bool, bool, bool]] = []

    def capture(frame):  # type: ignore[no-untyped-def]
        here = backend.engine
        seen.append(
            (
                in_audio_callback(),
                here is not None and here.on_audio_thread(),
                other.on_audio_thread(),
                backend.on_audio_thread(),
            )
        )
        if len(seen) == 2:
            raise RuntimeError("a failing capture callback")

    room = SimulatedBackend(RATE, impulse_response=[1.0])
    backend = EngineBackend(room, poll_interval=None, capture=capture)
    other = AudioEngine(SimulatedBackend(RATE), RATE)
    backend.start_duplex(_config())
    room.run_frames(3)
    assert seen == [(True, True, False, True)] * 3
    assert not in_audio_callback() and not backend.on_audio_thread()
    assert not backend.engine.on_audio_thread()
    with pytest.raises(CallbackError):
        backend.stop_duplex()


def test_a_stream_stopped_in_its_capture_callback_is_closed_before_the_next_start() -> None:
    """The callback stops the duplex stream and goes on 0.2 s: the engine only halts and
    its helper thread closes the stream when the callback returns. The next start (and a
    reset of the kept chain) from the application must wait for it, not meet the open
    stream on the device (BackendError) or the chain still claimed (InvalidStateError)."""
    armed, stopped = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def capture(frame):  # type: ignore[no-untyped-def]
        if armed.is_set():
            armed.clear()
            try:
                backend.stop_duplex()
            except BaseException as exc:
                errors.append(exc)
            stopped.set()
            time.sleep(0.2)

    room = SimulatedBackend(RATE, impulse_response=[1.0], realtime=True)
    backend = EngineBackend(room, capture=capture)
    try:
        backend.start_duplex(_config())
        first = backend.engine.processor
        armed.set()
        assert stopped.wait(5.0)
        assert not errors and not backend.is_running
        backend.reset_echo_canceller()  # the kept chain is still the halted engine's
        backend.start_duplex(_config(), resume=True)
        assert backend.stream_kind == "duplex" and backend.engine.processor is first
        assert [kind for kind, _ in backend.history] == ["duplex"]
    finally:
        backend.close()


def test_inside_its_capture_callback_a_stopped_stream_refuses_a_new_one() -> None:
    """The callback cannot wait for its own stream to close: a start there raises a clear
    BackendError (the session starts it from another thread); from the application's
    thread the start then works. A sound that was mixed into the stream goes on alone."""
    raised: list[BaseException] = []
    armed = [False]

    def capture(frame):  # type: ignore[no-untyped-def]
        if armed[0]:
            armed[0] = False
            backend.stop_duplex()
            try:
                backend.start_duplex(_config())
            except BaseException as exc:
                raised.append(exc)

    room = SimulatedBackend(RATE, impulse_response=[1.0])
    backend = EngineBackend(room, poll_interval=None, capture=capture)
    backend.start_duplex(_config())
    backend.start_playback(ToneSource(tone_plan("US").ringback, RATE))
    room.run_frames(2)
    armed[0] = True
    room.run_frames(2)  # the frame hook waits for the halted stream, the tone goes on
    assert len(raised) == 1 and isinstance(raised[0], BackendError)
    assert "another thread" in str(raised[0])
    assert backend.stream_kind == "playback" and backend.playing
    assert [kind for kind, _ in backend.history] == ["duplex"]
    backend.start_duplex(_config(), resume=True)  # the tone moves into the call's stream
    assert backend.stream_kind == "duplex" and backend.playing
    backend.close()
    assert backend.stream is None and not backend.is_running


def test_a_capture_callback_calling_in_while_another_thread_stops_its_stream() -> None:
    """The application's thread stops the duplex stream, which waits for the callback to
    return; the callback starts a sound meanwhile. The stop used to hold the backend's lock
    while waiting, and the callback waited for the lock: both waited for ever. Now the
    callback gets a BackendError at once (its stream is stopping), and the stop returns."""
    armed, entered, done = threading.Event(), threading.Event(), threading.Event()
    raised: list[BaseException] = []
    tone = ToneSource(tone_plan("US").ringback, RATE)

    def capture(frame):  # type: ignore[no-untyped-def]
        if armed.is_set():
            armed.clear()
            entered.set()
            deadline = time.monotonic() + 5.0
            while backend.is_running and time.monotonic() < deadline:
                time.sleep(0.001)  # until the application's thread is stopping the stream
            try:
                backend.start_playback(tone)
            except BackendError as exc:
                raised.append(exc)
            done.set()

    room = SimulatedBackend(RATE, impulse_response=[1.0], realtime=True)
    backend = EngineBackend(room, capture=capture)
    backend.start_duplex(_config())
    armed.set()
    assert entered.wait(5.0)
    stopper = threading.Thread(target=backend.stop_duplex, daemon=True)
    stopper.start()
    stopper.join(5.0)
    assert not stopper.is_alive(), "deadlock: stop_duplex waits for the callback"
    try:
        assert done.is_set() and len(raised) == 1 and "stopping" in str(raised[0])
        assert [kind for kind, _ in backend.history] == ["duplex"]
        backend.start_playback(tone)  # from the application's thread: its own stream
        assert backend.stream_kind == "playback"
    finally:
        backend.close()


def test_a_reset_while_only_a_sound_plays_resets_the_kept_chain():
    backend, room = _backend()
    backend.start_duplex(_config())
    first = backend.engine.processor
    room.run_frames(2)
    backend.start_playback(ToneSource(tone_plan("US").ringback, RATE))
    backend.stop_duplex()  # the interruption: the tone goes on alone
    assert backend.stream_kind == "playback"
    resets = _Counting(first)
    backend.reset_echo_canceller()
    assert resets.count == 1
    backend.close()


def test_a_resume_the_device_refuses_keeps_the_chain_for_the_next_try():
    backend, room = _backend()
    backend.start_duplex(_config())
    first = backend.engine.processor
    room.run_frames(2)
    backend.stop_duplex()
    backend.start_record(_config())  # the room takes one stream at a time...
    backend.stop_record()
    other = EngineBackend(room, poll_interval=None)
    other.start_record(_config())  # ... and another service holds it now
    with pytest.raises(BackendError, match="already has an open stream"):
        backend.start_duplex(_config(), resume=True)
    other.close()
    backend.start_duplex(_config(), resume=True)
    assert backend.engine.processor is first
    backend.close()


def test_make_backend_takes_a_plain_name_and_a_bool_realtime():
    """An array as the name or as realtime: ValueError (no truth value)."""
    from callaudio import make_backend

    with pytest.raises(ConfigError, match="backend"):
        make_backend(np.array(["simulated", "x"]))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="realtime"):
        make_backend("simulated", realtime=np.ones(2))


@pytest.mark.parametrize("config", [None, 16000, "duplex"])
def test_a_stream_config_that_is_no_stream_config_is_a_config_error(config):
    """AttributeError ('NoneType' object has no attribute 'sample_rate') before."""
    from callaudio import make_backend

    backend = make_backend("simulated", realtime=False, sample_rate=16000)
    with pytest.raises(ConfigError, match="StreamConfig"):
        backend.start_duplex(config)
    with pytest.raises(ConfigError, match="StreamConfig"):
        backend.start_record(config)
    assert backend.stream_kind is None
