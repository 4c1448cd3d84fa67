"""EngineBackend: the session layer's AudioBackend running real engine streams."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from callaudio import process_arrays
from callaudio.audio.base import ArraySource, AudioBackend, BackendFault, FaultKind, StreamConfig
from callaudio.audio.service import EngineBackend, make_backend
from callaudio.config import ProcessingConfig
from callaudio.devices.simulated import SimulatedBackend
from callaudio.errors import BackendError, CallbackError, ConfigError, DeviceError
from callaudio.tones import ToneSource, render_period, tone_plan

RATE = 16000
N = RATE // 100


def _config(voice_processing: bool = True, rate: int = RATE, buffer: float = 0.01) -> StreamConfig:
    return StreamConfig(
        sample_rate=rate,
        io_buffer_duration=buffer,
        voice_processing=voice_processing,
        input_port="built_in_mic",
        output_port="built_in_speaker",
    )


def _noise(n: int, seed: int, level: float = 0.1) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def _backend(**room) -> tuple[EngineBackend, SimulatedBackend]:
    device = SimulatedBackend(RATE, impulse_response=[1.0], record=True, **room)
    return EngineBackend(device, poll_interval=None, capture_buffer_ms=3000), device


def test_it_is_an_audio_backend_and_make_backend_builds_both_kinds():
    backend, _ = _backend()
    assert isinstance(backend, AudioBackend)
    sim = make_backend("simulated", sample_rate=RATE, realtime=False)
    assert isinstance(sim.device, SimulatedBackend) and not sim.device.realtime
    with pytest.raises(ConfigError, match="unknown backend"):
        make_backend("alsa")


def test_duplex_call_audio_runs_through_the_chain():
    backend, room = _backend(near=_noise(8000, seed=1, level=0.05))
    backend.start_duplex(_config(voice_processing=True))
    assert backend.is_running and backend.stream_kind == "duplex"
    assert backend.engine is not None and backend.engine.processor is not None
    assert backend.write_far(_noise(3200, seed=2)) == 3200
    room.run_frames(30)
    y = backend.read_capture()
    backend.stop_duplex()
    assert not backend.is_running
    rec = room.recording()
    np.testing.assert_array_equal(y, process_arrays(rec["mic"], rec["played"], sample_rate=RATE))
    assert backend.last_stats is not None and backend.last_stats.frames == 30
    assert backend.last_stats.underruns == 10


def test_without_voice_processing_the_microphone_passes_unchanged():
    backend, room = _backend(near=_noise(8000, seed=3))
    backend.start_duplex(_config(voice_processing=False))
    room.run_frames(10)
    y = backend.read_capture()
    backend.stop_duplex()
    np.testing.assert_array_equal(y, room.recording()["mic"])


def test_a_tone_moves_into_the_call_stream_and_back_without_a_gap():
    backend, room = _backend()
    spec = tone_plan("US").ringback
    finished = []
    backend.start_playback(ToneSource(spec, RATE), lambda: finished.append(1))
    assert backend.stream_kind == "playback"
    room.run_frames(50)
    backend.start_duplex(_config())  # the call is established: tone keeps playing, mixed
    assert backend.stream_kind == "duplex"
    room.run_frames(50)
    backend.stop_duplex()  # the tone goes on alone
    assert backend.stream_kind == "playback"
    room.run_frames(50)
    backend.stop_playback()
    assert not backend.is_running and not finished
    played = room.recording()["played"]
    np.testing.assert_array_equal(played, render_period(spec, RATE)[: 150 * N])
    assert [k for k, _ in backend.history] == ["playback", "duplex", "playback"]


def test_a_one_shot_sound_calls_on_finished_once_at_its_end():
    backend, room = _backend()
    finished = []
    backend.start_playback(ArraySource(np.full(1000, 0.5), RATE), lambda: finished.append(1))
    room.run_frames(6)
    assert finished == [] and backend.playing
    room.run_frames(1)  # 7 frames = 1120 samples > 1000: it ended during this frame
    assert finished == [1]
    assert not backend.is_running  # its output-only stream was closed
    played = room.recording()["played"]
    assert np.all(played[:1000] == 0.5) and np.all(played[1000:] == 0.0)


def test_mute_and_speaker_wishes_apply_to_streams_started_later():
    backend, room = _backend(near=_noise(8000, seed=4))
    backend.set_muted(True)
    backend.set_speaker(True)
    backend.start_duplex(_config(voice_processing=False))
    assert backend.engine is not None and backend.engine.muted and backend.engine.speaker
    room.run_frames(5)
    assert np.all(backend.read_capture() == 0.0)
    backend.set_muted(False)
    room.run_frames(5)
    assert np.any(backend.read_capture() != 0.0)
    backend.stop_duplex()


def test_a_lost_device_is_reported_to_the_fault_handler():
    backend, room = _backend()
    faults: list[BackendFault] = []
    backend.set_fault_handler(faults.append)
    backend.start_duplex(_config())
    room.run_frames(3)
    room.inject_fault("device_lost", "unplugged")
    assert faults == [BackendFault(FaultKind.DEVICE_LOST, "unplugged", "simulated room")]
    with pytest.raises(BackendError, match="no started stream"):
        room.run_frames(1)
    backend.stop_duplex()
    backend.start_duplex(_config())  # the client rebuilds the stream
    room.run_frames(2)
    backend.stop_duplex()
    assert len(faults) == 1


def test_requests_the_engine_cannot_serve_are_refused_clearly():
    backend, _ = _backend()
    with pytest.raises(BackendError, match="10 ms blocks"):
        backend.start_duplex(_config(buffer=0.02))
    with pytest.raises(BackendError, match="sample_rate"):
        backend.start_duplex(_config(rate=22050))
    backend.start_record(_config())
    with pytest.raises(BackendError, match="RECORD"):
        backend.start_playback(ArraySource(np.zeros(10), RATE))
    with pytest.raises(BackendError, match="already running"):
        backend.start_duplex(_config())
    backend.stop_record()
    assert not backend.is_running


def test_callback_errors_surface_when_the_stream_stops():
    def capture(frame: np.ndarray) -> None:
        raise ValueError("consumer failed")

    room = SimulatedBackend(RATE, impulse_response=[1.0])
    backend = EngineBackend(room, poll_interval=None, capture=capture)
    backend.start_duplex(_config())
    room.run_frames(3)
    with pytest.raises(CallbackError, match="3 audio callback") as info:
        backend.stop_duplex()
    assert isinstance(info.value, BackendError)
    assert not backend.is_running
    assert backend.last_stats is not None and backend.last_stats.callback_errors == 3


def test_a_voice_client_call_runs_on_the_engine():
    from callaudio.call import CallState
    from callaudio.client import VoiceClient
    from callaudio.session import AudioSession

    backend, room = _backend(near=_noise(16000, seed=5, level=0.05))
    session = AudioSession(preferred_sample_rate=RATE)
    with VoiceClient(backend, session=session, tone_plan="CEPT") as client:
        call = client.start_call("bob")
        call.progress()
        call.ring()
        client.audio_controller.start_progress_tone()
        room.run_frames(20)
        assert backend.stream_kind == "playback" and backend.playing  # the progress tone
        call.answer()
        call.establish()
        assert call.state is CallState.ESTABLISHED
        assert backend.stream_kind == "duplex"
        assert backend.engine is not None and backend.engine.processor is not None
        backend.write_far(_noise(8000, seed=6))
        room.run_frames(50)
        client.audio_controller.mute()
        room.run_frames(10)
        assert np.all(backend.read_capture()[-10 * N :] == 0.0)
        call.hangup()
        assert not backend.is_running
    kinds = [k for k, _ in backend.history]
    assert kinds[-1] == "duplex" and "playback" in kinds
    cfg = ProcessingConfig()
    assert cfg.high_pass.enabled  # the chain the call ran with


def test_the_watchdog_reports_a_stream_whose_callbacks_stop():
    """Real-time room, watcher thread: a silent stall becomes a DEVICE_LOST fault."""
    import threading

    room = SimulatedBackend(RATE, impulse_response=[1.0], realtime=True)
    backend = EngineBackend(room, poll_interval=0.02)
    got: list[BackendFault] = []
    seen = threading.Event()

    def handler(fault: BackendFault) -> None:
        got.append(fault)
        seen.set()

    backend.set_fault_handler(handler)
    backend.start_duplex(_config())
    assert not seen.wait(0.3)  # running normally: no fault
    room.inject_fault("stall")
    assert seen.wait(5.0)
    backend.stop_duplex()
    assert len(got) == 1 and got[0].kind is FaultKind.DEVICE_LOST
    assert got[0].detail.startswith("no audio callback for")
    assert backend.last_stats is not None and backend.last_stats.frames >= 20


def test_a_failed_call_stream_leaves_the_sound_playing():
    backend, room = _backend()
    backend.start_playback(ToneSource(tone_plan("US").ringback, RATE))
    room.run_frames(3)
    with pytest.raises(BackendError, match="sample_rate"):
        backend.start_duplex(_config(rate=22050))
    assert backend.stream_kind == "playback" and backend.playing
    room.run_frames(3)
    backend.stop_playback()
    played = room.recording()["played"]
    np.testing.assert_array_equal(played, render_period(tone_plan("US").ringback, RATE)[: 6 * N])


def test_a_resumed_call_keeps_its_chain_and_a_new_call_gets_a_fresh_one():
    backend, room = _backend(near=_noise(16000, seed=7, level=0.05))
    backend.start_duplex(_config())
    first = backend.engine.processor
    room.run_frames(20)
    backend.stop_duplex()
    backend.start_duplex(_config(), resume=True)  # the client's resume
    assert backend.engine.processor is first
    room.run_frames(5)
    backend.stop_duplex()
    backend.start_duplex(_config())  # a new call: resume=False
    assert backend.engine.processor is not first
    backend.stop_duplex()


class _Refusing(SimulatedBackend):
    """A room whose next streams the test can refuse (a device that went away)."""

    refuse = False

    def open_stream(self, **kw):
        if self.refuse:
            raise DeviceError("open", "the device refuses")
        return super().open_stream(**kw)


def test_a_sound_playing_alone_goes_on_at_its_rate_when_a_duplex_start_is_refused():
    # the sound was re-prepared at the refused rate first, so it could not go on either
    device = SimulatedBackend(48000, realtime=False)  # a room at 48 kHz only
    backend = EngineBackend(device, poll_interval=None)
    finished = []
    backend.start_playback(
        ArraySource(np.full(48000, 0.1, np.float32), 48000, loop=True), finished.append
    )
    device.run_frames(3)
    with pytest.raises(BackendError, match="16000"):
        backend.start_duplex(_config(rate=16000))
    assert (backend.stream_kind, backend.sample_rate, backend.is_running) == (
        "playback",
        48000,
        True,
    )
    before = backend.engine.source.position
    device.run_frames(2)
    assert backend.playing and backend.engine.source.position == before + 960
    backend.poll()
    assert not finished
    backend.close()


def test_a_sound_no_stream_takes_ends_and_says_so(capsys):
    device = _Refusing(48000, realtime=True)
    backend = EngineBackend(device, poll_interval=0.01)
    done = threading.Event()
    backend.start_playback(ArraySource(np.full(4800, 0.1, np.float32), 48000, loop=True), done.set)
    device.refuse = True
    with pytest.raises(BackendError, match="refuses"):
        backend.start_duplex(_config(rate=48000))
    assert not backend.playing and not backend.is_running  # no stream would take it
    assert done.wait(10.0), "on_finished was never called"
    backend.close()
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "options",
    [
        {"processing": "x"},
        {"capture": 5},
        {"far_buffer_ms": 10**9},
        {"far_buffer_ms": 15},
        {"capture_buffer_ms": 0},
        {"realtime_priority": 0},
        {"monitor": "yes"},
        {"poll_interval": True},
        {"dropout_interval": 2**2000},
    ],
)
def test_make_backend_refuses_a_bad_engine_option_up_front(options):
    # they were checked when a call's stream was built: every call then ended in ERROR
    name = next(iter(options))
    with pytest.raises(ConfigError, match=name):
        make_backend("simulated", realtime=False, **options)


@pytest.mark.parametrize("flag", ["no", 1, np.array([True, False])])
def test_mute_and_speaker_take_a_bool_only(flag):
    backend = make_backend("simulated", realtime=False)
    with pytest.raises(ConfigError):
        backend.set_muted(flag)
    with pytest.raises(ConfigError):
        backend.set_speaker(flag)
    backend.set_muted(np.bool_(True))
    backend.close()
