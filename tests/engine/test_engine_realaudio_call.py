"""A whole call on real PortAudio streams (JACK loopback), and a device lost under a call.

End to end: the client establishes a call, the engine opens a real duplex stream on the
JACK `loopback` device, far-end speech is played and comes back as echo (bit-exact, 960
samples later), a second JACK client (a subprocess) talks into the same input, and the
processed output is measured against the exactly known echo and near-end components. An
interruption stops the stream and resumes it; the call's end closes it and restores the
session.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from callaudio.audio.service import EngineBackend
from callaudio.cli.common import full_config
from callaudio.client import VoiceClient
from callaudio.clock import ManualClock
from callaudio.devices.sounddevice_backend import SounddeviceBackend
from callaudio.events import SynchronousDispatcher
from callaudio.session import AudioSession, InterruptionPolicy
from callaudio.simulation import load_talker
from callaudio.simulation.metrics import erle_db, near_end_loss_db

pytestmark = pytest.mark.realaudio

RATE = 48000
N = RATE // 100
LOOPBACK_DELAY = 2 * N
ROOT = Path(__file__).resolve().parents[2]


class _Log:
    def __init__(self) -> None:
        self.names: list[str] = []

    def on_event(self, event) -> None:
        self.names.append(event.name)


_TALKER = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    import sounddevice as sd
    x = np.load(sys.argv[1]).astype(np.float32)
    pos = [-1]

    def callback(outdata, frames, time, status):
        if pos[0] == -1:
            pos[0] = -2
            try:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(20))
            except OSError:
                pass
        p = pos[0]
        outdata.fill(0)
        if 0 <= p < x.size:
            k = min(frames, x.size - p)
            outdata[:k, 0] = x[p : p + k]
            pos[0] = p + k

    with sd.OutputStream(48000, blocksize=480, device="loopback", channels=1,
                         dtype="float32", latency="low", callback=callback):
        print("ready", flush=True)
        sys.stdin.readline()
        pos[0] = 0
        sys.stdin.read()
    """
)


def test_a_call_on_the_real_loopback_cancels_the_echo_and_keeps_the_near_end(jack_server, tmp_path):
    far = load_talker(0, RATE, 9.0, seed=3, level_dbfs=-20.0)
    near = load_talker(1, RATE, 4.0, seed=4, level_dbfs=-26.0)
    np.save(tmp_path / "near.npy", near)
    talker = subprocess.Popen(
        [sys.executable, "-c", _TALKER, str(tmp_path / "near.npy")],
        env={**os.environ, "JACK_NO_START_SERVER": "1"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cfg = full_config(echo_canceller=True)
    backend = EngineBackend(
        SounddeviceBackend("loopback", hostapi="JACK"),
        processing=cfg,
        capture_buffer_ms=12000,
        monitor=True,
        realtime_priority=20,
    )
    session = AudioSession(dispatcher=SynchronousDispatcher(), preferred_sample_rate=RATE)
    log = _Log()
    before = session.configuration
    try:
        assert talker.stdout is not None and talker.stdin is not None
        assert talker.stdout.readline().strip() == "ready"
        client = VoiceClient(
            backend, session=session, policy=InterruptionPolicy(clock=ManualClock())
        )
        client.add_observer(log)
        call = client.start_call("far")
        call.progress()
        call.answer()
        call.establish()
        assert backend.stream_kind == "duplex"
        engine = backend.engine
        assert engine is not None and engine.processor is not None
        pos = backend.write_far(far)
        t0 = time.monotonic()
        out, played, mic = [], [], []
        talking = False
        while time.monotonic() - t0 < 10.0:
            if pos < far.size:
                pos += backend.write_far(far[pos:])
            if not talking and time.monotonic() - t0 > 5.0:  # double talk from 5 s on
                talker.stdin.write("go\n")
                talker.stdin.flush()
                talking = True
            p, m = backend.read_monitor()
            played.append(p)
            mic.append(m)
            out.append(backend.read_capture())
            time.sleep(0.05)
        latency = engine.processor.latency_samples
        # An interruption stops the stream; its end resumes it.
        session.begin_interruption("pstn")
        stats = backend.last_stats
        assert not backend.is_running
        session.end_interruption("pstn")
        assert backend.stream_kind == "duplex"
        time.sleep(0.3)
        call.hangup()
        assert not backend.is_running
        client.close()
    finally:
        _, err = talker.communicate(timeout=30)
    assert talker.returncode == 0, err
    assert stats is not None
    # xruns are printed, not asserted: a loaded machine may have some; the call's audio is
    # measured below from what was actually played.
    print(f"\ncall on the loopback: {stats}")
    assert stats.frames >= 950  # 10 s of real time
    assert stats.cost_us_mean is not None and stats.cost_us_mean > 0
    assert session.configuration == before and not session.is_active
    for name in (
        "call_established",
        "interruption_began",
        "call_interrupted",
        "interruption_ended",
        "call_resumed",
        "call_ended",
        "configuration_restored",
    ):
        assert name in log.names
    # The loopback is bit-exact: the echo and the near end at the microphone are known.
    x = np.concatenate(played).astype(np.float64)
    y = np.concatenate(mic).astype(np.float64)
    o = np.concatenate(out).astype(np.float64)
    k = min(x.size, y.size, o.size)
    x, y, o = x[:k], y[:k], o[:k]
    echo = np.r_[np.zeros(LOOPBACK_DELAY), x][:k]
    near_at_mic = y - echo
    o = np.r_[o[latency:], np.zeros(latency)]
    far_only = np.zeros(k, dtype=bool)
    far_only[2 * RATE : 5 * RATE] = True  # converged, before the talker starts
    _, erle = erle_db(echo, o, RATE, mask=far_only)
    dt = np.abs(near_at_mic) > 1e-4
    dt[: 5 * RATE] = False
    loss = near_end_loss_db(o[dt], near_at_mic[dt])
    print(f"ERLE {erle:.1f} dB, near-end change in double talk {loss:+.1f} dB")
    assert erle > 20.0
    assert loss > -6.0


_DEVICE_LOSS_CLIENT = textwrap.dedent(
    """
    import sys, time
    from callaudio.devices.sounddevice_backend import SounddeviceBackend
    from callaudio.client import VoiceClient
    from callaudio.audio.service import EngineBackend
    from callaudio.events import SynchronousDispatcher
    from callaudio.session import AudioSession

    class Log:
        def on_event(self, event):
            print("event", event, flush=True)

    session = AudioSession(dispatcher=SynchronousDispatcher())
    backend = EngineBackend(SounddeviceBackend("loopback", hostapi="JACK"))
    client = VoiceClient(backend, session=session)
    client.add_observer(Log())
    call = client.start_call("far")
    call.progress()
    call.answer()
    call.establish()
    print("established", flush=True)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 8.0 and call.state.name != "ENDED":
        time.sleep(0.05)
    print("state", call.state.name, call.details.end_cause.name, flush=True)
    print("running", backend.is_running, flush=True)
    client.close()
    print("closed", flush=True)
    """
)


def _device_loss_run(tmp_path: Path) -> tuple[int, str, str]:
    name = f"callaudio-loss-{os.getpid()}"
    script = ROOT / "scripts" / "jack-server.sh"
    env = {**os.environ, "JACK_NO_START_SERVER": "1", "JACK_STATE_DIR": str(tmp_path)}
    subprocess.run([str(script), "start", name], env=env, check=True, timeout=60)
    proc = subprocess.Popen(
        [sys.executable, "-c", _DEVICE_LOSS_CLIENT],
        env={**env, "JACK_DEFAULT_SERVER": name},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        while True:
            line = proc.stdout.readline()
            assert line, "the client died before the call was established"
            lines.append(line)
            if line.strip() == "established":
                break
        time.sleep(0.5)
        subprocess.run([str(script), "stop", name], env=env, check=True, timeout=60)
        rest, err = proc.communicate(timeout=30)  # nothing may hang
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        subprocess.run([str(script), "stop", name], env=env, check=False, timeout=60)
    return proc.returncode, "".join(lines) + rest, err


@pytest.fixture(scope="module")
def device_loss(jack_server, tmp_path_factory):
    return _device_loss_run(tmp_path_factory.mktemp("jack-loss"))


def test_a_lost_sound_server_is_reported_and_nothing_hangs(device_loss):
    rc, out, err = device_loss
    assert rc == 0, err[-2000:]
    assert "event route_changed(reason=OLD_DEVICE_UNAVAILABLE" in out
    assert "running False" in out
    assert "closed" in out
    assert "event configuration_restored" in out


def test_a_call_whose_device_is_gone_ends_with_error(device_loss):
    """Restarting the stream on the new route fails (no server): the call ends with ERROR."""
    _, out, _ = device_loss
    assert "state ENDED ERROR" in out
