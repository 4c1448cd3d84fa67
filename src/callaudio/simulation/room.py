"""The acoustic room the simulated device plays through: loudspeaker -> microphone.

What is played in frame ``k`` reaches the microphone through a bulk delay ``D`` (the
converters' and buffers' delay, ``delay_ms``) and an acoustic impulse response ``h``::

    mic[t] = g * sum_j h[j] * played[t - D - j]  +  near[t]  +  noise[t]      (clipped to +-1)

where ``g`` is 1 on the loudspeaker route and ``earpiece_loss_db`` below on the earpiece
route. By default ``h`` is an image-source room response (Allen & Berkley 1979, through
:func:`callaudio.simulation.rir.room_rir`) normalised so that ``sum(h**2) = 10**(echo_gain_db
/ 10)``: white noise played comes back ``echo_gain_db`` dB louder (negative: quieter). The
convolution runs by overlap-add with one FFT pair per frame into a circular accumulator
indexed by absolute sample time. A block-based duplex device records frame ``k`` before it
plays frame ``k``, so ``D`` must be at least one frame (JACK's loopback measures two).

Units: rates in Hz, delays in ms (``delay_ms``) or samples (``delay_samples``), gains in dB.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from ..config import _plain, check_flag, check_sample_rate, frame_size
from ..errors import ConfigError
from .rir import room_rir

__all__ = ["Room"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

_DIRECT_MAX_TAPS = 32


@functools.lru_cache(maxsize=16)
def _default_response(rate: int, rt60_s: float, distance_m: float, seed: int) -> F64:
    """The default room's response (read-only): computed once per process and parameters
    (the image-source model costs ~80 ms; tests and applications build many rooms)."""
    h, _ = room_rir(rate, rt60_s, distance_m, seed=seed)
    h.setflags(write=False)
    return h


def _as_track(x: npt.ArrayLike | None, name: str) -> F32 | None:
    """A mono track of real samples as float32 (None: none); else ConfigError (a string
    failed as a raw ValueError, and an (n, channels) array was flattened: its channels
    interleaved into one track ``channels`` times as long)."""
    if x is None:
        return None
    try:
        arr = np.asarray(x)
        kind = arr.dtype.kind
        if kind in "biuf" and arr.ndim <= 2 and (arr.ndim < 2 or arr.shape[1] == 1):
            a = np.ascontiguousarray(arr.reshape(-1), dtype=np.float32)
    except Exception as exc:  # a ragged list; a number whose __int__/__float__ raises
        raise ConfigError(name, f"must be an array of samples ({exc})") from None
    if kind not in "biuf":
        raise ConfigError(name, f"must hold real samples, got dtype {arr.dtype}")
    if arr.ndim > 2 or (arr.ndim == 2 and arr.shape[1] != 1):
        raise ConfigError(name, f"must be a mono track, shape (n,) or (n, 1), got {arr.shape}")
    if a.size == 0:
        return None
    if not np.all(np.isfinite(a)):
        raise ConfigError(name, "must hold finite samples")
    return a


class Room:
    """A room between one loudspeaker and one microphone, advanced one 10 ms frame at a time.

    Parameters
    ----------
    sample_rate : int
        A supported rate (:data:`callaudio.config.SAMPLE_RATES`).
    delay_ms : float
        Bulk delay from what is played to the microphone, in ms (10..1000; at least one
        frame). Rounded to whole samples.
    impulse_response : array_like, optional
        The room's response (used as given, not normalised); default: an image-source
        room of ``rt60_s`` with the loudspeaker ``distance_m`` from the microphone,
        normalised to ``echo_gain_db``.
    echo_gain_db : float
        Energy gain of the default response, dB (-40..20; ERL = ``-echo_gain_db``).
    rt60_s, distance_m : float
        The default room's reverberation time (s, 0.05..1.0) and distance (m, 0.05..3).
    earpiece_loss_db : float
        Extra loss of the echo path on the earpiece route (speaker off), dB (0..60).
    near, noise : array_like, optional
        Mono tracks added to the microphone from the first frame on (near-end talker,
        background noise); silence after their end unless ``loop``.
    loop : bool
        Repeat ``near`` and ``noise`` when they end.
    record : bool
        Keep every frame played and heard (:meth:`recording`), for analysis.
    seed : int
        Seed of the default room.
    """

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
        record: bool = False,
        seed: int = 0,
    ) -> None:
        self._rate = check_sample_rate(sample_rate)
        self._n = frame_size(self._rate)
        self._loop = check_flag("loop", loop)  # (loop="no" looped)
        delay = _plain(delay_ms) if isinstance(delay_ms, (int, float)) else None
        if delay is None or not 10.0 <= delay <= 1000.0:  # (10**400 overflowed in float())
            raise ConfigError(
                "delay_ms",
                f"must be within [10, 1000] ms (a duplex device delays at least one frame), "
                f"got {delay_ms!r}",
            )
        self._delay = max(round(float(delay) * self._rate / 1000.0), self._n)
        plain: dict[str, float] = {}
        for fname, v, lo, hi in (
            ("echo_gain_db", echo_gain_db, -40.0, 20.0),
            ("rt60_s", rt60_s, 0.05, 1.0),
            ("distance_m", distance_m, 0.05, 3.0),
            ("earpiece_loss_db", earpiece_loss_db, 0.0, 60.0),
        ):
            x = _plain(v) if isinstance(v, (int, float)) else None  # the number, not the object
            if x is None or not lo <= x <= hi:
                raise ConfigError(fname, f"must be within [{lo}, {hi}], got {v!r}")
            plain[fname] = float(x)
        echo_gain_db, rt60_s = plain["echo_gain_db"], plain["rt60_s"]
        distance_m, earpiece_loss_db = plain["distance_m"], plain["earpiece_loss_db"]
        seed_int = _plain(seed) if isinstance(seed, (int, np.integer)) else None
        if not isinstance(seed_int, int) or seed_int < 0:
            raise ConfigError("seed", f"must be an int >= 0, got {seed!r}")
        seed = seed_int
        if impulse_response is None:
            h = _default_response(self._rate, float(rt60_s), float(distance_m), int(seed))
            h = h * np.sqrt(10.0 ** (echo_gain_db / 10.0) / max(float(np.sum(h * h)), 1e-30))
        else:
            try:
                h = np.asarray(impulse_response, dtype=np.float64).reshape(-1)
            except Exception as exc:  # complex, str, objects, ints beyond float range
                raise ConfigError(
                    "impulse_response", f"must be an array of real numbers ({exc})"
                ) from None
            if h.size == 0 or not np.all(np.isfinite(h)):
                raise ConfigError("impulse_response", "must be a non-empty finite array")
        self._h = h
        self._earpiece_gain = float(10.0 ** (-earpiece_loss_db / 20.0))
        self._near = _as_track(near, "near")
        self._noise = _as_track(noise, "noise")
        self._near_start = 0
        self._noise_start = 0
        self._record = check_flag("record", record)
        n, length = self._n, h.size
        # Overlap-add with one FFT pair per frame, or a direct convolution for a short
        # response (a pure delay then reaches the microphone bit-exact).
        self._nfft = 1 << int(np.ceil(np.log2(n + length - 1)))
        self._H = np.fft.rfft(h, self._nfft) if length > _DIRECT_MAX_TAPS else None
        # A whole number of frames, so a frame never straddles the wrap.
        size = n * (-(-(self._delay + self._nfft + 2 * n) // n))
        self._acc = np.zeros(size, dtype=np.float64)  # circular, indexed by absolute time
        self._t = 0  # absolute sample time of the next frame
        self.speaker = True
        """Loudspeaker route (True: the full echo path) or earpiece (``earpiece_loss_db`` less)."""
        self._rec: dict[str, list[F32]] = {
            k: [] for k in ("played", "mic", "echo", "near", "noise")
        }

    # -- description ------------------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        """Sample rate in Hz."""
        return self._rate

    @property
    def frame_size(self) -> int:
        """Samples in one 10 ms frame."""
        return self._n

    @property
    def delay_samples(self) -> int:
        """Bulk delay from the loudspeaker to the microphone, in samples."""
        return self._delay

    @property
    def impulse_response(self) -> F64:
        """The room's response (a copy)."""
        return np.array(self._h, dtype=np.float64)

    @property
    def time_samples(self) -> int:
        """Absolute sample time of the next frame."""
        return self._t

    @property
    def time_s(self) -> float:
        """Time since construction, in seconds (frames run / rate)."""
        return self._t / self._rate

    # -- the world --------------------------------------------------------------------------

    def set_near(self, near: npt.ArrayLike | None) -> None:
        """Replace the near-end track; it starts at the next frame."""
        self._near = _as_track(near, "near")
        self._near_start = self._t

    def set_noise(self, noise: npt.ArrayLike | None) -> None:
        """Replace the noise track; it starts at the next frame."""
        self._noise = _as_track(noise, "noise")
        self._noise_start = self._t

    def _track(self, track: F32 | None, start: int, out: F64) -> F64 | None:
        if track is None:
            return None
        n = self._n
        pos = self._t - start
        if self._loop:
            out[:] = track[(pos + np.arange(n)) % track.size]
            return out
        if pos >= track.size:
            return None
        k = min(n, track.size - pos)
        out[:k] = track[pos : pos + k]
        out[k:] = 0.0
        return out

    def hear(self, mic: F32) -> None:
        """Fill ``mic`` (frame_size, channels) with echo + near + noise of the current frame.

        Call once per frame, before :meth:`play`.
        """
        n = self._n
        i0 = self._t % self._acc.size
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
            for key, part in (("near", near), ("noise", noise)):
                self._rec[key].append(
                    np.zeros(n, np.float32) if part is None else part.astype(np.float32)
                )
            self._rec["mic"].append(mic[:, 0].copy())

    def play(self, played: F32 | None) -> None:
        """Send what the loudspeaker played in the current frame into the room (None:
        nothing played); time advances by one frame."""
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
                if not self.speaker:
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

    def silence(self) -> None:
        """Drop the echo still on its way (sound already in the air)."""
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
            f"Room(sample_rate={self._rate}, delay={self._delay} samples, ir={self._h.size} taps)"
        )
