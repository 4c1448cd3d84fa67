"""Two aiortc peers on 127.0.0.1 for the integration tests: a far talker and callaudio.

Peer A (the far end) sends a talker through a paced track and records what it receives;
peer B runs :class:`~callaudio.integrations.aiortc.CallAudioBridge` on the simulated room,
where A's audio plays through the loudspeaker into the microphone beside a near talker.
No STUN/TURN server is configured and aioice's host-address discovery is patched to the
loopback address, so no packet leaves the machine's loopback interface.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from callaudio import InterruptionPolicy, ManualClock, VoiceClient, make_backend
from callaudio.events import SynchronousDispatcher
from callaudio.integrations.aiortc import (
    OPUS_FRAME_SAMPLES,
    OPUS_SAMPLE_RATE,
    CallAudioBridge,
    frame_to_mono,
    mono_to_frame,
)
from callaudio.session import AudioSession, Category

RATE = OPUS_SAMPLE_RATE
N = OPUS_FRAME_SAMPLES


def loopback_only(monkeypatch) -> None:
    """Restrict ICE host candidates to 127.0.0.1."""
    import aioice.ice

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


class TalkerTrack(MediaStreamTrack):
    """Sends ``samples`` (48 kHz mono float) in 20 ms frames, paced, then silence."""

    kind = "audio"

    def __init__(self, samples: np.ndarray) -> None:
        super().__init__()
        self.samples = samples
        self.pts = -N
        self.start: float | None = None

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        self.pts += N
        now = time.monotonic()
        if self.start is None:
            self.start = now
        elif (wait := self.start + self.pts / RATE - now) > 0:
            await asyncio.sleep(wait)
        chunk = np.zeros(N, np.float32)
        part = self.samples[self.pts : self.pts + N]
        chunk[: part.size] = part
        return mono_to_frame(chunk, self.pts)


@dataclass
class Received:
    """What peer A received: each frame's pts and mono samples."""

    pts: list[int] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)

    async def run(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.pts.append(int(frame.pts))
            self.frames.append(frame_to_mono(frame))

    def signal(self) -> np.ndarray:
        return np.concatenate(self.frames) if self.frames else np.zeros(0, np.float32)


class EventLog:
    def __init__(self) -> None:
        self.events: list = []

    def on_event(self, event) -> None:
        self.events.append(event)

    def names(self) -> list[str]:
        return [e.name for e in self.events]


@dataclass
class Call:
    """Both peers of one loopback call."""

    pc_a: RTCPeerConnection
    pc_b: RTCPeerConnection
    bridge: CallAudioBridge
    client: VoiceClient
    session: AudioSession
    clock: ManualClock
    received: Received
    log: EventLog
    states_a: list[str]
    tasks: list[asyncio.Task]

    @property
    def device(self):
        return self.client.backend.device

    async def run_until_room_time(self, seconds: float, timeout: float) -> None:
        """Wait (wall clock) until the simulated room has run ``seconds`` of audio."""
        deadline = time.monotonic() + timeout
        while self.device.time_s < seconds:
            assert time.monotonic() < deadline, f"room at {self.device.time_s:.2f} s"
            await asyncio.sleep(0.05)

    async def wait_state_a(self, state: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.pc_a.connectionState != state:
            assert time.monotonic() < deadline, f"peer A stuck in {self.pc_a.connectionState}"
            await asyncio.sleep(0.05)

    async def close(self, *, a_hangs_up: bool = False) -> None:
        """Hang up (B, or A when ``a_hangs_up``) and wait for both ends to close."""
        if a_hangs_up:
            await self.pc_a.close()
            assert await self.bridge.wait_closed(timeout=10.0), self.bridge.connection_states
        await self.bridge.hangup()
        await self.pc_a.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.client.close()


async def start_call(
    far: np.ndarray,
    near: np.ndarray | None,
    *,
    rate: int = RATE,
    speaker: bool = False,
    loop_near: bool = False,
) -> Call:
    """B calls A (B offers); returns once both are connected and B's call is established.

    B's engine runs at ``rate`` (the room's rate too); ``speaker``: B's loudspeaker on.
    """
    config = RTCConfiguration(iceServers=[])
    pc_a, pc_b = RTCPeerConnection(config), RTCPeerConnection(config)
    clock = ManualClock()
    session = AudioSession(dispatcher=SynchronousDispatcher())
    session.set_category(Category.PLAYBACK)  # the application's own, restored after the call
    session.set_preferred_sample_rate(rate)
    log = EventLog()
    session.add_observer(log)
    backend = make_backend(
        "simulated", sample_rate=rate, realtime=False, near=near, loop=loop_near, record=True
    )
    client = VoiceClient(backend, session=session, policy=InterruptionPolicy(clock=clock))
    if speaker:
        client.audio_controller.enable_speaker()  # applied when the call is established
    bridge = CallAudioBridge(client, pc_b, remote="peer-a")

    received = Received()
    tasks: list[asyncio.Task] = []
    states_a: list[str] = []
    pc_a.addTrack(TalkerTrack(far))
    pc_a.on("track", lambda track: tasks.append(asyncio.ensure_future(received.run(track))))
    pc_a.on("connectionstatechange", lambda: states_a.append(pc_a.connectionState))

    await pc_b.setLocalDescription(await pc_b.createOffer())
    for line in pc_b.localDescription.sdp.splitlines():
        if line.startswith("a=candidate"):
            assert " 127.0.0.1 " in line, line
    await pc_a.setRemoteDescription(pc_b.localDescription)
    await pc_a.setLocalDescription(await pc_a.createAnswer())
    await pc_b.setRemoteDescription(pc_a.localDescription)
    call = Call(pc_a, pc_b, bridge, client, session, clock, received, log, states_a, tasks)
    deadline = time.monotonic() + 20.0
    while not (bridge.call.details.established_at is not None and states_a[-1:] == ["connected"]):
        assert time.monotonic() < deadline, (bridge.connection_states, states_a)
        await asyncio.sleep(0.02)
    return call
