"""The audio engine: the real-time callback between a backend's stream and the VoiceProcessor.

One :class:`AudioEngine` runs one stream on one backend. Per 10 ms frame its callback

1. takes a frame of far-end audio from the application (:meth:`AudioEngine.write_far` feeds
   a lock-free single-producer/single-consumer ring; an empty ring plays silence and counts
   an *underrun*),
2. mixes in the controller's sound (a progress tone or a sound file, :meth:`AudioEngine.play`),
3. hands the result to ``VoiceProcessor.process_render`` (the echo canceller's reference is
   exactly what the loudspeaker plays) and writes it to the backend's output,
4. runs the microphone frame through ``VoiceProcessor.process_capture`` into a preallocated
   buffer, zeroes it when muted, and delivers it to the application: to a ``capture``
   callback, or into a second SPSC ring read with :meth:`AudioEngine.read_capture` (a full
   ring drops the frame and counts an *overrun*).

The callback keeps python-sounddevice's contract, ``callback(indata, outdata, frames, time,
status)``: it always writes all of ``outdata``, accumulates the status flags with ``|=`` and
never lets an exception escape (it is counted, the first few are kept with their traceback and
:meth:`AudioEngine.stop` raises :class:`CallbackError` with them). It takes no lock, never
waits, and allocates no buffer: every array it touches is allocated in :meth:`AudioEngine.start`
(the tests check this with :mod:`tracemalloc`). Mute and speaker state reach it as plain
attributes.

Backends
--------
A backend is any object with ``open_stream(*, sample_rate, blocksize, channels, mode,
callback) -> stream`` (see :class:`StreamBackend`), the stream having ``start()``, ``stop()``
and ``close()``. ``mode`` is ``"duplex"``, ``"playback"`` or ``"record"``; an input-only
stream calls ``callback(indata, None, ...)``, an output-only one ``callback(None, outdata,
...)``. Frames are ``(blocksize, channels)`` float32 arrays, as sounddevice delivers them.
Both :mod:`callaudio.backends.sounddevice_backend` (PortAudio) and
:mod:`callaudio.backends.simulated` (a room) run this same callback.

The session layer's backend
---------------------------
:class:`EngineBackend` implements :class:`~callaudio.backends.base.AudioBackend` (what
:class:`~callaudio.client.VoiceClient` drives: ``start_duplex``, ``start_playback`` ...) with
one :class:`AudioEngine` at a time on a device backend; :func:`make_backend` builds one by name
(``"simulated"``, ``"sounddevice"``). It also watches the stream: a stream that stops calling
back is reported to the client as a lost device.

Lock-free rings
---------------
:class:`FrameRing` is a bounded SPSC queue of whole frames: a preallocated ``(capacity,
frame, channels)`` array and two ever-increasing integer counters. The producer writes a
slot and then publishes it by storing ``head``; the consumer copies the slot out and then
releases it by storing ``tail``. Each counter has exactly one writer, and a store of a Python
int attribute is atomic under the GIL, so neither side ever needs a lock.
"""

from __future__ import annotations

import enum
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from .config import SAMPLE_RATES, check_sample_rate, frame_size
from .errors import BackendError, CallAudioError, ConfigError, FrameError

if TYPE_CHECKING:
    from .processing import VoiceProcessor

__all__ = [
    "AudioEngine",
    "CallbackError",
    "EngineBackend",
    "EngineMode",
    "EngineStats",
    "FrameRing",
    "MixSource",
    "PreparedSound",
    "Stream",
    "StreamBackend",
    "StreamCallback",
    "make_backend",
]

Float32Array = npt.NDArray[np.float32]
StreamCallback = Callable[[Any, Any, int, Any, Any], None]
"""``callback(indata, outdata, frames, time, status)``: python-sounddevice's contract."""

# PortAudio's status bits (paInputUnderflow ... paOutputOverflow); priming (0x10) is no xrun.
_XRUN_NAMES = ("input_underflow", "input_overflow", "output_underflow", "output_overflow")
_MAX_KEPT_ERRORS = 8


class CallbackError(BackendError):
    """Exceptions were raised inside the real-time callback while the engine ran.

    The callback never lets an exception escape (that would kill the stream silently); it
    plays silence for that frame, counts the error and keeps the first few. :meth:`AudioEngine.stop`
    raises this error after the stream is closed. The first exception is the ``__cause__``.

    Attributes
    ----------
    count : int
        How many callbacks raised.
    errors : list of BaseException
        The first few exceptions (at most 8), in order.
    tracebacks : list of str
        Their formatted tracebacks.
    """

    def __init__(self, count: int, errors: list[BaseException], tracebacks: list[str]) -> None:
        first = errors[0] if errors else None
        super().__init__(
            "callback",
            f"{count} audio callback(s) raised; first: {type(first).__name__}: {first}\n"
            + (tracebacks[0] if tracebacks else ""),
        )
        self.count = count
        self.errors = errors
        self.tracebacks = tracebacks


class EngineMode(enum.Enum):
    """Which directions the engine's stream carries."""

    DUPLEX = "duplex"
    """Microphone and loudspeaker (PLAY_AND_RECORD)."""
    PLAYBACK = "playback"
    """Loudspeaker only (PLAYBACK, AMBIENT, SOLO_AMBIENT)."""
    RECORD = "record"
    """Microphone only (RECORD)."""

    @property
    def has_input(self) -> bool:
        """True when the stream records."""
        return self is not EngineMode.PLAYBACK

    @property
    def has_output(self) -> bool:
        """True when the stream plays."""
        return self is not EngineMode.RECORD


class Stream(Protocol):
    """A started/stopped audio stream, as a backend's ``open_stream`` returns it."""

    def start(self) -> None:
        """Start calling the callback."""

    def stop(self) -> None:
        """Stop; when this returns the callback is not running and will not run again."""

    def close(self) -> None:
        """Release the stream (stops it first if needed)."""


class StreamBackend(Protocol):
    """What the engine needs of a backend (structural: backends do not import the engine)."""

    def open_stream(
        self,
        *,
        sample_rate: int,
        blocksize: int,
        channels: int,
        mode: str,
        callback: StreamCallback,
    ) -> Stream:
        """Open (not start) a stream calling ``callback`` once per ``blocksize`` frames."""
        ...


# --- lock-free frame ring ----------------------------------------------------------------------


class FrameRing:
    """Bounded single-producer/single-consumer queue of 10 ms frames, lock-free.

    Parameters
    ----------
    capacity : int
        Frames it holds (>= 1).
    frame_size : int
        Samples per channel in a frame.
    channels : int
        Channels per frame.

    Notes
    -----
    One thread may call the producer methods (:meth:`push`, :meth:`write`, :meth:`flush`),
    one other thread the consumer methods (:meth:`pop_into`, :meth:`read`, :meth:`drop`).
    :meth:`push` and :meth:`pop_into` allocate nothing and never block, so either side may be
    the real-time thread.
    """

    def __init__(self, capacity: int, frame_size: int, channels: int = 1) -> None:
        for name, v in (("capacity", capacity), ("frame_size", frame_size), ("channels", channels)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(name, f"must be a positive int, got {v!r}")
        self._cap = capacity
        self._n = frame_size
        self._ch = channels
        self._buf = np.zeros((capacity, frame_size, channels), dtype=np.float32)
        # One view per slot, made now, so push/pop index a list instead of creating views.
        self._slots = [self._buf[i] for i in range(capacity)]
        self._head = 0  # frames published; written by the producer only
        self._tail = 0  # frames consumed; written by the consumer only
        # Producer-side partial frame for write() of arbitrary lengths.
        self._partial = np.zeros((frame_size, channels), dtype=np.float32)
        self._partial_fill = 0

    @property
    def capacity(self) -> int:
        """Frames the ring holds."""
        return self._cap

    @property
    def frame_size(self) -> int:
        """Samples per channel in one frame."""
        return self._n

    @property
    def channels(self) -> int:
        """Channels per frame."""
        return self._ch

    def __len__(self) -> int:
        """Frames ready to be consumed."""
        return self._head - self._tail

    def free(self) -> int:
        """Frames that can be pushed before the ring is full."""
        return self._cap - (self._head - self._tail)

    # -- producer ----------------------------------------------------------------------------

    def push(self, frame: npt.NDArray[Any]) -> bool:
        """Copy one frame in; False (and nothing copied) when the ring is full."""
        head = self._head
        if head - self._tail >= self._cap:
            return False
        np.copyto(self._slots[head % self._cap], frame, casting="unsafe")
        self._head = head + 1  # publish after the copy
        return True

    def write(self, samples: npt.ArrayLike) -> int:
        """Append samples of any length; whole frames are published as they fill.

        Parameters
        ----------
        samples : array_like
            Shape ``(m,)`` (mono) or ``(m, channels)``; float (full scale 1.0) or int16.

        Returns
        -------
        int
            Samples accepted (per channel). Fewer than ``m`` when the ring filled up: the
            rest was not taken, write it again later.
        """
        x = np.asarray(samples)
        if x.dtype == np.int16:
            x = x.astype(np.float32) / np.float32(32768.0)
        elif not np.issubdtype(x.dtype, np.floating):
            raise FrameError(f"samples must be float or int16, got dtype {x.dtype}")
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self._ch:
            raise FrameError(
                f"samples must have shape (m,) or (m, {self._ch}) for a {self._ch}-channel "
                f"ring, got {np.shape(samples)}"
            )
        n = self._n
        done = 0
        m = x.shape[0]
        while done < m:
            if self._partial_fill == 0 and m - done >= n:
                if not self.push(x[done : done + n]):
                    break
                done += n
                continue
            if self._partial_fill == n:
                if not self.push(self._partial):
                    break
                self._partial_fill = 0
                continue
            k = min(n - self._partial_fill, m - done)
            self._partial[self._partial_fill : self._partial_fill + k] = x[done : done + k]
            self._partial_fill += k
            done += k
            if self._partial_fill == n and self.push(self._partial):
                self._partial_fill = 0
        return done

    def flush(self) -> bool:
        """Publish a partly filled frame, padded with silence; False when the ring is full."""
        if self._partial_fill == 0:
            return True
        self._partial[self._partial_fill :] = 0.0
        if not self.push(self._partial):
            return False
        self._partial_fill = 0
        return True

    # -- consumer ----------------------------------------------------------------------------

    def pop_into(self, out: npt.NDArray[Any]) -> bool:
        """Copy the oldest frame into ``out``; False (``out`` untouched) when empty."""
        tail = self._tail
        if self._head == tail:
            return False
        np.copyto(out, self._slots[tail % self._cap], casting="unsafe")
        self._tail = tail + 1  # release after the copy
        return True

    def read(self, max_frames: int | None = None) -> Float32Array:
        """Take up to ``max_frames`` frames (all ready ones by default) as one array.

        Returns shape ``(k * frame_size,)`` for a mono ring, else ``(k * frame_size,
        channels)``; ``k`` may be 0.
        """
        k = len(self) if max_frames is None else min(max_frames, len(self))
        out = np.empty((k, self._n, self._ch), dtype=np.float32)
        for i in range(k):
            self.pop_into(out[i])
        flat = out.reshape(k * self._n, self._ch)
        return flat[:, 0] if self._ch == 1 else flat

    def drop(self) -> int:
        """Discard every ready frame (consumer side); return how many."""
        k = len(self)
        self._tail += k
        return k


# --- sounds mixed into the playback ------------------------------------------------------------


class MixSource(Protocol):
    """Something the callback mixes into what the loudspeaker plays (tones, sound files)."""

    @property
    def done(self) -> bool:
        """True once it has nothing more to play."""
        ...

    def mix_into(self, buf: Float32Array) -> None:
        """Add the next ``len(buf)`` samples into ``buf`` (shape ``(n, 1)``); no allocation."""
        ...


class PreparedSound:
    """A sound ready for the real-time callback: mono, at the engine's rate, preallocated.

    Mixing it allocates nothing and takes no lock. Build one from any
    :class:`~callaudio.backends.base.PlaybackSource` (tones, sound files) with
    :meth:`from_source`, on the application's thread.

    Parameters
    ----------
    samples : array_like
        Mono signal at the engine's rate, float (full scale 1.0).
    loop : bool
        Start again at the end instead of finishing.
    gain : float
        Linear gain applied while mixing.
    name : str
        For reports (``"progress tone"``, a file name ...).
    """

    def __init__(
        self, samples: npt.ArrayLike, *, loop: bool = False, gain: float = 1.0, name: str = ""
    ) -> None:
        x = np.ascontiguousarray(np.asarray(samples, dtype=np.float32).reshape(-1))
        if x.size == 0:
            raise FrameError("a playback source needs at least one sample")
        if not np.all(np.isfinite(x)):
            raise FrameError("a playback source must hold finite samples")
        self._x = (x * np.float32(gain)).reshape(-1, 1)
        self._loop = bool(loop)
        self._pos = 0
        self._stopped = False
        self.name = name

    @classmethod
    def from_source(cls, source: Any, sample_rate: int, *, name: str = "") -> PreparedSound:
        """Prepare a :class:`~callaudio.backends.base.PlaybackSource` for the callback.

        Runs on the application's thread: reads the whole source (its ``samples`` when it
        has them, else ``read()`` until it ends), downmixes to mono and resamples it to
        ``sample_rate`` (windowed-sinc, :func:`callaudio.simulation.resample.resample`).
        Playing starts at the source's ``position`` when it has one.

        Raises
        ------
        ConfigError
            A looping source that does not expose its ``samples`` (its loop length is
            unknown), or an empty one.
        """
        loop = bool(getattr(source, "loop", False))
        samples = getattr(source, "samples", None)
        start = int(getattr(source, "position", 0))
        if samples is None:
            if loop:
                raise ConfigError(
                    "source", "a looping source must expose its samples (like ArraySource)"
                )
            chunks = []
            while True:
                chunk = np.asarray(source.read(max(int(source.sample_rate), 1)))
                if chunk.shape[0] == 0:
                    break
                chunks.append(chunk)
            if not chunks:
                raise ConfigError("source", "the source holds no audio")
            samples = np.concatenate(chunks)
            start = 0
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim == 2:
            x = x.mean(axis=1)
        rate_in = int(source.sample_rate)
        if rate_in != sample_rate:
            from .simulation.resample import resample

            x = resample(x, rate_in, sample_rate)
            start = round(start * sample_rate / rate_in)
        sound = cls(x, loop=loop, name=name or type(source).__name__)
        sound._pos = min(start, sound._x.shape[0]) if not loop else start % sound._x.shape[0]
        return sound

    @property
    def done(self) -> bool:
        """True when a one-shot source reached its end or :meth:`stop` was called."""
        return self._stopped or (not self._loop and self._pos >= self._x.shape[0])

    @property
    def position(self) -> int:
        """Samples played so far (modulo the length when looping)."""
        return self._pos

    def stop(self) -> None:
        """Stop playing (the callback sees it at its next frame)."""
        self._stopped = True

    def mix_into(self, buf: Float32Array) -> None:
        """Add the next ``len(buf)`` samples into ``buf``."""
        n = buf.shape[0]
        total = self._x.shape[0]
        filled = 0
        while filled < n and not self.done:
            k = min(n - filled, total - self._pos)
            seg = buf[filled : filled + k]
            np.add(seg, self._x[self._pos : self._pos + k], out=seg)
            filled += k
            self._pos += k
            if self._pos >= total and self._loop:
                self._pos = 0


# --- stats -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineStats:
    """What the engine counted since :meth:`AudioEngine.start`.

    Attributes
    ----------
    frames : int
        Callbacks run (10 ms frames).
    underruns : int
        Frames played as silence because the far-end ring was empty.
    overruns : int
        Captured frames dropped because the application did not read the capture ring.
    xruns : int
        Callbacks whose status carried an input/output under/overflow.
    xrun_flags : str
        The accumulated status flags, as the backend prints them ("" when none).
    callback_errors : int
        Callbacks that raised (see :class:`CallbackError`).
    cost_us_mean, cost_us_max : float or None
        Time spent inside the callback per frame, in microseconds (None before a frame).
    interval_us_max : float or None
        Longest time between two callbacks' starts, in microseconds.
    thread_priority : str
        The audio thread's scheduling: ``"normal"``, ``"SCHED_FIFO <p>"`` or why the
        requested real-time priority was refused.
    """

    frames: int
    underruns: int
    overruns: int
    xruns: int
    xrun_flags: str
    callback_errors: int
    cost_us_mean: float | None
    cost_us_max: float | None
    interval_us_max: float | None
    thread_priority: str = "normal"


# --- the engine --------------------------------------------------------------------------------


class AudioEngine:
    """Runs one audio stream on a backend with the VoiceProcessor in its callback.

    Parameters
    ----------
    backend : StreamBackend
        Where the stream runs (``SounddeviceBackend``, ``SimulatedBackend``, ...).
    sample_rate : int
        16000, 32000 or 48000 Hz; a frame (the stream's blocksize) is 10 ms.
    processor : VoiceProcessor or None
        The capture chain; None bypasses processing (MEASUREMENT mode): the application gets
        the microphone unchanged. Its sample rate must match.
    mode : EngineMode or str
        ``"duplex"`` (default), ``"playback"`` or ``"record"``.
    channels : int
        Microphone channels (the processor's channel count); playback is mono, copied to
        every output channel.
    capture : callable, optional
        ``capture(frame)`` called on the audio thread with each processed ``(n, channels)``
        float32 frame (a buffer reused for the next frame: copy what you keep, and return
        quickly). Without it, frames go into a ring read with :meth:`read_capture`.
    far_buffer_ms, capture_buffer_ms : int
        Capacity of the far-end and capture rings, in ms (multiples of 10; default 500).
    realtime_priority : int, optional
        On its first frame the audio thread asks for ``SCHED_FIFO`` at this priority
        (1..99, Linux), as JACK clients of a real-time server do: a loaded machine then
        delays the callback far less. Refusal (no privilege, other OS) is recorded in
        ``stats.thread_priority`` and changes nothing else.
    monitor : bool
        Also keep what was played and the unprocessed microphone, frame by frame, in two
        more rings of ``capture_buffer_ms`` (read with :meth:`read_monitor`): for
        measurements such as the echo path's delay and the ERLE achieved.

    Examples
    --------
    >>> import numpy as np
    >>> from callaudio.backends.simulated import SimulatedBackend
    >>> backend = SimulatedBackend(sample_rate=16000, delay_ms=20.0)
    >>> with AudioEngine(backend, 16000) as engine:
    ...     engine.write_far(np.zeros(1600, dtype=np.float32))
    ...     backend.run_frames(10)
    ...     mic = engine.read_capture()
    1600
    >>> mic.shape, engine.stats.frames, engine.stats.underruns
    ((1600,), 10, 0)
    """

    def __init__(
        self,
        backend: StreamBackend,
        sample_rate: int = 48000,
        processor: VoiceProcessor | None = None,
        mode: EngineMode | str = EngineMode.DUPLEX,
        *,
        channels: int = 1,
        capture: Callable[[Float32Array], None] | None = None,
        far_buffer_ms: int = 500,
        capture_buffer_ms: int = 500,
        realtime_priority: int | None = None,
        monitor: bool = False,
    ) -> None:
        self._rate = check_sample_rate(sample_rate)
        self._n = frame_size(self._rate)
        try:
            self._mode = EngineMode(mode)
        except ValueError:
            raise ConfigError(
                "mode", f"must be one of {[m.value for m in EngineMode]}, got {mode!r}"
            ) from None
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ConfigError("channels", f"must be a positive int, got {channels!r}")
        if processor is not None:
            if processor.sample_rate != self._rate:
                raise ConfigError(
                    "processor",
                    f"runs at {processor.sample_rate} Hz but the engine at {self._rate} Hz",
                )
            if processor.channels != channels:
                raise ConfigError(
                    "processor",
                    f"has {processor.channels} channel(s) but the engine {channels}",
                )
        for name, ms in (
            ("far_buffer_ms", far_buffer_ms),
            ("capture_buffer_ms", capture_buffer_ms),
        ):
            if isinstance(ms, bool) or not isinstance(ms, int) or ms < 10:
                raise ConfigError(name, f"must be an int >= 10 ms, got {ms!r}")
        if capture is not None and not callable(capture):
            raise ConfigError("capture", f"must be callable, got {capture!r}")
        if realtime_priority is not None and (
            isinstance(realtime_priority, bool)
            or not isinstance(realtime_priority, int)
            or not 1 <= realtime_priority <= 99
        ):
            raise ConfigError(
                "realtime_priority", f"must be None or an int in 1..99, got {realtime_priority!r}"
            )
        self._rt_priority = realtime_priority
        self._backend = backend
        self._vp = processor
        self._channels = channels
        self._capture_cb = capture
        n = self._n
        self._far_ring = FrameRing(far_buffer_ms // 10, n, 1)
        self._cap_ring = FrameRing(capture_buffer_ms // 10, n, channels)
        self._mon_played = FrameRing(capture_buffer_ms // 10, n, 1) if monitor else None
        self._mon_mic = FrameRing(capture_buffer_ms // 10, n, channels) if monitor else None
        self._silence = np.zeros((n, channels), dtype=np.float32)
        self._silence1 = np.zeros((n, 1), dtype=np.float32)
        # Buffers the callback uses: allocated once, here.
        self._play = np.zeros((n, 1), dtype=np.float32)
        self._cap = np.zeros((n, channels), dtype=np.float32)
        self._source: MixSource | None = None
        self._stream: Stream | None = None
        self._lock = threading.Lock()  # serialises start/stop; never taken by the callback
        #: Mute: the application receives silence (the processor still runs, so the echo
        #: canceller stays converged). A plain attribute, read by the callback.
        self.muted = False
        self._speaker = False
        self._reset_pending = False
        self._reset_counters()

    # -- properties -------------------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        """Sample rate in Hz."""
        return self._rate

    @property
    def frame_size(self) -> int:
        """Samples per channel in one frame (the stream's blocksize)."""
        return self._n

    @property
    def mode(self) -> EngineMode:
        """The directions the stream carries."""
        return self._mode

    @property
    def processor(self) -> VoiceProcessor | None:
        """The VoiceProcessor, or None when processing is bypassed."""
        return self._vp

    @property
    def backend(self) -> StreamBackend:
        """The backend the stream runs on."""
        return self._backend

    @property
    def callback(self) -> StreamCallback:
        """The real-time callback a backend's stream calls once per frame.

        ``callback(indata, outdata, frames, time, status)``: python-sounddevice's contract,
        with ``None`` for the side an input-only or output-only stream does not have.
        """
        return self._callback

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._stream is not None

    @property
    def speaker(self) -> bool:
        """Loudspeaker (True) or earpiece (False) route, passed to the backend."""
        return self._speaker

    @speaker.setter
    def speaker(self, on: bool) -> None:
        self._speaker = bool(on)
        set_speaker = getattr(self._backend, "set_speaker", None)
        if set_speaker is not None:
            set_speaker(self._speaker)

    @property
    def stats(self) -> EngineStats:
        """Counters since :meth:`start` (readable while running)."""
        frames = self._frames
        flags = self._flags
        return EngineStats(
            frames=frames,
            underruns=self._underruns,
            overruns=self._overruns,
            xruns=self._xruns,
            xrun_flags="" if flags is None or not flags else str(flags),
            callback_errors=self._error_count,
            cost_us_mean=self._cost_ns / frames / 1000.0 if frames else None,
            cost_us_max=self._cost_ns_max / 1000.0 if frames else None,
            interval_us_max=self._interval_ns_max / 1000.0 if frames > 1 else None,
            thread_priority=self._thread_priority,
        )

    # -- application side ---------------------------------------------------------------------

    def write_far(self, samples: npt.ArrayLike) -> int:
        """Queue far-end audio to play (any length; mono, float or int16).

        Never blocks. Returns the samples accepted: fewer than given when the ring is full
        (the caller is ahead of real time by more than ``far_buffer_ms``); write the rest
        later.
        """
        x = np.asarray(samples)
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1:
            raise FrameError(f"far-end audio must be mono, shape (m,) or (m, 1), got {x.shape}")
        return self._far_ring.write(x)

    def flush_far(self) -> None:
        """Queue the last partial far-end frame, padded with silence."""
        self._far_ring.flush()

    def far_queued_ms(self) -> float:
        """Far-end audio waiting to be played, in ms."""
        return 10.0 * len(self._far_ring)

    def read_capture(self, max_frames: int | None = None) -> Float32Array:
        """Processed microphone audio captured so far (when no ``capture`` callback is set).

        Returns shape ``(k * frame_size,)`` for mono, ``(k * frame_size, channels)`` else.
        """
        return self._cap_ring.read(max_frames)

    def read_monitor(self, max_frames: int | None = None) -> tuple[Float32Array, Float32Array]:
        """(played, unprocessed microphone) since the last read, frame-aligned.

        Only with ``monitor=True``; a side the stream does not have reads as silence.
        """
        if self._mon_played is None or self._mon_mic is None:
            raise ConfigError("monitor", "the engine was built without monitor=True")
        k = min(len(self._mon_played), len(self._mon_mic))
        if max_frames is not None:
            k = min(k, max_frames)
        return self._mon_played.read(k), self._mon_mic.read(k)

    def play(self, source: MixSource | None) -> None:
        """Mix ``source`` into the playback from the next frame on (None stops it).

        Replaces the previous source. The AudioController's progress tones and sound
        files come through here; they are part of the echo canceller's reference.
        """
        self._source = source

    @property
    def source(self) -> MixSource | None:
        """The sound being mixed in, if any (None once it has finished)."""
        src = self._source
        return None if src is None or src.done else src

    # -- lifecycle -----------------------------------------------------------------------------

    def _reset_counters(self) -> None:
        self._frames = 0
        self._underruns = 0
        self._overruns = 0
        self._xruns = 0
        self._flags: Any = None
        self._error_count = 0
        self._errors: list[BaseException] = []
        self._tracebacks: list[str] = []
        self._cost_ns = 0
        self._cost_ns_max = 0
        self._interval_ns_max = 0
        self._last_start_ns = 0
        self._thread_priority = "normal"

    def start(self) -> None:
        """Open and start the stream; the counters restart from zero.

        Raises whatever the backend raises (``DeviceError`` ...); the engine is then not
        running.
        """
        with self._lock:
            if self._stream is not None:
                return
            self._reset_counters()
            new_flags = getattr(self._backend, "callback_flags", None)
            self._flags = new_flags() if new_flags is not None else None
            stream = self._backend.open_stream(
                sample_rate=self._rate,
                blocksize=self._n,
                channels=self._channels,
                mode=self._mode.value,
                callback=self._callback,
            )
            try:
                stream.start()
            except BaseException:
                stream.close()
                raise
            self._stream = stream

    def stop(self, *, raise_errors: bool = True) -> EngineStats:
        """Stop and close the stream; return the stats.

        Raises
        ------
        CallbackError
            When callbacks raised while running (after the stream is closed), unless
            ``raise_errors`` is False.
        """
        with self._lock:
            stream, self._stream = self._stream, None
            if stream is not None:
                try:
                    stream.stop()
                finally:
                    stream.close()
        stats = self.stats
        if raise_errors and self._error_count:
            err = CallbackError(self._error_count, list(self._errors), list(self._tracebacks))
            raise err from (self._errors[0] if self._errors else None)
        return stats

    def reset_processor(self) -> None:
        """Reset the echo canceller (after a route change or an interruption).

        Calls ``VoiceProcessor.reset_echo_path()``: the echo canceller restarts from its
        delay prior; the noise suppressor and the gain control keep their state.

        While running, the reset is done by the callback itself at the start of its next
        frame (a flag, no lock), so it never races the processing; when stopped, at once.
        """
        if self._vp is None:
            return
        if self._stream is None:
            self._reset_vp()
        else:
            self._reset_pending = True

    def _reset_vp(self) -> None:
        # Only the echo path (the noise suppressor and the gain control keep their state).
        vp = self._vp
        if vp is not None:
            vp.reset_echo_path()

    def __enter__(self) -> AudioEngine:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Do not mask the body's exception with the callback's.
        self.stop(raise_errors=exc_type is None)

    def __repr__(self) -> str:
        return (
            f"AudioEngine(backend={type(self._backend).__name__}, sample_rate={self._rate}, "
            f"mode={self._mode.value!r}, processor={'bypass' if self._vp is None else 'on'}, "
            f"running={self.running})"
        )

    # -- the real-time callback ------------------------------------------------------------------

    def _callback(
        self, indata: Any, outdata: Any, frames: int, time_info: Any, status: Any
    ) -> None:
        """One frame; sounddevice's callback contract. No lock, no allocation, no wait."""
        t0 = time.perf_counter_ns()
        if self._frames:
            gap = t0 - self._last_start_ns
            if gap > self._interval_ns_max:
                self._interval_ns_max = gap
        elif self._rt_priority is not None:
            self._raise_priority(self._rt_priority)
        self._last_start_ns = t0
        try:
            if status:
                self._note_status(status)
            if frames != self._n:
                raise FrameError(
                    f"backend delivered {frames} frames per callback, the engine needs {self._n}"
                )
            vp = self._vp
            if self._reset_pending and vp is not None:
                self._reset_pending = False
                self._reset_vp()
            if outdata is not None:
                play = self._play
                if not self._far_ring.pop_into(play):
                    play.fill(0.0)
                    self._underruns += 1
                src = self._source
                if src is not None and not src.done:
                    src.mix_into(play)
                if vp is not None and indata is not None:
                    vp.process_render(play)
                np.copyto(outdata, play)
            if indata is not None:
                cap = self._cap
                if vp is not None:
                    vp.process_capture(indata, out=cap)
                else:
                    np.copyto(cap, indata)
                if self.muted:
                    cap.fill(0.0)
                deliver = self._capture_cb
                if deliver is not None:
                    deliver(cap)
                elif not self._cap_ring.push(cap):
                    self._overruns += 1
            mon = self._mon_played
            if mon is not None and self._mon_mic is not None:
                mon.push(self._play if outdata is not None else self._silence1)
                self._mon_mic.push(indata if indata is not None else self._silence)
        except Exception as exc:  # recorded and raised by stop(): never swallowed
            if outdata is not None:
                outdata.fill(0)
            self._error_count += 1
            if len(self._errors) < _MAX_KEPT_ERRORS:
                self._errors.append(exc)
                self._tracebacks.append(traceback.format_exc())
        self._frames += 1
        cost = time.perf_counter_ns() - t0
        self._cost_ns += cost
        if cost > self._cost_ns_max:
            self._cost_ns_max = cost

    def _raise_priority(self, priority: int) -> None:
        """Ask for SCHED_FIFO on the calling (audio) thread; once, on the first frame."""
        setter = getattr(os, "sched_setscheduler", None)
        if setter is None:
            self._thread_priority = "normal (no sched_setscheduler on this OS)"
            return
        try:
            setter(0, os.SCHED_FIFO, os.sched_param(priority))
        except OSError as exc:
            self._thread_priority = f"normal (SCHED_FIFO {priority} refused: {exc.strerror})"
        else:
            self._thread_priority = f"SCHED_FIFO {priority}"

    def _note_status(self, status: Any) -> None:
        flags = self._flags
        if flags is not None:
            flags |= status
        for name in _XRUN_NAMES:
            if getattr(status, name, False):
                self._xruns += 1
                break


# --- the session layer's backend over the engine -----------------------------------------------


class EngineBackend:
    """The :class:`~callaudio.backends.base.AudioBackend` the client drives, over real streams.

    It runs at most one :class:`AudioEngine` at a time on ``device`` (a
    ``SounddeviceBackend``, a ``SimulatedBackend`` ...): the call's duplex stream, an
    input-only stream (category RECORD) or, when only a sound plays, an output-only stream.
    A sound (progress tone, sound file) is mixed into the duplex output while the call's
    stream runs, so it is part of the echo canceller's reference; when the duplex stream
    stops under a sound still playing, the sound continues on an output-only stream from
    where it was.

    A helper thread (``poll_interval`` seconds, default 20 ms) calls ``on_finished`` when a
    one-shot sound runs out and reports a stream that died (device lost) to the fault
    handler; it never holds this object's lock while calling out, and ``stop_*`` never wait
    for it. With ``poll_interval=None`` nothing polls by itself: call :meth:`poll` (the
    as-fast-as-possible simulated room does, after each batch of frames).

    Parameters
    ----------
    device : StreamBackend
        Where streams run.
    processing : ProcessingConfig, optional
        The chain used when a stream asks for voice processing (default: every stage this
        build provides).
    capture : callable, optional
        Receives each processed microphone frame on the audio thread (see
        :class:`AudioEngine`); without it, read the frames with :meth:`read_capture`.
    far_buffer_ms, capture_buffer_ms : int
        Ring capacities, as for :class:`AudioEngine`.
    poll_interval : float or None
        Seconds between the helper thread's checks; None: no thread.
    realtime_priority : int, optional
        Passed to every :class:`AudioEngine`.
    monitor : bool
        Keep what is played and the raw microphone (:meth:`read_monitor`).
    """

    def __init__(
        self,
        device: StreamBackend,
        *,
        processing: Any = None,
        capture: Callable[[Float32Array], None] | None = None,
        far_buffer_ms: int = 500,
        capture_buffer_ms: int = 500,
        poll_interval: float | None = 0.02,
        realtime_priority: int | None = None,
        monitor: bool = False,
    ) -> None:
        self._device = device
        self._rt_priority = realtime_priority
        self._monitor = monitor
        self._processing = processing
        self._capture = capture
        self._far_ms = far_buffer_ms
        self._cap_ms = capture_buffer_ms
        self._poll_interval = poll_interval
        self._lock = threading.RLock()
        self._engine: AudioEngine | None = None
        self._kind: str | None = None  # "duplex", "record" or "playback"
        self._config: Any = None
        self._sound: PreparedSound | None = None
        self._last_vp: VoiceProcessor | None = None
        self._resume_vp = False
        self._sound_rate = 48000
        self._source: Any = None
        self._on_finished: Callable[[], None] | None = None
        self._muted = False
        self._speaker = False
        self._fault_handler: Callable[[Any], None] | None = None
        self._fault_reported: object = None
        self._watcher: threading.Thread | None = None
        self._watch_stop = threading.Event()
        self._watch_engine: AudioEngine | None = None
        self._watch_frames = -1
        self._watch_since = 0.0
        self._stall_timeout = 0.5
        self.last_stats: EngineStats | None = None
        """Stats of the last engine stopped (a call's stream at hang-up)."""
        self.history: list[tuple[str, EngineStats]] = []
        """Every stopped engine's kind and stats, in order."""
        add_hook = getattr(device, "add_frame_hook", None)
        if add_hook is not None and poll_interval is None:
            add_hook(self.poll)  # a caller-driven device: check after every frame

    # -- inspection ----------------------------------------------------------------------------

    @property
    def device(self) -> StreamBackend:
        """Where the streams run."""
        return self._device

    @property
    def engine(self) -> AudioEngine | None:
        """The running engine, if any (write far-end audio and read capture through it)."""
        return self._engine

    @property
    def stream_kind(self) -> str | None:
        """``"duplex"``, ``"record"``, ``"playback"`` or None."""
        return self._kind

    @property
    def is_running(self) -> bool:
        """Whether any stream runs."""
        return self._engine is not None

    @property
    def playing(self) -> bool:
        """Whether a sound is being mixed in."""
        sound = self._sound
        return sound is not None and not sound.done

    def write_far(self, samples: npt.ArrayLike) -> int:
        """Queue far-end audio on the duplex stream; 0 when no duplex stream runs."""
        engine = self._engine
        if engine is None or self._kind != "duplex":
            return 0
        return engine.write_far(samples)

    def read_capture(self, max_frames: int | None = None) -> Float32Array:
        """Processed microphone audio from the running stream (empty when none)."""
        engine = self._engine
        if engine is None or not engine.mode.has_input:
            return np.zeros(0, dtype=np.float32)
        return engine.read_capture(max_frames)

    def read_monitor(self) -> tuple[Float32Array, Float32Array]:
        """(played, raw microphone) of the running stream (``monitor=True``); empty if none."""
        engine = self._engine
        if engine is None:
            empty = np.zeros(0, dtype=np.float32)
            return empty, empty
        return engine.read_monitor()

    # -- AudioBackend ------------------------------------------------------------------------

    def _rate_and_block(self, config: Any, operation: str) -> int:
        rate = int(config.sample_rate)
        try:
            check_sample_rate(rate)
        except ConfigError as exc:
            raise BackendError(operation, str(exc)) from None
        if int(config.block_size) != frame_size(rate):
            raise BackendError(
                operation,
                f"the engine runs 10 ms blocks ({frame_size(rate)} frames at {rate} Hz), "
                f"got io_buffer_duration={config.io_buffer_duration}",
            )
        return rate

    def _processor(self, config: Any, rate: int) -> VoiceProcessor | None:
        # The stopped call's chain is reused when the echo canceller was reset since it
        # stopped: the client's "resume" (rows 6, 8 and 9 of the session spec). The echo
        # path restarts; the noise estimate and the speech level carry over. A new call
        # (no reset in between) gets a fresh chain.
        last, self._last_vp = self._last_vp, None
        resume, self._resume_vp = self._resume_vp, False
        if not config.voice_processing:
            return None
        if (
            resume
            and last is not None
            and last.sample_rate == rate
            and last.channels == int(config.channels)
        ):
            return last
        from .processing import VoiceProcessor

        return VoiceProcessor(rate, channels=int(config.channels), config=self._processing)

    def _start_engine(self, kind: str, rate: int, vp: VoiceProcessor | None, channels: int) -> None:
        device = self._device
        route = getattr(device, "route", None)
        config = self._config
        if route is not None and config is not None and kind != "playback":
            device = route(str(config.input_port), str(config.output_port))
        engine = AudioEngine(
            device,
            rate,
            vp,
            kind,
            channels=channels,
            capture=self._capture,
            far_buffer_ms=self._far_ms,
            capture_buffer_ms=self._cap_ms,
            realtime_priority=self._rt_priority,
            monitor=self._monitor,
        )
        engine.muted = self._muted
        engine.speaker = self._speaker
        if self._sound is not None and not self._sound.done and engine.mode.has_output:
            if self._sound_rate != rate:
                self._sound = PreparedSound.from_source(self._source, rate)
                self._sound_rate = rate
            engine.play(self._sound)
        engine.start()
        self._engine = engine
        self._kind = kind
        self._ensure_watcher()

    def _stop_engine(self) -> None:
        engine, self._engine = self._engine, None
        kind, self._kind = self._kind, None
        if engine is None:
            return
        if kind != "playback":
            self._last_vp, self._resume_vp = engine.processor, False
        try:
            stats = engine.stop()
        except CallbackError:
            self.last_stats = engine.stats
            self.history.append((str(kind), engine.stats))
            raise
        self.last_stats = stats
        self.history.append((str(kind), stats))

    def start_duplex(self, config: Any, *, resume: bool = False) -> None:
        """Open and start the call's duplex stream (with the chain when asked)."""
        with self._lock:
            self._resume_vp = self._resume_vp or bool(resume)
            if self._kind in ("duplex", "record"):
                raise BackendError("start_duplex", f"a {self._kind} stream is already running")
            rate = self._rate_and_block(config, "start_duplex")
            vp = self._processor(config, rate)
            self._config = config
            if self._kind == "playback":
                self._stop_engine()  # the sound moves into the duplex stream
            try:
                self._start_engine("duplex", rate, vp, int(config.channels))
            except BaseException:
                try:
                    self._resume_sound_alone()  # the call has no audio; the sound goes on
                except CallAudioError:
                    pass  # the device refuses both; the first error is the one to report
                raise

    def stop_duplex(self) -> None:
        """Stop and close the duplex stream; a sound still playing goes on by itself.

        Raises CallbackError (a BackendError) after stopping when callbacks raised.
        """
        with self._lock:
            if self._kind != "duplex":
                return
            try:
                self._stop_engine()
            finally:
                self._resume_sound_alone()

    def _resume_sound_alone(self) -> None:
        sound = self._sound
        if sound is not None and not sound.done and self._engine is None:
            self._start_engine("playback", self._sound_rate, None, 1)

    def start_playback(self, source: Any, on_finished: Callable[[], None] | None = None) -> None:
        """Play ``source``: mixed into the running duplex stream, else on its own stream."""
        with self._lock:
            if self._kind == "record":
                raise BackendError(
                    "start_playback", "an input-only stream runs (category RECORD): no output"
                )
            rate = self._playback_rate(source)
            sound = PreparedSound.from_source(source, rate)
            if self._sound is not None:
                self._sound.stop()
            self._sound, self._source, self._sound_rate = sound, source, rate
            self._on_finished = on_finished
            if self._engine is not None:
                self._engine.play(sound)
            else:
                self._start_engine("playback", rate, None, 1)

    def _playback_rate(self, source: Any) -> int:
        # The running stream's rate; else the device's fixed rate; else the last call's;
        # else the source's own when the engine supports it; else 48 kHz.
        if self._engine is not None:
            return self._engine.sample_rate
        for rate in (
            getattr(self._device, "sample_rate", None),
            None if self._config is None else self._config.sample_rate,
            getattr(source, "sample_rate", None),
        ):
            if isinstance(rate, int) and rate in SAMPLE_RATES:
                return rate
        return 48000

    def stop_playback(self) -> None:
        """Stop the sound (``on_finished`` is not called)."""
        with self._lock:
            sound, self._sound = self._sound, None
            self._on_finished = None
            if sound is None:
                return
            sound.stop()
            if self._engine is not None:
                self._engine.play(None)
            if self._kind == "playback":
                self._stop_engine()

    def start_record(self, config: Any) -> None:
        """Open and start an input-only stream (category RECORD)."""
        with self._lock:
            if self._kind in ("duplex", "record"):
                raise BackendError("start_record", f"a {self._kind} stream is already running")
            if self._kind == "playback":
                raise BackendError("start_record", "a sound is playing on an output stream")
            rate = self._rate_and_block(config, "start_record")
            self._config = config
            self._start_engine("record", rate, self._processor(config, rate), int(config.channels))

    def stop_record(self) -> None:
        """Stop and close the input-only stream."""
        with self._lock:
            if self._kind == "record":
                self._stop_engine()

    def reset_echo_canceller(self) -> None:
        """Forget the echo path.

        While a stream runs its chain resets at the next frame. While stopped, the stopped
        call's chain resets now and is kept for the next ``start_duplex`` (a resumed call
        keeps its noise estimate and gain; see ``_processor``).
        """
        engine = self._engine
        if engine is not None:
            engine.reset_processor()
            return
        if self._last_vp is not None:
            self._last_vp.reset_echo_path()
            self._resume_vp = True

    def set_muted(self, muted: bool) -> None:
        """Send silence instead of the microphone (a flag the callback reads)."""
        self._muted = bool(muted)
        engine = self._engine
        if engine is not None:
            engine.muted = self._muted

    def set_speaker(self, enabled: bool) -> None:
        """Loudspeaker route on or off (passed to the device)."""
        self._speaker = bool(enabled)
        engine = self._engine
        if engine is not None:
            engine.speaker = self._speaker
        else:
            set_speaker = getattr(self._device, "set_speaker", None)
            if set_speaker is not None:
                set_speaker(self._speaker)

    def set_fault_handler(self, handler: Callable[[Any], None] | None) -> None:
        """Register the callable that receives :class:`~callaudio.backends.base.BackendFault`."""
        self._fault_handler = handler

    # -- the helper thread ---------------------------------------------------------------------

    def poll(self) -> None:
        """Check for a finished sound and a dead stream; call out (no lock held)."""
        finished: Callable[[], None] | None = None
        fault: Any = None
        with self._lock:
            sound = self._sound
            if sound is not None and sound.done and not sound._stopped:
                finished, self._on_finished = self._on_finished, None
                self._sound = None
                if self._kind == "playback":
                    self._stop_engine()
            engine = self._engine
            stream = engine._stream if engine is not None else None
            text = None
            if engine is not None and stream is not None:
                text = self._check_stream(engine, stream)
            if text and self._fault_reported is not stream:
                self._fault_reported = stream
                from .backends.base import BackendFault, FaultKind

                kind = FaultKind(getattr(stream, "fault_kind", FaultKind.DEVICE_LOST.value))
                fault = BackendFault(kind, str(text), getattr(stream, "device_name", None))
        if finished is not None:
            finished()
        handler = self._fault_handler
        if fault is not None and handler is not None:
            handler(fault)

    def _check_stream(self, engine: AudioEngine, stream: Any) -> str | None:
        """The stream's fault, from the stream itself or from the callbacks stalling."""
        check = getattr(stream, "check_alive", None)
        text = check() if check is not None else getattr(stream, "fault", None)
        if text or self._poll_interval is None:
            return text if text else None
        # A running stream whose callbacks stopped coming: the device or server is gone.
        frames = engine._frames
        now = time.monotonic()
        if engine is not self._watch_engine or frames != self._watch_frames:
            self._watch_engine, self._watch_frames, self._watch_since = engine, frames, now
            return None
        if now - self._watch_since < self._stall_timeout:
            return None
        text = f"no audio callback for {now - self._watch_since:.1f} s (device or server gone)"
        if hasattr(stream, "fault"):
            stream.fault = text
        return text

    def _ensure_watcher(self) -> None:
        if self._poll_interval is None:
            return
        thread = self._watcher
        if thread is not None and thread.is_alive():
            return
        self._watch_stop.clear()
        self._watcher = threading.Thread(
            target=self._watch, name="callaudio-engine-watcher", daemon=True
        )
        self._watcher.start()

    def _watch(self) -> None:
        interval = float(self._poll_interval or 0.02)
        while not self._watch_stop.wait(interval):
            if self._engine is None and self._sound is None:
                self._watcher = None
                return
            try:
                self.poll()
            except Exception:  # a handler's error must not kill the watcher
                traceback.print_exc()

    def close(self) -> None:
        """Stop every stream and the helper thread."""
        self._watch_stop.set()
        with self._lock:
            self._sound = None
            self._on_finished = None
            self._stop_engine()

    def __repr__(self) -> str:
        return f"EngineBackend(device={self._device!r}, stream={self._kind})"


def make_backend(name: str, **options: Any) -> EngineBackend:
    """An :class:`EngineBackend` on a device backend chosen by name.

    Parameters
    ----------
    name : str
        ``"simulated"`` (a :class:`~callaudio.backends.simulated.SimulatedBackend`, paced in
        real time unless ``realtime=False`` is given) or ``"sounddevice"`` (a
        :class:`~callaudio.backends.sounddevice_backend.SounddeviceBackend`).
    **options
        ``processing``, ``capture``, ``far_buffer_ms``, ``capture_buffer_ms``,
        ``poll_interval``, ``realtime_priority`` and ``monitor`` go to
        :class:`EngineBackend`; the rest to the device backend.
    """
    engine_keys = (
        "processing",
        "capture",
        "far_buffer_ms",
        "capture_buffer_ms",
        "poll_interval",
        "realtime_priority",
        "monitor",
    )
    engine_opts = {k: options.pop(k) for k in engine_keys if k in options}
    device: StreamBackend
    if name == "simulated":
        from .backends.simulated import SimulatedBackend

        options.setdefault("realtime", True)
        device = SimulatedBackend(**options)
        if not options["realtime"]:
            engine_opts.setdefault("poll_interval", None)
    elif name == "sounddevice":
        from .backends.sounddevice_backend import SounddeviceBackend

        device = SounddeviceBackend(**options)
    else:
        raise ConfigError("backend", f"unknown backend {name!r} (simulated, sounddevice)")
    return EngineBackend(device, **engine_opts)
