"""EngineBackend: the session-facing audio service, running AudioEngine streams on a device.

:class:`EngineBackend` implements :class:`~callaudio.audio.base.AudioBackend` (what
:class:`~callaudio.client.VoiceClient` drives: ``start_duplex``, ``start_playback`` ...) with
one :class:`~callaudio.engine.AudioEngine` at a time on a :class:`~callaudio.devices.base.Device`;
:func:`make_backend` builds one by name (``"simulated"``, ``"sounddevice"``). It also watches
the stream: a stream that stops calling back is reported to the client as a lost device.

It opens a stream only when asked (``start_duplex``, ``start_record``, ``start_playback``)
and keeps one open only while what was asked for runs: after ``stop_*`` of everything asked
and after :meth:`EngineBackend.close`, no stream is open on the device.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

import numpy as np
import numpy.typing as npt

from ..config import SAMPLE_RATES, ProcessingConfig, check_flag, check_sample_rate, frame_size
from ..devices.base import Device, Stream, check_device
from ..engine import (
    AudioEngine,
    EngineStats,
    PreparedSound,
    in_audio_callback,
)
from ..engine.options import check_engine_options, check_seconds
from ..engine.streamed import prepare_sound
from ..errors import (
    BackendError,
    CallAudioError,
    CallbackError,
    ConfigError,
    InvalidStateError,
    LiveObject,
)
from .base import (
    BackendFault,
    Dropout,
    DropoutHandler,
    FaultHandler,
    FaultKind,
    PlaybackSource,
    StreamConfig,
    in_session_request,
)
from .stream_io import StreamIO
from .watch import StreamWatch

if TYPE_CHECKING:
    from ..devices.simulated import SimulatedBackend
    from ..devices.sounddevice_backend import SounddeviceBackend
    from ..processing import VoiceProcessor

__all__ = ["EngineBackend", "make_backend"]

Float32Array = npt.NDArray[np.float32]
DeviceT = TypeVar("DeviceT", bound=Device)


class EngineBackend(StreamIO, LiveObject, Generic[DeviceT]):
    """The :class:`~callaudio.audio.base.AudioBackend` the client drives, over real streams.

    It runs at most one :class:`AudioEngine` at a time on ``device`` (a
    ``SounddeviceBackend``, a ``SimulatedBackend`` ...): the call's duplex stream, an
    input-only stream (category RECORD) or, when only a sound plays, an output-only stream.
    A sound (progress tone, sound file) is mixed into the duplex output while the call's
    stream runs, so it is part of the echo canceller's reference; when the duplex stream
    stops under a sound still playing, it continues on an output-only stream from where it
    was. A sound file streams (:class:`~callaudio.engine.streamed.StreamedSound`): each
    :meth:`poll` decodes its next blocks, off the audio thread.

    The chain of the last stopped duplex stream is kept: ``start_duplex(config,
    resume=True)`` reuses it (same rate and channels) with its echo path reset, so a call
    restarting after an interruption keeps its noise estimate and gain; ``resume=False``
    (a new call) builds a fresh chain.

    Stopping a stream waits for its callback, which may call in: ``stop_*`` wait without
    holding this object's lock. Inside its own callback a stream only halts (its engine's
    helper thread closes it once the callback returns); the next ``start_*`` waits for it
    (that callback cannot: BackendError), so no new stream meets the old one on the device or
    its chain. The session starts it from another thread (:meth:`on_audio_thread`).

    A helper thread (``poll_interval`` seconds, default 20 ms) calls ``on_finished`` when a
    one-shot sound runs out, reports a stream that died (device lost) to the fault
    handler, and reports lost audio (the callback's xrun, underrun and overrun counters,
    read here, never on the audio thread) to the dropout handler as a :class:`Dropout`,
    at most once per ``dropout_interval`` seconds (the counts accumulate); it never holds
    this object's lock while calling out, and ``stop_*`` never wait for it. With
    ``poll_interval=None`` nothing polls by itself: call :meth:`poll` (a
    caller-driven device does, after each frame, through its frame hook).

    Parameters
    ----------
    device : Device
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
    dropout_interval : float
        The shortest time between two dropout reports, in seconds (default 1).

    A bad option raises ConfigError here (as :class:`AudioEngine` would), not at a call.
    """

    def __init__(
        self,
        device: DeviceT,
        *,
        processing: Any = None,
        capture: Callable[[Float32Array], None] | None = None,
        far_buffer_ms: int = 500,
        capture_buffer_ms: int = 500,
        poll_interval: float | None = 0.02,
        realtime_priority: int | None = None,
        monitor: bool = False,
        dropout_interval: float = 1.0,
    ) -> None:
        # checked now, not when a call connects and its stream is built (nothing built)
        check_device(device)
        check_engine_options(capture, far_buffer_ms, capture_buffer_ms, realtime_priority, monitor)
        dropout_interval = check_seconds("dropout_interval", dropout_interval, 0.0, 3600.0)
        if poll_interval is not None:  # (None: no thread)
            poll_interval = check_seconds("poll_interval", poll_interval, 0.001, 10.0)
        if processing is not None and not isinstance(processing, ProcessingConfig):
            raise ConfigError("processing", f"must be a ProcessingConfig, got {processing!r}")
        self._device = device
        self._rt_priority, self._monitor = realtime_priority, monitor
        self._processing = processing
        self._capture = capture
        self._far_ms, self._cap_ms = far_buffer_ms, capture_buffer_ms
        self._poll_interval = poll_interval
        self._lock = threading.RLock()
        self._engine: AudioEngine | None = None
        self._kind: str | None = None  # "duplex", "record" or "playback"
        self._call_owned = False  # the duplex stream was started by the session rules
        # (engine, kind) taken off, being stopped out of the lock (its callback may call in)
        self._stopping: tuple[AudioEngine, str] | None = None
        self._config: StreamConfig | None = None
        self._sound: PreparedSound | None = None
        self._kept_vp: VoiceProcessor | None = None  # the last stopped duplex stream's chain
        self._sound_rate = 48000
        self._source: PlaybackSource | None = None
        self._on_finished: Callable[[], None] | None = None
        self._orphan: PreparedSound | None = None  # a sound no stream would take (poll ends it)
        self._muted = self._speaker = False
        self._fault_handler: FaultHandler | None = None
        self._fault_reported: object = None
        self._dropout_handler: DropoutHandler | None = None
        self._stream_watch = StreamWatch(dropout_interval)
        self._watcher: threading.Thread | None = None
        self._watch_stop = threading.Event()
        self.last_stats: EngineStats | None = None
        """Stats of the last engine stopped (a call's stream at hang-up)."""
        self.history: list[tuple[str, EngineStats]] = []
        """Every stopped engine's kind and stats, in order."""
        self.far_discarded = 0
        """Far-end samples given to :meth:`write_far` while no duplex stream ran (during an
        interruption, before the call's audio starts): not played, counted here."""
        if poll_interval is None and device.capabilities.caller_driven:
            device.add_frame_hook(self.poll)  # check after every frame the caller runs

    # -- inspection ----------------------------------------------------------------------------

    @property
    def device(self) -> DeviceT:
        """Where the streams run (typed as the device given: a room's ``run_frames``)."""
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

    def on_audio_thread(self) -> bool:
        """Whether the calling thread is inside an engine's callback (a ``capture`` callback;
        :func:`callaudio.engine.in_audio_callback`): the session never runs or waits for
        audio actions there (a stream's stop waits for its callback to return)."""
        return in_audio_callback()

    @property
    def sample_rate(self) -> int | None:
        """The device's fixed rate (its declared ``capabilities.fixed_sample_rate``), or
        None when the device takes any supported rate."""
        return self._device.capabilities.fixed_sample_rate

    @property
    def stream(self) -> Stream | None:
        """The device stream open now, if any (None after every ``stop_*`` and ``close``)."""
        engine = self._engine
        return None if engine is None else engine.stream

    @property
    def stats(self) -> EngineStats | None:
        """Live counters of the running stream; else those of the last one stopped."""
        engine = self._engine
        return engine.stats if engine is not None else self.last_stats

    @property
    def playing(self) -> bool:
        """Whether a sound is being mixed in."""
        sound = self._sound
        return sound is not None and not sound.done

    # -- AudioBackend ------------------------------------------------------------------------

    def _rate_and_block(self, config: StreamConfig, operation: str) -> int:
        if not isinstance(config, StreamConfig):  # (None: AttributeError)
            raise ConfigError("config", f"must be a StreamConfig, got {config!r:.80}")
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

    def _processor(self, config: StreamConfig, rate: int, resume: bool) -> VoiceProcessor | None:
        """The chain for a new stream: the kept one on a resume (echo path reset), else new."""
        kept, self._kept_vp = self._kept_vp, None
        if not config.voice_processing:
            return None
        channels = int(config.channels)
        if resume and kept is not None and (kept.sample_rate, kept.channels) == (rate, channels):
            kept.reset_echo_path()
            return kept
        from ..processing import VoiceProcessor

        return VoiceProcessor(rate, channels=channels, config=self._processing)

    def _start_engine(self, kind: str, rate: int, vp: VoiceProcessor | None, channels: int) -> None:
        device: Device = self._device
        config = self._config
        if config is not None and kind != "playback":
            device = device.route(str(config.input_port), str(config.output_port))
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
        sound = old = self._sound
        if sound is not None and not sound.done and engine.mode.has_output:
            if self._sound_rate != rate and self._source is not None:
                try:  # (a source that cannot be prepared again: it ends, the stream starts)
                    sound = self._prepare(self._source, rate)
                except CallAudioError:
                    sound.stop()
                    self._orphan, sound = sound, None
            engine.play(sound)
        started = False
        try:
            engine.start()
            started = True
        finally:  # the sound not kept is stopped (a streamed one's file closed)
            if sound is not old and sound is not None and old is not None:
                (old if started else sound).stop()
                if started:  # (only once started: a refused start keeps the old)
                    self._sound, self._sound_rate = sound, rate
        self._engine = engine
        self._kind = kind
        self._ensure_watcher()

    def _take_engine(self) -> tuple[AudioEngine, str] | None:
        """Take the engine off (the caller holds the lock); :meth:`_stop` stops it."""
        engine, self._engine = self._engine, None
        kind, self._kind = self._kind, None
        self._call_owned = False
        if engine is None:
            return None
        if kind == "duplex":
            self._kept_vp = engine.processor
        self._stopping = (engine, str(kind))
        return self._stopping

    def _stop(self, taken: tuple[AudioEngine, str] | None, raise_errors: bool = False) -> None:
        """Stop an engine taken off and record its stats; CallbackError (``raise_errors``)
        after stopping when its callbacks raised. Inside its own callback it only halts
        (its helper thread closes the stream once the callback returns) and stays taken."""
        if taken is None:
            return
        engine, kind = taken
        if engine.on_audio_thread():
            engine.stop()
            return
        error: CallbackError | None = None
        try:
            stats = engine.stop()  # (joins the helper thread of a halted engine)
        except CallbackError as exc:
            stats, error = engine.stats, exc
        with self._lock:
            if self._stopping is taken:
                self._stopping = None
                self.last_stats = stats
                self.history.append((kind, stats))
        if error is not None and raise_errors:
            raise error

    @contextlib.contextmanager
    def _starting(self, operation: str) -> Iterator[None]:
        """Hold the lock with no engine still stopping (waited for out of the lock);
        BackendError inside that engine's callback: it cannot wait for itself."""
        while True:
            taken = self._stopping
            if taken is not None and taken[0].on_audio_thread():
                raise BackendError(
                    operation,
                    "the stream of this callback is stopping (it closes once the callback "
                    "returns): start the next stream from another thread",
                )
            self._stop(taken)
            with self._lock:
                if self._stopping is None:
                    yield
                    return

    def start_duplex(self, config: StreamConfig, *, resume: bool = False) -> None:
        """Open and start the call's duplex stream (with the chain when asked).

        ``resume=True`` reuses the chain of the last stopped duplex stream (same rate and
        channels) with its echo path reset; otherwise, or when there is none, a fresh chain.
        """
        with self._starting("start_duplex"):
            if self._kind in ("duplex", "record"):
                raise BackendError("start_duplex", f"a {self._kind} stream is already running")
            rate = self._rate_and_block(config, "start_duplex")
            kept = self._kept_vp
            vp = self._processor(config, rate, bool(resume))
            self._config = config
            if self._kind == "playback":  # the sound moves into the duplex stream
                self._stop(self._take_engine(), raise_errors=True)  # (no capture callback)
            try:
                self._start_engine("duplex", rate, vp, int(config.channels))
            except BaseException:
                self._kept_vp = kept  # no call audio: a later resume still finds its chain
                self._resume_sound_alone()  # the call has no audio; the sound goes on
                raise
            self._call_owned = in_session_request()

    def _refuse_under_call(self, event: str) -> None:
        # the application stopping a call's stream: the call would stay up with no audio
        if self._kind == "duplex" and self._call_owned and not in_session_request():
            raise InvalidStateError(event, "a call holds its duplex stream", "end the call first")

    def stop_duplex(self) -> None:
        """Stop and close the duplex stream; a sound still playing goes on by itself.

        Raises CallbackError (a BackendError) after stopping when callbacks raised, and
        InvalidStateError (nothing stopped) when a client's call holds the stream: the
        session rules stop it when the call ends or is interrupted.
        """
        with self._lock:
            self._refuse_under_call("stop_duplex")
            if self._kind != "duplex":
                return
            taken = self._take_engine()
        try:
            self._stop(taken, raise_errors=True)
        finally:
            with self._lock:
                self._resume_sound_alone()

    def _resume_sound_alone(self) -> None:
        """A sound left without a stream goes on alone; if the device refuses, it ends
        (``playing`` False; the next :meth:`poll` calls ``on_finished``)."""
        sound = self._sound
        idle = self._engine is None and self._stopping is None
        if idle and sound is not None and not sound.done:
            try:
                self._start_engine("playback", self._sound_rate, None, 1)
            except CallAudioError:
                sound.stop()
                self._orphan = sound

    def start_playback(
        self, source: PlaybackSource, on_finished: Callable[[], None] | None = None
    ) -> None:
        """Play ``source``: mixed into the running duplex stream, else on its own stream."""
        try:  # (the protocol check reads its attributes: a property may raise)
            usable = isinstance(source, PlaybackSource)
        except Exception:
            usable = False
        if not usable:  # (ConfigError with a stream or without)
            raise ConfigError("source", f"not a PlaybackSource: {type(source).__name__}")
        with self._starting("start_playback"):
            if self._kind == "record":
                raise BackendError(
                    "start_playback", "an input-only stream runs (category RECORD): no output"
                )
            rate = self._playback_rate(source)
            sound = self._prepare(source, rate)
            if self._sound is not None:
                self._sound.stop()
            self._sound, self._source, self._sound_rate = sound, source, rate
            self._on_finished = on_finished
            if self._engine is not None:
                self._engine.play(sound)
            else:
                self._start_engine("playback", rate, None, 1)

    def _prepare(self, source: PlaybackSource, rate: int) -> PreparedSound:
        return prepare_sound(source, rate, caller_driven=self._device.capabilities.caller_driven)

    def _playback_rate(self, source: PlaybackSource) -> int:
        # the stream's rate, else the device's, the last call's, the source's if supported, 48k
        if self._engine is not None:
            return self._engine.sample_rate
        try:
            own = source.sample_rate
        except Exception:  # the application's property raised: from_source says so
            own = None
        for rate in (
            self._device.capabilities.fixed_sample_rate,
            None if self._config is None else self._config.sample_rate,
            own,
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
            taken = self._take_engine() if self._kind == "playback" else None
        self._stop(taken, raise_errors=True)

    def start_record(self, config: StreamConfig) -> None:
        """Open and start an input-only stream (category RECORD), with a fresh chain."""
        with self._starting("start_record"):
            if self._kind in ("duplex", "record"):
                raise BackendError("start_record", f"a {self._kind} stream is already running")
            if self._kind == "playback":
                raise BackendError("start_record", "a sound is playing on an output stream")
            rate = self._rate_and_block(config, "start_record")
            self._config = config
            kept = self._kept_vp
            vp = self._processor(config, rate, resume=False)
            self._kept_vp = kept  # a recording does not consume the call's kept chain
            self._start_engine("record", rate, vp, int(config.channels))

    def stop_record(self) -> None:
        """Stop and close the input-only stream."""
        with self._lock:
            taken = self._take_engine() if self._kind == "record" else None
        self._stop(taken, raise_errors=True)

    def reset_echo_canceller(self) -> None:
        """Forget the echo path, in place.

        A running stream's chain resets at its next frame (the callback does it; nothing
        is rebuilt). While no duplex stream runs (none, or only a sound or a recording), the
        kept chain of the last duplex stream resets now. What the next ``start_duplex``
        uses is decided by its ``resume`` argument.
        """
        with self._lock:
            engine = self._engine
            if engine is not None:
                engine.reset_processor()  # nothing to do on a stream without a chain
            kept, stopping = self._kept_vp, self._stopping
            if self._kind != "duplex" and kept is not None:
                if stopping is not None and stopping[0].processor is kept:
                    stopping[0].reset_processor()  # maybe still claimed: done as released
                else:
                    kept.reset_echo_path()

    def set_muted(self, muted: bool) -> None:
        """Send silence instead of the microphone (a flag the callback reads)."""
        self._muted = check_flag("muted", muted)
        engine = self._engine
        if engine is not None:
            engine.muted = self._muted

    def set_speaker(self, enabled: bool) -> None:
        """Loudspeaker route on or off (passed to the device)."""
        self._speaker = check_flag("enabled", enabled)
        engine = self._engine
        if engine is not None:
            engine.speaker = self._speaker
        else:
            self._device.set_speaker(self._speaker)

    def set_fault_handler(self, handler: FaultHandler | None) -> None:
        """Register the callable that receives :class:`~callaudio.audio.base.BackendFault`."""
        self._fault_handler = handler

    def set_dropout_handler(self, handler: DropoutHandler | None) -> None:
        """Register the callable that receives :class:`~callaudio.audio.base.Dropout` reports."""
        self._dropout_handler = handler

    # -- the helper thread ---------------------------------------------------------------------

    def poll(self) -> None:
        """Check for a finished sound, a dead stream and lost audio; call out (no lock held).
        A stream stopped inside its callback is waited for here, and a sound that was
        mixed into it goes on by itself."""
        stopping = self._stopping
        if stopping is not None and not stopping[0].on_audio_thread():
            self._stop(stopping)
            with self._lock:
                self._resume_sound_alone()
        pumped = self._sound
        if pumped is not None:
            pumped.pump()  # a sound file: the next blocks decoded ahead of the callback
        finished: Callable[[], None] | None = None
        taken = None
        fault: BackendFault | None = None
        dropout: Dropout | None = None
        with self._lock:
            sound = self._sound
            if sound is not None and (sound.ran_out or sound is self._orphan):
                finished, self._on_finished = self._on_finished, None
                self._sound = self._orphan = None
                if self._kind == "playback":
                    taken = self._take_engine()
            engine = self._engine
            stream = engine.stream if engine is not None else None
            found = None
            if engine is not None and stream is not None:
                found = self._stream_watch.check_stream(
                    engine, stream, self._poll_interval is not None
                )
            if found is not None and stream is not None and self._fault_reported is not stream:
                self._fault_reported = stream
                fault = BackendFault(FaultKind(found.kind.value), found.detail, stream.device_name)
            if engine is not None and stream is not None:
                dropout = self._stream_watch.check_dropout(engine, stream)
        self._stop(taken)
        if finished is not None:
            finished()
        handler = self._fault_handler
        if fault is not None and handler is not None:
            handler(fault)
        on_dropout = self._dropout_handler
        if dropout is not None and on_dropout is not None:
            on_dropout(dropout)

    def _ensure_watcher(self) -> None:
        if self._poll_interval is None:
            return
        thread = self._watcher  # (one told to stop by close() may not have seen it yet)
        if thread is not None and thread.is_alive() and not self._watch_stop.is_set():
            return
        self._watch_stop = stop = threading.Event()
        self._watcher = threading.Thread(
            target=self._watch, args=(stop,), name="callaudio-engine-watcher", daemon=True
        )
        self._watcher.start()

    def _watch(self, stop: threading.Event) -> None:
        interval = float(self._poll_interval or 0.02)
        while not stop.wait(interval):
            with self._lock:  # (a stream starting now finds this watcher still there)
                if self._engine is None and self._sound is None:
                    if self._watcher is threading.current_thread():
                        self._watcher = None
                    return
            try:
                self.poll()
            except Exception:  # a handler's error must not kill the watcher
                traceback.print_exc()

    def close(self) -> None:
        """Stop every stream and the helper thread; forget the kept chain. (Inside a
        stream's callback, that stream closes once the callback returns.) Refused while a
        client's call holds the duplex stream (InvalidStateError): the call would stay up
        with no audio; end it, or close the client, first."""
        with self._lock:
            self._refuse_under_call("close the backend")
        self._stop(self._stopping)  # (inside its callback: it only halts)
        with self._lock:  # again: a call's stream may have started meanwhile
            self._refuse_under_call("close the backend")
            self._watch_stop.set()
            if self._sound is not None:
                self._sound.stop()  # (closes a streamed sound's file)
            self._sound, self._on_finished = None, None
            taken = self._take_engine()
            self._kept_vp = None
        self._stop(taken, raise_errors=True)

    def __repr__(self) -> str:
        return f"EngineBackend(device={self._device!r}, stream={self._kind})"


_ENGINE_OPTIONS = tuple(inspect.signature(EngineBackend).parameters)[1:]  # all but device


@overload
def make_backend(name: Literal["simulated"], **options: Any) -> EngineBackend[SimulatedBackend]: ...
@overload
def make_backend(
    name: Literal["sounddevice"], **options: Any
) -> EngineBackend[SounddeviceBackend]: ...
@overload
def make_backend(name: str, **options: Any) -> EngineBackend[Device]: ...
def make_backend(name: str, **options: Any) -> EngineBackend[Any]:
    """An :class:`EngineBackend` on a device chosen by name.

    Parameters
    ----------
    name : str
        ``"simulated"`` (a :class:`~callaudio.devices.simulated.SimulatedBackend`, paced in
        real time unless ``realtime=False`` is given) or ``"sounddevice"`` (a
        :class:`~callaudio.devices.sounddevice_backend.SounddeviceBackend`).
    **options
        ``processing``, ``capture``, ``far_buffer_ms``, ``capture_buffer_ms``,
        ``poll_interval``, ``realtime_priority``, ``monitor`` and ``dropout_interval`` go to
        :class:`EngineBackend`; the rest to the device.
    """
    engine_opts = {k: options.pop(k) for k in _ENGINE_OPTIONS if k in options}
    device_class: type[Any]
    kind = str.__str__(name) if isinstance(name, str) else None  # (an array: ValueError)
    if kind == "simulated":
        from ..devices.simulated import SimulatedBackend as device_class

        options["realtime"] = check_flag("realtime", options.get("realtime", True))
        if not options["realtime"]:
            engine_opts.setdefault("poll_interval", None)
    elif kind == "sounddevice":
        from ..devices.sounddevice_backend import SounddeviceBackend as device_class
    else:
        raise ConfigError("backend", f"unknown backend {name!r} (simulated, sounddevice)")
    known = inspect.signature(device_class).parameters
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ConfigError(
            "options",
            f"unknown option(s) {', '.join(unknown)} for the {name} backend (known: "
            f"{', '.join(sorted({*known, *_ENGINE_OPTIONS} - {'self'}))})",
        )
    return EngineBackend(device_class(**options), **engine_opts)
