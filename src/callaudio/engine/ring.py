"""FrameRing: a bounded, lock-free single-producer/single-consumer queue of whole frames.

A preallocated ``(capacity, frame, channels)`` float32 array and two ever-increasing integer
counters. The producer writes a slot and then publishes it by storing ``head``; the consumer
copies the slot out and then releases it by storing ``tail``. Each counter has exactly one
writer, and a store of a Python int attribute is atomic under the GIL, so neither side ever
needs a lock, and :meth:`FrameRing.push` / :meth:`FrameRing.pop_into` allocate nothing: either
side may be the real-time thread.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError, FrameError

__all__ = ["FrameRing", "check_max_frames"]

Float32Array = npt.NDArray[np.float32]


def check_max_frames(max_frames: object) -> int | None:
    """``max_frames`` of a read: None (everything ready) or an int >= 0; ConfigError else."""
    if max_frames is None:
        return None
    if isinstance(max_frames, bool) or not isinstance(max_frames, (int, np.integer)):
        raise ConfigError("max_frames", f"must be None or an int >= 0, got {max_frames!r}")
    try:  # the plain value: a subclass's __int__/__index__ or comparisons may lie or raise
        plain = int.__index__(operator.index(max_frames))
    except Exception:
        raise ConfigError(
            "max_frames", f"must be None or an int >= 0, got {max_frames!r}"
        ) from None
    if not 0 <= plain <= 2**62:
        raise ConfigError("max_frames", f"must be None or an int >= 0, got {plain}")
    return plain


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
        if x.dtype.kind == "i" and x.dtype.itemsize == 2:  # int16 in either byte order
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
        limit = check_max_frames(max_frames)
        k = len(self) if limit is None else min(limit, len(self))
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
