"""Races between the application's threads and the audio thread: chain swaps during start
and stop (a freed chain must never reach the callback), commands while stopping, several
readers of one ring, and stop() from a capture callback. Crash and hang cases run in a
subprocess with a timeout."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _run(code: str, *args: str, timeout: float = 120.0) -> str:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        r = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung for {timeout} s")
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr[-2000:]}"
    return r.stdout


SWAP_DURING_START_STOP = """
import sys, threading, numpy as np, callaudio as ca
from callaudio.config import ProcessingConfig, EchoCancellerConfig
from callaudio.devices.simulated import SimulatedBackend
from callaudio.engine import AudioEngine
dev = SimulatedBackend(sample_rate=16000, realtime=True)
vp = ca.VoiceProcessor(16000)
e = AudioEngine(dev, 16000, vp, compiled=sys.argv[1] == "compiled")
cfgs = [ProcessingConfig(echo_canceller=EchoCancellerConfig(tail_ms=t)) for t in (64.0, 256.0)]
done = threading.Event()
def cfg():
    i = 0
    while not done.is_set():
        vp.apply_config(cfgs[i % 2]); i += 1
def writer():
    while not done.is_set():
        e.write_far(np.zeros(160, np.float32))
def startstop():
    for _ in range(1000):
        e.start(); e.stop(raise_errors=False)
    done.set()
ts = [threading.Thread(target=f) for f in (cfg, startstop, writer)]
[t.start() for t in ts]; [t.join() for t in ts]
print("survived")
"""


@pytest.mark.slow  # ~10 s each: 1000 start/stop cycles (fewer rarely hit the old window)
@pytest.mark.parametrize("kind", ["compiled", "python"])
def test_chain_swaps_during_start_and_stop_never_free_a_running_chain(kind: str) -> None:
    assert "survived" in _run(SWAP_DURING_START_STOP, kind)


PLAY_WHILE_STOPPING = """
import threading, time, numpy as np, callaudio as ca
from callaudio.devices.simulated import SimulatedBackend
from callaudio.engine import AudioEngine
from callaudio.engine.sound import PreparedSound
dev = SimulatedBackend(sample_rate=16000, realtime=True)
e = AudioEngine(dev, 16000, ca.VoiceProcessor(16000), compiled=True)
snd = PreparedSound(np.full(1600, 0.1, np.float32), loop=True)
done = threading.Event(); errs = []
def player():
    while not done.is_set():
        try:
            e.play(snd); e.reset_processor()
        except ca.CallAudioError as ex:
            errs.append(str(ex))
def startstop():
    for _ in range(300):
        e.start(); time.sleep(0.002); e.stop(raise_errors=False)
    done.set()
ts = [threading.Thread(target=f) for f in (player, startstop)]
[t.start() for t in ts]; [t.join() for t in ts]
print("errors", len(errs), errs[:1])
"""


def test_play_while_the_engine_starts_and_stops_applies_or_queues() -> None:
    assert "errors 0 []" in _run(PLAY_WHILE_STOPPING)


def test_several_readers_get_each_captured_frame_once_and_no_unfilled_memory() -> None:
    import threading
    import warnings

    import numpy as np

    from callaudio.devices.simulated import SimulatedBackend
    from callaudio.engine import AudioEngine

    rate, frames = 16000, 1500
    near = (np.arange(rate * 20) + 1) * 1e-6  # every microphone sample unique and > 0
    dev = SimulatedBackend(sample_rate=rate, near=near, realtime=False)
    engine = AudioEngine(dev, rate, None, mode="record", compiled=True, capture_buffer_ms=20000)
    engine.start()
    got: list[np.ndarray] = []
    stop = threading.Event()

    def reader(timeout: float) -> None:
        while not stop.is_set():
            np.full(480, 7.0, np.float32)  # recycle memory np.empty may hand out
            y = engine.read_capture(3, timeout=timeout)
            if y.size:
                got.append(y.copy())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # one reader polls without waiting, two wait a little (three pollers spent seconds
        # passing the GIL between them)
        threads = [threading.Thread(target=reader, args=(t,)) for t in (0.0, 0.002, 0.002)]
        for t in threads:
            t.start()
        for _ in range(frames):
            dev.run_frames(1)
        stop.set()
        for t in threads:
            t.join()
        got.append(engine.read_capture())
    stats = engine.stop()
    values = np.concatenate(got).astype(np.float64)
    assert stats.overruns == 0
    assert values.size == frames * (rate // 100)
    assert np.unique(values).size == values.size
    assert np.all((values > 0) & (values < 0.97))


STOP_FROM_CAPTURE = """
import time, callaudio as ca
from callaudio.devices.simulated import SimulatedBackend
from callaudio.engine import AudioEngine
box = {}
for i in range(300):
    dev = SimulatedBackend(sample_rate=16000, realtime=True)
    e = AudioEngine(dev, 16000, None, capture=lambda fr: box["e"].stop(), compiled=False)
    box["e"] = e
    e.start(); time.sleep(0.0005 * (i % 20))
    try:
        e.stop(raise_errors=False)
    except ca.CallAudioError:
        pass
    except Exception as ex:
        print("iteration", i, type(ex).__name__, ex); break
else:
    print("no error")
"""


def test_stop_while_a_capture_callback_stops_the_engine_raises_nothing_raw() -> None:
    assert "no error" in _run(STOP_FROM_CAPTURE)


def test_a_caller_driven_simulated_stream_stops_after_the_frame_in_flight() -> None:
    # stop() on a caller-driven stream returned while another thread's run_frames was
    # inside the callback: the engine then released the processor and freed the replaced
    # chains under the running compiled callback (apply_config + stop/start while a
    # thread drives run_frames: SIGSEGV). It must wait, as PortAudio's stop waits.
    import threading

    from callaudio.devices.simulated import SimulatedBackend

    dev = SimulatedBackend(16000, impulse_response=[1.0])
    inside, go = threading.Event(), threading.Event()
    order: list[str] = []

    def callback(indata: object, outdata: object, frames: int, t: object, status: object) -> None:
        inside.set()
        go.wait(30)
        order.append("frame done")

    stream = dev.open_stream(
        sample_rate=16000, blocksize=160, channels=1, mode="duplex", callback=callback
    )
    stream.start()
    driver = threading.Thread(target=dev.run_frames, args=(1,))
    driver.start()
    assert inside.wait(30)

    def stop() -> None:
        stream.stop()
        order.append("stopped")

    stopper = threading.Thread(target=stop)
    stopper.start()
    stopper.join(0.3)  # (with the bug, stop() has returned by now)
    go.set()
    stopper.join(30)
    driver.join(30)
    assert order == ["frame done", "stopped"]
    inside.clear()
    stream.run_frame()  # a stopped stream calls back no more
    assert not inside.is_set()
    stream.close()


RESTART_FROM_CAPTURE = """
import threading, callaudio as ca
from callaudio.devices.simulated import SimulatedBackend
from callaudio.engine import AudioEngine
from callaudio.errors import InvalidStateError
for realtime in (False, True):
    dev = SimulatedBackend(16000, realtime=realtime)
    box, seen, done = {}, [], threading.Event()
    def capture(frame):
        if done.is_set():
            return
        box["e"].stop()
        try:
            box["e"].start()
        except InvalidStateError as exc:
            seen.append(str(exc))
        done.set()
    box["e"] = e = AudioEngine(dev, 16000, ca.VoiceProcessor(16000), capture=capture)
    e.start()
    if not realtime:
        dev.run_frames(2)
    assert done.wait(30)
    e.stop()
    e.start()  # from another thread it restarts
    e.stop()
    print(seen)
"""


def test_start_inside_the_callback_that_stopped_the_engine_is_refused_not_hung() -> None:
    # stop() inside the capture callback hands the stream to a helper thread, which waits
    # for that callback to return (a caller-driven simulated stream too, since its stop()
    # waits for the frame in flight): a start() there joined the helper and hung for ever
    lines = _run(RESTART_FROM_CAPTURE, timeout=60).splitlines()
    assert len(lines) == 2 and all("STOPPING" in line for line in lines), lines
