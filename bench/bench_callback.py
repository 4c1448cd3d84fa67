"""The compiled audio callback: its cost per frame and the latency mic -> capture ring.

Cost: the callback times itself with the monotonic clock, in C (``clock_gettime``), around
the whole frame (far ring, mix, render, capture through the full chain, capture ring);
the median, p99 and max come from its 1 us histogram (``EngineStats.cost_us_*``). The
frames are driven by the simulated room (speech-like far end and microphone), so only
the compiled frame is timed, not the room; that thread has normal priority, so on a
loaded machine its tail shows preemption. The latency run reports the cost again on the
real audio thread (SCHED_FIFO on JACK). Budget: 10 000 us per 10 ms frame.

Latency: a reader thread blocks in ``read_capture(1, timeout=None)`` on a real-time
stream; for each frame, the callback's start (the microphone buffer handed over) ->
its processed frame in the capture ring (``frame_times``) -> the reader has it. The
chain's algorithmic delay (``latency_samples``) and the device's input latency add to
these. Real time runs on JACK's loopback when ``JACK_DEFAULT_SERVER`` names a server
(scripts/with-jack.sh), else on the simulated room paced in real time.

    python bench/bench_callback.py            # prints both tables
    pytest bench/bench_callback.py --benchmark-only
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import numpy as np
import pytest

import callaudio as ca
from callaudio.devices.simulated import SimulatedBackend
from callaudio.engine import AudioEngine


def _speech(rate: int, seconds: float, seed: int) -> np.ndarray:
    from callaudio.simulation import speech_like

    return speech_like(seconds, rate, level_dbfs=-26.0, seed=seed).astype(np.float32)


def callback_cost(rate: int = 48000, frames: int = 3000) -> dict[str, float]:
    """The compiled callback's cost per frame (us), from its own clock."""
    room = SimulatedBackend(rate, delay_ms=60.0, near=_speech(rate, 10.0, 2), loop=True, seed=1)
    vp = ca.VoiceProcessor(rate)
    engine = AudioEngine(room, rate, vp, far_buffer_ms=40_000, capture_buffer_ms=40_000)
    engine.write_far(_speech(rate, frames / 100 + 1, 1))
    with engine:
        room.run_frames(frames)
        stats = engine.stats
    assert stats.callback_kind == "compiled"
    return {
        "frames": stats.frames,
        "median_us": float(stats.cost_us_median or 0.0),
        "p99_us": float(stats.cost_us_p99 or 0.0),
        "max_us": float(stats.cost_us_max or 0.0),
        "mean_us": float(stats.cost_us_mean or 0.0),
    }


def _device(rate: int) -> tuple[Any, str]:
    if os.environ.get("JACK_DEFAULT_SERVER"):
        from callaudio.devices.sounddevice_backend import SounddeviceBackend

        return SounddeviceBackend("loopback", hostapi="JACK"), "JACK loopback"
    return SimulatedBackend(rate, realtime=True, near=_speech(rate, 5.0, 2), loop=True), (
        "simulated room (real time)"
    )


def capture_latency(rate: int = 48000, seconds: float = 5.0) -> dict[str, Any]:
    """Per-frame latency (us): callback start -> capture ring -> the reader has it."""
    device, name = _device(rate)
    vp = ca.VoiceProcessor(rate)
    engine = AudioEngine(
        device, rate, vp, far_buffer_ms=int(seconds * 1000) + 2000, realtime_priority=20
    )
    engine.write_far(_speech(rate, seconds + 1, 1))
    to_ring: list[float] = []
    to_reader: list[float] = []
    stop = threading.Event()

    def reader() -> None:
        k = 0
        while not stop.is_set():
            got = engine.read_capture(1, timeout=0.1)
            now = time.monotonic_ns()
            if got.size == 0:
                continue
            start, pushed = engine.frame_times(k)
            if k > 10:  # past the start-up frames
                to_ring.append((pushed - start) / 1000.0)
                to_reader.append((now - start) / 1000.0)
            k += 1

    t = threading.Thread(target=reader, daemon=True)
    engine.start()
    t.start()
    time.sleep(seconds)
    stream_latency = getattr(engine.stream, "latency", None)
    stop.set()
    t.join()
    stats = engine.stop()
    a, b = np.array(to_ring), np.array(to_reader)
    return {
        "device": name,
        "callback_kind": stats.callback_kind,
        "frames": int(a.size),
        "to_ring_median_us": float(np.median(a)),
        "to_ring_p99_us": float(np.percentile(a, 99)),
        "to_reader_median_us": float(np.median(b)),
        "to_reader_p99_us": float(np.percentile(b, 99)),
        "to_reader_max_us": float(b.max()),
        "chain_latency_ms": 1000.0 * vp.latency_samples / rate,
        "cost_median_us": stats.cost_us_median,
        "cost_p99_us": stats.cost_us_p99,
        "cost_max_us": stats.cost_us_max,
        "xruns": stats.xruns,
        "device_latency": stream_latency,
    }


@pytest.mark.parametrize("rate", [16000, 48000], ids=["16k", "48k"])
@pytest.mark.benchmark(group="callback")
def test_compiled_callback_cost_per_frame(benchmark: Any, rate: int) -> None:
    result = benchmark.pedantic(callback_cost, args=(rate, 1000), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    assert result["median_us"] < 10_000


@pytest.mark.benchmark(group="callback")
def test_capture_latency_mic_to_ring(benchmark: Any) -> None:
    result = benchmark.pedantic(capture_latency, args=(48000, 3.0), rounds=1, iterations=1)
    benchmark.extra_info.update({k: v for k, v in result.items() if k != "device_latency"})
    assert result["frames"] > 100


if __name__ == "__main__":
    for r in (16000, 48000):
        c = callback_cost(r)
        print(
            f"callback cost @ {r} Hz over {c['frames']} frames: median {c['median_us']:.0f} us, "
            f"p99 {c['p99_us']:.0f} us, max {c['max_us']:.0f} us (mean {c['mean_us']:.0f} us)"
        )
    lat = capture_latency()
    print(
        f"mic -> capture ring on {lat['device']} ({lat['callback_kind']}, {lat['frames']} frames):"
        f" callback start -> ring median {lat['to_ring_median_us']:.0f} us, p99 "
        f"{lat['to_ring_p99_us']:.0f} us; -> blocked reader median "
        f"{lat['to_reader_median_us']:.0f} us, p99 {lat['to_reader_p99_us']:.0f} us, max "
        f"{lat['to_reader_max_us']:.0f} us; plus the chain's {lat['chain_latency_ms']:.1f} ms "
        f"and the device's input latency {lat['device_latency']}"
    )
    print(
        f"callback cost on the audio thread of {lat['device']}: median {lat['cost_median_us']} us,"
        f" p99 {lat['cost_p99_us']} us, max {lat['cost_max_us']} us; xruns {lat['xruns']}"
    )
