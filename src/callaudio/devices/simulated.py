"""The simulated device: streams on an acoustic room, with PortAudio's callback contract.

The embedded default device, so everything runs on a machine with no sound card. It calls
the engine's callback exactly as PortAudio does through python-sounddevice,
``callback(indata, outdata, frames, time, status)`` once per 10 ms frame with float32
``(frames, channels)`` arrays, so the engine's real-time code path is the same on both.
What the stream plays goes into a :class:`~callaudio.simulation.room.Room` (delay, room
response, near-end talker, noise), which the microphone hears.

Pacing
------
``realtime=True``: a thread runs one frame per 10 ms against a monotonic deadline; when it
falls more than a frame behind it flags an xrun (input overflow + output underflow, as
PortAudio does) and re-anchors. ``realtime=False`` (default): nothing runs by itself; the
caller advances the world with :meth:`SimulatedBackend.run_frames` (tests, the demo: as
fast as the machine goes, deterministic).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..config import check_flag
from ..errors import BackendError, ConfigError, LiveObject
from ..simulation.room import Room
from .base import MODES, DeviceCapabilities, FaultKind, RawCallback, StreamCallback, StreamFault

__all__ = ["CallbackFlags", "SimulatedBackend", "SimulatedStream", "StreamTime"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

# PortAudio's paStreamCallbackFlags bits (the values python-sounddevice reports).
_INPUT_UNDERFLOW = 0x1
_INPUT_OVERFLOW = 0x2
_OUTPUT_UNDERFLOW = 0x4
_OUTPUT_OVERFLOW = 0x8
_PRIMING_OUTPUT = 0x10
_FLAG_NAMES = (
    ("input_underflow", _INPUT_UNDERFLOW),
    ("input_overflow", _INPUT_OVERFLOW),
    ("output_underflow", _OUTPUT_UNDERFLOW),
    ("output_overflow", _OUTPUT_OVERFLOW),
    ("priming_output", _PRIMING_OUTPUT),
)


class CallbackFlags:
    """Status flags of one callback: the same bits and interface as ``sounddevice.CallbackFlags``.

    ``bool(flags)`` is True when any bit is set; ``flags |= other`` accumulates in place.
    """

    __slots__ = ("_flags",)

    def __init__(self, flags: int = 0) -> None:
        self._flags = int(flags)

    def __bool__(self) -> bool:
        return bool(self._flags)

    def __int__(self) -> int:
        return self._flags

    def __ior__(self, other: object) -> CallbackFlags:
        if not isinstance(other, CallbackFlags):
            return NotImplemented
        self._flags |= int(other)
        return self

    def __str__(self) -> str:
        return ", ".join(n.replace("_", " ") for n, bit in _FLAG_NAMES if self._flags & bit)

    def __repr__(self) -> str:
        return f"<CallbackFlags: {self or 'no flags set'}>"

    @property
    def input_underflow(self) -> bool:
        """Zeros were inserted into the input."""
        return bool(self._flags & _INPUT_UNDERFLOW)

    @property
    def input_overflow(self) -> bool:
        """Input was discarded (the callback ran late)."""
        return bool(self._flags & _INPUT_OVERFLOW)

    @property
    def output_underflow(self) -> bool:
        """Silence was played (the callback ran late)."""
        return bool(self._flags & _OUTPUT_UNDERFLOW)

    @property
    def output_overflow(self) -> bool:
        """Output was discarded."""
        return bool(self._flags & _OUTPUT_OVERFLOW)

    @property
    def priming_output(self) -> bool:
        """The output is being primed (not an xrun)."""
        return bool(self._flags & _PRIMING_OUTPUT)


def _real(track: npt.ArrayLike | None, name: str) -> npt.ArrayLike | None:
    """``track`` unchanged when it holds real numbers (or is None); else ConfigError."""
    try:
        dtype = None if track is None else np.asarray(track).dtype
    except Exception as exc:  # a ragged list; a number whose __float__/__int__ raises
        raise ConfigError(name, f"must be an array of samples ({exc})") from None
    if dtype is not None and dtype.kind not in "biuf":
        raise ConfigError(name, f"must hold real samples, got {dtype}")
    return track


@dataclass
class StreamTime:
    """The ``time`` argument of a callback (PortAudio's ``PaStreamCallbackTimeInfo``), seconds."""

    inputBufferAdcTime: float = 0.0
    currentTime: float = 0.0
    outputBufferDacTime: float = 0.0


class SimulatedBackend(LiveObject):
    """A simulated room as a device (see the module docstring).

    Parameters
    ----------
    sample_rate : int
        A supported rate; the device runs at this rate only.
    delay_ms, impulse_response, echo_gain_db, rt60_s, distance_m, earpiece_loss_db, near,
    noise, loop, record, seed
        The room: see :class:`~callaudio.simulation.room.Room`.
    realtime : bool
        Pace frames in real time on a thread (else :meth:`run_frames` drives them).
    """

    name = "simulated"

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
        realtime: bool = False,
        record: bool = False,
        seed: int = 0,
    ) -> None:
        self._room = Room(
            sample_rate,
            delay_ms=delay_ms,
            impulse_response=impulse_response,
            echo_gain_db=echo_gain_db,
            rt60_s=rt60_s,
            distance_m=distance_m,
            earpiece_loss_db=earpiece_loss_db,
            near=near,
            noise=noise,
            loop=loop,
            record=record,
            seed=seed,
        )
        self._realtime = check_flag("realtime", realtime)  # ("no" was paced)
        self._stream: SimulatedStream | None = None
        self._lock = threading.Lock()  # guards open/close, not the callback
        self._driving = threading.local()  # .on: this thread is in run_frames (no re-entry)
        self.faults: list[str] = []
        """Failures of the room itself on the pacing thread (``Type: message``)."""
        self._frame_hooks: list[Callable[[], None]] = []
        self.capabilities = DeviceCapabilities(
            fixed_sample_rate=self._room.sample_rate,
            caller_driven=not self._realtime,
            speaker_route=True,
            port_routing=False,
            raw_callback="python",
        )
        """One fixed rate; caller-driven unless ``realtime``; the speaker changes the echo;
        a compiled callback runs through ``RawCallback.run`` (the room is Python)."""

    # -- description --------------------------------------------------------------------------

    @property
    def room(self) -> Room:
        """The acoustic room the streams play into and record from."""
        return self._room

    @property
    def sample_rate(self) -> int:
        """Sample rate in Hz."""
        return self._room.sample_rate

    @property
    def frame_size(self) -> int:
        """Samples per channel in one 10 ms frame."""
        return self._room.frame_size

    @property
    def delay_samples(self) -> int:
        """Bulk delay from the output to the microphone, in samples."""
        return self._room.delay_samples

    @property
    def impulse_response(self) -> F64:
        """The room's response (a copy)."""
        return self._room.impulse_response

    @property
    def realtime(self) -> bool:
        """True when a thread paces the frames."""
        return self._realtime

    @property
    def time_s(self) -> float:
        """Simulated time since construction, in seconds (frames run / rate)."""
        return self._room.time_s

    @property
    def stream(self) -> SimulatedStream | None:
        """The open stream, if any."""
        return self._stream

    def callback_flags(self) -> CallbackFlags:
        """An empty flags object to accumulate callback statuses into (``|=``)."""
        return CallbackFlags()

    def set_speaker(self, on: bool) -> None:
        """Loudspeaker (True: full echo path) or earpiece (False: ``earpiece_loss_db`` less)."""
        self._room.speaker = check_flag("on", on)  # (an array had no truth value)

    def route(self, input_port: str, output_port: str) -> SimulatedBackend:
        """Itself: the room has one microphone and one loudspeaker."""
        return self

    def set_near(self, near: npt.ArrayLike | None) -> None:
        """Replace the near-end track; it starts at the next frame."""
        self._room.set_near(_real(near, "near"))

    def set_noise(self, noise: npt.ArrayLike | None) -> None:
        """Replace the noise track; it starts at the next frame."""
        self._room.set_noise(_real(noise, "noise"))

    def reset_room(self) -> None:
        """Silence the room: drop the echo still on its way.

        Starting a stream does not do it: sound already in the air arrives whatever the next
        stream is.
        """
        self._room.silence()

    def recording(self) -> dict[str, F32]:
        """Everything recorded so far (``record=True``); see :meth:`Room.recording`."""
        return self._room.recording()

    def clear_recording(self) -> None:
        """Forget what was recorded."""
        self._room.clear_recording()

    # -- streams ------------------------------------------------------------------------------

    def open_stream(
        self,
        *,
        sample_rate: int,
        blocksize: int,
        channels: int,
        mode: str,
        callback: StreamCallback,
        raw: RawCallback | None = None,
    ) -> SimulatedStream:
        """Open a stream on the room (one at a time, like an exclusive device).

        With ``raw`` each frame runs the compiled callback (``raw.run``, the GIL released
        while it runs) instead of ``callback``."""
        rate, n = self._room.sample_rate, self._room.frame_size
        if sample_rate != rate:
            raise BackendError(
                "open", f"the simulated room runs at {rate} Hz, not {sample_rate} Hz"
            )
        if blocksize != n:
            raise BackendError("open", f"blocksize must be {n} (10 ms), got {blocksize}")
        if mode not in MODES:
            raise BackendError("open", f"mode must be duplex, playback or record, got {mode!r}")
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise BackendError("open", f"channels must be a positive int, got {channels!r}")
        with self._lock:
            if self._stream is not None:
                raise BackendError("open", "the simulated device already has an open stream")
            self._stream = SimulatedStream(self, channels, mode, callback, raw)
            return self._stream

    def release(self, stream: SimulatedStream) -> None:
        """Called by a stream as it closes: the device is free for the next one."""
        with self._lock:
            if self._stream is stream:
                self._stream = None

    def run_frames(self, count: int) -> None:
        """Run ``count`` frames now, as fast as possible (``realtime=False`` only).

        Raises BackendError when no stream is started or the device paces itself,
        ConfigError when ``count`` is not an int >= 0 (nothing run).
        """
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise ConfigError("count", f"must be an int >= 0, got {count!r}")
        if self._realtime:
            raise BackendError("run_frames", "this backend is paced in real time")
        if getattr(self._driving, "on", False):  # a callback or frame hook driving its device
            raise BackendError(
                "run_frames", "called from inside a frame (a callback or a frame hook)"
            )
        stream = self._stream
        if stream is None or not stream.active:
            raise BackendError("run_frames", "no started stream")
        hooks = self._frame_hooks
        self._driving.on = True
        try:
            for _ in range(int(count)):
                if not stream.active:
                    break
                stream.run_frame()
                for hook in hooks:
                    hook()
        finally:
            self._driving.on = False

    def add_frame_hook(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` after every frame :meth:`run_frames` runs (on the caller's thread).

        The engine's service checks for finished sounds and faults there, so a caller-driven
        room reports them at a deterministic frame.
        """
        self._frame_hooks.append(hook)

    def inject_fault(self, kind: str = "device_lost", detail: str = "") -> None:
        """Make the open stream die as a lost device or a reset audio system would.

        The stream stops calling back and its ``check_alive()`` reports the fault
        (``"device_lost"`` or ``"media_services_reset"``); whoever watches it reports it.
        ``"stall"``: the callbacks just stop, with no fault set (what a stream on a JACK
        server that died does); only a watchdog notices.
        """
        if not isinstance(kind, str) or str.__str__(kind) not in (
            "device_lost",
            "media_services_reset",
            "stall",
        ):
            raise ConfigError(
                "kind", f"must be device_lost, media_services_reset or stall, got {kind!r}"
            )
        stream = self._stream
        if stream is None:
            raise BackendError("inject_fault", "no open stream")
        if kind == "stall":
            stream.die(None)
        else:
            fault_kind = FaultKind(kind)
            stream.die(StreamFault(fault_kind, detail or f"simulated {kind.replace('_', ' ')}"))
        for hook in self._frame_hooks:
            hook()

    def run_seconds(self, seconds: float) -> None:
        """Run ``round(seconds * 100)`` frames (see :meth:`run_frames`); ConfigError for a
        duration that is not a finite number >= 0."""
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float, np.integer, np.floating))
            or not 0 <= seconds < math.inf
        ):
            raise ConfigError("seconds", f"must be a finite number >= 0, got {seconds!r}")
        try:
            frames = round(float(seconds) * 100.0)
        except (OverflowError, ValueError):  # 10**400 or 1e308 s: no whole number of frames
            raise ConfigError("seconds", f"must be a finite number >= 0, got {seconds!r}") from None
        self.run_frames(frames)

    def __repr__(self) -> str:
        return (
            f"SimulatedBackend(sample_rate={self.sample_rate}, delay={self.delay_samples} "
            f"samples, ir={self.impulse_response.size} taps, realtime={self._realtime})"
        )


class SimulatedStream(LiveObject):
    """One stream on a :class:`SimulatedBackend` (what ``open_stream`` returns)."""

    def __init__(
        self,
        device: SimulatedBackend,
        channels: int,
        mode: str,
        callback: StreamCallback,
        raw: RawCallback | None = None,
    ) -> None:
        self._device = device
        self._room = device.room
        self._channels = channels
        self._mode = mode
        self._callback = callback
        self._raw = raw
        n = self._room.frame_size
        # The callback's arrays, reused for every frame (as PortAudio reuses its buffers).
        self._indata = np.zeros((n, channels), dtype=np.float32) if mode != "playback" else None
        self._outdata = np.zeros((n, 1), dtype=np.float32) if mode != "record" else None
        self._unheard = np.zeros((n, 1), dtype=np.float32)
        self._time = StreamTime()
        self._ok = CallbackFlags()
        self._xrun = CallbackFlags(_INPUT_OVERFLOW | _OUTPUT_UNDERFLOW)
        self._active = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._stop_evt = threading.Event()
        # held through each frame: stop() waits for a frame another thread is running
        # (run_frames), as PortAudio's stop waits for the callback (re-entrant: a callback
        # may stop its own stream)
        self._frame_lock = threading.RLock()
        self._fault: StreamFault | None = None
        self.xruns = 0
        self.error: BaseException | None = None
        """What made the room itself fail on the pacing thread, if anything."""

    @property
    def device_name(self) -> str:
        """``"simulated room"``."""
        return "simulated room"

    @property
    def active(self) -> bool:
        """True between start() and stop()."""
        return self._active

    @property
    def blocksize(self) -> int:
        """Frames per callback."""
        return self._room.frame_size

    @property
    def latency(self) -> tuple[float, float]:
        """(input, output) latency in seconds: the bulk delay is split evenly."""
        d = self._room.delay_samples / self._room.sample_rate
        return d / 2.0, d / 2.0

    def check_alive(self) -> StreamFault | None:
        """The fault that killed the stream (:meth:`SimulatedBackend.inject_fault`), if any."""
        return self._fault

    def declare_lost(self, detail: str) -> None:
        """The owner's watchdog found the stream dead: report it as a lost device."""
        if self._fault is None:
            self._fault = StreamFault(FaultKind.DEVICE_LOST, detail)

    def die(self, fault: StreamFault | None) -> None:
        """Stop calling back, as a dead device does; ``fault`` (None: a silent stall) is
        what :meth:`check_alive` reports from now on."""
        self._fault = fault
        self._active = False
        if self._thread is not None and self._thread is not threading.current_thread():
            self._stop_evt.set()

    def start(self) -> None:
        """Start running frames (on a thread when the device is real-time)."""
        if self._closed:
            raise BackendError("start", "the stream is closed")
        if self._active:
            return
        self._active = True
        if self._device.realtime:
            self._stop_evt.clear()
            self._thread = threading.Thread(
                target=self._run, name="callaudio-simulated-audio", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop; returns after the last callback has finished (also one that another
        thread runs through :meth:`SimulatedBackend.run_frames`).

        From the stream's own pacing thread (inside the callback) it only stops the loop:
        a thread cannot wait for itself.
        """
        self._stop_frames()
        thread = self._thread
        if thread is None:
            return
        self._stop_evt.set()
        if thread is not threading.current_thread():
            self._thread = None
            thread.join()

    def _stop_frames(self) -> None:
        self._active = False
        with self._frame_lock:  # the frame in flight on another thread has finished
            pass

    def close(self) -> None:
        """Stop and release the device."""
        self.stop()
        if not self._closed:
            self._closed = True
            self._device.release(self)

    def run_frame(self, status: CallbackFlags | None = None) -> None:
        """Run one frame now: the microphone hears the room, the callback runs, what it
        played goes into the room (caller-driven devices; the pacing thread uses it too).
        Nothing runs once the stream is stopped."""
        with self._frame_lock:
            if self._active:
                self._frame(status)

    def _frame(self, status: CallbackFlags | None) -> None:
        room = self._room
        indata, outdata = self._indata, self._outdata
        # The room goes on whatever the stream's directions: the microphone frame is
        # computed (and recorded) even when an output-only stream does not deliver it.
        room.hear(indata if indata is not None else self._unheard)
        now = room.time_s
        self._time.currentTime = now
        self._time.inputBufferAdcTime = now
        self._time.outputBufferDacTime = now + room.delay_samples / room.sample_rate
        flags = self._ok if status is None else status
        raw = self._raw
        if raw is not None:
            raw.run(indata, outdata, room.frame_size, int(flags))
        else:
            self._callback(indata, outdata, room.frame_size, self._time, flags)
        room.play(outdata)

    def _run(self) -> None:
        period = self._room.frame_size / self._room.sample_rate
        deadline = time.monotonic()
        status = self._ok
        try:
            while not self._stop_evt.is_set() and self._active:
                now = time.monotonic()
                if now < deadline:
                    self._stop_evt.wait(deadline - now)
                    continue
                if now - deadline > period:
                    # More than a frame late: the device would have dropped input and
                    # played silence. Flag it and re-anchor.
                    self.xruns += 1
                    status = self._xrun
                    deadline = now
                self.run_frame(status)
                status = self._ok
                deadline += period
        except BaseException as exc:  # the engine's callback never raises; this is the room
            self.error = exc
            self._device.faults.append(f"{type(exc).__name__}: {exc}")
            self.die(
                StreamFault(FaultKind.MEDIA_SERVICES_RESET, f"the simulated room failed: {exc!r}")
            )
