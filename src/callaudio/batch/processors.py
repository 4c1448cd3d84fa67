"""The processors a batch compares, each fed the same 10 ms frames.

- ``callaudio``: :class:`~callaudio.processing.VoiceProcessor` with a run's configuration
  (the echo canceller off when an item has no far end); its latency is removed from the
  output, so the output lines up with the input; the delay estimate is the canceller's.
- ``webrtc``: WebRTC's audio processing module with echo cancellation on, through
  ``livekit`` (``rtc.AudioProcessingModule``, int16 frames), else ``pywebrtc-audio``'s
  AEC3 ``EchoCanceller`` (float32).
- ``speex``: SpeexDSP's MDF echo canceller (``speexdsp``, int16, a 100 ms tail).

Peers are optional (the ``peers`` extra); :func:`available` lists what is installed here.
Conversions to a peer's native format count in its time.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..config import ProcessingConfig, frame_size
from ..processing import VoiceProcessor

__all__ = ["PROCESSORS", "Processed", "available", "run_processor"]

F32 = npt.NDArray[np.float32]
Step = Callable[[F32, F32], F32]  # (far frame, mic frame) -> output frame

PROCESSORS = ("callaudio", "webrtc", "speex")
"""Every processor name ``--processors`` accepts."""

_PEER_MODULES = {"webrtc": ("livekit.rtc", "pywebrtc_audio"), "speex": ("speexdsp",)}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def available() -> list[str]:
    """The processors that can run in this environment (callaudio always)."""
    return ["callaudio"] + [
        name for name, mods in _PEER_MODULES.items() if any(_installed(m) for m in mods)
    ]


@dataclass(frozen=True)
class Processed:
    """One processor's output for one item.

    ``output`` is aligned with the input (same length); ``seconds`` is the time spent in
    the processor's calls over ``frames`` 10 ms frames; ``delay_ms`` its echo-delay
    estimate (None when it reports none).
    """

    output: F32
    seconds: float
    frames: int
    delay_ms: float | None


def _i16(x: F32) -> npt.NDArray[np.int16]:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def _webrtc(rate: int) -> Step:
    n = frame_size(rate)
    if _installed("livekit.rtc"):
        rtc: Any = importlib.import_module("livekit.rtc")
        apm = rtc.AudioProcessingModule(echo_cancellation=True)

        def lk_step(far: F32, mic: F32) -> F32:
            ff = rtc.AudioFrame(_i16(far).tobytes(), rate, 1, n)
            apm.process_reverse_stream(ff)
            mf = rtc.AudioFrame(_i16(mic).tobytes(), rate, 1, n)
            apm.process_stream(mf)
            return np.frombuffer(mf.data, dtype=np.int16).astype(np.float32) / 32768.0

        return lk_step
    pw: Any = importlib.import_module("pywebrtc_audio")
    ec = pw.EchoCanceller(rate, 1, 0)

    def pw_step(far: F32, mic: F32) -> F32:
        return np.asarray(ec.process(mic, far), dtype=np.float32)

    return pw_step


def _speex(rate: int) -> Step:
    sp: Any = importlib.import_module("speexdsp")
    ec = sp.EchoCanceller.create(frame_size(rate), rate // 10, rate)

    def step(far: F32, mic: F32) -> F32:
        out = ec.process(_i16(mic).tobytes(), _i16(far).tobytes())
        return np.frombuffer(out, dtype=np.int16).astype(np.float32) / 32768.0

    return step


def _run_callaudio(mic: F32, far: F32 | None, rate: int, config: ProcessingConfig) -> Processed:
    n = frame_size(rate)
    vp = VoiceProcessor(rate, channels=1, config=config)
    skip = vp.latency_samples
    total = mic.size
    frames = -(-(total + skip) // n)
    x = np.zeros(frames * n, np.float32)
    x[:total] = mic
    y = np.empty_like(x)
    r = None
    if far is not None:
        r = np.zeros(frames * n, np.float32)
        k = min(total, far.size)
        r[:k] = far[:k]
    t0 = time.perf_counter()
    for i in range(frames):
        s = slice(i * n, (i + 1) * n)
        if r is not None:
            vp.process_render(r[s])
        vp.process_capture(x[s], out=y[s])
    seconds = time.perf_counter() - t0
    delay = vp.stats.delay_ms if r is not None else None
    vp.close()
    return Processed(y[skip : skip + total].copy(), seconds, frames, delay)


def _run_peer(name: str, mic: F32, far: F32 | None, rate: int) -> Processed:
    n = frame_size(rate)
    step = _webrtc(rate) if name == "webrtc" else _speex(rate)
    total = mic.size
    frames = -(-total // n)
    x = np.zeros(frames * n, np.float32)
    x[:total] = mic
    r = np.zeros(frames * n, np.float32)
    if far is not None:
        k = min(total, far.size)
        r[:k] = far[:k]
    y = np.empty_like(x)
    t0 = time.perf_counter()
    for i in range(frames):
        s = slice(i * n, (i + 1) * n)
        y[s] = step(r[s], x[s])
    seconds = time.perf_counter() - t0
    return Processed(y[:total].copy(), seconds, frames, None)


def run_processor(
    name: str, mic: F32, far: F32 | None, rate: int, config: ProcessingConfig | None = None
) -> Processed:
    """Run ``mic`` (mono float32) and ``far`` through processor ``name`` at ``rate`` Hz."""
    if name == "callaudio":
        return _run_callaudio(mic, far, rate, config or ProcessingConfig())
    if name not in _PEER_MODULES:
        raise ValueError(f"unknown processor {name!r}")
    return _run_peer(name, mic, far, rate)
