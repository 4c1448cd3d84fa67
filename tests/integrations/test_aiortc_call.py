"""A real WebRTC call on 127.0.0.1: two aiortc peers, Opus both ways, callaudio on one side.

Peer A (the far end) sends a recorded talker and records what comes back; peer B runs the
bridge on the simulated room with the loudspeaker on, where A's voice plays into the
microphone beside B's near talker. Every wait is bounded (``asyncio.wait_for`` around each
scenario, deadlines in the helpers), so a broken connection fails the test instead of
hanging it.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

pytest.importorskip("aiortc")

from callaudio import CallState, EndCause
from callaudio.simulation import load_talker
from callaudio.simulation.metrics import active_level_dbfs, level_dbfs

from . import peers

pytestmark = pytest.mark.slow

R = peers.RATE


def _lag(y: np.ndarray, ref: np.ndarray) -> int:
    """The delay of ``ref`` in ``y`` (samples), by cross-correlation."""
    n = 1 << int(np.ceil(np.log2(y.size + ref.size)))
    c = np.fft.irfft(np.fft.rfft(y, n) * np.conj(np.fft.rfft(ref, n)), n)
    k = int(np.argmax(np.abs(c)))
    return k if k < n // 2 else k - n


def _window(x: np.ndarray, start_s: float, end_s: float, offset: int = 0) -> np.ndarray:
    return x[int(start_s * R) + offset : int(end_s * R) + offset]


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))


def _run(coro, timeout: float):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def _assert_continuous(received: peers.Received) -> None:
    pts = np.asarray(received.pts)
    assert pts.size > 100
    assert np.all(np.diff(pts) == peers.N), "gaps in the stream A received"


def test_opus_call_cancels_the_echo_and_keeps_the_near_talker(monkeypatch):
    peers.loopback_only(monkeypatch)
    far = load_talker(0, R, 10.5, level_dbfs=-20.0)
    near = np.zeros(10 * R, np.float32)
    near[5 * R : 9 * R] = load_talker(1, R, 4.0, level_dbfs=-20.0, seed=3)

    async def scenario():
        call = await peers.start_call(far, near, speaker=True)
        try:
            await call.run_until_room_time(9.5, timeout=40.0)
        finally:
            await call.close()
        await call.wait_state_a("closed", timeout=10.0)
        return call

    cpu0, wall0 = time.process_time(), time.monotonic()
    call = _run(scenario(), 90.0)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    bridge, session = call.bridge, call.session

    # The lifecycle: B offered (outgoing), connected -> established, hang-up -> closed.
    assert bridge.connection_states == ["connecting", "connected", "closed"]
    assert call.states_a[-2:] == ["connected", "closed"]
    assert bridge.call.state is CallState.ENDED
    assert bridge.call.details.end_cause is EndCause.HUNG_UP
    assert bridge.closed
    names = call.log.names()
    expected = [
        "call_progressing",
        "call_answered",
        "will_set_active",
        "did_set_active",
        "call_established",
        "call_ended",
        "will_set_active",
        "did_set_active",
        "configuration_restored",
    ]
    assert [n for n in names if n in expected] == expected
    assert str(session.configuration) == "PLAYBACK/DEFAULT/NONE"
    assert not session.is_active
    assert not call.client.backend.is_running

    # The stream A received: continuous timestamps, nothing lost or padded on B's side.
    _assert_continuous(call.received)
    stats = bridge.stats()
    assert stats.far_gaps == 0
    assert stats.capture_underruns == 0
    assert stats.frames_sent >= 400
    assert stats.far_primes >= 1
    engine_stats = call.client.backend.last_stats

    # Align what A received with the room's timeline through B's near talker.
    y = call.received.signal()
    rec = call.device.recording()
    lag = _lag(y, rec["near"])
    assert 0 <= lag < R // 5  # the chain's 7.5 ms plus Opus's look-ahead, not more

    # A's own voice, far end alone (room time 2.5-4.8 s, after convergence).
    echo = _window(rec["echo"], 2.5, 4.8)
    back = _window(y, 2.5, 4.8, lag)
    assert level_dbfs(echo) > -35.0  # the loudspeaker's echo was really there
    total_attenuation = level_dbfs(echo) - level_dbfs(back)  # everything counted as echo
    coherent = np.dot(back, echo) / np.dot(echo, echo) * echo  # the part correlated with A
    coherent_attenuation = level_dbfs(echo) - level_dbfs(coherent)
    assert total_attenuation >= 25.0, total_attenuation
    assert coherent_attenuation >= 25.0, coherent_attenuation

    # B's near talker in double talk (room time 5.3-8.8 s): level and waveform intact.
    near_mic = _window(rec["near"], 5.3, 8.8)
    near_out = _window(y, 5.3, 8.8, lag)
    level_change = active_level_dbfs(near_out, R) - active_level_dbfs(near_mic, R)
    assert abs(level_change) <= 3.0, level_change
    assert _corr(near_out, near_mic) >= 0.75
    print(
        f"\necho attenuation {total_attenuation:.1f} dB (coherent {coherent_attenuation:.1f} dB),"
        f" near level change {level_change:+.2f} dB, correlation {_corr(near_out, near_mic):.3f}"
        f"\nlatency: chain + Opus {1000 * lag / R:.1f} ms, far jitter ring"
        f" {stats.far_queue_ms:.1f} ms ({engine_stats.underruns} underruns of"
        f" {engine_stats.frames} frames), out FIFO {stats.out_buffer_ms:.1f} ms;"
        f" CPU {cpu:.2f} s for {wall:.1f} s (both peers)"
    )


def _paused_run(received: peers.Received) -> int:
    """The longest run of silent frames A received."""
    silent = [level_dbfs(f) < -80.0 for f in received.frames]
    best = run = 0
    for s in silent:
        run = run + 1 if s else 0
        best = max(best, run)
    return best


def test_interruption_of_5_s_pauses_with_silence_and_resumes(monkeypatch):
    peers.loopback_only(monkeypatch)
    far = load_talker(0, R, 8.0, level_dbfs=-20.0)
    near = load_talker(1, 16000, 20.0, level_dbfs=-20.0, seed=5)

    async def scenario():
        call = await peers.start_call(far, near, rate=16000, loop_near=True)
        try:
            await call.run_until_room_time(2.0, timeout=30.0)
            assert call.session.begin_interruption("pstn")
            assert call.bridge.call.is_interrupted
            at_begin = len(call.received.frames)
            call.clock.advance(5.0)  # 5 s of the grace period pass
            await asyncio.sleep(1.0)  # the media keeps flowing meanwhile, as silence
            assert call.bridge.call.state is CallState.ESTABLISHED
            assert call.pc_a.connectionState == call.pc_b.connectionState == "connected"
            assert call.session.end_interruption("pstn")
            assert not call.bridge.call.is_interrupted
            resumed_at = len(call.received.frames)
            await call.run_until_room_time(4.0, timeout=30.0)
            after = call.received.frames[resumed_at:]
        finally:
            await call.close(a_hangs_up=True)  # the far end hangs up
        return call, at_begin, after

    call, at_begin, after = _run(scenario(), 90.0)
    bridge = call.bridge
    assert call.states_a == ["connecting", "connected", "closed"]
    assert bridge.connection_states == ["connecting", "connected", "closed"]
    assert bridge.call.details.end_cause is EndCause.HUNG_UP  # A's close reached B
    names = call.log.names()
    sequence = ["interruption_began", "call_interrupted", "interruption_ended", "call_resumed"]
    assert [n for n in names if n in sequence] == sequence
    assert names[-1] == "configuration_restored"
    assert not call.session.is_active

    _assert_continuous(call.received)  # the track never stalled
    assert _paused_run(call.received) >= 40  # >= 0.8 s of silence while interrupted
    assert bridge.stats().paused_frames >= 40
    assert at_begin > 50
    tail = np.concatenate(after[-50:])  # B's near talker is back after the resume
    assert level_dbfs(tail) > -45.0


def test_interruption_of_31_s_ends_the_call_and_closes_both_peers(monkeypatch):
    peers.loopback_only(monkeypatch)
    far = load_talker(0, R, 6.0, level_dbfs=-20.0)
    near = load_talker(1, 16000, 20.0, level_dbfs=-20.0, seed=7)

    async def scenario():
        call = await peers.start_call(far, near, rate=16000, loop_near=True)
        try:
            await call.run_until_room_time(2.0, timeout=30.0)
            assert call.session.begin_interruption("pstn")
            await asyncio.sleep(0.5)
            assert call.pc_a.connectionState == "connected"
            call.clock.advance(31.0)  # past the grace period: the call ends
            assert call.bridge.call.state is CallState.ENDED
            assert await call.bridge.wait_closed(timeout=10.0)
            await call.wait_state_a("closed", timeout=10.0)
            call.session.end_interruption("pstn")
        finally:
            await call.close()
        return call

    call = _run(scenario(), 90.0)
    bridge = call.bridge
    assert bridge.call.details.end_cause is EndCause.GSM_CALL_DETECTED
    assert bridge.connection_states == ["connecting", "connected", "closed"]
    assert call.states_a == ["connecting", "connected", "closed"]
    names = call.log.names()
    tail = ["call_ended", "will_set_active", "did_set_active", "configuration_restored"]
    assert [n for n in names if n in tail][-4:] == tail
    assert names.index("call_interrupted") < names.index("call_ended")
    assert names[-1] == "interruption_ended"  # after the call: no reactivation
    assert str(call.session.configuration) == "PLAYBACK/DEFAULT/NONE"
    assert not call.session.is_active
    _assert_continuous(call.received)
    assert _paused_run(call.received) >= 10


def test_the_softphone_example_runs_a_call_on_loopback():
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "webrtc_softphone.py"
    assert len(example.read_text().splitlines()) < 80
    r = subprocess.run(
        [sys.executable, str(example), "demo"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    for name in ("alice", "bob"):
        lines = [
            line.split(": ", 1)[1]
            for line in r.stdout.splitlines()
            if line.strip().startswith(name + ":")
        ]
        assert "call_established(call=call-1)" in lines
        assert "call_ended(call=call-1, cause=HUNG_UP)" in lines
        assert lines[-2].startswith("configuration_restored")
        assert lines[-1].startswith("BridgeStats(")
        assert "far_gaps=0" in lines[-1] and "capture_underruns=0" in lines[-1]
