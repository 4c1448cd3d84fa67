"""Real audio through PortAudio, with python-sounddevice.

``sounddevice`` is imported lazily, on the first call that needs it, so the offline API
(``import callaudio``, ``VoiceProcessor``, the simulated backend) works on machines without
PortAudio. A missing PortAudio or device, or a refused request, raises :class:`DeviceError`
with PortAudio's own text (and the host API's error message).

Devices are chosen by name and host API, never by PortAudio's default index: once Debian's
``libasound2-plugins`` is installed the default device becomes ALSA's ``jack`` plug-in, and
indices change when PortAudio re-scans. Names are resolved at every ``open_stream``.

Streams are opened with the engine's 10 ms frame as blocksize (one callback per frame),
float32. Given a compiled callback (``raw``: a C function with PortAudio's
``PaStreamCallback`` signature and its ``userData``), the stream hands the function
pointer to PortAudio through python-sounddevice's raw-callback support (``_StreamBase``
with ``wrap_callback=None``, as python-rtmixer does; sounddevice >= 0.5), so the audio
thread runs no Python and never needs the GIL. Otherwise it runs the engine's Python
callback with sounddevice's contract ``callback(indata, outdata, frames, time, status)``;
input-only and output-only streams are adapted to it by passing ``None`` for the missing side.

PortAudio scans host APIs when it initialises: a JACK server started after ``sounddevice``
was imported is not seen until :meth:`SounddeviceBackend.reinitialize` (refused while a
stream is open or opening: PortAudio would close it under its owner, whose callbacks just
stop). The module is not named ``...devices.sounddevice``: it never shadows ``sounddevice``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import importlib
import math
import numbers
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BackendError, ConfigError, DeviceError, LiveObject
from .base import MODES, DeviceCapabilities, FaultKind, RawCallback, StreamFault, check_device_names

__all__ = [
    "DeviceError",
    "DeviceInfo",
    "SounddeviceBackend",
    "SounddeviceStream",
    "find_device",
    "list_devices",
    "lock_memory",
    "portaudio_version",
]

_MODES = MODES
# Host APIs tried, in order, when no device is named (substrings of PortAudio's names).
_PREFERRED_HOSTAPIS = ("JACK", "ALSA", "Core Audio", "WASAPI", "MME")
_PREFERRED_ALSA_NAMES = ("pulse", "pipewire", "default")


_sd_module: Any = None
_sd_lock = threading.Lock()
_ffi_instance: Any = None


def _sd() -> Any:
    """The ``sounddevice`` module, imported on first use; DeviceError when unavailable."""
    global _sd_module
    if _sd_module is not None:
        return _sd_module
    with _sd_lock:
        if _sd_module is None:
            try:
                _sd_module = importlib.import_module("sounddevice")
            except ImportError as exc:
                raise DeviceError(
                    "import",
                    "python-sounddevice is not installed: pip install 'sounddevice>=0.5' "
                    f"(callaudio's 'audio' extra) ({exc})",
                    host_error=str(exc),
                ) from exc
            except OSError as exc:  # "PortAudio library not found"
                raise DeviceError(
                    "import",
                    f"PortAudio is not available: {exc}. On Debian/Ubuntu: "
                    "apt-get install libportaudio2",
                    host_error=str(exc),
                ) from exc
    return _sd_module


def _c_pointers(raw: RawCallback) -> tuple[Any, Any]:
    """The compiled callback and its user data as cffi pointers (sounddevice casts them to
    ``PaStreamCallback *``; a pointer of another FFI instance is accepted by its cast)."""
    global _ffi_instance
    if _ffi_instance is None:  # cffi comes with sounddevice (its own dependency)
        _ffi_instance = importlib.import_module("cffi").FFI()
    ffi = _ffi_instance
    return ffi.cast("void *", raw.callback_address), ffi.cast("void *", raw.userdata_address)


#: Mappings whose pages the compiled callback executes or reads: the compiled core, the
#: PortAudio/JACK client libraries and the C/math runtime it calls.
_CALLBACK_LIBS = ("callaudio/_dsp/", "portaudio", "libjack", "libm.so", "libc.so", "libgcc_s")
_locked: set[tuple[int, int]] = set()
LOCK_MEMORY = ("code", "all", "none")


def _check_latency(latency: object) -> float | str:
    """``"low"``, ``"high"`` or seconds >= 0 (finite), as PortAudio takes it; ConfigError."""
    if isinstance(latency, str) and latency in ("low", "high"):
        return latency
    if isinstance(latency, numbers.Real) and not isinstance(latency, bool):
        with contextlib.suppress(OverflowError):
            if math.isfinite(float(latency)) and float(latency) >= 0.0:
                return float(latency)
    raise ConfigError("latency", f"must be 'low', 'high' or seconds >= 0 (finite), got {latency!r}")


def lock_memory(what: str) -> str:
    """Keep what a compiled callback touches in RAM, as real-time audio applications do
    (``mlock``): a page the kernel dropped as cold (under memory pressure, or a reclaim
    daemon) would make the callback wait for the disk. ``"code"``: the libraries it runs
    (a few MB); ``"all"``: every page the process has now (``mlockall``, what JACK
    applications do); ``"none"``. Linux only; returns what was done. Call it before the
    stream starts: mlock holds the address space's lock while it faults pages in."""
    if what == "none":
        return "not locked"
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return "not locked (no libc or /proc/self/maps)"
    if what == "all":
        if libc.mlockall(1) != 0:  # MCL_CURRENT
            return f"not locked: mlockall refused ({os.strerror(ctypes.get_errno())})"
        return "all memory locked"
    libc.mlock.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    for line in maps:
        parts = line.split()
        if len(parts) < 6 or not any(lib in parts[5] for lib in _CALLBACK_LIBS):
            continue
        lo, hi = (int(v, 16) for v in parts[0].split("-"))
        if (lo, hi) not in _locked:
            if libc.mlock(ctypes.c_void_p(lo), ctypes.c_size_t(hi - lo)) != 0:
                return f"not locked: mlock refused ({os.strerror(ctypes.get_errno())})"
            _locked.add((lo, hi))
    return f"code locked ({sum(h - lo for lo, h in _locked) // 1024} KiB)"


def _wrap(operation: str, exc: BaseException, device: str | None = None) -> DeviceError:
    text = str(exc)
    where = f" on device {device!r}" if device else ""
    return DeviceError(
        operation, f"PortAudio failed{where}: {text}", device=device, host_error=text
    )


def portaudio_version() -> str:
    """PortAudio's version text (imports sounddevice)."""
    return str(_sd().get_portaudio_version()[1])


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device.

    Attributes
    ----------
    index : int
        PortAudio's index now (changes when PortAudio re-scans: do not keep it).
    name : str
    hostapi : str
        Host API name (``"ALSA"``, ``"JACK Audio Connection Kit"`` ...).
    max_input_channels, max_output_channels : int
    default_samplerate : float
        Hz.
    """

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float

    def __str__(self) -> str:
        return (
            f"{self.name} ({self.hostapi}): {self.max_input_channels} in, "
            f"{self.max_output_channels} out, {self.default_samplerate:.0f} Hz"
        )


def list_devices() -> list[DeviceInfo]:
    """Every PortAudio device with its host API, channel counts and default rate."""
    sd = _sd()
    try:
        hostapis = sd.query_hostapis()
        devs = sd.query_devices()
    except sd.PortAudioError as exc:
        raise _wrap("devices", exc) from exc
    return [
        DeviceInfo(
            index=i,
            name=str(d["name"]),
            hostapi=str(hostapis[d["hostapi"]]["name"]),
            max_input_channels=int(d["max_input_channels"]),
            max_output_channels=int(d["max_output_channels"]),
            default_samplerate=float(d["default_samplerate"]),
        )
        for i, d in enumerate(devs)
    ]


def _usable(d: DeviceInfo, kind: str) -> bool:
    if kind == "input":
        return d.max_input_channels > 0
    if kind == "output":
        return d.max_output_channels > 0
    return d.max_input_channels > 0 and d.max_output_channels > 0


def find_device(name: str | None, hostapi: str | None = None, kind: str = "duplex") -> DeviceInfo:
    """Resolve a device by name (and host API) among PortAudio's current devices.

    Parameters
    ----------
    name : str or None
        Exact name (case-insensitive), else a unique substring. None: ``$CALLAUDIO_DEVICE``
        if set, else the default device of the first host API present among JACK, ALSA
        (its ``pulse``, ``pipewire`` or ``default`` device first), Core Audio, WASAPI, MME.
    hostapi : str, optional
        Substring of the host API's name (``"JACK"``, ``"ALSA"``).
    kind : str
        ``"input"``, ``"output"`` or ``"duplex"``: the channels the device must have.

    Raises
    ------
    DeviceError
        No such device, an ambiguous name, or a device without the needed channels; the
        message lists the candidates.
    """
    check_device_names(name=name, hostapi=hostapi)
    if name is None:
        name = os.environ.get("CALLAUDIO_DEVICE") or None
    devs = list_devices()
    if hostapi is not None:
        devs = [d for d in devs if hostapi.lower() in d.hostapi.lower()]
        if not devs:
            raise DeviceError(
                "find",
                f"no device on a host API matching {hostapi!r}; host APIs with devices: "
                f"{sorted({d.hostapi for d in list_devices()})}",
                device=name,
                hostapi=hostapi,
            )
    listing = "; ".join(str(d) for d in devs) or "none"
    if name is None:
        chosen = _default_device(devs, kind)
        if chosen is None:
            raise DeviceError("find", f"no {kind} device found. Devices: {listing}")
        return chosen
    exact = [d for d in devs if d.name.lower() == name.lower()]
    matches = exact or [d for d in devs if name.lower() in d.name.lower()]
    if not matches:
        raise DeviceError(
            "find", f"no device named {name!r}. Devices: {listing}", device=name, hostapi=hostapi
        )
    usable = [d for d in matches if _usable(d, kind)]
    if not usable:
        raise DeviceError(
            "find",
            f"device {name!r} has no {kind} channels: " + "; ".join(str(d) for d in matches),
            device=name,
            hostapi=hostapi,
        )
    if len(usable) > 1 and len({(d.name, d.hostapi) for d in usable}) > 1:
        raise DeviceError(
            "find",
            f"device name {name!r} is ambiguous: "
            + "; ".join(str(d) for d in usable)
            + " (give the exact name and a host API)",
            device=name,
            hostapi=hostapi,
        )
    return usable[0]


def _default_device(devs: list[DeviceInfo], kind: str) -> DeviceInfo | None:
    sd = _sd()
    hostapis = sd.query_hostapis()
    for pref in _PREFERRED_HOSTAPIS:
        for api in hostapis:
            if pref.lower() not in str(api["name"]).lower():
                continue
            on_api = [d for d in devs if d.hostapi == api["name"] and _usable(d, kind)]
            if not on_api:
                continue
            if pref == "ALSA":
                for wanted in _PREFERRED_ALSA_NAMES:
                    for d in on_api:
                        if d.name == wanted:
                            return d
            key = "default_input_device" if kind != "output" else "default_output_device"
            idx = int(api[key])
            for d in on_api:
                if d.index == idx:
                    return d
            return on_api[0]
    usable = [d for d in devs if _usable(d, kind)]
    return usable[0] if usable else None


# Streams whose PortAudio calls hung (device or server gone): kept from any finaliser.
_ABANDONED: list[Any] = []
_OPEN: weakref.WeakSet[SounddeviceStream] = weakref.WeakSet()  # opened, not closed yet
_OPENING = threading.Lock()  # held from a stream's PortAudio open to _OPEN (reinitialize)
_CLOSE_TIMEOUT_S = 1.0


def _bounded(fn: Any, timeout: float) -> tuple[bool, BaseException | None]:
    """Run ``fn()`` on a daemon thread; (finished in time, its exception)."""
    result: list[BaseException | None] = []

    def run() -> None:
        try:
            fn()
            result.append(None)
        except BaseException as exc:  # handed back to the caller
            result.append(exc)

    t = threading.Thread(target=run, name="callaudio-portaudio-close", daemon=True)
    t.start()
    t.join(timeout)
    return (True, result[0]) if result else (False, None)


class SounddeviceStream:
    """A started/stopped PortAudio stream running the engine's callback.

    Attributes
    ----------
    fault : str or None
        Set when the stream stopped without being asked to (the device or the sound
        server went away): by PortAudio's finished callback, by :meth:`check_alive`, or by
        the owner's watchdog. The owner reports it.
    device_name : str
        The device(s) the stream runs on.

    Notes
    -----
    Once the JACK server behind a stream has gone, libportaudio 19.6 hangs in
    ``Pa_AbortStream``/``Pa_CloseStream`` (and in ``Pa_Terminate`` at exit). So a faulted
    stream is stopped and closed on a helper thread with a 1 s limit; if PortAudio does not
    return, the stream is abandoned and python-sounddevice's exit handler (which would
    stop it again and hang the interpreter at exit) is unregistered.
    """

    def __init__(self, stream: Any, device: str, mode: str, raw: Any = None) -> None:
        self._stream = stream
        self._raw = raw  # the compiled callback's state: alive as long as the stream
        self._device = device
        self._mode = mode
        self._stopping = False
        self._abandoned = False
        self.fault: str | None = None
        self.device_name = device

    def on_finished(self) -> None:
        """PortAudio's finished callback (on its own thread): the stream became inactive."""
        if not self._stopping and self.fault is None:
            self.fault = f"the {self._mode} stream on {self._device!r} stopped by itself"

    def check_alive(self) -> StreamFault | None:
        """The fault (a lost device) if the stream stopped without being asked to, else None."""
        if self.fault is None and not self._stopping and not self._abandoned:
            try:
                active = bool(self._stream.active)
            except Exception as exc:  # PortAudio refuses to answer: as good as dead
                active = False
                self.fault = f"PortAudio lost the stream on {self._device!r}: {exc}"
            if not active and self.fault is None:
                self.fault = (
                    f"the {self._mode} stream on {self._device!r} stopped by itself "
                    "(the device or the sound server is gone)"
                )
        if self.fault is None:
            return None
        return StreamFault(FaultKind.DEVICE_LOST, self.fault)

    def declare_lost(self, detail: str) -> None:
        """The owner found the stream dead: stop and close now take the bounded path."""
        if self.fault is None:
            self.fault = detail

    @property
    def active(self) -> bool:
        """True while PortAudio runs the callback."""
        return not self._abandoned and bool(self._stream.active)

    @property
    def abandoned(self) -> bool:
        """True when PortAudio hung closing this stream after a fault (see Notes)."""
        return self._abandoned

    @property
    def latency(self) -> tuple[float, float]:
        """(input, output) latency PortAudio reports, in seconds (0.0 for a missing side)."""
        lat = self._stream.latency
        if isinstance(lat, tuple):
            return float(lat[0]), float(lat[1])
        return (float(lat), 0.0) if self._mode == "record" else (0.0, float(lat))

    @property
    def cpu_load(self) -> float:
        """PortAudio's estimate of the callback's CPU load (0..1)."""
        return float(self._stream.cpu_load)

    def start(self) -> None:
        """Start the stream."""
        sd = _sd()
        self._stopping = False
        try:
            self._stream.start()
        except sd.PortAudioError as exc:
            raise _wrap("start", exc, self._device) from exc

    def _abandon(self) -> None:
        self._abandoned = True
        _ABANDONED.append((self._stream, self._raw))
        sd = _sd()
        handler = getattr(sd, "_exit_handler", None)
        if handler is not None:
            import atexit

            atexit.unregister(handler)

    def _faulted_call(self, fn: Any) -> None:
        if self._abandoned:
            return
        finished, exc = _bounded(fn, _CLOSE_TIMEOUT_S)
        if not finished:
            self._abandon()
        elif exc is not None and not isinstance(exc, _sd().PortAudioError):
            raise exc

    def stop(self) -> None:
        """Stop (pending output is played); the callback will not run again."""
        sd = _sd()
        self._stopping = True
        if self.fault is not None:  # the device is gone: nothing to drain, may hang
            self._faulted_call(self._stream.abort)
            return
        try:
            self._stream.stop()
        except sd.PortAudioError as exc:
            raise _wrap("stop", exc, self._device) from exc

    def close(self) -> None:
        """Stop and release the stream."""
        sd = _sd()
        self._stopping = True
        _OPEN.discard(self)
        if self.fault is not None:
            self._faulted_call(self._stream.close)
            return
        try:
            self._stream.close()
        except sd.PortAudioError as exc:
            raise _wrap("close", exc, self._device) from exc


class SounddeviceBackend(LiveObject):
    """PortAudio devices as an engine backend.

    Parameters
    ----------
    device : str, optional
        Device name for both directions (exact, or a unique substring); see
        :func:`find_device` for the choice when None.
    input_device, output_device : str, optional
        Separate names for the microphone and the loudspeaker (override ``device``).
    hostapi : str, optional
        Host API the devices must be on (substring: ``"JACK"``, ``"ALSA"``).
    latency : float or str
        PortAudio's suggested latency: ``"low"`` (default), ``"high"`` or seconds.
    lock_memory : str
        For a compiled callback, what to lock in RAM before its stream starts (see
        :func:`lock_memory`): ``"code"`` (default), ``"all"`` or ``"none"``.

    Examples
    --------
    >>> from callaudio.devices.sounddevice_backend import SounddeviceBackend
    >>> backend = SounddeviceBackend("loopback", hostapi="JACK")   # doctest: +SKIP
    """

    name = "sounddevice"

    def __init__(
        self,
        device: str | None = None,
        *,
        input_device: str | None = None,
        output_device: str | None = None,
        hostapi: str | None = None,
        latency: float | str = "low",
        lock_memory: str = "code",
    ) -> None:
        check_device_names(
            device=device, input_device=input_device, output_device=output_device, hostapi=hostapi
        )
        if lock_memory not in LOCK_MEMORY:
            raise ConfigError("lock_memory", f"must be one of {LOCK_MEMORY}, got {lock_memory!r}")
        self._lock_memory = lock_memory
        self.memory_lock = "not locked (no compiled stream opened)"
        """What the last compiled stream's :func:`lock_memory` did."""
        self._input = input_device if input_device is not None else device
        self._output = output_device if output_device is not None else device
        self._hostapi = hostapi
        self._latency = _check_latency(latency)
        self._speaker = True

    capabilities = DeviceCapabilities(
        fixed_sample_rate=None,
        caller_driven=False,
        speaker_route=False,
        port_routing=True,
        raw_callback="native",
    )
    """PortAudio opens any rate the device takes, on its own thread; one output device (the
    speaker wish is only recorded); route ports that name devices are honoured; a compiled
    callback is handed to PortAudio as a C function pointer."""

    def add_frame_hook(self, hook: Callable[[], None]) -> None:
        """Refused: PortAudio runs frames on its own thread (``capabilities.caller_driven``
        is False); watch the stream from a thread of your own instead."""
        raise BackendError("add_frame_hook", "PortAudio paces its streams itself")

    @staticmethod
    def devices() -> list[DeviceInfo]:
        """PortAudio's devices now (see :func:`list_devices`)."""
        return list_devices()

    @staticmethod
    def reinitialize() -> None:
        """Terminate and initialise PortAudio again: re-scan host APIs and devices. Needed
        after a sound server (re)starts; refused (BackendError) while a stream is open."""
        with _OPENING:  # (a stream another thread is opening is open)
            if any(not stream.abandoned for stream in list(_OPEN)):
                raise BackendError("reinitialize", "a stream is open: close every stream first")
            sd = _sd()
            try:
                sd._terminate()
                sd._initialize()
            except sd.PortAudioError as exc:
                raise _wrap("reinitialize", exc) from exc

    def callback_flags(self) -> Any:
        """An empty ``sounddevice.CallbackFlags`` to accumulate statuses into (``|=``)."""
        return _sd().CallbackFlags()

    @property
    def speaker(self) -> bool:
        """The requested route; a desktop has one output device, so it is advisory here."""
        return self._speaker

    def set_speaker(self, on: bool) -> None:
        """Record the loudspeaker/earpiece wish (one output device: no re-routing)."""
        self._speaker = bool(on)

    def route(self, input_port: str, output_port: str) -> SounddeviceBackend:
        """This backend on the session route's ports where they name PortAudio devices.

        A port that is a device name (exact, case-insensitive, on ``hostapi`` if set)
        replaces the configured device for its direction; the built-in port names
        (``built_in_mic``, ``built_in_speaker`` ...) keep the configured devices.
        """
        names = {d.name.lower() for d in list_devices()}
        inp = input_port if input_port.lower() in names else self._input
        out = output_port if output_port.lower() in names else self._output
        if (inp, out) == (self._input, self._output):
            return self
        other = SounddeviceBackend(
            input_device=inp,
            output_device=out,
            hostapi=self._hostapi,
            latency=self._latency,
            lock_memory=self._lock_memory,
        )
        other.set_speaker(self._speaker)
        return other

    def resolve(self, mode: str) -> tuple[DeviceInfo | None, DeviceInfo | None]:
        """The (input, output) devices a stream in ``mode`` would use now."""
        if mode not in _MODES:
            raise DeviceError("open", f"mode must be one of {_MODES}, got {mode!r}")
        din = find_device(self._input, self._hostapi, "input") if mode != "playback" else None
        dout = find_device(self._output, self._hostapi, "output") if mode != "record" else None
        return din, dout

    def open_stream(
        self,
        *,
        sample_rate: int,
        blocksize: int,
        channels: int,
        mode: str,
        callback: Any,
        raw: RawCallback | None = None,
    ) -> SounddeviceStream:
        """Open a PortAudio stream (not started) calling ``callback`` every ``blocksize``,
        or the compiled ``raw`` callback (a C function pointer: no Python, no GIL).

        ``channels`` is the microphone's channel count; the output is mono.

        Raises
        ------
        DeviceError
            PortAudio missing, no such device, or PortAudio refused the settings (its
            text, e.g. ``Invalid sample rate``, is in the message).
        """
        sd = _sd()
        din, dout = self.resolve(mode)
        label = " / ".join(sorted({d.name for d in (din, dout) if d is not None}))
        finished: list[SounddeviceStream] = []

        def on_finished() -> None:
            if finished:
                finished[0].on_finished()

        common: dict[str, Any] = {
            "samplerate": sample_rate,
            "blocksize": blocksize,
            "dtype": "float32",
            "latency": self._latency,
            "finished_callback": on_finished,
        }
        _OPENING.acquire()
        try:
            if raw is not None:
                self.memory_lock = lock_memory(self._lock_memory)
                c_callback, userdata = _c_pointers(raw)
                kind = {"duplex": "duplex", "playback": "output", "record": "input"}[mode]
                devices: Any = {
                    "duplex": (din.index if din else None, dout.index if dout else None),
                    "playback": dout.index if dout else None,
                    "record": din.index if din else None,
                }[mode]
                chans: Any = {"duplex": (channels, 1), "playback": 1, "record": channels}[mode]
                stream = sd._StreamBase(
                    kind=kind,
                    device=devices,
                    channels=chans,
                    callback=c_callback,
                    userdata=userdata,
                    wrap_callback=None,
                    **common,
                )
            elif mode == "duplex":
                assert din is not None and dout is not None
                stream = sd.Stream(
                    device=(din.index, dout.index),
                    channels=(channels, 1),
                    callback=callback,
                    **common,
                )
            elif mode == "playback":
                assert dout is not None

                def out_cb(outdata: Any, frames: int, time: Any, status: Any) -> None:
                    callback(None, outdata, frames, time, status)

                stream = sd.OutputStream(device=dout.index, channels=1, callback=out_cb, **common)
            else:
                assert din is not None

                def in_cb(indata: Any, frames: int, time: Any, status: Any) -> None:
                    callback(indata, None, frames, time, status)

                stream = sd.InputStream(
                    device=din.index, channels=channels, callback=in_cb, **common
                )
            wrapper = SounddeviceStream(stream, label, mode, raw)
            finished.append(wrapper)
            _OPEN.add(wrapper)
        except sd.PortAudioError as exc:
            raise _wrap("open", exc, label) from exc
        except (ValueError, TypeError, OverflowError) as exc:  # sounddevice's own checks
            raise DeviceError("open", f"{label}: {exc}", device=label, host_error=str(exc)) from exc
        finally:
            _OPENING.release()
        return wrapper

    def __repr__(self) -> str:
        return (
            f"SounddeviceBackend(input={self._input!r}, output={self._output!r}, "
            f"hostapi={self._hostapi!r})"
        )
