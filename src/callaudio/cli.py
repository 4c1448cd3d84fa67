"""The ``callaudio`` command."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ._version import __version__


def write_wav(path: Path, x: npt.NDArray[np.float32], rate: int) -> None:
    """Write mono float audio as 16-bit PCM, atomically (a temp file renamed into place)."""
    pcm = np.clip(np.round(np.asarray(x, np.float64) * 32767.0), -32768, 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh, wave.open(fh, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm.tobytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _demo(args: argparse.Namespace) -> int:
    from .config import ProcessingConfig
    from .processing import VoiceProcessor
    from .simulation import active_level_dbfs, speech_like

    rate = args.rate
    n = rate // 100
    rng = np.random.default_rng(args.seed)
    # A talker who moves: quiet, normal, loud, then shouting into the microphone, with a
    # constant low hum and room noise underneath.
    segments = [("quiet", -45.0), ("normal", -28.0), ("loud", -12.0), ("shouting", -4.0)]
    seg_s = 4.0
    parts = [
        speech_like(seg_s, rate, level_dbfs=lvl, seed=args.seed + i, talker=i % 2)
        for i, (_, lvl) in enumerate(segments)
    ]
    speech = np.concatenate(parts).astype(np.float32)
    t = np.arange(speech.size) / rate
    hum = 0.003 * np.sin(2 * np.pi * 50 * t)  # mains hum: the high-pass removes it
    noise = 10 ** (-65 / 20) * rng.standard_normal(speech.size)
    mic = (speech + hum + noise).astype(np.float32)

    cfg = ProcessingConfig()
    vp = VoiceProcessor(rate, config=cfg)
    out = np.empty_like(mic)
    print(f"callaudio {__version__} demo: {vp!r}")
    print(
        f"  input: {len(segments)} x {seg_s:.0f} s of synthetic speech at {rate} Hz, "
        f"50 Hz hum at -53 dBFS, room noise at -65 dBFS"
    )
    gains = []
    t0 = time.perf_counter()
    for i in range(0, mic.size - n + 1, n):
        vp.process_capture(mic[i : i + n], out=out[i : i + n])
        gains.append(vp.stats.gain_db)
    elapsed = time.perf_counter() - t0
    frames = mic.size // n
    print()
    print(f"  {'segment':<10} {'speech in':>10} {'speech out':>11} {'target':>7}")
    seg_n = int(seg_s * rate)
    target = cfg.gain_control.target_level_dbfs
    for k, (name, _) in enumerate(segments):
        # Measure the second half of each segment: after the gain has settled.
        sl = slice(k * seg_n + seg_n // 2, (k + 1) * seg_n)
        lin = active_level_dbfs(speech[sl], rate)
        lout = active_level_dbfs(out[sl], rate)
        print(f"  {name:<10} {lin:>8.1f} dB {lout:>9.1f} dB {target:>5.0f}")
    print()
    print(
        f"  peak output: {20 * np.log10(np.max(np.abs(out)) + 1e-12):.2f} dBFS "
        f"(limiter at {cfg.gain_control.limiter_threshold_dbfs:.1f})"
    )
    print(f"  added latency: {vp.stats.latency_ms:.2f} ms")
    print(f"  cost: {1e6 * elapsed / frames:.1f} us per 10 ms frame (Python loop included)")
    outdir = Path(args.out)
    write_wav(outdir / "mic.wav", mic, rate)
    write_wav(outdir / "processed.wav", out, rate)
    np.savetxt(outdir / "gain_db.txt", np.asarray(gains, dtype=np.float64), fmt="%.3f")
    print(f"  wrote {outdir}/mic.wav, processed.wav and gain_db.txt (gain per 10 ms frame)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``callaudio`` command."""
    p = argparse.ArgumentParser(
        prog="callaudio",
        description="callaudio: the audio side of a voice call.",
    )
    p.add_argument("--version", action="version", version=f"callaudio {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    d = sub.add_parser(
        "demo",
        help="run a demo through the voice-processing chain",
        description="Process a generated talker through the chain and report.",
    )
    d.add_argument(
        "--rate",
        type=int,
        default=48000,
        choices=(16000, 32000, 48000),
        help="sample rate in Hz (default 48000)",
    )
    d.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    d.add_argument(
        "--out", default="callaudio-demo", help="report folder (default ./callaudio-demo)"
    )
    d.set_defaults(func=_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``callaudio`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one clear line, not a traceback, for expected failures
        from .errors import CallAudioError

        if isinstance(exc, (CallAudioError, OSError)):
            print(f"callaudio: error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    raise SystemExit(main())
