"""Peer libraries (the ``peers`` extra) behind one small API, for side-by-side tests and benches.

Every peer is a factory ``make(rate) -> step``: a fresh, stateful per-frame function at one of
the peer's native rates, fed float32 10 ms frames (``step(mic)`` for a noise suppressor,
``step(mic, far)`` for an echo canceller) and returning the processed float32 frame. Peers that
take int16 get it (rounded, clipped); the conversion counts in their time, as it would for a
user. Whole-signal wrappers on top of the steps:

``aec_peers(callaudio=True)``  {name: fn(mic, far, rate) -> out}
``ns_peers(callaudio=True)``   {name: fn(noisy, rate) -> out}

``out`` has the input's length and is aligned with it (the peer's measured latency removed,
zero-padded at the end); a rate the peer does not support is resampled to its nearest native
rate and back (:func:`callaudio.simulation.resample.resample`, Kaiser-windowed sinc) around
the whole signal. ``unavailable()`` gives {name: reason} of the peers that do not import here
(they are simply left out of the dicts). ``frame_steps(kind, rate)`` gives the native-rate
per-frame steps of one kind for timing, and :func:`process_frames` runs a step over a signal
returning the output and the time of every frame (ns).

The peers (each with its native rates and settings):

- ``webrtc-aec3-livekit``: WebRTC's audio processing module with echo cancellation only
  (AEC3 plus the high-pass filter it switches on), ``livekit.rtc.AudioProcessingModule``,
  int16 ``AudioFrame``s, 8/16/32/48 kHz; no stream-delay hint (AEC3 estimates the delay).
- ``webrtc-aec3-pywebrtc``: AEC3 alone (``pywebrtc_audio.EchoCanceller``, float32).
- ``speexdsp-mdf``: SpeexDSP's MDF echo canceller (``speexdsp.EchoCanceller``; no residual
  echo suppressor in this binding), int16, tail ``SPEEX_TAIL_MS`` (a bulk delay beyond it
  cannot be cancelled: SpeexDSP has no delay estimator).
- ``webrtc-ns-livekit``: the APM with noise suppression only (livekit; its fixed level).
- ``webrtc-ns-pywebrtc``: WebRTC NS (``pywebrtc_audio.NoiseSuppressor``, level 1 = 12 dB,
  callaudio's default maximum attenuation).
- ``webrtc-ns-wng``: WebRTC NS of ``webrtc-noise-gain`` (16 kHz only, level 2 = 12 dB, AGC
  off; its high-pass filter stays on).
- ``speexdsp-ns``: SpeexDSP's preprocessor denoiser (``speexdsp_ns``, its default -15 dB).
- ``rnnoise``: RNNoise (``pyrnnoise``'s ctypes binding, 48 kHz only, int16-scaled float).
- chains (``CHAIN_PEERS``, for speed): ``callaudio`` (``VoiceProcessor``, every stage),
  ``webrtc-apm-livekit`` and ``webrtc-apm-pywebrtc`` (AEC3, NS, AGC2, high-pass),
  ``speexdsp-mdf+ns`` (the MDF canceller then the preprocessor's denoiser).
- ``callaudio``: the compiled stages alone (``callaudio._dsp.aec.EchoCanceller`` /
  ``callaudio._dsp.ns.NoiseSuppressor`` at its default 12 dB), with their reported latency.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from callaudio.simulation.resample import resample

__all__ = [
    "AEC_PEERS",
    "CHAIN_PEERS",
    "NS_PEERS",
    "Peer",
    "aec_peers",
    "frame_steps",
    "latency",
    "native_rate",
    "ns_peers",
    "process_frames",
    "run_aec",
    "run_ns",
    "unavailable",
]

F32 = npt.NDArray[np.float32]
I16 = npt.NDArray[np.int16]
Step = Callable[..., F32]  # (mic frame[, far frame]) -> output frame, float32
AecFn = Callable[[F32, F32, int], F32]
NsFn = Callable[[F32, int], F32]

SPEEX_TAIL_MS = 300.0
MAX_LAG_S = 0.045  # latency search range of the calibration


def _i16(x: F32) -> I16:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def _f32(x: Any) -> F32:
    y: F32 = np.asarray(x, dtype=np.float32) * np.float32(1.0 / 32768.0)
    return y


# ------------------------------------------------------------------------ the factories
def _callaudio_aec(rate: int) -> Step:
    from callaudio._dsp.aec import EchoCanceller

    aec = EchoCanceller(rate)

    def step(mic: F32, far: F32) -> F32:
        aec.render(far)
        return aec.capture(mic)

    step.latency = int(aec.latency_samples)  # type: ignore[attr-defined]
    return step


def _callaudio_ns(rate: int) -> Step:
    from callaudio._dsp.ns import NoiseSuppressor

    ns = NoiseSuppressor(rate)

    def step(mic: F32) -> F32:
        return ns.process(mic)

    step.latency = int(ns.latency_samples)  # type: ignore[attr-defined]
    return step


def _livekit(rate: int, **features: bool) -> tuple[Any, Any, I16, Any, I16]:
    rtc = importlib.import_module("livekit.rtc")
    apm = rtc.AudioProcessingModule(**features)
    n = rate // 100
    near = rtc.AudioFrame.create(rate, 1, n)
    far = rtc.AudioFrame.create(rate, 1, n)
    # process_stream works in place on the frame's bytearray: write into int16 views of it
    near_v = np.frombuffer(near.data, dtype=np.int16)
    far_v = np.frombuffer(far.data, dtype=np.int16)
    return apm, near, near_v, far, far_v


def _livekit_aec(rate: int) -> Step:
    apm, near, near_v, far, far_v = _livekit(rate, echo_cancellation=True)

    def step(mic: F32, far_x: F32) -> F32:
        far_v[:] = _i16(far_x)
        apm.process_reverse_stream(far)
        near_v[:] = _i16(mic)
        apm.process_stream(near)
        return _f32(near_v)

    return step


def _livekit_ns(rate: int) -> Step:
    apm, near, near_v, _, _ = _livekit(rate, noise_suppression=True)

    def step(mic: F32) -> F32:
        near_v[:] = _i16(mic)
        apm.process_stream(near)
        return _f32(near_v)

    return step


def _pywebrtc_aec(rate: int) -> Step:
    pw = importlib.import_module("pywebrtc_audio")
    ec = pw.EchoCanceller(rate, 1, 0)

    def step(mic: F32, far: F32) -> F32:
        return np.asarray(ec.process(mic, far), dtype=np.float32)

    return step


def _pywebrtc_ns(rate: int) -> Step:
    pw = importlib.import_module("pywebrtc_audio")
    ns = pw.NoiseSuppressor(rate, 1, 1)

    def step(mic: F32) -> F32:
        return np.asarray(ns.process(mic), dtype=np.float32)

    return step


def _speex_aec(rate: int) -> Step:
    sp = importlib.import_module("speexdsp")
    ec = sp.EchoCanceller.create(rate // 100, round(SPEEX_TAIL_MS * rate / 1000.0), rate)

    def step(mic: F32, far: F32) -> F32:
        out = ec.process(_i16(mic).tobytes(), _i16(far).tobytes())
        return _f32(np.frombuffer(out, dtype=np.int16))

    return step


def _speex_ns(rate: int) -> Step:
    sx = importlib.import_module("speexdsp_ns")
    ns = sx.NoiseSuppression.create(rate // 100, rate)

    def step(mic: F32) -> F32:
        return _f32(np.frombuffer(ns.process(_i16(mic).tobytes()), dtype=np.int16))

    return step


def _wng_ns(rate: int) -> Step:
    wng = importlib.import_module("webrtc_noise_gain")
    ap = wng.AudioProcessor(0, 2)

    def step(mic: F32) -> F32:
        return _f32(np.frombuffer(ap.Process10ms(_i16(mic).tobytes()).audio, dtype=np.int16))

    return step


def _rnnoise(rate: int) -> Step:
    rn = importlib.import_module("pyrnnoise.rnnoise")
    if rate // 100 != rn.FRAME_SIZE:
        raise RuntimeError(f"RNNoise frames are {rn.FRAME_SIZE} samples, not {rate // 100}")
    state = rn.create()
    frame = np.zeros(rn.FRAME_SIZE, dtype=np.float32)
    ptr = frame.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    process = rn.lib.rnnoise_process_frame

    def step(mic: F32) -> F32:
        # RNNoise works on int16-scaled floats, rounded as its int16 callers give it
        frame[:] = np.round(mic * np.float32(32768.0))
        process(state, ptr, ptr)
        y: F32 = frame * np.float32(1.0 / 32768.0)
        return y

    weakref.finalize(step, rn.destroy, state)
    return step


def _callaudio_chain(rate: int) -> Step:
    from callaudio import VoiceProcessor

    vp = VoiceProcessor(rate)

    def step(mic: F32, far: F32) -> F32:
        vp.process_render(far)
        return np.asarray(vp.process_capture(mic), dtype=np.float32)

    step.latency = int(vp.latency_samples)  # type: ignore[attr-defined]
    return step


def _livekit_chain(rate: int) -> Step:
    apm, near, near_v, far, far_v = _livekit(
        rate,
        echo_cancellation=True,
        noise_suppression=True,
        high_pass_filter=True,
        auto_gain_control=True,
    )

    def step(mic: F32, far_x: F32) -> F32:
        far_v[:] = _i16(far_x)
        apm.process_reverse_stream(far)
        near_v[:] = _i16(mic)
        apm.process_stream(near)
        return _f32(near_v)

    return step


def _pywebrtc_chain(rate: int) -> Step:
    pw = importlib.import_module("pywebrtc_audio")
    ap = pw.AudioProcessor(
        rate,
        1,
        echo_cancellation=True,
        noise_suppression=True,
        high_pass_filter=True,
        auto_gain_control=True,
        ns_level=1,
    )

    def step(mic: F32, far: F32) -> F32:
        return np.asarray(ap.process(mic, far), dtype=np.float32)

    return step


def _speex_chain(rate: int) -> Step:
    aec = _speex_aec(rate)
    ns = _speex_ns(rate)

    def step(mic: F32, far: F32) -> F32:
        return ns(aec(mic, far))

    return step


@dataclass(frozen=True)
class Peer:
    """One processor: its import (to check it is installed), native rates and factory."""

    name: str
    kind: str  # "aec" or "ns"
    module: str  # the modules it needs, comma-separated
    rates: tuple[int, ...]
    make: Callable[[int], Step]


_ALL = (8000, 16000, 32000, 48000)
_CA = (8000, 16000, 32000, 44100, 48000)
AEC_PEERS: tuple[Peer, ...] = (
    Peer("callaudio", "aec", "callaudio._dsp.aec", _CA, _callaudio_aec),
    Peer("webrtc-aec3-livekit", "aec", "livekit.rtc", _ALL, _livekit_aec),
    Peer("webrtc-aec3-pywebrtc", "aec", "pywebrtc_audio", _ALL, _pywebrtc_aec),
    Peer("speexdsp-mdf", "aec", "speexdsp", _ALL, _speex_aec),
)
NS_PEERS: tuple[Peer, ...] = (
    Peer("callaudio", "ns", "callaudio._dsp.ns", _CA, _callaudio_ns),
    Peer("webrtc-ns-livekit", "ns", "livekit.rtc", _ALL, _livekit_ns),
    Peer("webrtc-ns-pywebrtc", "ns", "pywebrtc_audio", _ALL, _pywebrtc_ns),
    Peer("webrtc-ns-wng", "ns", "webrtc_noise_gain", (16000,), _wng_ns),
    Peer("speexdsp-ns", "ns", "speexdsp_ns", _ALL, _speex_ns),
    Peer("rnnoise", "ns", "pyrnnoise.rnnoise", (48000,), _rnnoise),
)
# whole chains (echo cancellation, noise suppression, gain control, high-pass where the
# library has them), step(mic, far): for the speed comparison of issue 17
CHAIN_PEERS: tuple[Peer, ...] = (
    Peer("callaudio", "chain", "callaudio", _CA, _callaudio_chain),
    Peer("webrtc-apm-livekit", "chain", "livekit.rtc", _ALL, _livekit_chain),
    Peer("webrtc-apm-pywebrtc", "chain", "pywebrtc_audio", _ALL, _pywebrtc_chain),
    Peer("speexdsp-mdf+ns", "chain", "speexdsp,speexdsp_ns", _ALL, _speex_chain),
)
_BY_KEY = {(p.kind, p.name): p for p in AEC_PEERS + NS_PEERS + CHAIN_PEERS}


@functools.cache
def _import_error(modules: str) -> str | None:
    for module in modules.split(","):
        try:
            importlib.import_module(module)
        except Exception as e:  # an ImportError, or a binding whose library fails to load
            return f"{module} does not import: {type(e).__name__}: {e}"
    return None


def unavailable() -> dict[str, str]:
    """{peer name: reason} of every peer that does not import here."""
    out = {}
    for p in AEC_PEERS + NS_PEERS + CHAIN_PEERS:
        reason = _import_error(p.module)
        if reason is not None:
            out[p.name] = reason
    return out


def _peer(kind: str, name: str) -> Peer:
    try:
        p = _BY_KEY[(kind, name)]
    except KeyError:
        raise KeyError(f"no {kind} peer {name!r}") from None
    reason = _import_error(p.module)
    if reason is not None:
        raise ImportError(reason)
    return p


def native_rate(peer: Peer, rate: int) -> int:
    """``rate`` if the peer runs at it, else its nearest native rate (the higher on a tie)."""
    if rate in peer.rates:
        return rate
    return min(peer.rates, key=lambda r: (abs(r - rate), -r))


# ------------------------------------------------------------------------ running
def process_frames(
    step: Step, *signals: npt.ArrayLike, rate: int
) -> tuple[F32, npt.NDArray[np.int64]]:
    """Run ``step`` over whole 10 ms frames of ``signals`` (mic first, then far for an echo
    canceller). Returns the output (whole frames only) and each frame's call time in ns
    (``time.perf_counter_ns`` around the one call)."""
    n = rate // 100
    xs = [np.ascontiguousarray(s, dtype=np.float32) for s in signals]
    nf = min(x.size for x in xs) // n
    frames = [x[: nf * n].reshape(nf, n) for x in xs]
    out = np.empty((nf, n), dtype=np.float32)
    times = np.empty(nf, dtype=np.int64)
    clock = time.perf_counter_ns
    for i in range(nf):
        args = [f[i] for f in frames]
        t0 = clock()
        y = step(*args)
        times[i] = clock() - t0
        out[i] = y
    return out.reshape(-1), times


def _raw(p: Peer, rate: int, signals: list[F32]) -> F32:
    """The peer over ``signals`` at ``rate`` (resampled around it if not native), not yet
    realigned; the input's length."""
    m = signals[0].size
    nr = native_rate(p, rate)
    if nr != rate:
        signals = [
            np.asarray(resample(s.astype(np.float64), rate, nr), np.float32) for s in signals
        ]
    n = nr // 100
    pad = -signals[0].size % n
    signals = [np.concatenate([s, np.zeros(pad, np.float32)]) for s in signals]
    step = p.make(nr)
    out, _ = process_frames(step, *signals, rate=nr)
    if nr != rate:
        out = np.asarray(resample(out.astype(np.float64), nr, rate), np.float32)
    out = out[:m]
    return np.concatenate([out, np.zeros(m - out.size, np.float32)])


@functools.cache
def _calibration(rate: int) -> F32:
    from callaudio.simulation.speech import load_talker

    x = np.asarray(load_talker(0, rate, 3.0, seed=1), np.float32)
    hiss = np.random.default_rng(5).standard_normal(x.size).astype(np.float32)
    y: F32 = x + np.float32(1e-3) * hiss
    return y


@functools.cache
def latency(kind: str, name: str, rate: int) -> int:
    """The peer's delay in samples at ``rate`` (what its whole-signal wrapper removes): the
    reported latency for callaudio, else the lag (0..45 ms) of the output's peak
    cross-correlation with speech at the input (no far end)."""
    p = _peer(kind, name)
    reported = getattr(p.make(rate), "latency", None) if rate in p.rates else None
    if reported is not None:
        return int(reported)
    x = _calibration(rate)
    sig = [x, np.zeros_like(x)] if kind == "aec" else [x]
    y = _raw(p, rate, sig).astype(np.float64)
    k = int(MAX_LAG_S * rate)
    a = x[: x.size - k].astype(np.float64)
    nfft = 1 << (a.size + y.size).bit_length()
    # c[j] = sum_i a[i] y[i + j], j = 0 .. k-1
    c = np.fft.irfft(np.fft.rfft(y, nfft) * np.conj(np.fft.rfft(a, nfft)), nfft)[:k]
    return int(np.argmax(np.abs(c)))


def _aligned(out: F32, lag: int) -> F32:
    if lag == 0:
        return out
    return np.concatenate([out[lag:], np.zeros(lag, np.float32)])


def run_aec(name: str, mic: npt.ArrayLike, far: npt.ArrayLike, rate: int) -> F32:
    """Echo canceller ``name`` over the whole signal, aligned with ``mic``."""
    p = _peer("aec", name)
    sig = [np.asarray(mic, np.float32), np.asarray(far, np.float32)]
    return _aligned(_raw(p, rate, sig), latency("aec", name, rate))


def run_ns(name: str, noisy: npt.ArrayLike, rate: int) -> F32:
    """Noise suppressor ``name`` over the whole signal, aligned with ``noisy``."""
    p = _peer("ns", name)
    return _aligned(_raw(p, rate, [np.asarray(noisy, np.float32)]), latency("ns", name, rate))


def aec_peers(callaudio: bool = True) -> dict[str, AecFn]:
    """{name: fn(mic, far, rate) -> out} of the installed echo cancellers."""
    return {
        p.name: functools.partial(run_aec, p.name)
        for p in AEC_PEERS
        if (callaudio or p.name != "callaudio") and _import_error(p.module) is None
    }


def ns_peers(callaudio: bool = True) -> dict[str, NsFn]:
    """{name: fn(noisy, rate) -> out} of the installed noise suppressors."""
    return {
        p.name: functools.partial(run_ns, p.name)
        for p in NS_PEERS
        if (callaudio or p.name != "callaudio") and _import_error(p.module) is None
    }


def frame_steps(kind: str, rate: int, callaudio: bool = True) -> dict[str, Step]:
    """{name: fresh per-frame step at ``rate``} of the installed peers of ``kind`` ("aec",
    "ns" or "chain") that run natively at ``rate`` (for timing; no resampling in the loop)."""
    peers = {"aec": AEC_PEERS, "ns": NS_PEERS, "chain": CHAIN_PEERS}[kind]
    return {
        p.name: p.make(rate)
        for p in peers
        if rate in p.rates
        and (callaudio or p.name != "callaudio")
        and _import_error(p.module) is None
    }
