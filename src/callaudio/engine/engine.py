"""AudioEngine: the real-time callback between a device's stream and the VoiceProcessor.

One :class:`AudioEngine` runs one stream on one device. Per 10 ms frame its callback
(compiled: :mod:`callaudio._dsp.rt`)

1. takes a frame of far-end audio from the application (:meth:`AudioEngine.write_far` feeds
   a lock-free single-producer/single-consumer ring; an empty ring plays silence, counted
   as a *silent frame*, and as an *underrun* when the application had been sending and
   stopped short, without :meth:`AudioEngine.flush_far`),
2. mixes in the controller's sound (a progress tone or a sound file, :meth:`AudioEngine.play`),
3. guards the result (finite, within full scale), writes it to the stream's output and
   feeds it to each channel's chain as the echo reference,
4. runs the microphone frame through the chains, zeroes it when muted, and delivers it: to
   a ``capture`` callback, or into a second ring read with :meth:`AudioEngine.read_capture`
   (a full ring drops the frame and counts an *overrun*; the next read warns with
   :class:`~callaudio.errors.AudioDropWarning`).

Nothing is dropped silently: ``write_far`` returns what it took (the rest counts in
``stats.far_rejected``). Like sounddevice's blocking ``Stream.write``/``Stream.read``, both
take a ``timeout`` (0: never wait; seconds; None: until done or the engine stops). Captured
audio is ``(m,)`` for one channel and ``(m, channels)`` for more.

Threads. The compiled frame takes no lock, never waits and allocates nothing. PortAudio
calls it directly, without the GIL, where the device can (``callback_kind == "compiled"``);
else the Python callback (sounddevice's contract, ``"python"``; see :meth:`AudioEngine.start`)
runs the same frame with the GIL released. Mute, sounds, resets and chain changes reach it
through atomics and a lock-free command queue. An exception in the Python callback is
counted and kept, and :meth:`AudioEngine.stop` raises :class:`~callaudio.errors.CallbackError`;
a ``KeyboardInterrupt``/``SystemExit``, or :meth:`AudioEngine.stop` called inside it, also
halts the engine (silence from then on; a helper thread stops the stream).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..config import check_flag, check_int, check_sample_rate, frame_size
from ..devices.base import Device, Stream, StreamCallback, check_device
from ..errors import ConfigError, FrameError, InvalidStateError, LiveObject
from ..processing import VoiceProcessor
from .driver import (
    CALLBACK_MARK,
    COMPILED,
    PYTHON,
    AudioEngineStream,
    RawDriver,
    Retainer,
    callback_error,
    choose_kind,
    flags_text,
    percentile_us,
    priority_text,
    python_frame_arrays,
    status_bits,
)
from .options import check_engine_options
from .rings import RingSide
from .sound import MixSource, PreparedSound, core_args
from .stats import EngineMode, EngineStats

if TYPE_CHECKING:
    from .._dsp.pipeline import Chain

__all__ = ["AudioEngine", "EngineMode", "EngineStats"]  # the last two from .stats

Float32Array = npt.NDArray[np.float32]

_MAX_KEPT_ERRORS = 8


class AudioEngine(LiveObject, RingSide):
    """Runs one audio stream on a device with the VoiceProcessor in its callback.

    Parameters
    ----------
    device : Device
        Where the stream runs (``SounddeviceBackend``, ``SimulatedBackend``, ...).
    sample_rate : int
        A supported rate (:data:`callaudio.config.SAMPLE_RATES`); a frame (blocksize) is 10 ms.
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
    compiled : bool or None
        None (default): the compiled callback wherever it can run, else the Python one
        (see :attr:`callback_kind`); False: the Python callback; True: the compiled one,
        or :meth:`start` raises ConfigError saying why it cannot.

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
        compiled: bool | None = None,
    ) -> None:
        check_device(device)
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
            if not isinstance(processor, VoiceProcessor):
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
        check_engine_options(capture, far_buffer_ms, capture_buffer_ms, realtime_priority, monitor)
        if compiled is not None and not isinstance(compiled, bool):
            raise ConfigError("compiled", f"must be None, True or False, got {compiled!r}")
        from .._dsp.rt import Core

        self._rt_priority = realtime_priority
        self._device = device
        self._vp = processor
        self._channels = channels
        self._capture_cb = capture
        self._compiled = compiled
        n = self._n
        self._monitor = monitor
        self._core = Core(
            n,
            channels,
            far_buffer_ms // 10,
            capture_buffer_ms // 10,
            monitor=monitor,
            deliver=capture is not None,
            rt_priority=realtime_priority or 0,
        )
        self._raw = RawDriver(self._core, self._sync_on_audio_thread)
        # One producer of commands at a time (application threads, the watcher; a
        # Python-driven audio thread only tries it); one reader and one writer of the rings.
        self._cmd_lock, self._read_lock, self._write_lock = (threading.Lock() for _ in "crw")
        self._retained = Retainer()
        self._chains: tuple[Chain, ...] = ()  # what the callback runs (kept alive here)
        self._synced_gen: int | None = None  # the processor's generation the chains are of
        self._watcher: threading.Thread | None = None
        self._watch_stop = threading.Event()
        self._extra = np.zeros(n, dtype=np.float32)  # a Python-mixed sound's next frame
        self._in_buf = np.zeros((n, channels), dtype=np.float32)  # for odd device layouts
        self._out_buf = np.zeros((n, 1), dtype=np.float32)
        # what the capture callback receives: 1-D for one channel (a view, not a copy)
        cap = self._core.captured()
        self._cap_out = cap[:, 0] if channels == 1 else cap
        self._source: MixSource | None = None
        self._args: tuple[Any, ...] = ()  # the arrays handed to the callback with _source
        self._py_source: MixSource | None = None  # a sound Python mixes (not prepared)
        self._stream: Stream | None = None
        # The callback may run (set under _cmd_lock before stream.start(), cleared after
        # stream.stop()): commands go to it; else the caller's thread applies them.
        self._live = self._claimed = False  # (claimed: the processor, by start())
        self._owner = AudioEngineStream()  # what it claims the processor as
        self._kind = PYTHON
        self._kind_reason = ""
        self._lock = threading.Lock()  # serialises start/stop; never taken by the callback
        self._audio_thread = 0  # the thread ident inside the callback, 0 outside
        self._stopper: threading.Thread | None = None
        self._speaker = False
        self._far_rejected = 0
        self._overruns_seen = 0  # overruns already warned about (application side)
        self._reset_counters()
        self._sync_chains()

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
        """The VoiceProcessor (claimed while running), or None when processing is bypassed.
        A running engine keeps itself alive, like a thread, until :meth:`stop`."""
        return self._vp

    @property
    def device(self) -> Device:
        """The device the stream runs on."""
        return self._device

    backend = device  # its former name

    @property
    def stream(self) -> Stream | None:
        """The open stream while running (read-only: start and stop go through the engine)."""
        return self._stream

    @property
    def frames(self) -> int:
        """Callbacks run since :meth:`start` (cheaper than :attr:`stats` for a watchdog)."""
        return int(self._core.counters()["frames"]) + self._uncounted - self._delivering

    @property
    def callback(self) -> StreamCallback:
        """The Python callback (the fallback; see :attr:`callback_kind`): sounddevice's
        ``callback(indata, outdata, frames, time, status)``, None for a missing side."""
        return self._callback

    @property
    def callback_kind(self) -> str:
        """``"compiled"`` (the device calls the compiled callback, no GIL) or ``"python"``
        (the Python callback): what :meth:`start` chose last, or would choose now."""
        if self._stream is None:
            return self._choose()[0]
        return self._kind

    @property
    def callback_kind_reason(self) -> str:
        """Why the Python callback was chosen ("" for the compiled one)."""
        if self._stream is None:
            return self._choose()[1]
        return self._kind_reason

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`, unless the engine halted itself."""
        return self._stream is not None and not self._halted

    def _streaming(self) -> bool:
        return self.running

    @property
    def muted(self) -> bool:
        """Mute: the application receives silence (the processor still runs, so the echo
        canceller stays converged). An atomic flag the callback reads every frame."""
        return bool(self._core.muted)

    @muted.setter
    def muted(self, on: bool) -> None:
        self._core.muted = check_flag("muted", on)

    @property
    def speaker(self) -> bool:
        """Loudspeaker (True) or earpiece (False) route, passed to the device."""
        return self._speaker

    @speaker.setter
    def speaker(self, on: bool) -> None:
        self._speaker = check_flag("speaker", on)
        self._device.set_speaker(self._speaker)

    @property
    def stats(self) -> EngineStats:
        """Counters since :meth:`start` (readable while running)."""
        c = self._core.counters()
        frames = int(c["frames"]) + self._uncounted - self._delivering
        hist = self._core.cost_histogram() if self._kind == COMPILED else None
        if self._kind == COMPILED:
            cost_sum, cost_max = int(c["cost_ns_sum"]), int(c["cost_ns_max"])
        else:
            cost_sum, cost_max = self._cost_ns, self._cost_ns_max
        return EngineStats(
            frames=frames,
            underruns=int(c["underruns"]),
            overruns=int(c["overruns"]),
            xruns=int(c["xruns"]),
            xrun_flags=flags_text(self._device, int(c["status_bits"])),
            callback_errors=self._error_count + int(c["bad_frames"]),
            cost_us_mean=cost_sum / frames / 1000.0 if frames else None,
            cost_us_max=cost_max / 1000.0 if frames else None,
            interval_us_max=int(c["interval_ns_max"]) / 1000.0 if frames > 1 else None,
            thread_priority=priority_text(self._rt_priority, int(c["priority"])),
            far_rejected=self._far_rejected,
            halted=self._halted,
            silent_frames=int(c["silent_frames"]),
            callback_kind=self._kind,
            cost_us_median=None if hist is None else percentile_us(hist, 0.5),
            cost_us_p99=None if hist is None else percentile_us(hist, 0.99),
            processor_resets=int(c["resets"]),
            echo_path_resets=int(c["echo_resets"]),
            xrun_at_frames=tuple(self._core.xrun_frames()),
        )

    def play(self, source: MixSource | None) -> None:
        """Mix ``source`` into the playback from the next frame on (None stops it).

        Replaces the previous source. The AudioController's progress tones and sound
        files come through here; they are part of the echo canceller's reference. A
        :class:`PreparedSound` is mixed by the compiled callback; any other source by the
        Python side before each frame, which a native compiled stream cannot do
        (ConfigError: prepare it, or build the engine with ``compiled=False``).
        Anything without ``mix_into`` and ``done`` raises ConfigError (nothing changes).
        """
        if source is not None and not (
            callable(getattr(source, "mix_into", None)) and hasattr(source, "done")
        ):
            raise ConfigError("source", f"must be a MixSource or None, got {source!r}")
        prepared = source if isinstance(source, PreparedSound) else None
        if source is not None and prepared is None and self._native_compiled():
            raise ConfigError(
                "source",
                "the compiled callback on this device mixes PreparedSound sources only: "
                "wrap it in PreparedSound(...) or build the engine with compiled=False",
            )
        with self._cmd_lock:
            args = (None, None, False) if prepared is None else core_args(prepared)
            self._command(self._core.set_sound, *args, replaces=(self._source, self._args))
            self._source, self._args = source, args  # the arrays the callback reads: alive
            self._py_source = source if prepared is None else None
            self._raw.premix = None if self._py_source is None else self._premix

    @property
    def source(self) -> MixSource | None:
        """The sound being mixed in, if any (None once it has finished)."""
        src = self._source
        return None if src is None or src.done else src

    def _premix(self) -> None:
        """Before a frame, on the audio thread: a sound Python mixes, into the next frame."""
        src = self._py_source
        if src is not None and not src.done:
            extra = self._extra
            extra.fill(0.0)
            src.mix_into(extra[:, None])
            self._core.set_extra(extra)

    def _native_compiled(self) -> bool:
        kind = self._kind if self._stream is not None else self._choose()[0]
        return kind == COMPILED and self._device.capabilities.raw_callback == "native"

    def _command(self, fn: Callable[..., int], *args: Any, replaces: object = None) -> None:
        """Queue a command (applied at once while no callback can run); keep what it
        replaces alive until the callback applied it. The caller holds ``_cmd_lock``."""
        seq = int(fn(*args))
        deadline = time.monotonic() + 1.0
        while seq < 0:  # the queue is full: the callback is late; it frees a slot per frame
            if not self._live:
                self._core.apply_commands()
            elif time.monotonic() > deadline:
                raise ConfigError("command", "the audio callback does not take commands")
            else:  # a live callback frees a slot per frame
                time.sleep(0.002)
            seq = int(fn(*args))
        if not self._live:  # no callback can run (it is set under _cmd_lock)
            self._core.apply_commands()
        self._retained.keep(seq, replaces)
        self._retained.release(int(self._core.commands_done))

    def _sync_chains(self, wait: bool = True) -> None:
        """Point the callback at the processor's chains as they are now (a new
        configuration rebuilds them); the replaced ones stay alive until it moved on.

        Runs before each frame a Python thread drives (``wait=False``: it never waits for
        the lock or a full command queue: next frame), on a native stream's watcher thread,
        and in the application's calls; allocation-free unless the configuration changed."""
        vp = self._vp
        if vp is None or vp.generation == self._synced_gen:
            return
        if not self._cmd_lock.acquire(wait):
            return
        try:
            gen = vp.generation
            chains = vp.chains()
            old = self._chains
            if chains and not (
                len(chains) == len(old) and all(a is b for a, b in zip(chains, old, strict=True))
            ):  # (no chains: the processor was closed; the callback keeps those it has)
                if not wait and self._live and self._core.commands_free < len(chains):
                    return
                for c, chain in enumerate(chains):
                    self._command(self._core.set_chain, c, chain, replaces=old[c] if old else None)
                self._chains = chains
            self._synced_gen = gen
        finally:
            self._cmd_lock.release()

    def _sync_on_audio_thread(self) -> None:  # never waits
        self._sync_chains(wait=False)

    # -- lifecycle -----------------------------------------------------------------------------

    def _reset_counters(self) -> None:
        self._core.reset_counters()
        self._uncounted = 0  # Python callbacks that raised before the compiled frame ran
        self._delivering = 0  # 1 while the capture callback runs (its frame not done yet)
        self._error_count = 0
        self._errors: list[BaseException] = []
        self._tracebacks: list[str] = []
        self._cost_ns = 0
        self._cost_ns_max = 0
        self._far_rejected = 0
        self._halted = False
        self._overruns_seen = 0

    def _choose(self) -> tuple[str, str]:
        src = self._source
        return choose_kind(
            self._device,
            wanted=self._compiled,
            capture_callback=self._capture_cb is not None,
            generic_source=src is not None and not isinstance(src, PreparedSound),
        )

    def start(self) -> None:
        """Open and start the stream; the counters restart from zero.

        Chooses the callback (:attr:`callback_kind`) and claims the processor
        (``VoiceProcessor.claim``) until :meth:`stop`. Raises whatever the device raises
        (``DeviceError`` ...), ConfigError when ``compiled=True`` cannot be honoured, or
        InvalidStateError when the processor is closed, another running engine holds it
        or its callback stopped it (then start from another thread); nothing started.
        """
        self._join_stopper()
        with self._lock:
            if self._stream is not None:
                return
            kind, why = self._choose()
            if self._compiled and kind != COMPILED:
                raise ConfigError("compiled", f"the compiled callback cannot run here: {why}")
            self._reset_counters()
            self._synced_gen = None  # sync even an unchanged processor's chains
            self._sync_chains()
            self._core.apply_commands()
            self._kind, self._kind_reason = kind, why
            extra: dict[str, Any] = {"raw": self._raw} if kind == COMPILED else {}
            native = kind == COMPILED and self._device.capabilities.raw_callback == "native"
            stream = self._device.open_stream(
                sample_rate=self._rate,
                blocksize=self._n,
                channels=self._channels,
                mode=self._mode.value,
                callback=self._callback,
                **extra,
            )
            try:
                with self._cmd_lock:
                    if self._vp is not None:  # its chains are ours until stop()
                        self._vp.claim(self._owner)
                    self._live = self._claimed = True
            except BaseException:
                stream.close()
                raise
            self._stream = stream  # before its first callback: a stop() there finds it
            try:
                stream.start()
            except BaseException:
                self._stream = None
                try:
                    stream.close()
                finally:
                    self._set_stopped()
                raise
            if native:
                self._watch_stop.clear()
                self._watcher = threading.Thread(
                    target=self._watch, name="callaudio-engine-watch", daemon=True
                )
                self._watcher.start()

    def _watch(self) -> None:
        """A native stream's watcher: what the application changed without calling the
        engine (a processor's new configuration) reaches the callback within 20 ms, and
        what the callback no longer reads is released."""
        while not self._watch_stop.wait(0.02):
            self._sync_chains()
            with self._cmd_lock:
                self._retained.release(int(self._core.commands_done))

    def stop(self, *, raise_errors: bool = True) -> EngineStats:
        """Stop and close the stream; return the stats.

        Called from inside the callback (a ``capture`` callback, on the audio thread) it
        only halts the engine and hands the stream to a helper thread to stop and close,
        and returns the stats without raising; a later ``stop()`` from another thread waits
        for that helper and reports the errors.

        Raises
        ------
        CallbackError
            When callbacks raised (or a device delivered frames of the wrong size) while
            running, after the stream is closed, unless ``raise_errors`` is False.
        """
        if self.on_audio_thread():
            self._halt()
            return self.stats
        self._join_stopper()
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            self._watch_stop.set()
            watcher.join()
        self._close_stream()  # (applies what was queued: _set_stopped)
        stats = self.stats
        if raise_errors and stats.callback_errors:
            count = stats.callback_errors
            err = callback_error(count, self._errors, self._tracebacks, self._error_count, self._n)
            raise err from err.errors[0]
        return stats

    def on_audio_thread(self) -> bool:
        """Whether the calling thread runs this engine's callback now (a ``capture``
        callback): :meth:`stop` only halts there (any engine's: ``in_audio_callback()``)."""
        return self._audio_thread == threading.get_ident()

    def _close_stream(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
            if stream is not None:
                try:
                    stream.stop()
                finally:
                    try:
                        stream.close()
                    finally:
                        self._set_stopped()

    def _set_stopped(self) -> None:
        """After stream.stop(): a caller waiting in _command (holding the lock) now applies."""
        self._live = False
        with self._cmd_lock:
            self._core.apply_commands()
            self._retained.release(int(self._core.commands_done))
            if self._vp is not None:
                self._vp.release(self._owner)
            self._claimed = False

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
        stopper.start()  # before it is published: another thread's stop() joins it
        self._stopper = stopper

    def _join_stopper(self) -> None:
        stopper = self._stopper
        if stopper is not None and self.on_audio_thread():  # it waits for this callback
            raise InvalidStateError("start", "STOPPING", "start it from another thread")
        if stopper is not None and stopper is not threading.current_thread():
            stopper.join()
            self._stopper = None

    def reset_processor(self) -> None:
        """Reset the echo canceller (after a route change or an interruption).

        In place: the echo canceller restarts from its delay prior; the noise suppressor
        and the gain control keep their state. While running, the callback does it at its
        next frame (a queued command); when stopped, at once.
        """
        vp = self._vp
        if vp is None:
            return
        with self._cmd_lock:
            if self._claimed:  # running, or stopping: the chains are ours
                self._command(self._core.reset_echo_path)
            else:
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
            f"AudioEngine(device={type(self._device).__name__}, sample_rate={self._rate}, "
            f"mode={self._mode.value!r}, processor={'bypass' if self._vp is None else 'on'}, "
            f"running={self.running})"
        )

    # -- the Python fallback callback ----------------------------------------------------------

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
        CALLBACK_MARK.depth += 1
        ran = False
        try:
            if frames != self._n:
                raise FrameError(
                    f"the device delivered {frames} frames per callback, the engine needs {self._n}"
                )
            self._sync_chains(wait=False)
            if self._py_source is not None:
                self._premix()
            bits = status_bits(status)
            inp, out = python_frame_arrays(indata, outdata, self._in_buf, self._out_buf)
            self._core.run(inp, out, frames, bits)
            ran = True
            if out is not outdata:
                np.copyto(outdata, out)  # a device's other layout (broadcast to stereo ...)
            deliver = self._capture_cb
            if deliver is not None and indata is not None:
                self._delivering = 1  # the frame counts once the capture callback returned
                deliver(self._cap_out)
        except BaseException as exc:  # recorded and raised by stop(): never swallowed
            if outdata is not None:
                outdata.fill(0)
            if not ran:
                self._uncounted += 1
            self._error_count += 1
            if len(self._errors) < _MAX_KEPT_ERRORS:
                self._errors.append(exc)
                self._tracebacks.append(traceback.format_exc())
            if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit ...
                self._halt()
        finally:
            CALLBACK_MARK.depth -= 1
            self._audio_thread = 0
            self._delivering = 0
        cost = time.perf_counter_ns() - t0
        self._cost_ns += cost
        if cost > self._cost_ns_max:
            self._cost_ns_max = cost
