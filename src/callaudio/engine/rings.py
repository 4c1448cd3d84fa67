"""The application's side of the engine's rings: far-end audio in, processed capture out.

:class:`RingSide` is the half of :class:`~callaudio.engine.engine.AudioEngine` that runs on
the application's threads: :meth:`RingSide.write_far` and :meth:`RingSide.read_capture`
(and their blocking forms, with ``timeout``) are the other end of the compiled callback's
lock-free single-producer/single-consumer rings (:mod:`callaudio._dsp.rt`).
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ..config import check_int
from ..devices.base import Device
from ..errors import AudioDropWarning, ConfigError, FrameError
from .options import check_seconds
from .ring import check_max_frames
from .sound import playable

if TYPE_CHECKING:
    from .._dsp.rt import Core

__all__ = ["RingSide", "check_far_audio"]

Float32Array = npt.NDArray[np.float32]


class RingSide:
    """The application side of the rings (a base of AudioEngine, which sets the state)."""

    _core: Core
    _n: int
    _channels: int
    _device: Device
    _monitor: bool
    _capture_cb: Callable[[Float32Array], None] | None
    _far_rejected: int
    _overruns_seen: int
    # The rings are single-producer/single-consumer: application threads take these (the
    # callback's side takes none).
    _read_lock: threading.Lock
    _write_lock: threading.Lock

    def _sync_chains(self) -> None:
        """Point the callback at the processor's current chains (the engine's)."""
        raise NotImplementedError

    def _streaming(self) -> bool:
        """True while a stream runs (the engine's)."""
        raise NotImplementedError

    # -- application side ---------------------------------------------------------------------

    def write_far(self, samples: npt.ArrayLike, timeout: float | None = 0.0) -> int:
        """Queue far-end audio to play (any length; mono; float or int16, either byte order).

        What reaches the loudspeaker is finite and within full scale: NaN plays as
        silence, +-Inf and values beyond full scale are clipped to +-1.

        Parameters
        ----------
        samples : array_like
            Shape ``(m,)`` or ``(m, 1)``.
        timeout : float or None
            0 (default): never block, take what fits. Seconds > 0: wait up to that long
            for room for all of it (the callback frees a frame every 10 ms). None: wait
            until all is queued (sounddevice's blocking write), or the engine stops.

        Returns
        -------
        int
            The samples accepted: fewer than given when the ring (``far_buffer_ms``) stayed
            full; write the rest later. What was not taken is counted in
            ``stats.far_rejected``.

        Raises
        ------
        FrameError
            Not mono, or not float/int16 samples; nothing is queued.
        ConfigError
            ``timeout`` is not None or a number >= 0; nothing is queued.
        """
        y = check_far_audio(samples, timeout)
        deadline = _deadline(timeout)
        with self._write_lock:
            self._core.set_far_ended(False)
            accepted = int(self._core.write_far(y))
            while accepted < y.shape[0] and self._wait(deadline):
                accepted += int(self._core.write_far(y[accepted:]))
            self._far_rejected += y.shape[0] - accepted
        self._sync_chains()
        return accepted

    def _wait(self, deadline: float | None) -> bool:
        """Sleep about half a frame; False when the deadline passed or no stream runs.

        A caller-driven device (the simulated room's ``run_frames``) advances only when
        its caller runs it, so nothing is waited for there."""
        if not self._streaming() or self._device.capabilities.caller_driven:
            return False
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return False
        pause = 0.005 if deadline is None else min(0.005, deadline - now)
        time.sleep(pause)
        return True

    def _wait_capture(self, frames: int, deadline: float | None) -> bool:
        """Wait until ``frames`` frames are captured (the callback wakes the reader when a
        frame lands) or at most 50 ms (to notice a stopped engine); False when the deadline
        passed, no stream runs, or the device is caller-driven (as :meth:`_wait`)."""
        if not self._streaming() or self._device.capabilities.caller_driven:
            return False
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return False
        self._core.wait_capture(frames, 0.05 if deadline is None else min(0.05, deadline - now))
        return True

    def flush_far(self) -> None:
        """Queue the last partial far-end frame, padded with silence, and mark the end of
        the far-end audio: the silence that follows is no underrun (until the next
        :meth:`write_far`)."""
        with self._write_lock:
            self._core.flush_far()
            self._core.set_far_ended(True)

    def far_queued_ms(self) -> float:
        """Far-end audio waiting to be played, in ms (whole frames)."""
        return 10.0 * (int(self._core.far_queued) // self._n)

    def read_capture(
        self, max_frames: int | None = None, timeout: float | None = 0.0
    ) -> Float32Array:
        """Processed microphone audio captured so far (when no ``capture`` callback is set).

        Returns shape ``(k * frame_size,)`` for mono, ``(k * frame_size, channels)`` else.
        ``max_frames`` (None: all) must be an int >= 0 (ConfigError; nothing read).
        ``timeout``: 0 (default) returns what is there; seconds > 0 first wait up to that
        long for ``max_frames`` frames (for one frame when ``max_frames`` is None); None
        waits until they are there or the engine stops (sounddevice's blocking read).
        A wait for more frames than the capture ring holds (``capture_buffer_ms``) reads
        them as they land (one reader at a time), so all of them can arrive: it returns
        once ``max_frames`` frames were read, the timeout passed or the engine stopped;
        meanwhile another thread's read gets nothing once its own timeout has passed.

        Warns with :class:`~callaudio.errors.AudioDropWarning` when captured frames were
        dropped (the ring was full) since the last read; ``stats.overruns`` counts them.
        """
        limit = check_max_frames(max_frames)
        deadline = _deadline(timeout)
        if deadline is None and self._capture_cb is not None:
            raise ConfigError(
                "timeout", f"{timeout} would wait forever: a capture callback receives the frames"
            )
        want = 1 if limit is None else limit
        core = self._core
        if timeout != 0 and want > core.capture_capacity:
            with self._read_lock:  # more than the ring holds: read it as it lands
                parts = [core.read_capture(want)]
                got = parts[0].shape[0] // self._n
                step = max(1, core.capture_capacity // 2)  # woken when the ring is half full
                while got < want and self._wait_capture(min(want - got, step), deadline):
                    parts.append(core.read_capture(want - got))
                    got += parts[-1].shape[0] // self._n
                data = np.concatenate(parts)
                dropped = self._dropped()
        else:
            if timeout != 0:
                while core.capture_ready < want and self._wait_capture(want, deadline):
                    pass
            # a reader of more than the ring holds may have the lock for its whole wait:
            # take it within this call's own deadline, else return nothing
            wait = -1.0 if deadline is None else max(0.0, deadline - time.monotonic())
            if not self._read_lock.acquire(timeout=wait):
                data, dropped = np.empty((0, self._channels), np.float32), 0
            else:
                try:
                    data = core.read_capture(-1 if limit is None else limit)
                    dropped = self._dropped()
                finally:
                    self._read_lock.release()
        if dropped:
            warnings.warn(
                AudioDropWarning(
                    f"{dropped} captured frame(s) ({10 * dropped} ms) were dropped: the capture "
                    f"ring ({core.capture_capacity * 10} ms) "
                    "was full; read more often or raise capture_buffer_ms"
                ),
                stacklevel=2,
            )
        self._sync_chains()
        return data[:, 0] if self._channels == 1 else data

    def _dropped(self) -> int:
        """Captured frames dropped since the last read (the caller holds ``_read_lock``)."""
        overruns = int(self._core.counters()["overruns"])
        dropped = overruns - self._overruns_seen
        self._overruns_seen = overruns
        return dropped

    def dropout_counts(self) -> tuple[int, int, int]:
        """(xruns, underruns, overruns) since :meth:`start`: the callback's atomic counters,
        read without allocating the full :attr:`stats` (a watcher polls this)."""
        c = self._core.counters()
        return int(c["xruns"]), int(c["underruns"]), int(c["overruns"])

    def cost_histogram(self) -> npt.NDArray[np.int64]:
        """Compiled callbacks per microsecond of cost since :meth:`start` (index: us; the
        last bin counts everything longer), from the monotonic clock read in C."""
        return self._core.cost_histogram()

    def frame_times(self, frame: int) -> tuple[int, int]:
        """(start, captured) of the callback of frame ``frame`` since :meth:`start`:
        ``time.monotonic_ns()`` values at which it began and at which its processed
        microphone frame was in the capture ring (the last 1024 frames are kept). ``frame``
        must be an int >= 0 (ConfigError)."""
        check_int("frame", frame, 0, 2**62)
        start, pushed = self._core.frame_times(frame)
        return int(start), int(pushed)

    def read_monitor(self, max_frames: int | None = None) -> tuple[Float32Array, Float32Array]:
        """(played, unprocessed microphone) since the last read, frame-aligned.

        Only with ``monitor=True``; a side the stream does not have reads as silence.
        """
        limit = check_max_frames(max_frames)
        if not self._monitor:
            raise ConfigError("monitor", "the engine was built without monitor=True")
        with self._read_lock:
            played, mic = self._core.read_monitor(-1 if limit is None else limit)
        return played[:, 0], (mic[:, 0] if self._channels == 1 else mic)


def check_far_audio(samples: npt.ArrayLike, timeout: object = 0.0) -> Float32Array:
    """The far-end audio :meth:`RingSide.write_far` queues for ``samples``: mono float32,
    finite, within full scale (:func:`~callaudio.engine.sound.playable`).

    The one check of ``write_far``'s arguments, for a caller that takes far-end audio
    with or without a running engine (``EngineBackend.write_far``).

    Raises
    ------
    FrameError
        ``samples`` is not mono (``(m,)`` or ``(m, 1)``), not float/int16, or not an
        array at all (a ragged list).
    ConfigError
        ``timeout`` is not None or a number >= 0.
    """
    _deadline(timeout)
    try:
        x = np.asarray(samples)
    except Exception as e:  # ragged lists, objects numpy cannot take, a raising __float__
        raise FrameError(f"far-end audio must be an array of samples: {e}") from None
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise FrameError(f"far-end audio must be mono, shape (m,) or (m, 1), got {x.shape}")
    return playable(x, "far-end audio")


def _deadline(timeout: object) -> float | None:
    """The monotonic time a blocking call gives up (None: never, also for ``inf`` and
    anything past ``threading.TIMEOUT_MAX``, which no lock wait takes); ConfigError if bad."""
    if timeout is None:
        return None
    try:  # (a number whose conversion overflows or raises is refused too)
        seconds = check_seconds("timeout", timeout, 0.0, math.inf)
    except ConfigError:
        raise ConfigError("timeout", f"must be None or seconds >= 0, got {timeout!r}") from None
    return None if seconds >= threading.TIMEOUT_MAX else time.monotonic() + seconds
