"""Audio backends: the interface the session layer drives, and its implementations.

``MemoryBackend`` records requests (tests); the sounddevice and simulated backends come
with the engine.
"""

from __future__ import annotations

from .base import (
    ArraySource,
    AudioBackend,
    BackendFault,
    FaultHandler,
    FaultKind,
    PlaybackSource,
    StreamConfig,
)
from .memory import MemoryBackend

__all__ = [
    "ArraySource",
    "AudioBackend",
    "BackendFault",
    "FaultHandler",
    "FaultKind",
    "MemoryBackend",
    "PlaybackSource",
    "StreamConfig",
]
