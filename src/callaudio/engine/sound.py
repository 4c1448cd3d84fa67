"""Sounds the callback mixes into the loudspeaker output, and the loudspeaker's input guard.

What goes to a loudspeaker is guarded like what comes from a microphone: every sample the
engine plays is finite and within full scale. :func:`playable` turns what an application
hands over (float of any precision and byte order, or int16) into such samples;
:class:`PreparedSound` holds a sound already guarded, so mixing it costs nothing.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..config import check_flag
from ..errors import ConfigError, FrameError

__all__ = ["MixSource", "PreparedSound", "can_resample", "core_args", "playable"]

Float32Array = npt.NDArray[np.float32]


def playable(samples: npt.ArrayLike, what: str = "samples") -> Float32Array:
    """``samples`` as float32 full scale, finite and clipped to [-1, 1] (a new array).

    Accepts float of any precision and byte order (full scale 1.0) and int16 of either
    byte order (full scale 32768). NaN becomes 0, +-Inf and values beyond full scale become
    +-1. Anything else (other integer types, bool, complex, objects) raises FrameError.
    """
    x = np.asarray(samples)
    if x.dtype.kind == "i" and x.dtype.itemsize == 2:
        y = x.astype(np.float32) / np.float32(32768.0)
    elif x.dtype.kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):  # 1e300 -> inf, clipped below
            y = np.array(x, dtype=np.float32)
        if not np.isfinite(y).all():
            np.nan_to_num(y, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
        np.clip(y, -1.0, 1.0, out=y)
    else:
        raise FrameError(f"{what} must be float or int16, got dtype {x.dtype}")
    out: Float32Array = np.ascontiguousarray(y, dtype=np.float32)
    return out


#: The longest one-shot source without ``samples`` that is read whole (seconds): a
#: source whose ``read()`` never returned an empty block was read until memory ran out.
MAX_SOURCE_SECONDS = 600


def _read_whole(source: Any, rate: int) -> npt.NDArray[Any]:
    """Everything ``source.read()`` gives until an empty block, at most
    :data:`MAX_SOURCE_SECONDS`; ConfigError/FrameError for what is no audio."""
    chunks: list[npt.NDArray[Any]] = []
    total, limit = 0, MAX_SOURCE_SECONDS * rate
    while True:
        try:
            chunk = np.asarray(source.read(max(rate, 1)))
        except Exception as exc:  # the application's read() failed
            raise ConfigError("source", f"the source's read() failed ({exc!r})") from exc
        if chunk.ndim not in (1, 2) or chunk.dtype.kind not in "biuf":
            raise FrameError(
                f"a playback source's read() must give (frames,) or (frames, channels) real "
                f"samples, got {chunk.dtype} {chunk.shape}"
            )
        if chunk.shape[0] == 0:
            break
        total += chunk.shape[0]
        if total > limit:
            raise ConfigError(
                "source",
                f"a one-shot source gave more than {MAX_SOURCE_SECONDS} s without ending "
                "(read() never gave an empty block): give an ArraySource, or loop=True "
                "with its samples",
            )
        chunks.append(chunk)
    if not chunks:
        raise ConfigError("source", "the source holds no audio")
    try:
        return np.concatenate(chunks)
    except ValueError as exc:  # blocks of different channel counts
        raise FrameError(f"a playback source's blocks do not fit together ({exc})") from exc


def can_resample(rate_in: object, rate_out: int) -> bool:
    """Whether :meth:`PreparedSound.from_source` converts a ``rate_in`` Hz source to
    ``rate_out`` Hz (a positive int rate, ratio within (0.01, 100))."""
    if isinstance(rate_in, bool) or not isinstance(rate_in, (int, np.integer)) or rate_in <= 0:
        return False
    return 0.01 < rate_out / int(rate_in) < 100.0


def _resample(x: npt.NDArray[np.float64], rate_in: int, rate_out: int) -> npt.NDArray[np.float64]:
    """The exact polyphase bank, or the arbitrary-ratio path when the reduced ratio is too
    fine for the bank (7919 Hz -> 48000 Hz)."""
    from ..simulation.resample import resample, resample_ratio

    try:
        return resample(x, rate_in, rate_out)
    except ValueError:  # "too fine for the polyphase bank" (x is 1-D, the rates positive)
        return resample_ratio(x, rate_out / rate_in, n_out=-(-x.size * rate_out // rate_in))


def core_args(sound: PreparedSound) -> tuple[Float32Array, npt.NDArray[np.int64], bool]:
    """What the engine hands to the compiled callback for ``sound``: its samples (native
    float32, C-contiguous, at least one), its ``[position, stopped]`` state (native int64,
    two, C-contiguous, writable) and whether it loops. The caller keeps the tuple alive
    while the callback may read it.

    Raises ConfigError when ``sound`` (a subclass) hands over other arrays.
    """
    x, state = sound.core_arrays()
    loop = sound.loop
    ok_x = isinstance(x, np.ndarray) and x.dtype == np.float32 and x.size >= 1
    ok_state = isinstance(state, np.ndarray) and state.dtype == np.int64 and state.size == 2
    if not (ok_x and x.flags.c_contiguous and x.flags.aligned):
        raise ConfigError("source", "its samples must be a C-contiguous float32 array")
    if not (ok_state and state.flags.c_contiguous and state.flags.aligned):
        raise ConfigError("source", "its state must be a C-contiguous int64 [position, stopped]")
    if not state.flags.writeable or not isinstance(loop, (bool, np.bool_)):
        raise ConfigError("source", "its state must be writable and its loop a bool")
    return x, state, bool(loop)


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
    :class:`~callaudio.audio.base.PlaybackSource` (tones, sound files) with
    :meth:`from_source`, on the application's thread.

    Parameters
    ----------
    samples : array_like
        Signal at the engine's rate, real (full scale 1.0; int16: 32768), finite; mono or
        ``(frames, channels)`` (downmixed to mono by averaging the channels).
    loop : bool
        Start again at the end instead of finishing.
    gain : float
        Linear gain applied once, here; a finite real number. The result is clipped to
        full scale.
    name : str
        For reports (``"progress tone"``, a file name ...).
    start : int
        First sample to play (0..len; taken modulo the length when looping).

    Raises
    ------
    FrameError
        No samples, non-finite or non-real ones, more than two dimensions.
    ConfigError
        A gain that is not a finite real number, a start that is not an int >= 0.
    """

    def __init__(
        self,
        samples: npt.ArrayLike,
        *,
        loop: bool = False,
        gain: float = 1.0,
        name: str = "",
        start: int = 0,
    ) -> None:
        if (
            isinstance(gain, bool)
            or not isinstance(gain, (int, float, np.integer, np.floating))
            or not math.isfinite(float(gain))
        ):
            raise ConfigError("gain", f"must be a finite real number, got {gain!r}")
        if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < 0:
            raise ConfigError("start", f"must be an int >= 0, got {start!r}")
        raw = np.asarray(samples)
        full_scale = 32768.0 if raw.dtype.kind == "i" and raw.dtype.itemsize == 2 else 1.0
        if raw.dtype.kind not in "biuf":
            raise FrameError(f"a playback source must hold real samples, got dtype {raw.dtype}")
        if raw.ndim == 2:  # (frames, channels): downmixed to mono
            raw = raw.mean(axis=1) if raw.shape[1] else raw.reshape(-1)
        elif raw.ndim > 2:
            raise FrameError(
                f"a playback source must be mono or (frames, channels), got {raw.shape}"
            )
        x = np.asarray(raw, dtype=np.float64).reshape(-1)
        if x.size == 0:
            raise FrameError("a playback source needs at least one sample")
        if not np.all(np.isfinite(x)):
            raise FrameError("a playback source must hold finite samples")
        y = x * (float(gain) / full_scale)  # int16: full scale 32768, as write_far takes it
        np.clip(y, -1.0, 1.0, out=y)
        self._x = np.ascontiguousarray(y.astype(np.float32).reshape(-1, 1))
        self._loop = check_flag("loop", loop)
        total = int(self._x.shape[0])
        start = int(start)
        # [position, stopped]: shared with the compiled callback, which reads and advances
        # them with atomic loads and stores while it mixes the sound
        self._state = np.zeros(2, dtype=np.int64)
        self._state[0] = start % total if self._loop else min(start, total)
        self.name = name

    @classmethod
    def from_source(cls, source: Any, sample_rate: int, *, name: str = "") -> PreparedSound:
        """Prepare a :class:`~callaudio.audio.base.PlaybackSource` for the callback.

        Runs on the application's thread: reads the whole source (its ``samples`` when it
        has them, else ``read()`` until it ends), downmixes to mono and resamples it to
        ``sample_rate`` (windowed-sinc: :func:`callaudio.simulation.resample.resample`, or
        ``resample_ratio`` when the ratio is too fine for its polyphase bank, 7919 Hz ->
        48 kHz). Playing starts at the source's ``position`` when it has one. (A sound
        file streams instead: :func:`callaudio.engine.streamed.prepare_sound`.)

        Raises
        ------
        ConfigError
            A looping source that does not expose its ``samples`` (its loop length is
            unknown), an empty one, a rate the resampler cannot convert
            (``sample_rate / source.sample_rate`` outside (0.01, 100); checked first), a
            one-shot source read for more than :data:`MAX_SOURCE_SECONDS` without ending,
            attributes or a ``read()`` that raise.
        FrameError
            What ``read()`` gives is not (frames,) or (frames, channels) real samples.
        """
        try:  # the source is the application's object: its attributes may raise or lie
            rate_in = getattr(source, "sample_rate", None)
            loop = bool(getattr(source, "loop", False))
            samples = getattr(source, "samples", None)
            start = int(getattr(source, "position", 0))
        except Exception as exc:
            raise ConfigError("source", f"unusable playback source ({exc!r})") from exc
        if not can_resample(rate_in, sample_rate):
            raise ConfigError(
                "sample_rate",
                f"cannot resample a {rate_in!r} Hz source to {sample_rate} Hz "
                "(the ratio must be within (0.01, 100))",
            )
        rate_in = int(rate_in)  # type: ignore[arg-type]
        if samples is None:
            if loop:
                raise ConfigError(
                    "source", "a looping source must expose its samples (like ArraySource)"
                )
            samples = _read_whole(source, rate_in)
            start = 0
        try:
            x = np.asarray(samples, dtype=np.float64)
        except Exception as exc:  # complex, str, objects
            raise FrameError(f"a playback source must hold real samples ({exc})") from exc
        if x.ndim == 2:
            x = x.mean(axis=1)
        if rate_in != sample_rate:
            x = _resample(x, rate_in, sample_rate)
            start = round(start * sample_rate / rate_in)
        return cls(x, loop=loop, name=name or type(source).__name__, start=start)

    @property
    def _pos(self) -> int:
        return int(self._state[0])

    @property
    def _stopped(self) -> bool:
        return bool(self._state[1])

    @property
    def done(self) -> bool:
        """True when a one-shot source reached its end or :meth:`stop` was called."""
        return self._stopped or (not self._loop and self._pos >= self._x.shape[0])

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` was called (as opposed to playing to its end)."""
        return self._stopped

    @property
    def ran_out(self) -> bool:
        """True when a one-shot sound played to its end without being stopped."""
        return not self._stopped and not self._loop and self._pos >= self._x.shape[0]

    @property
    def position(self) -> int:
        """Samples played so far (modulo the length when looping)."""
        return self._pos

    @property
    def samples(self) -> Float32Array:
        """The prepared samples, ``(len, 1)`` float32 (read-only use: the compiled
        callback mixes them)."""
        return self._x

    @property
    def state(self) -> npt.NDArray[np.int64]:
        """``[position, stopped]``, the int64 pair the compiled callback reads and
        advances as it mixes the sound: a read-only view (:meth:`stop` stops it)."""
        view: npt.NDArray[np.int64] = self._state.view()
        view.flags.writeable = False
        return view

    def core_arrays(self) -> tuple[Float32Array, npt.NDArray[np.int64]]:
        """The samples and the writable ``[position, stopped]`` pair the engine hands to
        the compiled callback (it keeps both alive while the callback may read them)."""
        return self._x, self._state

    @property
    def loop(self) -> bool:
        """Whether it starts again at its end."""
        return self._loop

    def __len__(self) -> int:
        """Samples in one pass of the sound."""
        return int(self._x.size)

    def stop(self) -> None:
        """Stop playing (the callback sees it at its next frame)."""
        self._state[1] = 1

    def pump(self) -> None:
        """Nothing to do: every sample is prepared (a streamed sound decodes more here)."""

    def mix_into(self, buf: Float32Array) -> None:
        """Add the next ``len(buf)`` samples into ``buf``."""
        n = buf.shape[0]
        total = self._x.shape[0]
        filled = 0
        pos = self._pos
        if not 0 <= pos <= total:  # as the compiled callback: wrapped or clamped
            pos = pos % total if self._loop else min(max(pos, 0), total)
        while filled < n and not self._stopped and (self._loop or pos < total):
            k = min(n - filled, total - pos)
            seg = buf[filled : filled + k]
            np.add(seg, self._x[pos : pos + k], out=seg)
            filled += k
            pos += k
            if pos >= total and self._loop:
                pos = 0
        self._state[0] = pos

    def __repr__(self) -> str:
        return (
            f"PreparedSound(name={self.name!r}, samples={len(self)}, loop={self._loop}, "
            f"position={self._pos}, done={self.done})"
        )
