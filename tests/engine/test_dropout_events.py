"""Lost audio (xruns, far-end underruns, capture overruns) reported off the audio thread.

The compiled callback only counts; EngineBackend's poll (its watcher thread, or a
caller-driven room's frame hook) turns new counts into a ``Dropout`` at most once per
``dropout_interval``, and the client emits it as the session event ``audio_dropout``.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

from callaudio.audio import watch as watch_module
from callaudio.audio.base import Dropout, StreamConfig
from callaudio.audio.service import EngineBackend, make_backend
from callaudio.devices.simulated import CallbackFlags, SimulatedBackend
from callaudio.errors import ConfigError
from callaudio.events import EVENT_FIELDS, EVENT_NAMES, SynchronousDispatcher

RATE = 16000
N = RATE // 100
XRUN = CallbackFlags(0x2 | 0x4)  # PortAudio's input overflow + output underflow


def _config() -> StreamConfig:
    return StreamConfig(
        sample_rate=RATE,
        io_buffer_duration=0.01,
        voice_processing=True,
        input_port="built_in_mic",
        output_port="built_in_speaker",
    )


def _backend(**options: object) -> tuple[EngineBackend, SimulatedBackend]:
    device = SimulatedBackend(RATE, impulse_response=[1.0])
    return EngineBackend(device, poll_interval=None, **options), device  # type: ignore[arg-type]


def _xrun(device: SimulatedBackend) -> None:
    stream = device.stream
    assert stream is not None
    stream.run_frame(XRUN)


def test_an_xrun_and_a_starved_far_ring_are_reported_with_their_counts() -> None:
    backend, device = _backend(dropout_interval=0.0)
    reports: list[Dropout] = []
    backend.set_dropout_handler(reports.append)
    backend.start_duplex(_config())
    device.run_frames(5)
    assert reports == []  # nothing lost: nothing reported
    _xrun(device)
    _xrun(device)
    backend.poll()
    assert reports == [Dropout(xruns=2, underruns=0, overruns=0, device="simulated room")]
    backend.write_far(np.zeros(3 * N, dtype=np.float32))
    device.run_frames(7)  # 3 frames of far end, then 4 late ones
    late = Dropout(xruns=0, underruns=1, overruns=0, device="simulated room")
    assert reports[1:] == [late] * 4  # interval 0: one report per polled frame
    backend.stop_duplex()
    assert backend.last_stats is not None
    assert backend.last_stats.xruns == 2 and backend.last_stats.underruns == 4


def test_reports_are_rate_limited_and_counts_accumulate(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(watch_module, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    backend, device = _backend()  # the default: at most one report a second
    reports: list[Dropout] = []
    backend.set_dropout_handler(reports.append)
    backend.start_duplex(_config())
    _xrun(device)
    backend.poll()
    assert [r.xruns for r in reports] == [1]
    for _ in range(3):
        _xrun(device)
        clock[0] += 0.2
        backend.poll()
    assert [r.xruns for r in reports] == [1]  # within the second: held back
    clock[0] += 0.5
    backend.poll()
    assert [r.xruns for r in reports] == [1, 3]  # nothing lost
    clock[0] += 5.0
    backend.poll()
    assert len(reports) == 2  # no new loss, no report
    backend.stop_duplex()
    backend.start_duplex(_config())  # a new stream: its counters start at zero
    _xrun(device)
    clock[0] += 1.0
    backend.poll()
    assert [r.xruns for r in reports] == [1, 3, 1]
    backend.close()


def test_a_bad_interval_is_refused() -> None:
    device = SimulatedBackend(RATE)
    for bad in (-1.0, True, "1", float("nan")):
        with pytest.raises(ConfigError, match="dropout_interval"):
            EngineBackend(device, dropout_interval=bad)  # type: ignore[arg-type]
    assert make_backend("simulated", realtime=False, dropout_interval=0.5) is not None


def test_the_client_emits_audio_dropout_to_observers() -> None:
    from callaudio.client import VoiceClient
    from callaudio.session import AudioSession

    assert "audio_dropout" in EVENT_NAMES
    assert EVENT_FIELDS["audio_dropout"] == ("xruns", "underruns", "overruns", "device")
    backend, device = _backend(dropout_interval=0.0)
    session = AudioSession(dispatcher=SynchronousDispatcher(), preferred_sample_rate=RATE)
    seen: list[dict[str, object]] = []

    class Observer:
        def on_audio_dropout(
            self, xruns: int, underruns: int, overruns: int, device: str | None
        ) -> None:
            seen.append(
                {"xruns": xruns, "underruns": underruns, "overruns": overruns, "device": device}
            )

    session.add_observer(Observer())
    with VoiceClient(backend, session=session) as client:
        call = client.start_call("bob")
        call.progress()
        call.answer()
        call.establish()
        assert backend.stream_kind == "duplex"
        device.run_frames(3)
        _xrun(device)
        device.run_frames(1)  # its frame hook polls
        assert seen == [{"xruns": 1, "underruns": 0, "overruns": 0, "device": "simulated room"}]
        call.hangup()
    assert backend.engine is None
