"""How the engine's frames are driven: the compiled callback or the Python fallback.

The per-frame work is compiled (:mod:`callaudio._dsp.rt`, ``Core``): PortAudio can call it
directly, without the GIL (``callback_kind == "compiled"``), or a Python callback calls it
with the GIL released around it (``"python"``), when Python must run on the audio thread
each frame. :func:`choose_kind` makes the choice and says why; :class:`RawDriver` is the
compiled callback as a device receives it; :class:`Retainer` keeps what the callback may
still read (a chain, a sound) alive until the callback has moved on.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from ..devices.base import Device
from ..errors import CallbackError, FrameError

__all__ = [
    "CALLBACK_MARK",
    "COMPILED",
    "PYTHON",
    "AudioEngineStream",
    "RawDriver",
    "Retainer",
    "callback_error",
    "choose_kind",
    "flags_text",
    "in_audio_callback",
    "percentile_us",
    "python_frame_arrays",
    "status_bits",
]

COMPILED = "compiled"
PYTHON = "python"


class _CallbackMark(threading.local):
    depth = 0  # engine callbacks the thread is inside now


CALLBACK_MARK = _CallbackMark()
"""Per thread: the engine's Python callback counts itself in (``depth += 1``) and out."""


def in_audio_callback() -> bool:
    """Whether the calling thread is running an :class:`~callaudio.engine.AudioEngine`'s
    callback now (any engine's; a ``capture`` callback runs there).

    Stopping a stream waits for its callback to return, so code that a capture callback
    may call uses this to never wait, on the audio thread, for a thread that may be
    waiting for the audio thread: it hands the work to another thread instead (the
    session's audio actions, ``EngineBackend.on_audio_thread``)."""
    return CALLBACK_MARK.depth > 0


def callback_error(
    count: int, errors: list[BaseException], tracebacks: list[str], raised: int, n: int
) -> CallbackError:
    """The CallbackError of a stop after ``count`` failed callbacks, ``raised`` of them
    by an exception: the kept ``errors`` (and their ``tracebacks``), plus a FrameError when
    the others got frames of another size than ``n``."""
    errors, tracebacks = list(errors), list(tracebacks)
    bad = count - raised
    if bad:
        errors.append(
            FrameError(
                f"the device delivered frames of another size than {n} "
                f"({bad} callbacks played silence)"
            )
        )
        tracebacks.append("")
    return CallbackError(count, errors, tracebacks)


# PortAudio's paStreamCallbackFlags bits, in python-sounddevice's attribute names.
_BITS = (
    ("input_underflow", 0x1),
    ("input_overflow", 0x2),
    ("output_underflow", 0x4),
    ("output_overflow", 0x8),
    ("priming_output", 0x10),
)


def status_bits(status: Any) -> int:
    """PortAudio's status bits of a callback's ``status`` (sounddevice's or the simulated
    device's ``CallbackFlags``; TypeError for anything else that is set)."""
    if not status:
        return 0
    if isinstance(status, int):
        raise TypeError(f"status must be a CallbackFlags object, got {status!r}")
    bits = 0
    for name, bit in _BITS:
        if getattr(status, name, False):
            bits |= bit
    return bits


def flags_text(device: Device, bits: int) -> str:
    """The accumulated status bits as the device's flags object prints them ("" if none)."""
    if not bits:
        return ""
    try:
        return str(type(device.callback_flags())(bits))
    except (TypeError, ValueError):
        return ", ".join(n.replace("_", " ") for n, b in _BITS if bits & b)


def percentile_us(hist: npt.NDArray[np.int64], q: float) -> float | None:
    """The ``q``-quantile (0..1) of a histogram of 1 us bins, in us (None when empty)."""
    total = int(hist.sum())
    if total == 0:
        return None
    rank = max(1, int(np.ceil(q * total)))
    return float(np.searchsorted(np.cumsum(hist), rank))


def choose_kind(
    device: Device, *, wanted: bool | None, capture_callback: bool, generic_source: bool
) -> tuple[str, str]:
    """(kind, why): ``"compiled"`` unless something needs Python on the audio thread."""
    can = getattr(device.capabilities, "raw_callback", "")
    if wanted is False:
        return PYTHON, "the Python callback was asked for (compiled=False)"
    if not can:
        return PYTHON, f"{type(device).__name__} cannot run a compiled callback"
    if capture_callback:
        return PYTHON, "a capture callback runs Python on the audio thread"
    if generic_source and can == "native":
        return PYTHON, "a sound that is not a PreparedSound is mixed by Python"
    return COMPILED, ""


class RawDriver:
    """The compiled callback as a device receives it (``devices.base.RawCallback``).

    ``callback_address``/``userdata_address``: PortAudio's ``PaStreamCallback`` and its
    ``userData``, for a device that hands them to a native audio thread. :meth:`run`: one
    frame for a device whose frames run in Python (the simulated room); the GIL is
    released while the compiled callback runs. ``before`` (the engine's check for a new
    processing configuration) and ``premix`` (None, or what mixes a sound that is not
    prepared) run just before, on the same thread.
    """

    def __init__(self, core: Any, before: Any) -> None:
        self._core = core
        self._before = before
        self.premix: Any = None

    @property
    def callback_address(self) -> int:
        """Address of the compiled ``PaStreamCallback``."""
        return int(self._core.callback_address)

    @property
    def userdata_address(self) -> int:
        """Address of the callback's state (its ``userData``)."""
        return int(self._core.userdata_address)

    def run(self, indata: Any, outdata: Any, frames: int, status: int) -> None:
        """One frame through the compiled callback (``status``: PortAudio's bits)."""
        self._before()
        premix = self.premix
        if premix is not None and outdata is not None:
            premix()
        self._core.run(indata, outdata, frames, status)


class AudioEngineStream:
    """The owner of a VoiceProcessor while an AudioEngine's stream runs its chains
    (``VoiceProcessor.claim``): one per engine, held by it only, so a
    ``vp.release(engine)`` from outside releases nothing."""

    __slots__ = ()


class Retainer:
    """Objects the callback may still read, each kept until a command number is done."""

    def __init__(self) -> None:
        self._kept: list[tuple[int, object]] = []

    def keep(self, until: int, obj: object) -> None:
        """Keep ``obj`` until the callback has applied command ``until``."""
        if obj is not None:
            self._kept.append((until, obj))

    def release(self, done: int) -> None:
        """Drop what commands below ``done`` replaced."""
        if self._kept:
            self._kept = [(seq, o) for seq, o in self._kept if seq >= done]

    def __len__(self) -> int:
        return len(self._kept)


def python_frame_arrays(
    indata: Any, outdata: Any, in_buf: npt.NDArray[np.float32], out_buf: npt.NDArray[np.float32]
) -> tuple[Any, Any]:
    """The arrays the compiled frame can take for a Python callback's ``indata`` and
    ``outdata``: themselves when they are float32, C-contiguous, aligned, of the frame's shape;
    else ``indata`` copied into ``in_buf`` (FrameError for another dtype or shape) and
    ``out_buf`` for the output (the caller copies it out, broadcasting). Allocation-free."""
    inp = indata
    if inp is not None and not (
        isinstance(inp, np.ndarray)
        and inp.dtype == np.float32
        and inp.shape == in_buf.shape
        and inp.flags.c_contiguous
        and inp.flags.aligned
    ):
        if not isinstance(inp, np.ndarray) or inp.dtype != np.float32:
            raise FrameError(f"indata must be float32, got {getattr(inp, 'dtype', type(inp))}")
        if inp.shape != in_buf.shape:
            raise FrameError(f"indata must have shape {in_buf.shape}, got {inp.shape}")
        np.copyto(in_buf, inp)
        inp = in_buf
    out = outdata
    if out is not None and not (
        isinstance(out, np.ndarray)
        and out.dtype == np.float32
        and out.shape == out_buf.shape
        and out.flags.c_contiguous
        and out.flags.writeable
        and out.flags.aligned
    ):
        out = out_buf
    return inp, out


def priority_text(wanted: int | None, got: int) -> str:
    """The audio thread's scheduling as the stats show it: ``got`` is the callback's
    report (0: not asked or not applied yet, > 0: SCHED_FIFO applied, < 0: -errno)."""
    if wanted is None or got == 0:
        return "normal"
    if got > 0:
        return f"SCHED_FIFO {wanted}"
    return f"normal (SCHED_FIFO {wanted} refused: {os.strerror(-got)})"
