"""The bridge on a real PortAudio duplex stream (JACK's loopback), in a loopback WebRTC call.

JACK's `loopback` device returns what it plays, bit-exact, 960 samples later: a 0 dB echo
path. Peer A's talker plays there through B's bridge, a self-paced device (the track reads
what the sound server produced), and must come back to A cancelled. Runs under
``scripts/with-jack.sh`` (``make test``); skipped without its server, failed when CI=true.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time

import numpy as np
import pytest

pytest.importorskip("aiortc")

from aiortc import RTCConfiguration, RTCPeerConnection

from callaudio import VoiceClient
from callaudio.audio.service import EngineBackend
from callaudio.call import CallState, EndCause
from callaudio.events import SynchronousDispatcher
from callaudio.integrations.aiortc import CallAudioBridge
from callaudio.session import AudioSession, Category
from callaudio.simulation import load_talker
from callaudio.simulation.metrics import level_dbfs

from . import peers

pytestmark = [pytest.mark.realaudio, pytest.mark.slow]

R = peers.RATE


def _missing(why: str) -> None:
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(f"real-audio test without its JACK server (CI=true): {why}")
    pytest.skip(f"no JACK loopback server: {why} (run through scripts/with-jack.sh)")


@pytest.fixture
def jack_loopback():
    name = os.environ.get("JACK_DEFAULT_SERVER", "")
    if not name:
        _missing("JACK_DEFAULT_SERVER is not set")
    if shutil.which("jack_lsp") is None:
        _missing("jack_lsp is not installed (jackd2)")
    env = {**os.environ, "JACK_NO_START_SERVER": "1"}
    r = subprocess.run(["jack_lsp", "-s", name], env=env, capture_output=True, text=True)
    if r.returncode != 0 or "loopback:capture_1" not in r.stdout:
        _missing(f"server {name!r} not running or without a loopback pair")
    from callaudio.devices.sounddevice_backend import SounddeviceBackend

    return SounddeviceBackend("loopback", hostapi="JACK")


def test_a_webrtc_call_on_a_real_duplex_stream_cancels_a_0_db_echo(monkeypatch, jack_loopback):
    peers.loopback_only(monkeypatch)
    far = load_talker(0, R, 9.0, level_dbfs=-20.0)

    async def scenario():
        config = RTCConfiguration(iceServers=[])
        pc_a, pc_b = RTCPeerConnection(config), RTCPeerConnection(config)
        session = AudioSession(dispatcher=SynchronousDispatcher())
        session.set_category(Category.PLAYBACK)
        client = VoiceClient(EngineBackend(jack_loopback), session=session)
        bridge = CallAudioBridge(client, pc_b)
        received = peers.Received()
        tasks = []
        pc_a.addTrack(peers.TalkerTrack(far))
        pc_a.on("track", lambda t: tasks.append(asyncio.ensure_future(received.run(t))))
        try:
            await pc_b.setLocalDescription(await pc_b.createOffer())
            await pc_a.setRemoteDescription(pc_b.localDescription)
            await pc_a.setLocalDescription(await pc_a.createAnswer())
            await pc_b.setRemoteDescription(pc_a.localDescription)
            deadline = time.monotonic() + 20.0
            while len(received.frames) < 400:  # 8 s of call
                assert time.monotonic() < deadline + 10.0, bridge.connection_states
                await asyncio.sleep(0.05)
            assert bridge.call.state is CallState.ESTABLISHED
            played = client.backend.stats
        finally:
            await bridge.hangup()
            await pc_a.close()
            for task in tasks:
                task.cancel()
            client.close()
        return bridge, received, played, session

    bridge, received, played, session = asyncio.run(asyncio.wait_for(scenario(), 90.0))
    assert bridge.call.details.end_cause is EndCause.HUNG_UP
    assert str(session.configuration) == "PLAYBACK/DEFAULT/NONE"
    pts = np.asarray(received.pts)
    assert np.all(np.diff(pts) == peers.N)
    stats = bridge.stats()
    assert stats.frames_sent >= 400
    assert played.frames > 500  # the sound server ran the stream
    # A's voice went out through the loudspeaker at 0 dB and must not come back: after 2 s
    # of convergence, what A receives is >= 25 dB below what it sent.
    y = received.signal()[2 * R : 8 * R]
    attenuation = level_dbfs(far[2 * R : 8 * R]) - level_dbfs(y)
    print(
        f"\nreal duplex stream: echo attenuation {attenuation:.1f} dB, capture underruns "
        f"{stats.capture_underruns}, dropped {stats.capture_dropped_ms:.0f} ms, far ring "
        f"{stats.far_queue_ms:.1f} ms, engine xruns {played.xruns}"
    )
    assert attenuation >= 25.0
