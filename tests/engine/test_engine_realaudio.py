"""The engine on real PortAudio streams: JACK's dummy driver with a loopback port pair.

What a stream plays on the `loopback` device comes back on its input, bit-exact, two
periods later. Run through ``scripts/with-jack.sh`` (``make test`` does).
These tests run in real time: a few seconds each. They hold on a loaded machine: the rings
get the headroom an application gives them (seconds, not the 500 ms default), and each
test asserts what it is about (the data, bit-exact) apart from the xrun count, which a
loaded machine may raise (counting xruns is a benchmark's job, not a test's): xruns are
printed and recorded, and only excuse the cycles they can spoil.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from jack_watch import JackWatch

from callaudio.devices.sounddevice_backend import (
    DeviceError,
    SounddeviceBackend,
    find_device,
    list_devices,
)
from callaudio.engine import AudioEngine

pytestmark = pytest.mark.realaudio

RATE = 48000
N = RATE // 100  # blocksize = the server's period (480)
LOOPBACK_DELAY = 2 * N  # measured: two periods
# The audio threads ask for SCHED_FIFO (as JACK clients of a real-time server do): on a
# loaded machine this keeps the callbacks on time; refused, nothing else changes.
RT_PRIORITY = 20
# Ring headroom (ms): the test thread may be descheduled for a while on a loaded machine;
# the far end is queued seconds ahead and the capture kept for the whole run.
FAR_MS = 3000
CAPTURE_MS = 10000
# Cycles a reported xrun may spoil (JACK may replay a client's previous buffer once).
CYCLES_PER_XRUN = 2


def _loopback_engine(**kw) -> AudioEngine:
    kw.setdefault("far_buffer_ms", FAR_MS)
    kw.setdefault("capture_buffer_ms", CAPTURE_MS)
    return AudioEngine(
        SounddeviceBackend("loopback", hostapi="JACK"), RATE, realtime_priority=RT_PRIORITY, **kw
    )


def _frames(x: np.ndarray) -> np.ndarray:
    return x[: x.size // N * N].reshape(-1, N)


def _loopback_mismatches(played: np.ndarray, mic: np.ndarray) -> int:
    """Cycles whose microphone is not, bit for bit, what was played two periods earlier."""
    p, m = _frames(played), _frames(mic)
    k = min(len(p), len(m) - LOOPBACK_DELAY // N)
    late = m[LOOPBACK_DELAY // N : LOOPBACK_DELAY // N + k]
    return int(np.count_nonzero(np.any(late != p[:k], axis=1)))


def _noise(seconds: float, seed: int, level: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (level * rng.standard_normal(int(seconds * RATE))).astype(np.float32)


def _lag(y: np.ndarray, x: np.ndarray) -> int:
    size = 1 << int(np.ceil(np.log2(y.size + x.size)))
    c = np.fft.irfft(np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size)), size)
    return int(np.argmax(c[: y.size]))


def _run_realtime(engine: AudioEngine, far: np.ndarray, seconds: float, during=None) -> np.ndarray:
    """Start with the ring full, feed ``far`` as it drains, collect ``seconds`` of capture.

    The first frames are queued before the stream starts, so the first callback plays the
    first far-end sample: the echo's lag is then the loopback's delay alone.
    """
    pos = engine.write_far(far)
    engine.start()
    got = []
    t0 = time.monotonic()
    started = False
    while time.monotonic() - t0 < seconds:
        if pos < far.size:
            pos += engine.write_far(far[pos:])
        got.append(engine.read_capture())
        if during is not None and not started and time.monotonic() - t0 > 0.3:
            during()
            started = True
        time.sleep(0.05)
    stats = engine.stop()
    got.append(engine.read_capture())
    assert stats.overruns == 0
    return np.concatenate(got)


def test_the_loopback_device_is_listed_with_its_host_api(jack_server):
    devs = {d.name: d for d in list_devices()}
    lb = devs["loopback"]
    assert "JACK" in lb.hostapi
    assert (lb.max_input_channels, lb.max_output_channels) == (1, 1)
    assert lb.default_samplerate == RATE
    assert find_device("LOOPBACK", "jack").name == "loopback"  # case-insensitive
    with pytest.raises(DeviceError, match="no device named 'no-such-device'"):
        find_device("no-such-device")


def test_a_wrong_sample_rate_is_refused_with_portaudio_text(jack_server):
    engine = AudioEngine(SounddeviceBackend("loopback", hostapi="JACK"), 16000)
    with pytest.raises(DeviceError, match="Invalid sample rate") as info:
        engine.start()
    assert info.value.operation == "open"
    assert "loopback" in str(info.value)
    assert not engine.running


def test_duplex_stream_plays_and_records_the_loopback_bit_exact(jack_server, record_property):
    """6 s of real time: the echo is the far end 960 samples late, bit for bit.

    Two facts, asserted apart: the engine played the whole far end, in order (what the
    monitor saw it play, silence aside, is the far end); and the loopback returned every
    cycle's output two periods later, bit-exact (a cycle an xrun spoiled is excused).
    """
    engine = _loopback_engine(monitor=True)
    far = _noise(5.0, seed=1)
    y = _run_realtime(engine, far, 6.0)
    played, mic = engine.read_monitor()
    stats = engine.stats
    print(f"\nloopback: {stats}")
    record_property("engine_stats", repr(stats))
    np.testing.assert_array_equal(mic, y)  # no processor: the capture is the microphone
    assert _lag(y, far) == LOOPBACK_DELAY
    assert np.all(y[:LOOPBACK_DELAY] == 0.0)
    np.testing.assert_array_equal(y[LOOPBACK_DELAY : LOOPBACK_DELAY + N], far[:N])
    sent = _frames(played)
    sent = sent[np.any(sent != 0.0, axis=1)]
    np.testing.assert_array_equal(sent.ravel(), far)
    bad = _loopback_mismatches(played, mic)
    record_property("loopback_mismatched_cycles", bad)
    assert bad <= CYCLES_PER_XRUN * stats.xruns, (bad, stats.xruns, stats.xrun_flags)
    on = np.flatnonzero(np.any(_frames(played) != 0.0, axis=1))
    if bad == 0 and on[0] == 0 and on[-1] == on.size - 1:
        # Nothing spoiled and the far end never ran dry: one contiguous echo.
        np.testing.assert_array_equal(y[LOOPBACK_DELAY : LOOPBACK_DELAY + far.size], far)
    assert stats.frames >= 550  # about 600 callbacks in 6 s
    assert stats.callback_errors == 0
    assert stats.cost_us_mean is not None and stats.cost_us_max is not None
    assert 0.0 < stats.cost_us_mean <= stats.cost_us_max
    assert stats.thread_priority.startswith(("SCHED_FIFO 20", "normal (SCHED_FIFO 20 refused"))


# A second JACK client: plays silence until told "go" on stdin, then its signal once, then
# silence until stdin closes. Its stream runs for the whole test, so no client joins or
# leaves the JACK graph while the engine's stream runs (a graph change can cost a cycle).
_NEAR_TALKER = textwrap.dedent(
    """
    import os
    import sys
    import numpy as np
    import sounddevice as sd
    rng = np.random.default_rng(int(sys.argv[1]))
    x = (0.05 * rng.standard_normal(int(float(sys.argv[2]) * 48000))).astype(np.float32)
    pos = [-1]  # -1: first callback, -2: silence, >= 0: playing
    fifo = []
    missed = []  # the talker's own xruns (its status flags): a cycle JACK replayed

    def callback(outdata, frames, time, status):
        if status and pos[0] >= 0:
            missed.append(str(status))
        if pos[0] == -1:
            pos[0] = -2
            try:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(20))
                fifo.append(True)
            except OSError:
                pass
        p = pos[0]
        outdata.fill(0)
        if 0 <= p < x.size:
            k = min(frames, x.size - p)
            outdata[:k, 0] = x[p : p + k]
            pos[0] = p + k

    with sd.OutputStream(
        48000, blocksize=480, device="loopback", channels=1, dtype="float32",
        latency="low", callback=callback,
    ):
        print("ready", flush=True)
        sys.stdin.readline()
        pos[0] = 0
        sys.stdin.read()
    print(("fifo" if fifo else "normal") + (" missed-cycles" if missed else ""), flush=True)
    """
)


def _near_signal(seed: int, seconds: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.05 * rng.standard_normal(int(seconds * RATE))).astype(np.float32)


def _talk_into_the_loopback() -> tuple[str, list[int], int, int, AudioEngine]:
    """One run of the second client (see the test): (the talker's report, the order of its
    periods found in the microphone minus the echo, spoiled cycles, near-end periods, the
    engine)."""
    talker = subprocess.Popen(
        [sys.executable, "-c", _NEAR_TALKER, "7", "1.5"],
        env={**os.environ, "JACK_NO_START_SERVER": "1"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert talker.stdout is not None and talker.stdin is not None
        assert talker.stdout.readline().strip() == "ready"
        engine = _loopback_engine(monitor=True)
        far = _noise(3.5, seed=2)

        def talk() -> None:
            talker.stdin.write("go\n")
            talker.stdin.flush()

        y = _run_realtime(engine, far, 4.0, during=talk)
    finally:
        out, err = talker.communicate(timeout=30)  # closes stdin: the talker exits
    assert talker.returncode == 0, err
    played, mic = engine.read_monitor()
    np.testing.assert_array_equal(mic, y)
    # The echo is what the engine played (the monitor's record, cycle by cycle), two
    # periods later.
    echo = np.zeros_like(y)
    k = min(played.size, y.size - LOOPBACK_DELAY)
    echo[LOOPBACK_DELAY : LOOPBACK_DELAY + k] = played[:k]
    residual = y - echo
    # Every 10 ms period of the residual is silence or exactly one period of the talker's
    # signal (both streams are period-aligned); a period that is neither is spoiled.
    near_frames = _near_signal(7, 1.5).reshape(-1, N)
    order = []
    spoiled = 0
    for fr in _frames(residual):
        if np.max(np.abs(fr)) < 1e-6:
            continue
        match = np.nonzero(np.max(np.abs(near_frames - fr), axis=1) < 1e-6)[0]
        if match.size != 1:
            spoiled += 1
            continue
        order.append(int(match[0]))
    return out.strip(), order, spoiled, len(near_frames), engine


def _talk_problems(
    talker: str, order: list[int], spoiled: int, periods: int, xruns: int
) -> list[str]:
    """What is wrong with one run of the second client (empty: nothing)."""
    problems = []
    # a cycle an xrun spoiled is excused
    if spoiled > CYCLES_PER_XRUN * xruns:
        problems.append(f"{spoiled} periods of the microphone are neither echo nor the talker")
    if talker == "fifo" and xruns == 0:
        if order != list(range(periods)):
            problems.append(f"the talker's periods not all there in order: {order}")
    # Without real-time priority (or with, when its own stream reports a missed cycle) the
    # talker, a Python process, misses cycles on a loaded machine and JACK replays its
    # previous buffer: repeats, never other audio.
    elif order != sorted(order) or len(set(order)) < 0.75 * periods:
        problems.append(f"the talker's periods out of order or missing: {order}")
    return problems


def test_a_second_jack_client_is_summed_into_the_microphone(jack_server):
    """A separate process talks into the loopback while the engine's own echo comes back.

    JACK sums both clients' output into the loopback: the microphone minus the known echo
    is exactly the other process's signal, in order.

    A run spoiled while the JACK server itself stalled (its own cycles late: the whole
    host, not a client; ``jack_watch``) says nothing about the clients: it is run a second
    time and the second run is asserted. A client's fault leaves the server's cycles on
    time, so it fails either way.
    """
    for attempt in (1, 2):
        with JackWatch() as watch:
            t0 = time.monotonic()
            talker, order, spoiled, periods, engine = _talk_into_the_loopback()
            t1 = time.monotonic()
        stats = engine.stats
        server = watch.report
        problems = _talk_problems(talker, order, spoiled, periods, stats.xruns)
        print(
            f"\nsecond client, run {attempt} ({talker}): {len(set(order))}/{periods} periods; "
            f"xruns {stats.xruns}, spoiled cycles {spoiled}; {server.summary()}"
        )
        if not problems or not server.stalled(t0, t1):
            break
        print(f"run {attempt} while the server itself stalled ({problems}): run again")
    if problems and server.stalled(t0, t1):
        pytest.skip(f"the JACK server itself stalled in both runs ({server.summary()}): {problems}")
    assert not problems, (problems, stats.xrun_flags, server.summary())


def test_a_stalled_callback_is_reported_as_an_xrun(jack_server):
    """A capture consumer that blocks 40 ms once: PortAudio flags it, the engine counts it."""
    stalled = []

    def capture(frame: np.ndarray) -> None:
        if len(stalled) == 0 and engine.stats.frames > 50:
            stalled.append(True)
            time.sleep(0.04)  # the fault under test: a callback that blocks

    engine = _loopback_engine(capture=capture)
    engine.start()
    time.sleep(1.0)
    stats = engine.stop()
    assert stalled
    assert stats.xruns >= 1
    assert "overflow" in stats.xrun_flags or "underflow" in stats.xrun_flags
    assert stats.cost_us_max is not None and stats.cost_us_max > 40000


def _cli(*argv: str) -> int:
    import callaudio.cli

    args = callaudio.cli.build_parser().parse_args(argv)
    return int(args.func(args))


def test_the_devices_command_lists_the_loopback(jack_server, capsys):
    assert _cli("devices", "--hostapi", "JACK") == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["loopback", "JACK", "Audio", "Connection", "Kit", "1", "1", "48000"] in rows


def test_the_loopback_command_measures_the_echo_path_live(jack_server, capsys):
    assert (
        _cli(
            "loopback",
            "--device",
            "loopback",
            "--hostapi",
            "JACK",
            "--seconds",
            "2",
            "--signal",
            "noise",
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "echo path delay: 960 samples = 20.00 ms (correlation 1.00)" in text
    assert re.search(r"xruns \d+", text)  # reported (a loaded machine may have some)
    assert text.count(" t=") >= 3  # live lines while it ran


def test_output_only_and_input_only_streams_run_the_same_callback(jack_server):
    """A playback engine plays a tone; a record engine (a second JACK client) hears it."""
    from callaudio.engine import PreparedSound

    t = np.arange(RATE) / RATE
    tone = PreparedSound(0.1 * np.sin(2 * np.pi * 1000 * t), loop=True)
    player = AudioEngine(
        SounddeviceBackend("loopback", hostapi="JACK"),
        RATE,
        mode="playback",
        realtime_priority=RT_PRIORITY,
    )
    recorder = _loopback_engine(mode="record", capture_buffer_ms=3000)
    recorder.start()
    player.play(tone)
    player.start()
    time.sleep(1.5)
    played = player.stop()
    recorded = recorder.stop()
    y = recorder.read_capture().astype(np.float64)
    assert played.frames > 100 and recorded.frames > 100
    assert played.silent_frames == played.frames  # no far-end audio: the tone alone
    assert played.underruns == 0
    print(f"\nxruns: player {played.xruns}, recorder {recorded.xruns}")
    heard = y[np.abs(y) > 0]
    assert heard.size > RATE // 2
    rms_db = 10 * np.log10(np.mean(heard**2))
    assert abs(rms_db - 20 * np.log10(0.1 / np.sqrt(2))) < 0.1
    spectrum = np.abs(np.fft.rfft(heard[: RATE // 2]))
    assert abs(np.argmax(spectrum) * RATE / (RATE // 2) - 1000.0) < 4.0


def test_a_route_port_that_names_a_device_selects_it(jack_server):
    """The backend is set up on `system` (silent); the session's route names `loopback`."""
    from callaudio.audio.base import StreamConfig
    from callaudio.audio.service import EngineBackend

    backend = EngineBackend(
        SounddeviceBackend("system", hostapi="JACK"), monitor=True, realtime_priority=RT_PRIORITY
    )
    config = StreamConfig(RATE, 0.01, False, input_port="loopback", output_port="loopback")
    backend.start_duplex(config)
    assert backend.engine is not None
    assert backend.engine.backend is not backend.device  # bound to the route's devices
    backend.write_far(_noise(0.5, seed=9))
    time.sleep(1.0)
    played, mic = backend.read_monitor()
    backend.stop_duplex()
    assert _lag(mic.astype(np.float64), played.astype(np.float64)) == LOOPBACK_DELAY
    backend.start_duplex(StreamConfig(RATE, 0.01, False, "built_in_mic", "built_in_speaker"))
    assert backend.engine is not None and backend.engine.backend is backend.device
    backend.stop_duplex()
