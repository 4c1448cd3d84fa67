"""AudioEngine: the real-time callback between a device's stream and the VoiceProcessor.

One :class:`AudioEngine` runs one stream on one device. Per 10 ms frame its callback

1. takes a frame of far-end audio from the application (:meth:`AudioEngine.write_far` feeds
   a lock-free single-producer/single-consumer :class:`~callaudio.engine.ring.FrameRing`; an
   empty ring plays silence, counted as a *silent frame*, and as an *underrun* when the
   application had been sending and stopped short, without :meth:`AudioEngine.flush_far`),
2. mixes in the controller's sound (a progress tone or a sound file, :meth:`AudioEngine.play`),
3. guards the result (finite, within full scale), hands it to
   ``VoiceProcessor.process_render_fast`` (the engine's own buffer, checked when the engine
   was built; the echo canceller's reference is exactly what the loudspeaker plays) and
   writes it to the stream's output,
4. runs the microphone frame (the device's data, so the checked
   ``VoiceProcessor.process_capture``) into a preallocated buffer, zeroes it when muted,
   and delivers it to the application: to a ``capture`` callback, or into a second ring
   read with :meth:`AudioEngine.read_capture` (a full ring drops the frame and counts an
   *overrun*; the next read warns with :class:`~callaudio.errors.AudioDropWarning`).

Queue sizes: the far-end and capture rings hold ``far_buffer_ms`` and ``capture_buffer_ms``
(default 500 ms each, configurable). Nothing is dropped silently: ``write_far`` returns what it
took (the rest counts in ``stats.far_rejected``), a capture overrun counts in
``stats.overruns`` and warns at the next ``read_capture``. As with sounddevice's blocking
``Stream.write``/``Stream.read``, both take a ``timeout``: 0 (the default) never waits,
a number of seconds waits up to that long for room (``write_far``) or for the frames
asked for (``read_capture``), None waits until done or the engine stops.

Shapes: captured audio is 1-D ``(m,)`` for one channel and ``(m, channels)`` for more,
the same from :meth:`AudioEngine.read_capture` and for the ``capture`` callback's frames.

The callback keeps python-sounddevice's contract, ``callback(indata, outdata, frames, time,
status)``: it always writes all of ``outdata``, accumulates the status flags with ``|=`` and
never lets an exception escape. An exception is counted, the first few are kept with their
traceback, and :meth:`AudioEngine.stop` raises :class:`~callaudio.errors.CallbackError` with
them. A ``KeyboardInterrupt`` or ``SystemExit`` (a ``BaseException`` that is no
``Exception``) is kept the same way and also halts the engine: from that frame on it plays
silence and delivers nothing, ``running`` is False, and the stream is stopped and closed on a
helper thread. :meth:`AudioEngine.stop` called from inside the callback does the same (a
thread cannot join itself, and PortAudio forbids stopping a stream from its callback).

It takes no lock, never waits, and allocates no buffer: every array it touches is allocated
in the constructor (the tests check this with :mod:`tracemalloc`). Mute and speaker state
reach it as plain attributes. Devices are described in :mod:`callaudio.devices.base`.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..config import check_int, check_sample_rate, frame_size
from ..devices.base import Device, Stream, StreamCallback
from ..errors import AudioDropWarning, CallbackError, ConfigError, FrameError
from .ring import FrameRing, check_max_frames
from .sound import MixSource, playable
from .stats import EngineMode, EngineStats

if TYPE_CHECKING:
    from ..processing import VoiceProcessor

__all__ = ["AudioEngine", "EngineMode", "EngineStats"]  # the last two from .stats

Float32Array = npt.NDArray[np.float32]

# PortAudio's status bits (paInputUnderflow ... paOutputOverflow); priming (0x10) is no xrun.
_XRUN_NAMES = ("input_underflow", "input_overflow", "output_underflow", "output_overflow")
_MAX_KEPT_ERRORS = 8
#: The longest far-end and capture buffer: 15 minutes, allocated up front (the loopback
#: test records up to 10 minutes through one).
MAX_BUFFER_MS = 900_000


class AudioEngine:
    """Runs one audio stream on a device with the VoiceProcessor in its callback.

    Parameters
    ----------
    device : Device
        Where the stream runs (``SounddeviceBackend``, ``SimulatedBackend``, ...).
    sample_rate : int
        A supported rate (:data:`callaudio.config.SAMPLE_RATES`); a frame (the stream's
        blocksize) is 10 ms.
    processor : VoiceProcessor or None
        The capture chain; None bypasses processing (MEASUREMENT mode): the application gets
        the microphone unchanged. Its sample rate must match.
    mode : EngineMode or str
        ``"duplex"`` (default), ``"playback"`` or ``"record"``.
    channels : int
        Microphone channels (the processor's channel count); playback is mono, copied to
        every output channel.
    capture : callable, optional
        ``capture(frame)`` called on the audio thread with each processed float32 frame,
        shaped as :meth:`read_capture` returns audio: ``(n,)`` for one channel,
        ``(n, channels)`` for more (a buffer reused for the next frame: copy what you
        keep, and return quickly). Without it, frames go into a ring read with
        :meth:`read_capture`.
    far_buffer_ms, capture_buffer_ms : int
        Capacity of the far-end and capture rings, in ms (multiples of 10; default 500).
    realtime_priority : int, optional
        On its first frame the audio thread asks for ``SCHED_FIFO`` at this priority
        (1..99, Linux), as JACK clients of a real-time server do. Refusal (no privilege,
        other OS) is recorded in ``stats.thread_priority`` and changes nothing else.
    monitor : bool
        Also keep what was played and the unprocessed microphone, frame by frame, in two
        more rings of ``capture_buffer_ms`` (read with :meth:`read_monitor`): for
        measurements such as the echo path's delay and the ERLE achieved.

    Examples
    --------
    >>> import numpy as np
    >>> from callaudio.devices.simulated import SimulatedBackend
    >>> device = SimulatedBackend(sample_rate=16000, delay_ms=20.0)
    >>> with AudioEngine(device, 16000) as engine:
    ...     engine.write_far(np.zeros(1600, dtype=np.float32))
    ...     device.run_frames(10)
    ...     mic = engine.read_capture()
    1600
    >>> mic.shape, engine.stats.frames, engine.stats.underruns
    ((1600,), 10, 0)
    """

    def __init__(
        self,
        device: Device,
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
        check_int("channels", channels, 1, 64)
        if processor is not None:
            if not all(
                callable(getattr(processor, m, None))
                for m in ("process_capture", "process_render_fast", "reset_echo_path")
            ):
                raise ConfigError(
                    "processor", f"must be a VoiceProcessor or None, got {processor!r}"
                )
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
        check_int("far_buffer_ms", far_buffer_ms, 10, MAX_BUFFER_MS)
        check_int("capture_buffer_ms", capture_buffer_ms, 10, MAX_BUFFER_MS)
        if capture is not None and not callable(capture):
            raise ConfigError("capture", f"must be callable, got {capture!r}")
        if realtime_priority is not None:
            check_int("realtime_priority", realtime_priority, 1, 99)
        self._rt_priority = realtime_priority
        self._device = device
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
        self._nan = np.zeros((n, 1), dtype=np.bool_)
        self._full_scale = np.ones((n, 1), dtype=np.float32)
        self._neg_full_scale = -self._full_scale
        self._cap = np.zeros((n, channels), dtype=np.float32)
        # what the capture callback receives: 1-D for one channel (a view, not a copy)
        self._cap_out = self._cap[:, 0] if channels == 1 else self._cap
        self._source: MixSource | None = None
        self._stream: Stream | None = None
        self._lock = threading.Lock()  # serialises start/stop; never taken by the callback
        self._audio_thread = 0  # the thread ident inside the callback, 0 outside
        self._stopper: threading.Thread | None = None
        #: Mute: the application receives silence (the processor still runs, so the echo
        #: canceller stays converged). A plain attribute, read by the callback.
        self.muted = False
        self._speaker = False
        self._reset_pending = False
        self._far_rejected = 0
        self._far_ended = False  # set by flush_far, cleared by write_far (application side)
        self._overruns_seen = 0  # overruns already warned about (application side)
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
    def device(self) -> Device:
        """The device the stream runs on."""
        return self._device

    @property
    def backend(self) -> Device:
        """The device the stream runs on (its former name)."""
        return self._device

    @property
    def stream(self) -> Stream | None:
        """The open stream while running (read-only: start and stop go through the engine)."""
        return self._stream

    @property
    def frames(self) -> int:
        """Callbacks run since :meth:`start` (cheaper than :attr:`stats` for a watchdog)."""
        return self._frames

    @property
    def callback(self) -> StreamCallback:
        """The real-time callback a device's stream calls once per frame.

        ``callback(indata, outdata, frames, time, status)``: python-sounddevice's contract,
        with ``None`` for the side an input-only or output-only stream does not have.
        """
        return self._callback

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`, unless the engine halted itself."""
        return self._stream is not None and not self._halted

    @property
    def speaker(self) -> bool:
        """Loudspeaker (True) or earpiece (False) route, passed to the device."""
        return self._speaker

    @speaker.setter
    def speaker(self, on: bool) -> None:
        self._speaker = bool(on)
        self._device.set_speaker(self._speaker)

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
            far_rejected=self._far_rejected,
            halted=self._halted,
            silent_frames=self._silent_frames,
        )

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
        deadline = _deadline(timeout)
        x = np.asarray(samples)
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1:
            raise FrameError(f"far-end audio must be mono, shape (m,) or (m, 1), got {x.shape}")
        self._far_ended = False
        y = playable(x, "far-end audio")
        accepted = self._far_ring.write(y)
        while accepted < y.shape[0] and self._wait(deadline):
            accepted += self._far_ring.write(y[accepted:])
        self._far_rejected += x.shape[0] - accepted
        return accepted

    def _wait(self, deadline: float | None) -> bool:
        """Sleep about half a frame; False when the deadline passed or no stream runs.

        A caller-driven device (the simulated room's ``run_frames``) advances only when
        its caller runs it, so nothing is waited for there."""
        if not self.running or self._device.capabilities.caller_driven:
            return False
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return False
        pause = 0.005 if deadline is None else min(0.005, deadline - now)
        time.sleep(pause)
        return True

    def flush_far(self) -> None:
        """Queue the last partial far-end frame, padded with silence, and mark the end of
        the far-end audio: the silence that follows is no underrun (until the next
        :meth:`write_far`)."""
        self._far_ring.flush()
        self._far_ended = True

    def far_queued_ms(self) -> float:
        """Far-end audio waiting to be played, in ms."""
        return 10.0 * len(self._far_ring)

    def read_capture(
        self, max_frames: int | None = None, timeout: float | None = 0.0
    ) -> Float32Array:
        """Processed microphone audio captured so far (when no ``capture`` callback is set).

        Returns shape ``(k * frame_size,)`` for mono, ``(k * frame_size, channels)`` else.
        ``max_frames`` (None: all) must be an int >= 0 (ConfigError; nothing read).
        ``timeout``: 0 (default) returns what is there; seconds > 0 first wait up to that
        long for ``max_frames`` frames (for one frame when ``max_frames`` is None); None
        waits until they are there or the engine stops (sounddevice's blocking read).

        Warns with :class:`~callaudio.errors.AudioDropWarning` when captured frames were
        dropped (the ring was full) since the last read; ``stats.overruns`` counts them.
        """
        limit = check_max_frames(max_frames)
        deadline = _deadline(timeout)
        want = 1 if limit is None else limit
        if timeout != 0:
            while len(self._cap_ring) < want and self._wait(deadline):
                pass
        data = self._cap_ring.read(limit)
        overruns = self._overruns
        if overruns != self._overruns_seen:
            dropped = overruns - self._overruns_seen
            self._overruns_seen = overruns
            warnings.warn(
                AudioDropWarning(
                    f"{dropped} captured frame(s) ({10 * dropped} ms) were dropped: the capture "
                    f"ring ({self._cap_ring.capacity * 10} ms) "
                    "was full; read more often or raise capture_buffer_ms"
                ),
                stacklevel=2,
            )
        return data

    def read_monitor(self, max_frames: int | None = None) -> tuple[Float32Array, Float32Array]:
        """(played, unprocessed microphone) since the last read, frame-aligned.

        Only with ``monitor=True``; a side the stream does not have reads as silence.
        """
        limit = check_max_frames(max_frames)
        if self._mon_played is None or self._mon_mic is None:
            raise ConfigError("monitor", "the engine was built without monitor=True")
        k = min(len(self._mon_played), len(self._mon_mic))
        if limit is not None:
            k = min(k, limit)
        return self._mon_played.read(k), self._mon_mic.read(k)

    def play(self, source: MixSource | None) -> None:
        """Mix ``source`` into the playback from the next frame on (None stops it).

        Replaces the previous source. The AudioController's progress tones and sound
        files come through here; they are part of the echo canceller's reference.
        Anything without ``mix_into`` and ``done`` raises ConfigError (nothing changes).
        """
        if source is not None and not (
            callable(getattr(source, "mix_into", None)) and hasattr(source, "done")
        ):
            raise ConfigError("source", f"must be a MixSource or None, got {source!r}")
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
        self._far_rejected = 0
        self._halted = False
        self._silent_frames = 0
        self._far_flowing = False  # far-end frames have been played (callback side)
        self._overruns_seen = 0

    def start(self) -> None:
        """Open and start the stream; the counters restart from zero.

        Raises whatever the device raises (``DeviceError`` ...); the engine is then not
        running.
        """
        self._join_stopper()
        with self._lock:
            if self._stream is not None:
                return
            self._reset_counters()
            self._flags = self._device.callback_flags()
            stream = self._device.open_stream(
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

        Called from inside the callback (a ``capture`` callback, on the audio thread) it
        only halts the engine and hands the stream to a helper thread to stop and close,
        and returns the stats without raising; a later ``stop()`` from another thread waits
        for that helper and reports the errors.

        Raises
        ------
        CallbackError
            When callbacks raised while running (after the stream is closed), unless
            ``raise_errors`` is False.
        """
        if self._audio_thread == threading.get_ident():
            self._halt()
            return self.stats
        self._join_stopper()
        self._close_stream()
        stats = self.stats
        if raise_errors and self._error_count:
            err = CallbackError(self._error_count, list(self._errors), list(self._tracebacks))
            raise err from (self._errors[0] if self._errors else None)
        return stats

    def _close_stream(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
            if stream is not None:
                try:
                    stream.stop()
                finally:
                    stream.close()

    def _halt(self) -> None:
        """On the audio thread: play silence from now on; a helper stops the stream."""
        if self._halted:
            return
        self._halted = True
        if self._stream is None:
            return
        stopper = threading.Thread(
            target=self._close_stream, name="callaudio-engine-stop", daemon=True
        )
        self._stopper = stopper
        stopper.start()

    def _join_stopper(self) -> None:
        stopper = self._stopper
        if stopper is not None and stopper is not threading.current_thread():
            stopper.join()
            self._stopper = None

    def reset_processor(self) -> None:
        """Reset the echo canceller (after a route change or an interruption).

        Calls ``VoiceProcessor.reset_echo_path()``, which resets in place: the echo
        canceller restarts from its delay prior; the noise suppressor and the gain control
        keep their state. While running, the reset is done by the callback itself at the
        start of its next frame (a flag, no lock), so it never races the processing; when
        stopped, at once.
        """
        vp = self._vp
        if vp is None:
            return
        if self._stream is None:
            vp.reset_echo_path()
        else:
            self._reset_pending = True

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
            f"AudioEngine(device={type(self._device).__name__}, sample_rate={self._rate}, "
            f"mode={self._mode.value!r}, processor={'bypass' if self._vp is None else 'on'}, "
            f"running={self.running})"
        )

    # -- the real-time callback ------------------------------------------------------------------

    def _callback(
        self, indata: Any, outdata: Any, frames: int, time_info: Any, status: Any
    ) -> None:
        """One frame; sounddevice's callback contract. No lock, no allocation, no wait."""
        t0 = time.perf_counter_ns()
        if self._halted:
            if outdata is not None:
                outdata.fill(0)
            return
        self._audio_thread = threading.get_ident()
        if self._frames:
            gap = t0 - self._last_start_ns
            if gap > self._interval_ns_max:
                self._interval_ns_max = gap
        elif self._rt_priority is not None:
            self._raise_priority(self._rt_priority)
        self._last_start_ns = t0
        try:
            self._frame(indata, outdata, frames, status)
        except BaseException as exc:  # recorded and raised by stop(): never swallowed
            if outdata is not None:
                outdata.fill(0)
            self._error_count += 1
            if len(self._errors) < _MAX_KEPT_ERRORS:
                self._errors.append(exc)
                self._tracebacks.append(traceback.format_exc())
            if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit ...
                self._halt()
        finally:
            self._audio_thread = 0
        self._frames += 1
        cost = time.perf_counter_ns() - t0
        self._cost_ns += cost
        if cost > self._cost_ns_max:
            self._cost_ns_max = cost

    def _frame(self, indata: Any, outdata: Any, frames: int, status: Any) -> None:
        if status:
            self._note_status(status)
        if frames != self._n:
            raise FrameError(
                f"the device delivered {frames} frames per callback, the engine needs {self._n}"
            )
        vp = self._vp
        if self._reset_pending and vp is not None:
            self._reset_pending = False
            vp.reset_echo_path()
        if outdata is not None:
            play = self._play
            if self._far_ring.pop_into(play):
                self._far_flowing = True
            else:
                play.fill(0.0)
                self._silent_frames += 1
                if self._far_flowing and not self._far_ended:
                    self._underruns += 1
            src = self._source
            if src is not None and not src.done:
                src.mix_into(play)
                self._guard(play)
            if vp is not None and indata is not None:
                vp.process_render_fast(play)  # the engine's own buffer: checked at start
            np.copyto(outdata, play)
        if indata is not None:
            cap = self._cap
            if vp is not None:
                vp.process_capture(indata, out=cap)  # the device's data: checked
            else:
                np.copyto(cap, indata)
            if self.muted:
                cap.fill(0.0)
            deliver = self._capture_cb
            if deliver is not None:
                deliver(self._cap_out)
            elif not self._cap_ring.push(cap):
                self._overruns += 1
        mon = self._mon_played
        if mon is not None and self._mon_mic is not None:
            mon.push(self._play if outdata is not None else self._silence1)
            self._mon_mic.push(indata if indata is not None else self._silence)

    def _guard(self, play: Float32Array) -> None:
        """Finite and within full scale, in place (a mixed-in source may add anything).

        Ufuncs with preallocated operands only: ``np.clip`` and ``ndarray.any`` allocate.
        """
        np.isnan(play, out=self._nan)
        np.copyto(play, self._silence1, where=self._nan)
        np.minimum(play, self._full_scale, out=play)
        np.maximum(play, self._neg_full_scale, out=play)

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


def _deadline(timeout: object) -> float | None:
    """The monotonic time a blocking call gives up (None: never); ConfigError if bad."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        raise ConfigError("timeout", f"must be None or seconds >= 0, got {timeout!r}")
    return time.monotonic() + float(timeout)
