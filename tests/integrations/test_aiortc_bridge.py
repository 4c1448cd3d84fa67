"""The bridge's parts without a network: frames, the microphone track, the state mapping."""

from __future__ import annotations

import ast
import asyncio
import fractions
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("aiortc")

import av
from aiortc import MediaStreamTrack, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from callaudio import (
    CallDirection,
    CallState,
    ConfigError,
    EndCause,
    InterruptionPolicy,
    ManualClock,
    ProcessingConfig,
    VoiceClient,
    make_backend,
)
from callaudio.audio import MemoryBackend
from callaudio.events import SynchronousDispatcher
from callaudio.integrations import aiortc as aiortc_bridge
from callaudio.integrations.aiortc import (
    OPUS_FRAME_SAMPLES,
    CallAudioBridge,
    LoopClock,
    MicrophoneTrack,
    frame_to_mono,
    mono_to_frame,
)
from callaudio.session import AudioSession, Category

SRC = Path(__file__).resolve().parents[2] / "src" / "callaudio"


def _client(rate=48000, near=None, processing=None, clock=None):
    session = AudioSession(dispatcher=SynchronousDispatcher())
    session.set_category(Category.PLAYBACK)
    session.set_preferred_sample_rate(rate)
    backend = make_backend(
        "simulated",
        sample_rate=rate,
        realtime=False,
        near=near,
        loop=True,
        processing=processing,
    )
    policy = InterruptionPolicy(clock=clock or ManualClock(), grace_period=0.3 if clock else 30.0)
    return VoiceClient(backend, session=session, policy=policy)


# -- frames ------------------------------------------------------------------------------


def test_mono_to_frame_is_what_the_opus_encoder_takes():
    x = np.linspace(-1.0, 1.0, OPUS_FRAME_SAMPLES, dtype=np.float32)
    frame = mono_to_frame(x, 1920)
    assert (frame.format.name, frame.layout.name) == ("s16", "stereo")
    assert (frame.sample_rate, frame.samples) == (48000, 960)
    assert frame.pts == 1920
    assert frame.time_base == fractions.Fraction(1, 48000)
    pcm = frame.to_ndarray().reshape(-1, 2)
    assert np.array_equal(pcm[:, 0], pcm[:, 1])
    assert pcm[0, 0] == -32768 and pcm[-1, 0] == 32767  # full scale, clipped at +1
    back = frame_to_mono(frame)
    assert back.dtype == np.float32
    assert np.max(np.abs(back - x)) <= 1.0 / 32768


def test_frame_to_mono_averages_channels_of_every_layout():
    left = np.full(480, 0.5, np.float32)
    right = np.full(480, -0.25, np.float32)
    planar = av.AudioFrame.from_ndarray(np.stack([left, right]), format="fltp", layout="stereo")
    assert np.allclose(frame_to_mono(planar), 0.125)
    packed = np.stack([left, right], axis=1).reshape(1, -1)
    s16 = av.AudioFrame.from_ndarray(
        (packed * 32768).astype(np.int16), format="s16", layout="stereo"
    )
    assert np.allclose(frame_to_mono(s16), 0.125)
    u8 = av.AudioFrame.from_ndarray(np.zeros((1, 480), np.uint8), format="u8", layout="mono")
    with pytest.raises(ConfigError, match="u8"):
        frame_to_mono(u8)
    loud = mono_to_frame(np.array([2.0, -2.0, np.nan, np.inf], np.float32), 0)
    assert loud.to_ndarray().reshape(-1, 2)[:, 0].tolist() == [32767, -32768, 0, 32767]


# -- the microphone track ------------------------------------------------------------------


def _tone(rate, hz=1000.0, seconds=2.0, amplitude=0.25):
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize("rate", [16000, 48000])
def test_track_resamples_and_reframes_the_processed_microphone(rate):
    # Every stage bypassed: what the track sends is the microphone, at 48 kHz.
    client = _client(rate, near=_tone(rate), processing=ProcessingConfig.bypass())
    call = client.start_call()
    call.progress()
    call.answer()
    track = MicrophoneTrack(client.backend, lambda: call.state is CallState.ESTABLISHED)

    async def frames(count):
        return [await track.recv() for _ in range(count)]

    before = asyncio.run(frames(3))  # not established yet: silence, timestamps running
    call.establish()
    during = asyncio.run(frames(25))
    call.hangup()
    after = asyncio.run(frames(3))
    client.close()

    sent = before + during + after
    assert [f.pts for f in sent] == [960 * i for i in range(len(sent))]
    assert all(f.samples == 960 and f.sample_rate == 48000 for f in sent)
    assert all(not np.any(frame_to_mono(f)) for f in before + after)
    x = np.concatenate([frame_to_mono(f) for f in during[5:]])  # past the resampler's start
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    assert abs(np.argmax(spectrum) * 48000 / x.size - 1000.0) < 5.0
    rms_db = 20 * np.log10(np.sqrt(np.mean(x**2)) / (0.25 / np.sqrt(2)))
    assert abs(rms_db) < 0.5
    assert track.underruns == 0
    assert track.paused_frames == len(before) + len(after)
    # The room ran one engine frame per 10 ms sent (one more to fill a resampler's delay).
    assert 0 <= client.backend.last_stats.frames - 2 * len(during) <= 1


def test_track_on_a_self_paced_device_reads_what_it_produced():
    # A room paced by its own thread (as a sound card is): the track reads, never drives.
    session = AudioSession(dispatcher=SynchronousDispatcher())
    session.set_preferred_sample_rate(16000)
    backend = make_backend(
        "simulated",
        sample_rate=16000,
        realtime=True,
        near=_tone(16000),
        loop=True,
        processing=ProcessingConfig.bypass(),
    )
    client = VoiceClient(backend, session=session)
    call = client.start_call()
    call.progress()
    call.answer()
    call.establish()
    track = MicrophoneTrack(backend, lambda: True, max_buffer_ms=40.0)

    async def frames(count):
        return [await track.recv() for _ in range(count)]

    try:
        sent = asyncio.run(frames(30))
    finally:
        client.close()
    assert [f.pts for f in sent] == [960 * i for i in range(30)]
    x = np.concatenate([frame_to_mono(f) for f in sent[10:]])
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    assert abs(np.argmax(spectrum) * 48000 / x.size - 1000.0) < 5.0
    assert track.underruns + track.paused_frames < 30


# -- the bridge: construction and the connection's lifecycle --------------------------------


class ScriptedPeerConnection(RTCPeerConnection):
    """A peer connection whose connectionState the test sets (no network)."""

    def __init__(self):
        super().__init__()
        self.scripted = "new"

    @property
    def connectionState(self):
        return self.scripted

    def move(self, state):
        self.scripted = state
        self.emit("connectionstatechange")

    async def close(self):
        self.scripted = "closed"  # what aiortc's close() announces
        await super().close()


def test_bridge_refuses_what_it_cannot_drive():
    async def build(client, pc, **options):
        return CallAudioBridge(client, pc, **options)

    memory = VoiceClient(MemoryBackend(), session=AudioSession(dispatcher=SynchronousDispatcher()))
    with pytest.raises(ConfigError, match="EngineBackend"):
        asyncio.run(build(memory, RTCPeerConnection()))
    assert memory.calls == ()
    client = _client()
    with pytest.raises(ConfigError, match="RTCPeerConnection"):
        asyncio.run(build(client, object()))
    with pytest.raises(ConfigError, match="coroutine"):
        CallAudioBridge(client, RTCPeerConnection())
    for bad in (0, 5000, float("nan"), "100"):
        with pytest.raises(ConfigError, match="max_far_queue_ms"):
            asyncio.run(build(client, RTCPeerConnection(), max_far_queue_ms=bad))
    with pytest.raises(ConfigError, match="far_prime_ms"):  # True was taken as 1 ms
        asyncio.run(build(client, RTCPeerConnection(), far_prime_ms=True))
    for bad_client in (None, "client", client.backend):  # AttributeError on .backend
        with pytest.raises(ConfigError, match="client"):
            asyncio.run(build(bad_client, RTCPeerConnection()))
    assert client.calls == ()  # nothing refused left a call behind


def test_a_second_bridge_on_one_peer_connection_is_refused_and_changes_nothing():
    # it was accepted: a second call on the client, a second audio track sent on the
    # connection, and the two bridges' far-end tasks each took every other remote frame
    async def run():
        client, other = _client(), _client()
        pc = RTCPeerConnection()
        first = CallAudioBridge(client, pc, remote="a")
        for again in (client, other):
            with pytest.raises(ConfigError, match="one bridge per connection"):
                CallAudioBridge(again, pc, remote="b")
        assert [c.remote for c in client.calls] == ["a"] and other.calls == ()
        assert len(pc.getSenders()) == 1
        await first.hangup()
        assert first.closed and first.call.state is CallState.ENDED

    asyncio.run(run())


class BurstTrack(MediaStreamTrack):
    """A remote track whose ``count`` frames arrive all at once (a network burst)."""

    kind = "audio"

    def __init__(self, count):
        super().__init__()
        self.pts = [960 * i for i in range(count)]
        self.pts[-1] += 960  # one frame lost before the last

    async def recv(self):
        if not self.pts:
            raise MediaStreamError
        return mono_to_frame(np.full(960, 0.1, np.float32), self.pts.pop(0))


def test_a_burst_from_the_network_is_capped_in_the_far_queue():
    async def scenario():
        client = _client()
        pc = ScriptedPeerConnection()
        bridge = CallAudioBridge(client, pc, max_far_queue_ms=100.0)
        pc.emit("track", BurstTrack(30))  # 600 ms at once, before the call is established
        await asyncio.sleep(0.05)
        before = bridge.stats()
        pc.move("connecting")
        pc.move("connected")
        pc.emit("track", BurstTrack(30))  # the first track ended: a new one plays
        await asyncio.sleep(0.05)
        queued = client.backend.engine.far_queued_ms()
        await bridge.hangup()
        return before, bridge.stats(), queued

    before, after, queued = asyncio.run(scenario())
    assert before.far_frames == 30 and before.far_discarded_ms == pytest.approx(600.0)
    assert after.far_frames == 60
    assert 100.0 <= queued <= 120.0  # up to the cap, plus the frame that crossed it
    assert after.far_primes == 1  # the call's stream started behind 20 ms of silence
    assert after.far_dropped_ms == pytest.approx(600.0 - (queued - 20.0))
    assert after.far_gaps == 2  # the lost frame, in each burst


class SteadyTrack(MediaStreamTrack):
    """A remote track: ``burst`` frames at once, then one per 20 ms the room runs."""

    kind = "audio"

    def __init__(self, device, count, burst):
        super().__init__()
        self.device, self.count, self.burst, self.k = device, count, burst, 0

    async def recv(self):
        if self.k >= self.count:
            raise MediaStreamError
        if self.k >= self.burst:
            self.device.run_frames(2)  # 20 ms played while the next packet travelled
        self.k += 1
        return mono_to_frame(np.full(960, 0.1, np.float32), 960 * (self.k - 1))


class OddTrack(MediaStreamTrack):
    """A remote track with one odd frame (no samples, or no rate) among good ones."""

    kind = "audio"

    def __init__(self, odd):
        super().__init__()
        self.frames = [mono_to_frame(np.full(960, 0.1, np.float32), 960 * k) for k in range(20)]
        self.frames.insert(1, odd)

    async def recv(self):
        if not self.frames:
            raise MediaStreamError
        await asyncio.sleep(0)
        return self.frames.pop(0)


def _odd_frames():
    empty = av.AudioFrame.from_ndarray(np.zeros((1, 0), np.int16), format="s16", layout="mono")
    empty.sample_rate, empty.pts = 48000, 960
    rateless = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.int16), format="s16", layout="mono")
    rateless.sample_rate, rateless.pts = 0, 960
    odd = {"empty": empty, "rateless": rateless}
    for name, rate in (("2**31-1 Hz", 2**31 - 1), ("1 Hz", 1)):
        # av's MemoryError killed the far task; 1 Hz resampled to 46 million samples
        odd[name] = av.AudioFrame.from_ndarray(
            np.full((1, 960), 1000, np.int16), format="s16", layout="mono"
        )
        odd[name].sample_rate, odd[name].pts = rate, 960
    return odd


@pytest.mark.parametrize("kind", ["empty", "rateless", "2**31-1 Hz", "1 Hz"])
def test_one_odd_remote_frame_is_dropped_and_the_far_end_keeps_playing(kind, caplog):
    async def scenario():
        client = _client()
        pc = ScriptedPeerConnection()
        bridge = CallAudioBridge(client, pc)
        pc.move("connecting")
        pc.move("connected")
        pc.emit("track", OddTrack(_odd_frames()[kind]))
        await asyncio.sleep(0.2)
        task = bridge._far_task
        failed = task.exception() if task is not None and task.done() else None
        stats, state = bridge.stats(), bridge.call.state
        await bridge.hangup()
        return failed, stats, state

    with caplog.at_level("WARNING"):
        failed, stats, state = asyncio.run(scenario())
    assert failed is None  # it used to die there (ValueError, ZeroDivisionError), silently
    assert stats.far_frames == 20 and state is CallState.ESTABLISHED
    assert "remote frame dropped" in caplog.text
    assert stats.far_refused == 1


def test_a_remote_frame_the_resampler_fails_on_is_dropped(monkeypatch, caplog):
    real = aiortc_bridge._Resampler.__call__
    calls = []

    def failing_once(self, x):
        calls.append(len(x))
        if len(calls) == 2:
            raise MemoryError("swr_convert")
        return real(self, x)

    monkeypatch.setattr(aiortc_bridge._Resampler, "__call__", failing_once)

    async def scenario():
        client = _client(rate=16000)  # 48 kHz frames are resampled
        pc = ScriptedPeerConnection()
        bridge = CallAudioBridge(client, pc)
        pc.move("connecting")
        pc.move("connected")
        pc.emit("track", OddTrack(mono_to_frame(np.full(960, 0.1, np.float32), 960)))
        await asyncio.sleep(0.2)
        task = bridge._far_task
        failed = task.exception() if task is not None and task.done() else None
        stats = bridge.stats()
        await bridge.hangup()
        return failed, stats

    with caplog.at_level("WARNING"):
        failed, stats = asyncio.run(scenario())
    assert failed is None and len(calls) > 2  # the frames after it were resampled too
    assert stats.far_refused == 1 and "swr_convert" in caplog.text


def test_the_far_queue_comes_back_down_after_a_burst():
    async def scenario():
        client = _client()
        pc = ScriptedPeerConnection()
        bridge = CallAudioBridge(client, pc, max_far_queue_ms=200.0)
        pc.move("connecting")
        pc.move("connected")
        engine = client.backend.engine
        pc.emit("track", SteadyTrack(client.backend.device, 40, burst=6))
        await asyncio.sleep(0.05)
        high = engine.far_queued_ms()  # the burst stays queued: 120 ms + the cushion
        pc.emit("track", SteadyTrack(client.backend.device, 300, burst=0))
        await asyncio.sleep(0.2)
        low = engine.far_queued_ms()
        stats = bridge.stats()
        await bridge.hangup()
        return high, low, stats, client.backend.last_stats

    high, low, stats, engine_stats = asyncio.run(scenario())
    assert high == pytest.approx(140.0)
    # One packet dropped per second while more than the cushion and a packet stayed
    # queued: down to the cushion, the packet the room is playing and the one just queued.
    assert low == pytest.approx(60.0)
    assert stats.far_dropped_ms == pytest.approx(high - low)
    assert engine_stats.underruns == 0


def test_loop_clock_ends_the_interrupted_call_on_the_loop_thread():
    import threading

    ended_on = []

    class Watcher:
        def on_call_ended(self, call, cause):
            ended_on.append((threading.get_ident(), cause))

    async def scenario():
        client = _client(clock=LoopClock())
        client.add_observer(Watcher())
        pc = ScriptedPeerConnection()
        bridge = CallAudioBridge(client, pc)
        pc.move("connecting")
        pc.move("connected")
        client.session.begin_interruption("pstn")
        assert await bridge.wait_closed(timeout=10.0)  # grace period 0.3 s
        return bridge

    bridge = asyncio.run(scenario())
    assert ended_on == [(threading.get_ident(), EndCause.GSM_CALL_DETECTED)]
    assert bridge.call.details.end_cause is EndCause.GSM_CALL_DETECTED
    with pytest.raises(ConfigError, match="coroutine"):
        LoopClock()
    for bad in ("loop", object()):  # AttributeError at the first timer, on the session
        with pytest.raises(ConfigError, match="event loop"):
            LoopClock(bad)  # type: ignore[arg-type]


def test_outgoing_lifecycle_failed_ends_with_error_and_closes():
    async def scenario():
        client = _client()
        pc = ScriptedPeerConnection()
        bridge = CallAudioBridge(client, pc, remote="bob")
        pc.move("connecting")
        assert bridge.call.state is CallState.PROGRESSING
        pc.move("connected")
        assert bridge.call.state is CallState.ESTABLISHED
        assert client.session.is_active and client.is_duplex_running
        assert str(client.session.configuration).startswith("PLAY_AND_RECORD/VOICE_CHAT")
        pc.move("failed")
        assert await bridge.wait_closed(timeout=5.0)
        return client, bridge

    client, bridge = asyncio.run(scenario())
    assert bridge.call.details.end_cause is EndCause.ERROR
    assert isinstance(bridge.call.details.error, ConnectionError)
    assert bridge.connection_states == ["connecting", "connected", "failed", "closed"]
    assert str(client.session.configuration) == "PLAYBACK/DEFAULT/NONE"
    assert not client.session.is_active and not client.backend.is_running


def test_incoming_call_answered_at_connecting_and_canceled_if_closed_before_connected():
    async def scenario():
        client = _client()
        pc = ScriptedPeerConnection()
        bridge = CallAudioBridge(client, pc, direction=CallDirection.INCOMING)
        pc.move("connecting")
        assert bridge.call.state is CallState.ANSWERED
        pc.move("closed")
        assert await bridge.wait_closed(timeout=5.0)
        return client, bridge

    client, bridge = asyncio.run(scenario())
    assert bridge.call.details.end_cause is EndCause.CANCELED
    assert bridge.call.details.established_at is None
    assert not client.session.is_active


def test_call_ended_by_callaudio_closes_the_peer_connection():
    async def scenario():
        client = _client()
        pc = ScriptedPeerConnection()
        bridge = CallAudioBridge(client, pc)
        pc.move("connecting")
        pc.move("connected")
        client.close()  # the application closes the client: its calls end (HUNG_UP)
        assert await bridge.wait_closed(timeout=5.0)
        return bridge, pc

    bridge, pc = asyncio.run(scenario())
    assert bridge.call.details.end_cause is EndCause.HUNG_UP
    assert pc.signalingState == "closed"


# -- layering --------------------------------------------------------------------------------


def test_only_the_integration_module_imports_aiortc_and_nothing_imports_integrations():
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        tree = ast.parse(path.read_text())
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                names.add(("." * node.level) + (node.module or ""))
        third_party = {n.split(".")[0] for n in names if not n.startswith(".")}
        if rel != "integrations/aiortc.py":
            assert not third_party & {"aiortc", "av", "aioice"}, rel
        if not rel.startswith("integrations/"):
            assert not any("integrations" in n for n in names), rel


@pytest.mark.parametrize("timeout", [float("nan"), -1.0, "1", [1.0]])
def test_wait_closed_refuses_what_is_no_timeout(timeout):
    """NaN waited for ever, '1' and a list: TypeError from asyncio (10**400, which raised
    OverflowError, now waits as long as a wait can)."""

    async def scenario():
        client = _client()
        bridge = CallAudioBridge(client, RTCPeerConnection())
        try:
            with pytest.raises(ConfigError, match="timeout"):
                await asyncio.wait_for(bridge.wait_closed(timeout), 30)
            assert not bridge.closed
        finally:
            await bridge.hangup()
        assert await bridge.wait_closed(10)

    asyncio.run(scenario())


@pytest.mark.parametrize("steps", [1, 3])
def test_a_cancelled_hangup_still_closes_the_connection(steps):
    """Adversarial round 13: cancelling ``hangup()`` (a timeout around it) cancelled the
    bridge's own closing task: the peer connection stayed open, ``wait_closed()`` never
    returned and every later ``hangup()`` raised CancelledError."""

    async def scenario():
        client = _client()
        pc = RTCPeerConnection()
        bridge = CallAudioBridge(client, pc)
        await pc.setLocalDescription(await pc.createOffer())
        waiting = asyncio.ensure_future(bridge.hangup())
        for _ in range(steps):
            await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert await bridge.wait_closed(10)
        await asyncio.wait_for(bridge.hangup(), 10)  # returns: nothing left to close
        client.close()
        return bridge, pc

    bridge, pc = asyncio.run(scenario())
    assert bridge.closed and pc.signalingState == "closed"
    assert bridge.call.details.end_cause is EndCause.HUNG_UP
