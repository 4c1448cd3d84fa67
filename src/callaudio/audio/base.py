"""The audio service's interface: what the session layer asks of the audio side.

An :class:`AudioBackend` opens, runs and closes streams and reports faults; it knows nothing
about sessions or calls. The :class:`~callaudio.client.VoiceClient` is the only caller.
:class:`~callaudio.audio.service.EngineBackend` implements it over real streams (PortAudio
through python-sounddevice, the simulated room);
:class:`~callaudio.audio.recording.MemoryBackend` records every request so tests can assert
what was asked of the audio side.

Contract for implementations:

- ``start_*`` on a stream that is already running raises
  :class:`~callaudio.errors.BackendError`; ``stop_*`` on a stopped stream does nothing.
- No stream is open that was not asked for: after the ``stop_*`` matching every ``start_*``
  (and after ``close()`` where there is one), nothing plays or records.
- ``start_duplex(config, resume=False)`` starts a fresh processing chain (a new call);
  ``resume=True`` reuses the chain of the last stopped duplex stream when it has the same
  rate and channels, with its echo path reset (the canceller re-converges; the noise
  estimate and the gain carry over), and falls back to a fresh chain when there is none.
- ``reset_echo_canceller()`` resets the running chain in place (at its next frame); while
  no duplex stream runs it resets the kept chain, if any. It does not decide what the next
  ``start_duplex`` uses: ``resume`` does.
- ``set_muted`` and ``set_speaker`` only store plain flags that the real-time callback
  reads; they never block.
- The fault handler and a playback's ``on_finished`` are called from a backend helper
  thread (never from the real-time callback) without holding any backend lock, and the
  ``stop_*`` methods never wait for them: the client's handlers take the session lock.
- A backend that counts lost audio may also offer ``set_dropout_handler(handler)``: the
  handler receives a :class:`Dropout` (the same thread and lock rules as faults), at most
  once per its reporting interval; the stream goes on.
- A backend whose streams call application code on their audio thread (a capture
  callback) should offer ``on_audio_thread() -> bool``: whether the calling thread is such
  a thread. The session then never runs or waits for audio actions there (stopping a
  stream waits for its callback to return); another thread runs them, in order.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ..config import check_flag
from ..devices.base import FaultKind
from ..errors import ConfigError

__all__ = [
    "ArraySource",
    "AudioBackend",
    "BackendFault",
    "Dropout",
    "DropoutHandler",
    "FaultHandler",
    "FaultKind",
    "PlaybackSource",
    "StreamConfig",
    "in_session_request",
    "session_request",
]

_requests = threading.local()


@contextmanager
def session_request() -> Iterator[None]:
    """Mark the backend requests made inside (on this thread) as the session rules' own:
    the stream they start belongs to a call, and only such a request stops it."""
    _requests.depth = getattr(_requests, "depth", 0) + 1
    try:
        yield
    finally:
        _requests.depth -= 1


def in_session_request() -> bool:
    """Whether this thread is inside :func:`session_request` (the session rules' request)."""
    return bool(getattr(_requests, "depth", 0))


@dataclass(frozen=True)
class StreamConfig:
    """How to open a stream.

    Attributes
    ----------
    sample_rate : int
        Hz.
    io_buffer_duration : float
        Seconds per callback block.
    voice_processing : bool
        Run the voice-processing chain (AEC, NS, AGC) in the callback: the session mode
        is VOICE_CHAT, VIDEO_CHAT or GAME_CHAT.
    input_port, output_port : str
        The route's ports (``Port`` names or device names).
    channels : int
        1 (mono) for calls.
    """

    sample_rate: int
    io_buffer_duration: float
    voice_processing: bool
    input_port: str
    output_port: str
    channels: int = 1

    @property
    def block_size(self) -> int:
        """Frames per callback block: ``round(sample_rate * io_buffer_duration)``."""
        return max(1, round(self.sample_rate * self.io_buffer_duration))


@dataclass(frozen=True)
class BackendFault:
    """A fault report: its kind, the device concerned (if any) and the host's error text."""

    kind: FaultKind
    detail: str = ""
    device: str | None = None


FaultHandler = Callable[[BackendFault], None]


@dataclass(frozen=True)
class Dropout:
    """Audio lost or late on a running stream since the previous report (the stream goes on).

    Attributes
    ----------
    xruns : int
        Callbacks the device flagged (input overflow, output underflow ...).
    underruns : int
        Frames the far end was late for (silence played instead).
    overruns : int
        Processed microphone frames dropped because the application did not read them.
    device : str or None
        The stream's device.
    """

    xruns: int
    underruns: int
    overruns: int
    device: str | None = None


DropoutHandler = Callable[[Dropout], None]


@runtime_checkable
class PlaybackSource(Protocol):
    """Audio for the backend to play: float32 frames, pulled block by block."""

    @property
    def sample_rate(self) -> int:
        """Hz."""

    @property
    def channels(self) -> int:
        """1 or 2."""

    @property
    def loop(self) -> bool:
        """Whether the source starts again at its end (then it never finishes)."""

    def read(self, frames: int) -> npt.NDArray[np.float32]:
        """Return up to ``frames`` frames as a float32 array of shape (n, channels).

        ``n < frames`` only at the end of a non-looping source; ``n == 0`` means finished.
        """

    def rewind(self) -> None:
        """Go back to the start."""


MAX_READ_FRAMES = (1 << 31) - 1  # frames one read may ask for


def plain_int(value: object) -> int | None:
    """``value`` as a plain int when it is an integer (Python's or numpy's, not a bool);
    None otherwise, or when its conversion raises (a subclass may lie or raise)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        return None
    try:
        return int.__index__(operator.index(value))
    except Exception:
        return None


class ArraySource:
    """A :class:`PlaybackSource` over samples held in memory.

    Parameters
    ----------
    samples : array_like
        float32-convertible samples, shape (frames,) or (frames, channels), in [-1, 1].
    sample_rate : int
        Hz.
    loop : bool
        Start again at the end.
    """

    def __init__(self, samples: npt.ArrayLike, sample_rate: int, loop: bool = False) -> None:
        loop = check_flag("loop", loop)  # (loop="no" looped)
        try:
            data = np.asarray(samples, dtype=np.float32)
        except Exception as exc:  # complex, str, objects, ints beyond float range
            raise ConfigError(
                "samples", f"must be real numbers convertible to float32 ({exc})"
            ) from None
        if data.ndim == 1:
            data = data[:, np.newaxis]
        if data.ndim != 2 or data.shape[1] not in (1, 2):
            raise ConfigError(
                "samples", f"must have shape (frames,) or (frames, 1|2), got {data.shape}"
            )
        if loop and data.shape[0] == 0:
            raise ConfigError("samples", "a looping source needs at least one frame")
        rate = plain_int(sample_rate)
        if rate is None or rate <= 0:
            raise ConfigError("sample_rate", f"must be a positive int, got {sample_rate!r}")
        self._data = np.ascontiguousarray(data)
        self._rate = rate
        self._loop = loop
        self._pos = 0
        self._lock = threading.Lock()

    @property
    def sample_rate(self) -> int:
        """Hz."""
        return self._rate

    @property
    def channels(self) -> int:
        """1 or 2."""
        return int(self._data.shape[1])

    @property
    def loop(self) -> bool:
        """Whether reading wraps around at the end."""
        return self._loop

    @property
    def samples(self) -> npt.NDArray[np.float32]:
        """All the samples, shape (frames, channels) (read-only view)."""
        view: npt.NDArray[np.float32] = self._data.view()
        view.flags.writeable = False
        return view

    @property
    def position(self) -> int:
        """The next frame to be read."""
        return self._pos

    def read(self, frames: int) -> npt.NDArray[np.float32]:
        """Up to ``frames`` frames, float32 (n, channels); fewer only at the end."""
        n = plain_int(frames)
        if n is None or not 0 <= n <= MAX_READ_FRAMES:
            raise ConfigError("frames", f"must be an int in 0..{MAX_READ_FRAMES}, got {frames!r}")
        frames = n
        with self._lock:
            total = self._data.shape[0]
            if not self._loop:
                start, self._pos = self._pos, min(total, self._pos + frames)
                chunk: npt.NDArray[np.float32] = self._data[start : self._pos].copy()
                return chunk
            out = np.empty((frames, self.channels), dtype=np.float32)
            filled = 0
            while filled < frames:
                take = min(frames - filled, total - self._pos)
                out[filled : filled + take] = self._data[self._pos : self._pos + take]
                filled += take
                self._pos = (self._pos + take) % total
            return out

    def rewind(self) -> None:
        """Go back to the first frame."""
        with self._lock:
            self._pos = 0


@runtime_checkable
class AudioBackend(Protocol):
    """The audio side, as the client drives it (see the module docstring's contract)."""

    @property
    def is_running(self) -> bool:
        """Whether any stream (duplex, playback or record) is running."""

    @property
    def sample_rate(self) -> int | None:
        """The device's fixed sample rate (Hz), or None when it takes any rate of
        ``callaudio.SAMPLE_RATES``. The session's rules open streams at this rate when it
        is set, else at the session's preferred rate."""

    def start_duplex(self, config: StreamConfig, *, resume: bool = False) -> None:
        """Open and start the duplex (call) stream, with the processing chain if asked.

        ``resume=True``: reuse the last stopped duplex stream's chain (same rate and
        channels) with its echo path reset; else, or when there is none, a fresh chain.
        """

    def stop_duplex(self) -> None:
        """Stop and close the duplex stream."""

    def start_playback(
        self, source: PlaybackSource, on_finished: Callable[[], None] | None = None
    ) -> None:
        """Play ``source`` (mixed into the duplex output when that runs, else on its own
        output stream); call ``on_finished()`` when a non-looping source ran out."""

    def stop_playback(self) -> None:
        """Stop playing the current source (``on_finished`` is not called)."""

    def start_record(self, config: StreamConfig) -> None:
        """Open and start an input-only stream (category RECORD)."""

    def stop_record(self) -> None:
        """Stop and close the input-only stream."""

    def reset_echo_canceller(self) -> None:
        """Forget the echo path (it changed), in place: of the running chain at its next
        frame, else of the kept chain; the canceller re-converges from scratch."""

    def set_muted(self, muted: bool) -> None:
        """Send silence instead of the microphone (a flag the callback reads)."""

    def set_speaker(self, enabled: bool) -> None:
        """Route the output to the loudspeaker (a flag the callback/route reads)."""

    def set_fault_handler(self, handler: FaultHandler | None) -> None:
        """Register the one callable that receives :class:`BackendFault` reports."""
