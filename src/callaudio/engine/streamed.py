"""A sound streamed from a file: decoded and resampled in blocks ahead of the audio thread.

:class:`StreamedSound` is a :class:`~callaudio.engine.sound.PreparedSound` whose samples
are a ring of ``ring_seconds`` at the engine's rate. The compiled callback mixes it as it
mixes any looping prepared sound (reading the ring and advancing its position with atomic
loads and stores: no lock, no allocation, no wait). :meth:`StreamedSound.pump`, called off
the audio thread (the backend's helper thread every 20 ms, or after each frame of a
caller-driven device), reads the file in blocks, downmixes, resamples them
(:class:`~callaudio.simulation.stream_resample.StreamResampler`, whose state carries
across blocks: the samples equal the whole-file conversion to rounding) and writes them
into the part of the ring the callback has already played, zeroing what it played.

So memory is the ring plus a block, whatever the file's length, and a reader that falls
behind never makes the callback wait: the callback runs into the zeroed part and plays
silence, counted in :attr:`StreamedSound.underruns`; the file's audio then goes on from
where it was. A file that becomes unreadable while playing (it shrank, an I/O error) ends
the sound after what was already decoded (:attr:`StreamedSound.error` says why): the
backend sees it run out and calls ``on_finished``, as at the end of the file.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..errors import CallAudioError, SoundFileError
from ..wavfile import WavFileSource, read_looping
from .sound import PreparedSound, can_resample, playable

__all__ = ["BlockReader", "StreamedSound", "prepare_sound"]


class BlockReader(Protocol):
    """What :class:`StreamedSound` reads: ``read(frames)`` gives float32
    ``(n, channels)`` (empty at the end), ``rewind()``, ``close()``."""

    def read(self, frames: int) -> npt.NDArray[np.float32]: ...

    def rewind(self) -> None: ...

    def close(self) -> None: ...


class StreamedSound(PreparedSound):
    """A file's audio mixed from a ring that :meth:`pump` keeps filled ahead of the callback.

    Parameters
    ----------
    reader : BlockReader
        The open file (closed by :meth:`stop`, or when its end has been decoded).
    rate_in, rate_out : int
        The file's rate and the engine's.
    loop : bool
        Start the file again at its end (the resampler runs on across the seam).
    name : str
        For reports.
    ring_seconds : float
        The ring's length: how far ahead of the callback the file is decoded, and how long
        the pumping thread may stall before the callback plays silence.
    block_seconds : float
        Input read and decoded per step.
    lap_clock : bool
        Whether :meth:`pump` is called in real time (then a stall longer than the ring is
        measured by the clock); False for a caller-driven device pumped after each frame.

    The first ``prefill_seconds`` are decoded here, on the caller's thread; the rest by
    :meth:`pump`. :attr:`samples` and ``len()`` are the ring's; :attr:`position` counts
    what was played. A pumping thread that stalls for longer than the whole ring (4 s) may
    let the callback play the ring's older audio once more before the next pump zeroes it
    (such a stall is counted in :attr:`underruns`, from the clock).
    """

    def __init__(
        self,
        reader: BlockReader,
        rate_in: int,
        rate_out: int,
        *,
        loop: bool = False,
        name: str = "",
        ring_seconds: float = 4.0,
        block_seconds: float = 0.05,
        prefill_seconds: float = 0.5,
        lap_clock: bool = True,
    ) -> None:
        from ..simulation.stream_resample import StreamResampler

        # a ring of 4 s + 1 sample: no whole number of 10 ms frames laps it exactly, so an
        # unmoved position means that nothing played (see _observe)
        ring = int(rate_out * ring_seconds) + 1
        super().__init__(np.zeros(ring, dtype=np.float32), loop=True, name=name)
        self._ring = ring
        self._reader: BlockReader | None = reader
        self._file_loop = bool(loop)
        self._rs = StreamResampler(rate_in, rate_out, 1) if rate_in != rate_out else None
        self._block = max(1, int(rate_in * block_seconds))
        self._rate = rate_out
        self._guard = max(1, rate_out // 50)  # 20 ms of silence after an underrun
        self._pending = np.zeros(0, dtype=np.float32)  # converted, not yet in the ring
        self._written = 0  # ring samples written (absolute: file audio and silence gaps)
        self._played = 0  # ring samples the callback played, as last observed
        self._seen_at = time.monotonic()
        self._end: int | None = None  # where the sound ends (absolute), once known
        self._eof = False  # the file's end (or its failure) was read; _pending holds the tail
        self._lock = threading.Lock()  # one pump at a time; stop() waits for it
        self.underruns = 0
        """Samples of silence the callback played because the reader fell behind."""
        self.frames_decoded = 0
        """Frames of the file read so far (all passes)."""
        self.error: CallAudioError | None = None
        """Why the sound ended before the file did (it became unreadable), else None."""
        self.lap_clock = lap_clock
        """Whether a stall of the pumping thread is measured by the clock (laps of the ring)."""
        self.pump(limit=int(rate_out * prefill_seconds))

    # -- what the backend reads ---------------------------------------------------------------

    def _now_played(self) -> int:
        """Samples played: the last observation plus the position's move since (no lap)."""
        return self._played + (int(self._state[0]) - self._played) % self._ring

    @property
    def done(self) -> bool:
        """True once stopped, or once the callback played past the end of the file."""
        end = self._end
        return self.stopped or (end is not None and self._now_played() >= end)

    @property
    def ran_out(self) -> bool:
        """True when the file played to its end (or to where it became unreadable)."""
        end = self._end
        return not self.stopped and end is not None and self._now_played() >= end

    @property
    def position(self) -> int:
        """Samples played so far (at the engine's rate, silence of underruns included)."""
        return self._now_played()

    @property
    def buffered(self) -> int:
        """Samples decoded ahead of the callback, in the ring."""
        return max(0, self._written - self._now_played())

    @property
    def loop(self) -> bool:
        """True: the callback loops over the ring (:attr:`file_loop` is the file's)."""
        return True

    @property
    def file_loop(self) -> bool:
        """Whether the file starts again at its end."""
        return self._file_loop

    # -- the reader side (never the audio thread) ---------------------------------------------

    def _observe(self) -> None:
        """Advance the played count from the callback's ring position; zero what it played;
        after an underrun, go on writing just ahead of the callback."""
        ring, x = self._ring, self._x
        old = self._played
        moved = (int(self._state[0]) - old) % ring
        now = time.monotonic()
        if self.lap_clock and moved and old:
            # a stall longer than the ring: the clock says how many whole laps were played
            # (not before the callback's first move: the time until then went on opening
            # the stream -- a device that took 2 s skipped the decoded start of the file)
            laps = round(((now - self._seen_at) * self._rate - moved) / ring)
            moved += max(0, laps) * ring
        self._seen_at = now
        new = old + moved
        stop_zero = min(new, self._written, old + ring)
        for lo, hi in _spans(old, stop_zero, ring):
            x[lo:hi, 0] = 0.0
        self._played = new
        if new > self._written and self._end is None:
            self.underruns += new - self._written + self._guard
            self._written = new + self._guard

    def pump(self, limit: int | None = None) -> None:
        """Decode and convert the file into the ring, up to the ring's room (or ``limit``
        samples). Called off the audio thread; returns at once if another pump runs."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self.stopped:
                return
            self._observe()
            room = self._played + self._ring - self._guard - self._written
            if limit is not None:
                room = min(room, limit)
            while room > 0 and self._end is None and not self.stopped:
                if self._pending.size == 0:
                    if self._eof:
                        self._end = self._written  # the file's audio is all in the ring
                        break
                    self._decode()
                k = min(room, self._pending.size)
                chunk, self._pending = self._pending[:k], self._pending[k:]
                at = self._written
                for lo, hi in _spans(at, at + k, self._ring):
                    off = _offset(at, lo, self._ring)
                    self._x[lo:hi, 0] = chunk[off : off + hi - lo]
                self._written += k
                room -= k
        finally:
            self._lock.release()

    def _decode(self) -> None:
        """One block of the file into ``_pending`` (at its end: the resampler's tail)."""
        reader = self._reader
        assert reader is not None
        try:
            # looping: a whole block across the seam (a file of a few frames read one pass
            # a block made a pump of the 4 s ring thousands of reads and resampler calls)
            if self._file_loop:
                block = read_looping(reader, self._block)
            else:
                block = reader.read(self._block)
        except CallAudioError as exc:
            self.error = exc
            block = np.zeros((0, 1), dtype=np.float32)
        except Exception as exc:
            self.error = SoundFileError("?", "corrupt", f"reading failed ({exc!r})")
            block = np.zeros((0, 1), dtype=np.float32)
        self.frames_decoded += int(block.shape[0])
        if block.shape[0] == 0:
            tail = self._rs.flush()[:, 0] if self._rs is not None else np.zeros(0)
            self._pending = playable(tail)
            self._eof = True
            self._close_reader()
            return
        x = np.asarray(block, dtype=np.float64)
        mono = x.mean(axis=1) if x.ndim == 2 else x
        y = self._rs.process(mono)[:, 0] if self._rs is not None else mono
        self._pending = playable(y)

    def _close_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            try:
                reader.close()
            except Exception:
                pass

    def stop(self) -> None:
        """Stop playing (the callback sees it at its next frame) and close the file (after
        a pump in progress: at most one block)."""
        super().stop()
        with self._lock:
            self._close_reader()

    def __repr__(self) -> str:
        return (
            f"StreamedSound(name={self.name!r}, played={self.position}, "
            f"buffered={self.buffered}, underruns={self.underruns}, done={self.done})"
        )


def prepare_sound(source: Any, rate: int, *, caller_driven: bool) -> PreparedSound:
    """What the backend plays for ``source`` at ``rate``: a :class:`StreamedSound` for a
    :class:`~callaudio.wavfile.WavFileSource`, else :meth:`PreparedSound.from_source` (its
    errors for a rate it cannot convert). A file that cannot be opened again (removed
    during an interruption) gives a sound that ends at once, its ``error`` set: the
    backend's ``on_finished`` ends it as any sound. A streamed sound measures stalls of its
    pumping thread by the clock unless the device is caller-driven (pumped after each
    frame, which may run faster or slower than real time)."""
    if not isinstance(source, WavFileSource) or not can_resample(source.sample_rate, rate):
        return PreparedSound.from_source(source, rate)
    try:
        reader: BlockReader = source.open_reader()
    except CallAudioError as exc:  # gone since it was checked (an interruption, a new rate)
        reader = _Unreadable(exc)  # the sound ends at once, through on_finished
    return StreamedSound(
        reader,
        source.sample_rate,
        rate,
        loop=source.loop,
        name=source.path,
        lap_clock=not caller_driven,
    )


class _Unreadable:
    """A file that could not be opened again: reading raises why."""

    def __init__(self, error: CallAudioError) -> None:
        self._error = error

    def read(self, frames: int) -> npt.NDArray[np.float32]:
        raise self._error

    def rewind(self) -> None:
        pass

    def close(self) -> None:
        pass


def _spans(start: int, stop: int, ring: int) -> list[tuple[int, int]]:
    """The ring index ranges of the absolute samples ``start .. stop`` (at most one ring)."""
    if stop <= start:
        return []
    lo, n = start % ring, min(stop - start, ring)
    if lo + n <= ring:
        return [(lo, lo + n)]
    return [(lo, ring), (0, lo + n - ring)]


def _offset(start: int, lo: int, ring: int) -> int:
    """Where ring index ``lo`` falls in a chunk written from absolute sample ``start``."""
    return (lo - start) % ring
