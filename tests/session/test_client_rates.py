"""A VoiceClient establishes a call at any supported rate of its backend, without the
user setting the session's rate; a refused rate says what to change."""

from __future__ import annotations

import numpy as np
import pytest

import callaudio as ca
from callaudio.audio import MemoryBackend, StreamConfig, make_backend
from callaudio.config import check_sample_rate
from callaudio.errors import BackendError, ConfigError


@pytest.mark.parametrize("rate", [8000, 16000, 32000, 44100, 48000])
def test_a_call_on_a_simulated_backend_at_its_rate(rate: int) -> None:
    backend = make_backend("simulated", sample_rate=rate, realtime=False)
    assert backend.sample_rate == rate
    session = ca.AudioSession()
    assert session.preferred_sample_rate == 48000
    with ca.VoiceClient(backend, session=session) as client:
        call = client.start_call("alice")
        call.progress()
        call.answer()
        call.establish()
        assert call.state is ca.CallState.ESTABLISHED
        assert client.stream_config().sample_rate == rate
        n = rate // 100
        backend.write_far(np.full(5 * n, 0.01, np.float32))
        backend.device.run_frames(5)
        out = backend.read_capture()
        assert out.shape == (5 * n,)
        call.hangup()


def test_the_memory_backend_declares_no_rate_and_the_session_decides() -> None:
    backend = MemoryBackend()
    assert backend.sample_rate is None
    session = ca.AudioSession(preferred_sample_rate=16000)
    with ca.VoiceClient(backend, session=session) as client:
        call = client.start_call()
        call.progress()
        call.answer()
        call.establish()
        assert backend.calls[-1][0] == "start_duplex"
        assert backend.calls[-1][1].sample_rate == 16000


class _FixedRateBackend(MemoryBackend):
    """The recording double on a device fixed at 22.05 kHz, refusing what the engine
    refuses (EngineBackend checks the rate with config.check_sample_rate)."""

    @property
    def sample_rate(self) -> int | None:
        return 22050

    def start_duplex(self, config: StreamConfig, *, resume: bool = False) -> None:
        try:
            check_sample_rate(config.sample_rate)
        except ConfigError as exc:
            raise BackendError("start_duplex", str(exc)) from None
        super().start_duplex(config, resume=resume)


def test_a_device_rate_the_chain_refuses_says_what_to_change() -> None:
    backend = _FixedRateBackend()
    with ca.VoiceClient(backend, session=ca.AudioSession()) as client:
        call = client.start_call()
        call.progress()
        call.answer()
        with pytest.raises(BackendError, match="the device runs at 22050 Hz only") as info:
            call.establish()
        assert "callaudio.SAMPLE_RATES" in str(info.value)
        assert call.state is ca.CallState.ENDED


def test_the_backend_rate_wins_over_the_session_preference() -> None:
    backend = make_backend("simulated", sample_rate=16000, realtime=False)
    with ca.VoiceClient(backend, session=ca.AudioSession()) as client:
        call = client.start_call()
        call.progress()
        call.answer()
        call.establish()  # the room's rate, not the session's 48 kHz
        assert client.stream_config().sample_rate == 16000
