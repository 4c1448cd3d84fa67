"""The device contract: what the engine needs of a sound device and of its streams.

A :class:`Device` opens :class:`Stream` objects that call the engine's real-time callback
with python-sounddevice's contract, ``callback(indata, outdata, frames, time, status)``:
``indata`` is ``(frames, channels)`` float32 (``None`` on an output-only stream),
``outdata`` is ``(frames, 1)`` float32 (``None`` on an input-only stream).

Every device implements every method below; what differs between devices is declared in
its :class:`DeviceCapabilities`, so callers read a flag instead of probing for attributes.
A method a device cannot honour does the documented neutral thing (``route`` returns the
device itself, ``set_speaker`` only records the wish) or, for :meth:`Device.add_frame_hook`
on a device that runs its own thread, raises :class:`~callaudio.errors.BackendError`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..errors import ConfigError

__all__ = [
    "MODES",
    "Device",
    "DeviceCapabilities",
    "FaultKind",
    "RawCallback",
    "Stream",
    "StreamBackend",
    "StreamCallback",
    "StreamFault",
    "check_device_names",
]

StreamCallback = Callable[[Any, Any, int, Any, Any], None]


def check_device_names(**names: object) -> None:
    """Device and host API names are str or None: ConfigError naming the argument (an int,
    bytes or a list failed as a raw AttributeError only once devices were listed; an empty
    or blank name, a part of every name, chose whichever device or host API there was)."""
    for what, value in names.items():
        if value is not None and not (isinstance(value, str) and value.strip()):
            raise ConfigError(what, f"must be a name (str) or None, got {value!r}")


"""``callback(indata, outdata, frames, time, status)``: python-sounddevice's contract."""

MODES = ("duplex", "playback", "record")
"""A stream's directions: microphone and loudspeaker, loudspeaker only, microphone only."""


class FaultKind(enum.Enum):
    """What went wrong on the audio side."""

    DEVICE_LOST = "device_lost"
    """A device in use disappeared (unplugged, driver gone)."""
    MEDIA_SERVICES_RESET = "media_services_reset"
    """The audio system restarted (PortAudio host error, sound server restart)."""


@dataclass(frozen=True)
class StreamFault:
    """Why a stream stopped without being asked to: its kind and the host's text."""

    kind: FaultKind
    detail: str


@dataclass(frozen=True)
class DeviceCapabilities:
    """What a device can do, declared once by the device.

    Attributes
    ----------
    fixed_sample_rate : int or None
        The one rate the device runs at (a simulated room), or None when it opens streams
        at any rate the engine supports (refusing, with its own error, those it cannot).
    caller_driven : bool
        Frames run only when the caller runs them (``run_frames``); the device then calls
        the hooks registered with :meth:`Device.add_frame_hook` after each frame, on the
        caller's thread. False: the device paces itself on its own thread.
    speaker_route : bool
        :meth:`Device.set_speaker` changes the echo path (loudspeaker vs earpiece). False:
        one output device, the wish is only recorded.
    port_routing : bool
        :meth:`Device.route` can move streams to the devices a session route's ports name.
    raw_callback : str
        How the device runs a compiled callback (:class:`RawCallback`, passed to
        ``open_stream`` as ``raw``): ``"native"`` (handed as a C function pointer to the
        audio thread, which then runs no Python), ``"python"`` (called through
        :meth:`RawCallback.run` from the device's Python code), or ``""`` (not at all).
    """

    fixed_sample_rate: int | None = None
    caller_driven: bool = False
    speaker_route: bool = False
    port_routing: bool = False
    raw_callback: str = ""


@runtime_checkable
class RawCallback(Protocol):
    """A compiled callback with PortAudio's C signature (``PaStreamCallback``)."""

    @property
    def callback_address(self) -> int:
        """The C function's address."""
        ...

    @property
    def userdata_address(self) -> int:
        """Its ``userData`` argument's address."""
        ...

    def run(self, indata: Any, outdata: Any, frames: int, status: int) -> None:
        """One frame, for a device that runs its frames in Python (float32 C-contiguous
        ``(frames, channels)`` arrays or None; ``status``: PortAudio's flag bits)."""


@runtime_checkable
class Stream(Protocol):
    """A stream as a device's ``open_stream`` returns it (opened, not started)."""

    @property
    def device_name(self) -> str:
        """The device(s) the stream runs on, for fault reports."""
        ...

    def start(self) -> None:
        """Start calling the callback."""

    def stop(self) -> None:
        """Stop; when this returns the callback is not running and will not run again."""

    def close(self) -> None:
        """Release the stream (stops it first if needed)."""

    def check_alive(self) -> StreamFault | None:
        """The fault when the stream stopped without being asked to, else None."""
        ...

    def declare_lost(self, detail: str) -> None:
        """The owner's watchdog found the stream dead (no callbacks): record it as a lost
        device, so that :meth:`stop` and :meth:`close` take the path for a device that is
        gone (bounded, no draining)."""


@runtime_checkable
class Device(Protocol):
    """A sound device the engine runs streams on (structural: devices import no engine)."""

    @property
    def capabilities(self) -> DeviceCapabilities:
        """What this device can do."""
        ...

    def open_stream(
        self,
        *,
        sample_rate: int,
        blocksize: int,
        channels: int,
        mode: str,
        callback: StreamCallback,
        raw: RawCallback | None = None,
    ) -> Stream:
        """Open (not start) a stream calling ``callback`` once per ``blocksize`` frames,
        or ``raw`` instead when given (only when ``capabilities.raw_callback``)."""
        ...

    def callback_flags(self) -> Any:
        """A new, empty status-flags object of this device's kind (accumulated with ``|=``)."""

    def set_speaker(self, on: bool) -> None:
        """Loudspeaker (True) or earpiece (False) route; see ``capabilities.speaker_route``."""

    def route(self, input_port: str, output_port: str) -> Device:
        """This device on a session route's ports (itself when nothing changes)."""
        ...

    def add_frame_hook(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` after every frame (only when ``capabilities.caller_driven``)."""


StreamBackend = Device
"""The device contract's former name."""


def check_device(device: object) -> None:
    """ConfigError unless ``device`` is a :class:`Device` (its ``capabilities`` and
    ``open_stream``): a device name or any other object was taken, and failed as a raw
    AttributeError only when a stream was opened (a call's establishment)."""
    if not (
        isinstance(getattr(device, "capabilities", None), DeviceCapabilities)
        and callable(getattr(device, "open_stream", None))
    ):
        raise ConfigError(
            "device",
            "must be a Device (SimulatedBackend, SounddeviceBackend, ...; "
            f"make_backend('sounddevice', device=NAME) opens one by name), got {device!r:.80}",
        )
