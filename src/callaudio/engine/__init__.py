"""The engine layer: the real-time callback between a device's stream and the VoiceProcessor.

- :mod:`.engine`: :class:`AudioEngine` (the callback, its start and stop);
- :mod:`.stats`: :class:`EngineStats` (what it counts) and :class:`EngineMode`;
- :mod:`.ring`: :class:`FrameRing`, the lock-free queue between the application and the
  callback;
- :mod:`.sound`: :class:`PreparedSound` and the :class:`MixSource` protocol, what the
  callback mixes into the loudspeaker output, and :func:`playable`, the loudspeaker's guard.

May import: ``config``, ``errors``, ``processing``, ``devices.base`` (the device contract) and
``simulation.resample``. Never the session layer, the audio service or a concrete device.

``EngineBackend`` and ``make_backend`` (the session-facing service over an engine) live in
:mod:`callaudio.audio`; the names stay importable from here, resolved on first use, for code
written against the old single-module engine.
"""

from __future__ import annotations

from typing import Any

from ..devices.base import Stream, StreamBackend, StreamCallback
from ..errors import CallbackError
from .engine import AudioEngine
from .ring import FrameRing
from .sound import MixSource, PreparedSound, playable
from .stats import EngineMode, EngineStats

__all__ = [
    "AudioEngine",
    "CallbackError",
    "EngineMode",
    "EngineStats",
    "FrameRing",
    "MixSource",
    "PreparedSound",
    "Stream",
    "StreamBackend",
    "StreamCallback",
    "playable",
]

_MOVED = ("EngineBackend", "make_backend")


def __getattr__(name: str) -> Any:
    """``EngineBackend`` and ``make_backend``: moved to :mod:`callaudio.audio`."""
    if name in _MOVED:
        from .. import audio

        return getattr(audio, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
