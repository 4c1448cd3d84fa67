"""The audio service layer: what the session layer drives to get sound in and out.

- :mod:`.base`: the :class:`AudioBackend` protocol the client drives, :class:`StreamConfig`,
  :class:`BackendFault`, :class:`FaultKind`, :class:`PlaybackSource`, :class:`ArraySource`;
- :mod:`.service`: :class:`EngineBackend`, the protocol over an
  :class:`~callaudio.engine.AudioEngine` on a device, and :func:`make_backend`;
- :mod:`.watch`: :class:`StreamWatch`, what the backend's helper thread checks on a stream;
- :mod:`.recording`: :class:`MemoryBackend` (alias :class:`RecordingAudioService`), the
  recording test double.

May import: ``config``, ``errors``, ``processing``, ``engine``, ``devices`` and
``simulation``. Never the session layer (``session``, ``client``, ``controller``, ``call``).
"""

from __future__ import annotations

from .base import (
    ArraySource,
    AudioBackend,
    BackendFault,
    Dropout,
    DropoutHandler,
    FaultHandler,
    FaultKind,
    PlaybackSource,
    StreamConfig,
)
from .recording import MemoryBackend, RecordingAudioService
from .service import EngineBackend, make_backend

__all__ = [
    "ArraySource",
    "AudioBackend",
    "BackendFault",
    "Dropout",
    "DropoutHandler",
    "EngineBackend",
    "FaultHandler",
    "FaultKind",
    "MemoryBackend",
    "PlaybackSource",
    "RecordingAudioService",
    "StreamConfig",
    "make_backend",
]
