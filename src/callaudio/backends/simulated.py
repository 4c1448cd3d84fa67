"""The simulated backend: a room that carries what is played back into the microphone.

The embedded default backend, so everything runs on a machine with no sound card. It calls
the engine's callback exactly as PortAudio does through python-sounddevice,
``callback(indata, outdata, frames, time, status)`` once per 10 ms frame with float32
``(frames, channels)`` arrays, so the engine's real-time code path is the same on both.

The room
--------
What the stream plays in frame ``k`` (``outdata``) reaches the microphone through a bulk
delay ``D`` (the converters' and buffers' delay, ``delay_ms``) and an acoustic impulse
response ``h``::

    mic[t] = g * sum_j h[j] * played[t - D - j]  +  near[t]  +  noise[t]      (clipped to +-1)

where ``g`` is 1 on the loudspeaker route and ``earpiece_loss_db`` below on the earpiece
route. By default ``h`` is an image-source room response (Allen & Berkley 1979, through
:func:`callaudio.simulation.rir.room_rir`) normalised so that ``sum(h**2) = 10**(echo_gain_db
/ 10)``: white noise played comes back ``echo_gain_db`` dB louder (negative: quieter). The
convolution runs by overlap-add with one FFT pair per frame into a circular accumulator
indexed by absolute sample time. A block-based duplex device records frame ``k`` before it
plays frame ``k``, so ``D`` must be at least one frame (JACK's loopback measures two).

Pacing
------
``realtime=True``: a thread runs one frame per 10 ms against a monotonic deadline; when it
falls more than a frame behind it flags an xrun (input overflow + output underflow, as
PortAudio does) and re-anchors. ``realtime=False`` (default): nothing runs by itself; the
caller advances the world with :meth:`SimulatedBackend.run_frames` (tests, the demo: as
fast as the machine goes, deterministic).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..config import check_sample_rate, frame_size
from ..errors import BackendError, ConfigError

__all__ = ["CallbackFlags", "SimulatedBackend", "SimulatedStream", "StreamTime"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

# PortAudio's paStreamCallbackFlags bits (the values python-sounddevice reports).
_INPUT_UNDERFLOW = 0x1
_INPUT_OVERFLOW = 0x2
_OUTPUT_UNDERFLOW = 0x4
_OUTPUT_OVERFLOW = 0x8
_PRIMING_OUTPUT = 0x10
_DIRECT_MAX_TAPS = 32
_FLAG_NAMES = (
    ("input_underflow", _INPUT_UNDERFLOW),
    ("input_overflow", _INPUT_OVERFLOW),
    ("output_underflow", _OUTPUT_UNDERFLOW),
    ("output_overflow", _OUTPUT_OVERFLOW),
    ("priming_output", _PRIMING_OUTPUT),
)


class CallbackFlags:
    """Status flags of one callback: the same bits and interface as ``sounddevice.CallbackFlags``.

    ``bool(flags)`` is True when any bit is set; ``flags |= other`` accumulates in place.
    """

    __slots__ = ("_flags",)

    def __init__(self, flags: int = 0) -> None:
        self._flags = int(flags)

    def __bool__(self) -> bool:
        return bool(self._flags)

    def __int__(self) -> int:
        return self._flags

    def __ior__(self, other: object) -> CallbackFlags:
        bits = getattr(other, "_flags", None)
        if not isinstance(bits, int):
            return NotImplemented
        self._flags |= bits
        return self

    def __str__(self) -> str:
        return ", ".join(n.replace("_", " ") for n, bit in _FLAG_NAMES if self._flags & bit)

    def __repr__(self) -> str:
        return f"<CallbackFlags: {self or 'no flags set'}>"

    @property
    def input_underflow(self) -> bool:
        """Zeros were inserted into the input."""
        return bool(self._flags & _INPUT_UNDERFLOW)

    @property
    def input_overflow(self) -> bool:
        """Input was discarded (the callback ran late)."""
        return bool(self._flags & _INPUT_OVERFLOW)

    @property
    def output_underflow(self) -> bool:
        """Silence was played (the callback ran late)."""
        return bool(self._flags & _OUTPUT_UNDERFLOW)

    @property
    def output_overflow(self) -> bool:
        """Output was discarded."""
        return bool(self._flags & _OUTPUT_OVERFLOW)

    @property
    def priming_output(self) -> bool:
        """The output is being primed (not an xrun)."""
        return bool(self._flags & _PRIMING_OUTPUT)


@dataclass
class StreamTime:
    """The ``time`` argument of a callback (PortAudio's ``PaStreamCallbackTimeInfo``), seconds."""

    inputBufferAdcTime: float = 0.0
    currentTime: float = 0.0
    outputBufferDacTime: float = 0.0


def _as_track(x: npt.ArrayLike | None, name: str) -> F32 | None:
    if x is None:
        return None
    a = np.ascontiguousarray(np.asarray(x, dtype=np.float32).reshape(-1))
    if a.size == 0:
        return None
    if not np.all(np.isfinite(a)):
        raise ConfigError(name, "must hold finite samples")
    return a


class SimulatedBackend:
    """A simulated room as an audio backend (see the module docstring).

    Parameters
    ----------
    sample_rate : int
        16000, 32000 or 48000 Hz.
    delay_ms : float
        Bulk delay from what is played to the microphone, in ms (>= one 10 ms frame,
        <= 1000 ms). Rounded to whole samples.
    impulse_response : array_like, optional
        The room's response (used as given, not normalised); default: an image-source
        room of ``rt60_s`` with the loudspeaker ``distance_m`` from the microphone,
        normalised to ``echo_gain_db``.
    echo_gain_db : float
        Energy gain of the default response, dB (-40..20; ERL = ``-echo_gain_db``).
    rt60_s, distance_m : float
        The default room's reverberation time (s, 0.05..1.0) and distance (m).
    earpiece_loss_db : float
        Extra loss of the echo path on the earpiece route (speaker off), dB (0..60).
    near, noise : array_like, optional
        Mono tracks added to the microphone from the first frame on (near-end talker,
        background noise); silence after their end unless ``loop``.
    loop : bool
        Repeat ``near`` and ``noise`` when they end.
    realtime : bool
        Pace frames in real time on a thread (else :meth:`run_frames` drives them).
    record : bool
        Keep every frame played and captured (:meth:`recording`), for analysis.
    seed : int
        Seed of the default room.
    """

    name = "simulated"

    def __init__(
        self,
        sample_rate: int = 48000,
        *,
        delay_ms: float = 40.0,
        impulse_response: npt.ArrayLike | None = None,
        echo_gain_db: float = -6.0,
        rt60_s: float = 0.25,
        distance_m: float = 0.5,
        earpiece_loss_db: float = 20.0,
        near: npt.ArrayLike | None = None,
        noise: npt.ArrayLike | None = None,
        loop: bool = False,
        realtime: bool = False,
        record: bool = False,
        seed: int = 0,
    ) -> None:
        self._rate = check_sample_rate(sample_rate)
        self._n = frame_size(self._rate)
        if not isinstance(delay_ms, (int, float)) or not 10.0 <= float(delay_ms) <= 1000.0:
            raise ConfigError(
                "delay_ms",
                f"must be within [10, 1000] ms (a duplex device delays at least one frame), "
                f"got {delay_ms!r}",
            )
        self._delay = round(float(delay_ms) * self._rate / 1000.0)
        self._delay = max(self._delay, self._n)
        for fname, v, lo, hi in (
            ("echo_gain_db", echo_gain_db, -40.0, 20.0),
            ("rt60_s", rt60_s, 0.05, 1.0),
            ("distance_m", distance_m, 0.05, 3.0),
            ("earpiece_loss_db", earpiece_loss_db, 0.0, 60.0),
        ):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
                raise ConfigError(fname, f"must be within [{lo}, {hi}], got {v!r}")
        if impulse_response is None:
            from ..simulation.rir import room_rir

            h, _ = room_rir(self._rate, float(rt60_s), float(distance_m), seed=int(seed))
            h = h * np.sqrt(10.0 ** (echo_gain_db / 10.0) / max(float(np.sum(h * h)), 1e-30))
        else:
            h = np.asarray(impulse_response, dtype=np.float64).reshape(-1)
            if h.size == 0 or not np.all(np.isfinite(h)):
                raise ConfigError("impulse_response", "must be a non-empty finite array")
        self._h = h
        self._earpiece_gain = float(10.0 ** (-earpiece_loss_db / 20.0))
        self._near = _as_track(near, "near")
        self._noise = _as_track(noise, "noise")
        self._near_start = 0
        self._noise_start = 0
        self._loop = bool(loop)
        self._realtime = bool(realtime)
        self._record = bool(record)
        n, length = self._n, h.size
        # Overlap-add: one FFT pair per frame, or a direct convolution for short responses
        # (a pure delay then reaches the microphone bit-exact).
        self._nfft = 1 << int(np.ceil(np.log2(n + length - 1)))
        self._H = np.fft.rfft(h, self._nfft) if length > _DIRECT_MAX_TAPS else None
        # A whole number of frames, so a frame never straddles the wrap.
        size = n * (-(-(self._delay + self._nfft + 2 * n) // n))
        self._acc = np.zeros(size, dtype=np.float64)  # circular, indexed by absolute time
        self._t = 0  # absolute sample time of the next frame
        self._speaker = True
        self._stream: SimulatedStream | None = None
        self._lock = threading.Lock()  # guards open/close and run_frames, not the callback
        self._rec: dict[str, list[F32]] = {"played": [], "mic": [], "echo": [], "near": []}
        self._rec["noise"] = []
        self.faults: list[str] = []
        self._frame_hooks: list[Any] = []

    # -- description --------------------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        """Sample rate in Hz."""
        return self._rate

    @property
    def delay_samples(self) -> int:
        """Bulk delay from the output to the microphone, in samples."""
        return self._delay

    @property
    def impulse_response(self) -> F64:
        """The room's response (a copy)."""
        return np.array(self._h, dtype=np.float64)

    @property
    def realtime(self) -> bool:
        """True when a thread paces the frames."""
        return self._realtime

    @property
    def time_s(self) -> float:
        """Simulated time since construction, in seconds (frames run / rate)."""
        return self._t / self._rate

    @property
    def stream(self) -> SimulatedStream | None:
        """The open stream, if any."""
        return self._stream

    @staticmethod
    def callback_flags() -> CallbackFlags:
        """An empty flags object to accumulate callback statuses into (``|=``)."""
        return CallbackFlags()

    def set_speaker(self, on: bool) -> None:
        """Loudspeaker (True: full echo path) or earpiece (False: ``earpiece_loss_db`` less)."""
        self._speaker = bool(on)

    def set_near(self, near: npt.ArrayLike | None) -> None:
        """Replace the near-end track; it starts at the next frame."""
        self._near = _as_track(near, "near")
        self._near_start = self._t

    def set_noise(self, noise: npt.ArrayLike | None) -> None:
        """Replace the noise track; it starts at the next frame."""
        self._noise = _as_track(noise, "noise")
        self._noise_start = self._t

    # -- streams ------------------------------------------------------------------------------

    def open_stream(
        self,
        *,
        sample_rate: int,
        blocksize: int,
        channels: int,
        mode: str,
        callback: Any,
    ) -> SimulatedStream:
        """Open a stream on the room (one at a time, like an exclusive device)."""
        if sample_rate != self._rate:
            raise BackendError(
                "open", f"the simulated room runs at {self._rate} Hz, not {sample_rate} Hz"
            )
        if blocksize != self._n:
            raise BackendError("open", f"blocksize must be {self._n} (10 ms), got {blocksize}")
        if mode not in ("duplex", "playback", "record"):
            raise BackendError("open", f"mode must be duplex, playback or record, got {mode!r}")
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise BackendError("open", f"channels must be a positive int, got {channels!r}")
        with self._lock:
            if self._stream is not None:
                raise BackendError("open", "the simulated device already has an open stream")
            self._stream = SimulatedStream(self, channels, mode, callback)
            return self._stream

    def _closed(self, stream: SimulatedStream) -> None:
        with self._lock:
            if self._stream is stream:
                self._stream = None

    def run_frames(self, count: int) -> None:
        """Run ``count`` frames now, as fast as possible (``realtime=False`` only).

        Raises BackendError when no stream is started or the backend paces itself.
        """
        if self._realtime:
            raise BackendError("run_frames", "this backend is paced in real time")
        stream = self._stream
        if stream is None or not stream.active:
            raise BackendError("run_frames", "no started stream")
        hooks = self._frame_hooks
        for _ in range(int(count)):
            if not stream.active:
                break
            stream._step(stream._ok)
            for hook in hooks:
                hook()

    def add_frame_hook(self, hook: Any) -> None:
        """Call ``hook()`` after every frame :meth:`run_frames` runs (on the caller's thread).

        The engine's backend checks for finished sounds and faults there, so a caller-driven
        room reports them at a deterministic frame.
        """
        self._frame_hooks.append(hook)

    def inject_fault(self, kind: str = "device_lost", detail: str = "") -> None:
        """Make the open stream die as a lost device or a reset audio system would.

        The stream stops calling back and gets ``fault`` (the text) and ``fault_kind``
        (``"device_lost"`` or ``"media_services_reset"``); whoever watches it reports it.
        ``"stall"``: the callbacks just stop, with no fault set (what a stream on a JACK
        server that died does); only a watchdog notices.
        """
        if kind not in ("device_lost", "media_services_reset", "stall"):
            raise ConfigError(
                "kind", f"must be device_lost, media_services_reset or stall, got {kind!r}"
            )
        stream = self._stream
        if stream is None:
            raise BackendError("inject_fault", "no open stream")
        if kind == "stall":  # callbacks stop silently, as when a sound server dies
            stream._die("device_lost", "")
            stream.fault = None
        else:
            stream._die(kind, detail or f"simulated {kind.replace('_', ' ')}")
        for hook in self._frame_hooks:
            hook()

    def run_seconds(self, seconds: float) -> None:
        """Run ``round(seconds * 100)`` frames (see :meth:`run_frames`)."""
        self.run_frames(round(seconds * 100.0))

    # -- the world ----------------------------------------------------------------------------

    def _track(self, track: F32 | None, start: int, out: F64) -> F64 | None:
        if track is None:
            return None
        n = self._n
        pos = self._t - start
        if self._loop:
            idx = (pos + np.arange(n)) % track.size
            out[:] = track[idx]
            return out
        if pos >= track.size:
            return None
        k = min(n, track.size - pos)
        out[:k] = track[pos : pos + k]
        out[k:] = 0.0
        return out

    def _mic_frame(self, mic: F32) -> None:
        """Fill ``mic`` (n, channels) with echo + near + noise for the frame at ``self._t``."""
        n = self._n
        size = self._acc.size
        i0 = self._t % size
        echo = self._acc[i0 : i0 + n].copy()
        self._acc[i0 : i0 + n] = 0.0
        total = echo.copy()
        near = self._track(self._near, self._near_start, np.zeros(n))
        noise = self._track(self._noise, self._noise_start, np.zeros(n))
        if near is not None:
            total += near
        if noise is not None:
            total += noise
        np.clip(total, -1.0, 1.0, out=total)
        mic[:] = total[:, None]
        if self._record:
            self._rec["echo"].append(echo.astype(np.float32))
            self._rec["near"].append(
                np.zeros(n, np.float32) if near is None else near.astype(np.float32)
            )
            self._rec["noise"].append(
                np.zeros(n, np.float32) if noise is None else noise.astype(np.float32)
            )
            self._rec["mic"].append(mic[:, 0].copy())

    def _play_frame(self, played: F32 | None) -> None:
        """Send what was played at ``self._t`` into the room; advance time by one frame."""
        n = self._n
        if played is not None:
            x = played.mean(axis=1) if played.shape[1] > 1 else played[:, 0]
            if self._record:
                self._rec["played"].append(np.array(x, dtype=np.float32))
            if np.any(x):
                if self._H is None:  # a short response: direct convolution, exact
                    y = np.convolve(x.astype(np.float64), self._h)
                else:
                    y = np.fft.irfft(np.fft.rfft(x, self._nfft) * self._H, self._nfft)
                if not self._speaker:
                    y *= self._earpiece_gain
                size = self._acc.size
                start = (self._t + self._delay) % size
                m = min(y.size, size - start)
                self._acc[start : start + m] += y[:m]
                if m < y.size:
                    self._acc[: y.size - m] += y[m:]
        elif self._record:
            self._rec["played"].append(np.zeros(n, np.float32))
        self._t += n

    def reset_room(self) -> None:
        """Silence the room: drop the echo still on its way.

        Starting a stream does not do it: sound already in the air arrives whatever the next
        stream is.
        """
        self._acc[:] = 0.0

    def recording(self) -> dict[str, F32]:
        """Everything recorded so far (``record=True``), one array per signal.

        Keys: ``played`` (loudspeaker), ``mic`` (what the microphone got: echo + near +
        noise, clipped), ``echo``, ``near``, ``noise`` (its components). All the same length;
        frames where the stream had no output or input hold silence.
        """
        return {
            k: (np.concatenate(v) if v else np.zeros(0, np.float32)) for k, v in self._rec.items()
        }

    def clear_recording(self) -> None:
        """Forget what was recorded."""
        for v in self._rec.values():
            v.clear()

    def __repr__(self) -> str:
        return (
            f"SimulatedBackend(sample_rate={self._rate}, delay={self._delay} samples, "
            f"ir={self._h.size} taps, realtime={self._realtime})"
        )


class SimulatedStream:
    """One stream on a :class:`SimulatedBackend` (what ``open_stream`` returns)."""

    def __init__(self, backend: SimulatedBackend, channels: int, mode: str, callback: Any) -> None:
        self._backend = backend
        self._channels = channels
        self._mode = mode
        self._callback = callback
        n = backend._n
        # The callback's arrays, reused for every frame (as PortAudio reuses its buffers).
        self._indata = np.zeros((n, channels), dtype=np.float32) if mode != "playback" else None
        self._outdata = np.zeros((n, 1), dtype=np.float32) if mode != "record" else None
        self._unheard = np.zeros((n, 1), dtype=np.float32)
        self._time = StreamTime()
        self._ok = CallbackFlags()
        self._xrun = CallbackFlags(_INPUT_OVERFLOW | _OUTPUT_UNDERFLOW)
        self._active = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._stop_evt = threading.Event()
        self.xruns = 0
        self.error: BaseException | None = None
        self.fault: str | None = None
        self.fault_kind = "device_lost"
        self.device_name = "simulated room"

    def _die(self, kind: str, detail: str) -> None:
        self.fault_kind = kind
        self.fault = detail
        self._active = False
        if self._thread is not None and self._thread is not threading.current_thread():
            self._stop_evt.set()

    @property
    def active(self) -> bool:
        """True between start() and stop()."""
        return self._active

    @property
    def blocksize(self) -> int:
        """Frames per callback."""
        return self._backend._n

    @property
    def latency(self) -> tuple[float, float]:
        """(input, output) latency in seconds: the bulk delay is split evenly."""
        d = self._backend._delay / self._backend._rate
        return d / 2.0, d / 2.0

    def start(self) -> None:
        """Start running frames (on a thread when the backend is real-time)."""
        if self._closed:
            raise BackendError("start", "the stream is closed")
        if self._active:
            return
        self._active = True
        if self._backend._realtime:
            self._stop_evt.clear()
            self._thread = threading.Thread(
                target=self._run, name="callaudio-simulated-audio", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop; returns after the last callback has finished."""
        self._active = False
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop_evt.set()
            thread.join()

    def close(self) -> None:
        """Stop and release the device."""
        self.stop()
        if not self._closed:
            self._closed = True
            self._backend._closed(self)

    def _step(self, status: CallbackFlags) -> None:
        b = self._backend
        indata, outdata = self._indata, self._outdata
        # The room goes on whatever the stream's directions: the microphone frame is
        # computed (and recorded) even when an output-only stream does not deliver it.
        b._mic_frame(indata if indata is not None else self._unheard)
        now = b._t / b._rate
        self._time.currentTime = now
        self._time.inputBufferAdcTime = now
        self._time.outputBufferDacTime = now + b._delay / b._rate
        self._callback(indata, outdata, b._n, self._time, status)
        b._play_frame(outdata)

    def _run(self) -> None:
        period = self._backend._n / self._backend._rate
        deadline = time.monotonic()
        status = self._ok
        try:
            while not self._stop_evt.is_set() and self._active:
                now = time.monotonic()
                if now < deadline:
                    self._stop_evt.wait(deadline - now)
                    continue
                if now - deadline > period:
                    # More than a frame late: the device would have dropped input and
                    # played silence. Flag it and re-anchor.
                    self.xruns += 1
                    status = self._xrun
                    deadline = now
                self._step(status)
                status = self._ok
                deadline += period
        except BaseException as exc:  # the engine's callback never raises; this is the room
            self.error = exc
            self._backend.faults.append(f"{type(exc).__name__}: {exc}")
            self._die("media_services_reset", f"the simulated room failed: {exc!r}")
