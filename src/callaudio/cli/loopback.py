"""``callaudio loopback``: a live echo test on a real device.

Plays a test signal, records the device's input, and measures the echo path's delay (by
cross-correlation) and the chain's ERLE. The measurement fails (exit 1, one error line)
when the recording does not correlate with what was played: the device does not carry
its output back to its input (choose one that does with ``--device``).
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from ..config import SAMPLE_RATES, ProcessingConfig
from ..errors import BackendError, ConfigError
from .common import db, fmt, full_config, stages_text

__all__ = ["add_arguments", "open_device", "run"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

#: Normalised cross-correlation peak below which no echo path was found.
MIN_CORRELATION = 0.3


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``callaudio loopback``."""
    p.add_argument(
        "--device", help="device name (default: $CALLAUDIO_DEVICE, else the host default)"
    )
    p.add_argument("--hostapi", help="host API name part (JACK, ALSA ...)")
    p.add_argument("--seconds", type=float, default=6.0, help="test length (default 6)")
    p.add_argument(
        "--rate", type=int, default=48000, choices=SAMPLE_RATES, help="sample rate (48000)"
    )
    p.add_argument(
        "--signal", choices=("speech", "noise"), default="speech", help="test signal (speech)"
    )
    p.add_argument(
        "--level", type=float, default=-20.0, help="test signal level, -100..0 dBFS (-20)"
    )
    p.add_argument("--no-processing", action="store_true", help="bypass the chain")
    p.add_argument(
        "--priority",
        type=int,
        default=20,
        help="SCHED_FIFO priority of the audio thread when allowed, 1..99 (0: none; default 20)",
    )
    p.set_defaults(func=run)


def _xcorr_lag(y: F64, x: F64, max_lag: int) -> tuple[int, float]:
    """Lag (samples) at which ``x`` best matches ``y``, and the normalised peak (0..1)."""
    size = 1 << int(np.ceil(np.log2(y.size + x.size)))
    c = np.fft.irfft(np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size)), size)[: max_lag + 1]
    lag = int(np.argmax(np.abs(c)))
    norm = math.sqrt(float(np.sum(y * y)) * float(np.sum(x * x))) or 1.0
    return lag, float(abs(c[lag]) / norm)


def open_device(args: argparse.Namespace) -> Any:
    """The device backend the test runs on: PortAudio's, by ``--device`` / ``--hostapi``."""
    from ..devices.sounddevice_backend import SounddeviceBackend

    return SounddeviceBackend(args.device, hostapi=args.hostapi)


def run(args: argparse.Namespace) -> int:
    """A live echo test on a real device: play, record, measure delay and ERLE."""
    from ..engine import AudioEngine
    from ..processing import VoiceProcessor
    from ..simulation import load_talker

    rate = args.rate
    n = rate // 100
    if not 1.0 <= args.seconds <= 600.0:
        raise ConfigError("seconds", f"must be within [1, 600], got {args.seconds}")
    if not -100.0 <= args.level <= 0.0:  # also refuses nan and inf
        raise ConfigError("level", f"must be within [-100, 0] dBFS, got {args.level}")
    if not 0 <= args.priority <= 99:  # (1..99 as the engine takes it, 0: none)
        raise ConfigError("priority", f"must be 0 (none) or 1..99, got {args.priority}")
    if args.signal == "speech":
        far = load_talker(0, rate, args.seconds, seed=1, level_dbfs=args.level)
    else:
        rng = np.random.default_rng(1)
        far = (10 ** (args.level / 20) * rng.standard_normal(int(args.seconds * rate))).astype(
            np.float32
        )
    cfg = ProcessingConfig.bypass() if args.no_processing else full_config()
    vp = None if args.no_processing else VoiceProcessor(rate, config=cfg)
    backend = open_device(args)
    din, dout = backend.resolve("duplex")
    engine = AudioEngine(
        backend,
        rate,
        vp,
        capture_buffer_ms=10 * math.ceil(100 * args.seconds) + 2000,  # whole frames
        monitor=True,
        realtime_priority=args.priority if args.priority > 0 else None,
    )
    print(f"callaudio loopback on {din} -> {dout}")
    print(
        f"  {args.signal} at {args.level:.0f} dBFS for {args.seconds:.1f} s; "
        f"stages: {stages_text(cfg)}"
    )
    pos = engine.write_far(far)
    engine.start()
    played: list[F32] = []
    mic: list[F32] = []
    out: list[F32] = []
    t0 = time.monotonic()
    next_report = 0.5
    try:
        while time.monotonic() - t0 < args.seconds + 0.5:
            if pos < far.size:
                pos += engine.write_far(far[pos:])
            p, m = engine.read_monitor()
            played.append(p)
            mic.append(m)
            out.append(engine.read_capture())
            t = time.monotonic() - t0
            if t >= next_report and sum(x.size for x in mic) > n:
                recent_m = np.concatenate(mic)[-rate // 2 :].astype(np.float64)
                recent_o = np.concatenate(out)[-rate // 2 :].astype(np.float64)
                st = vp.stats if vp is not None else None
                print(
                    f"  t={t:5.1f} s  mic {db(float(np.mean(recent_m**2))):6.1f} dBFS  "
                    f"out {db(float(np.mean(recent_o**2))):6.1f} dBFS  "
                    f"ERLE {fmt(None if st is None else st.erle_db, ' dB')}  "
                    f"delay {fmt(None if st is None else st.delay_ms, ' ms')}"
                )
                next_report += 0.5
            time.sleep(0.05)
    finally:
        stats = engine.stop()
    p, m = engine.read_monitor()
    played.append(p)
    mic.append(m)
    out.append(engine.read_capture())
    x = np.concatenate(played).astype(np.float64)
    y = np.concatenate(mic).astype(np.float64)
    o = np.concatenate(out).astype(np.float64)
    k = min(x.size, y.size, o.size)
    x, y, o = x[:k], y[:k], o[:k]
    lag, peak = _xcorr_lag(y, x, min(k - 1, rate))
    half = slice(k // 2, k)
    active = np.abs(x[half]) > 0
    erle = db(float(np.mean(y[half] ** 2))) - db(float(np.mean(o[half] ** 2)))
    print()
    print(f"  echo path delay: {lag} samples = {1000 * lag / rate:.2f} ms (correlation {peak:.2f})")
    print(f"  ERLE over the second half: {erle:.1f} dB" + ("" if active.any() else " (silent)"))
    st = vp.stats if vp is not None else None
    if st is not None:
        print(
            f"  processor: delay estimate {fmt(st.delay_ms, ' ms')}, "
            f"ERLE {fmt(st.erle_db, ' dB')}, latency {st.latency_ms:.2f} ms"
        )
    print(
        f"  frames {stats.frames}, xruns {stats.xruns}, underruns {stats.underruns}, callback "
        f"{fmt(stats.cost_us_mean, ' us')} mean / {fmt(stats.cost_us_max, ' us')} max, "
        f"thread {stats.thread_priority}"
    )
    if not np.any(x):
        raise BackendError("loopback", "nothing was played: the measurement failed")
    if peak < MIN_CORRELATION:
        raise BackendError(
            "loopback",
            f"no echo path found (correlation {peak:.2f} < {MIN_CORRELATION}): {dout} does not "
            f"carry its output back to {din}; choose a loopback device with --device",
        )
    return 0
