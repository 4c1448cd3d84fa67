"""EngineBackend used against its client: what must be refused, and with what error."""

from __future__ import annotations

import types
from typing import Any

import pytest

import callaudio as ca
from callaudio.audio.base import StreamConfig
from callaudio.audio.service import make_backend
from callaudio.errors import InvalidStateError
from callaudio.session import AudioSession


def test_closing_the_backend_under_a_live_call_is_refused() -> None:
    """close() while a client's call held the duplex stream was accepted: the stream was
    gone, yet the call stayed ESTABLISHED for ever (no fault, no event)."""
    backend = make_backend("simulated", sample_rate=16000, realtime=False)
    client = ca.VoiceClient(backend, session=AudioSession())
    call = client.start_call("bob")
    call.progress()
    call.answer()
    call.establish()
    assert backend.stream_kind == "duplex"
    with pytest.raises(InvalidStateError, match="a call holds its duplex stream"):
        backend.close()
    assert backend.stream_kind == "duplex" and call.state.name == "ESTABLISHED"
    call.hangup()
    backend.close()  # the call ended: the backend closes
    assert backend.stream is None
    client.close()
    backend.close()


def _established(backend: object) -> tuple[ca.VoiceClient, ca.Call]:
    client = ca.VoiceClient(backend, session=AudioSession())
    call = client.start_call("bob")
    call.progress()
    call.answer()
    call.establish()
    return client, call


def test_stopping_the_duplex_stream_under_a_live_call_is_refused() -> None:
    """stop_duplex() from the application while a client's call held the stream stopped it:
    the call stayed ESTABLISHED with no audio for ever (no fault, no event, nothing ends it).
    The rules' own stops (hang-up, interruption, route change) still stop it."""
    backend = make_backend("simulated", sample_rate=16000, realtime=False)
    client, call = _established(backend)
    engine = backend.engine
    with pytest.raises(InvalidStateError, match="stop_duplex when a call holds its duplex"):
        backend.stop_duplex()
    assert backend.engine is engine and engine is not None and engine.running
    assert call.state.name == "ESTABLISHED" and client.is_duplex_running
    backend.device.run_frames(3)
    assert engine.frames >= 3  # the call's audio still runs
    client.session.begin_interruption("gsm")  # the rules stop it ...
    assert backend.engine is None and call.state.name == "ESTABLISHED"
    backend.stop_duplex()  # (nothing runs: nothing to refuse)
    client.session.end_interruption("gsm")  # ... and restart it: again the call's
    assert backend.stream_kind == "duplex"
    with pytest.raises(InvalidStateError):
        backend.stop_duplex()
    call.hangup()
    assert backend.engine is None
    client.close()
    backend.close()


def test_a_call_that_connects_while_the_backend_closes_keeps_its_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """close() checked for a call's stream, then stopped what was stopping, then took
    the engine: a call established in between (another thread) lost its stream to the
    close and stayed ESTABLISHED with no audio (94 ghosts in 142 calls of a 4 s race)."""
    backend = make_backend("simulated", sample_rate=16000, realtime=False)
    client = ca.VoiceClient(backend, session=AudioSession())
    call = client.start_call("bob")
    call.progress()
    call.answer()
    stop = backend._stop

    def stop_then_connect(*args: object, **kwargs: object) -> None:
        stop(*args, **kwargs)  # type: ignore[arg-type]
        if call.state.name == "ANSWERED":
            call.establish()  # (the other thread's call, in the window)

    monkeypatch.setattr(backend, "_stop", stop_then_connect)
    with pytest.raises(InvalidStateError, match="a call holds its duplex stream"):
        backend.close()
    assert call.state.name == "ESTABLISHED" and backend.stream_kind == "duplex"
    call.hangup()
    backend.close()
    assert backend.engine is None
    client.close()


def test_a_duplex_stream_the_application_started_itself_stops() -> None:
    """Only a call's stream is refused: with a client attached and no call, the
    application's own duplex stream stops and the backend closes."""
    backend = make_backend("simulated", sample_rate=16000, realtime=False)
    client = ca.VoiceClient(backend, session=AudioSession())
    config = StreamConfig(16000, 0.01, True, "built_in_mic", "built_in_speaker")
    backend.start_duplex(config)
    backend.stop_duplex()
    assert backend.engine is None
    backend.start_duplex(config)
    backend.close()
    assert backend.engine is None
    client.close()


@pytest.mark.parametrize("duplex", [False, True])
def test_start_playback_of_something_that_is_not_a_source_is_a_config_error(duplex: bool) -> None:
    """With no duplex stream, None/5/"tone.wav"/an array/a StreamConfig raised a raw
    AttributeError ('sample_rate', 'read'); nothing may change either way."""
    import numpy as np

    from callaudio.audio.base import StreamConfig
    from callaudio.errors import ConfigError

    backend = make_backend("simulated", sample_rate=16000, realtime=False)
    config = StreamConfig(16000, 0.01, True, "built_in_mic", "built_in_speaker")
    if duplex:
        backend.start_duplex(config)
    for bad in (None, 5, "tone.wav", np.zeros(160, np.float32), config):
        with pytest.raises(ConfigError, match="not a PlaybackSource"):
            backend.start_playback(bad)  # type: ignore[arg-type]
        assert backend.stream_kind == ("duplex" if duplex else None)
        assert not backend.playing
    backend.close()


def test_the_sounddevice_latency_is_checked_at_construction() -> None:
    """Anything was accepted; "bogus" became a raw TypeError when a call connected, and
    NaN, -1, inf or True opened a stream with whatever PortAudio made of them."""
    import math

    from callaudio.errors import ConfigError

    for bad in ("bogus", math.nan, -1.0, math.inf, True, [0.01], None):
        with pytest.raises(ConfigError, match="must be 'low', 'high' or seconds"):
            make_backend("sounddevice", latency=bad)
    for good in ("low", "high", 0, 0.02):
        make_backend("sounddevice", latency=good).close()


@pytest.mark.parametrize("arg", ["device", "input_device", "output_device", "hostapi"])
def test_the_sounddevice_device_names_are_checked_at_construction(
    arg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An int, bytes or a list as a device or host API name was accepted; once PortAudio
    listed devices, the call's start failed with a raw AttributeError (``5.lower()``)."""
    from callaudio.devices import sounddevice_backend as sdb
    from callaudio.errors import ConfigError

    for bad in (5, b"loopback", ["loopback"], 1.5):
        with pytest.raises(ConfigError, match=f"{arg}: must be a name"):
            make_backend("sounddevice", **{arg: bad})
    make_backend("sounddevice", **{arg: "loopback"}).close()
    info = sdb.DeviceInfo(0, "loopback", "JACK Audio Connection Kit", 2, 2, 48000.0)
    monkeypatch.setattr(sdb, "list_devices", lambda: [info])
    assert sdb.find_device("loop", hostapi="JACK") == info
    for kw in ({"name": 5}, {"name": "loop", "hostapi": 5}):
        with pytest.raises(ConfigError, match="must be a name"):
            sdb.find_device(**kw)


def test_portaudio_is_not_reinitialised_under_an_open_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """reinitialize() with a stream open was accepted: PortAudio closed the stream under
    its engine, whose callbacks stopped for good (frames 31 -> 31 under JACK)."""
    from callaudio.devices import sounddevice_backend as sdb
    from callaudio.errors import BackendError

    calls: list[str] = []

    class FakeStream:
        active = True

        def __init__(self, **kwargs: object) -> None:
            pass

        def close(self) -> None:
            calls.append("close")

    device = _fake_loopback(monkeypatch, FakeStream, calls)
    stream = device.open_stream(
        sample_rate=48000, blocksize=480, channels=1, mode="duplex", callback=print
    )
    with pytest.raises(BackendError, match="a stream is open"):
        sdb.SounddeviceBackend.reinitialize()
    assert calls == []
    stream.close()
    sdb.SounddeviceBackend.reinitialize()
    assert calls == ["close", "terminate", "initialize"]


@pytest.mark.parametrize(
    "error", [TypeError("an integer is required"), OverflowError("can't convert negative")]
)
def test_a_stream_sounddevice_refuses_by_type_is_a_device_error(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """open_stream(blocksize=-5), (channels="2"), (sample_rate="x") under JACK: raw
    OverflowError / TypeError from python-sounddevice; ValueError was already wrapped."""
    from callaudio.devices import sounddevice_backend as sdb
    from callaudio.errors import DeviceError

    def refuse(**kwargs: object) -> None:
        raise error

    fake = types.SimpleNamespace(Stream=refuse, PortAudioError=OSError)
    monkeypatch.setattr(sdb, "_sd", lambda: fake)
    info = sdb.DeviceInfo(0, "loopback", "JACK Audio Connection Kit", 2, 2, 48000.0)
    device = sdb.SounddeviceBackend("loopback")
    monkeypatch.setattr(device, "resolve", lambda mode: (info, info))
    with pytest.raises(DeviceError, match=str(error)):
        device.open_stream(
            sample_rate=48000, blocksize=-5, channels=1, mode="duplex", callback=print
        )


@pytest.mark.parametrize("arg", ["device", "input_device", "output_device", "hostapi"])
def test_an_empty_device_name_is_refused_not_matched_to_any_device(
    arg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty or blank name (``--device "$DEV"`` with DEV unset) is a part of every
    device's name: the only device, or the only host API, was chosen without a word."""
    from callaudio.devices import sounddevice_backend as sdb
    from callaudio.errors import ConfigError

    info = sdb.DeviceInfo(0, "loopback", "JACK Audio Connection Kit", 2, 2, 48000.0)
    monkeypatch.setattr(sdb, "list_devices", lambda: [info])
    for bad in ("", "  ", "\t"):
        with pytest.raises(ConfigError, match=f"{arg}: must be a name"):
            make_backend("sounddevice", **{arg: bad})
    for kw in ({"name": ""}, {"name": "loop", "hostapi": " "}):
        with pytest.raises(ConfigError, match="must be a name"):
            sdb.find_device(**kw)  # type: ignore[arg-type]
    assert sdb.find_device("loop", hostapi="JACK") == info


def test_portaudio_is_not_reinitialised_under_a_stream_being_opened(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """reinitialize() looked for open streams, then terminated PortAudio: a stream another
    thread was opening (inside PortAudio's open) was not in the list yet, and PortAudio
    was terminated under it. Now the open and the check-and-terminate exclude each other:
    reinitialize() waits for the open, then refuses."""
    import threading

    from callaudio.devices import sounddevice_backend as sdb
    from callaudio.errors import BackendError

    calls: list[str] = []
    opening, release = threading.Event(), threading.Event()

    class SlowStream:
        active = True

        def __init__(self, **kwargs: object) -> None:
            opening.set()
            release.wait(10)
            calls.append("opened")

        def close(self) -> None:
            calls.append("close")

    device = _fake_loopback(monkeypatch, SlowStream, calls)
    streams: list[object] = []
    opener = threading.Thread(
        target=lambda: streams.append(
            device.open_stream(
                sample_rate=48000, blocksize=480, channels=1, mode="duplex", callback=print
            )
        )
    )
    refused: list[BaseException] = []

    def reinitialize() -> None:
        try:
            sdb.SounddeviceBackend.reinitialize()
        except BackendError as exc:
            refused.append(exc)

    opener.start()
    assert opening.wait(10)
    other = threading.Thread(target=reinitialize)
    other.start()
    other.join(0.2)  # (old code: terminated PortAudio here, under the opening stream)
    release.set()
    opener.join(10)
    other.join(10)
    assert calls == ["opened"] and len(refused) == 1 and len(streams) == 1
    streams[0].close()  # type: ignore[attr-defined]
    sdb.SounddeviceBackend.reinitialize()
    assert calls == ["opened", "close", "terminate", "initialize"]


def _fake_loopback(monkeypatch: pytest.MonkeyPatch, stream: type, calls: list[str]) -> Any:
    """A SounddeviceBackend on a fake sounddevice whose streams are ``stream`` and whose
    PortAudio terminate/initialize are logged in ``calls``; its device a JACK loopback."""
    from callaudio.devices import sounddevice_backend as sdb

    fake = types.SimpleNamespace(
        Stream=stream,
        PortAudioError=OSError,
        _terminate=lambda: calls.append("terminate"),
        _initialize=lambda: calls.append("initialize"),
    )
    monkeypatch.setattr(sdb, "_sd", lambda: fake)
    info = sdb.DeviceInfo(0, "loopback", "JACK Audio Connection Kit", 2, 2, 48000.0)
    device = sdb.SounddeviceBackend("loopback")
    monkeypatch.setattr(device, "resolve", lambda mode: (info, info))
    return device
