"""A WebRTC softphone: callaudio as the audio device of an aiortc call (callaudio[webrtc]).

  python examples/webrtc_softphone.py demo     # Alice calls Bob in this process, on 127.0.0.1
  python examples/webrtc_softphone.py offer    # one end of a call to another machine; the
  python examples/webrtc_softphone.py answer   # other end; paste the JSON line each prints
Each end runs a VoiceClient (echo canceller, noise suppressor, gain control, the session
rules) on a sound card (--device NAME) or a simulated room with a talker in it.
"""

import argparse
import asyncio
import json

import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

import callaudio as ca
from callaudio.integrations.aiortc import CallAudioBridge, LoopClock
from callaudio.simulation import load_talker


class Printer:
    def __init__(self, name):
        self.on_event = lambda event: print(f"{name:>6}: {event}")


def phone(name, talker, device=None):
    """A client on its own session: a sound card, or a simulated room driven by the call."""
    if device:
        backend = ca.make_backend("sounddevice", device=device)
    else:
        near = load_talker(talker, 48000, 30.0)
        backend = ca.make_backend("simulated", realtime=False, near=near, loop=True)
    session = ca.AudioSession(dispatcher=ca.SynchronousDispatcher())  # events on the loop
    session.add_observer(Printer(name))
    policy = ca.InterruptionPolicy(clock=LoopClock())  # its timers fire where the frames run
    return ca.VoiceClient(backend, session=session, policy=policy)


async def demo():
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]  # loopback only
    pc_a, pc_b = (RTCPeerConnection(RTCConfiguration(iceServers=[])) for _ in "ab")
    alice = CallAudioBridge(phone("alice", 0), pc_a, remote="bob")
    bob = CallAudioBridge(phone("bob", 1), pc_b, direction=ca.CallDirection.INCOMING)
    await pc_a.setLocalDescription(await pc_a.createOffer())
    await pc_b.setRemoteDescription(pc_a.localDescription)
    await pc_b.setLocalDescription(await pc_b.createAnswer())
    await pc_a.setRemoteDescription(pc_b.localDescription)
    await asyncio.sleep(6.0)  # the call runs; then Alice hangs up
    await alice.hangup()
    await bob.wait_closed(timeout=10.0)
    print(f" alice: {alice.stats()}\n   bob: {bob.stats()}")


async def one_end(role, device):
    pc = RTCPeerConnection()
    incoming = ca.CallDirection.INCOMING if role == "answer" else ca.CallDirection.OUTGOING
    bridge = CallAudioBridge(phone(role, 0, device), pc, direction=incoming)
    if role == "answer":
        offer = json.loads(await asyncio.to_thread(input, "offer> "))
        await pc.setRemoteDescription(RTCSessionDescription(**offer))
    create = pc.createAnswer if role == "answer" else pc.createOffer
    await pc.setLocalDescription(await create())
    print(json.dumps({"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}))
    if role == "offer":
        answer = json.loads(await asyncio.to_thread(input, "answer> "))
        await pc.setRemoteDescription(RTCSessionDescription(**answer))
    try:
        await bridge.wait_closed()  # until the other end hangs up (Ctrl-C: hang up here)
    finally:
        await bridge.hangup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=["demo", "offer", "answer"])
    parser.add_argument("--device", help="sound device name (default: the simulated room)")
    args = parser.parse_args()
    asyncio.run(demo() if args.role == "demo" else one_end(args.role, args.device))
