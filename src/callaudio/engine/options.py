"""The checks of an engine's stream options, in one place.

:class:`~callaudio.engine.engine.AudioEngine` runs them when it is built, and
:class:`~callaudio.audio.service.EngineBackend` when it is built: it builds its engines
later, one per stream, and a wrong option must not wait for a call to connect.
"""

from __future__ import annotations

import math
from typing import Any

from ..config import check_flag, check_int
from ..errors import ConfigError

__all__ = ["MAX_BUFFER_MS", "check_engine_options", "check_seconds"]

#: The longest far-end and capture buffer: 15 minutes, allocated up front (the loopback
#: test records up to 10 minutes through one).
MAX_BUFFER_MS = 900_000


def check_engine_options(
    capture: Any = None,  # Any: callable() on an object makes an intersection type stubtest rejects
    far_buffer_ms: object = 500,
    capture_buffer_ms: object = 500,
    realtime_priority: object = None,
    monitor: object = False,
) -> None:
    """ConfigError naming the first bad option: ``capture`` None or callable; the buffers
    ints in 10..:data:`MAX_BUFFER_MS` ms, whole frames (multiples of 10);
    ``realtime_priority`` None or 1..99; ``monitor`` a bool."""
    for name, ms in (("far_buffer_ms", far_buffer_ms), ("capture_buffer_ms", capture_buffer_ms)):
        if check_int(name, ms, 10, MAX_BUFFER_MS) % 10:
            raise ConfigError(name, f"must be a multiple of 10 ms (whole frames), got {ms!r}")
    if capture is not None and not callable(capture):
        raise ConfigError("capture", f"must be callable, got {capture!r}")
    if realtime_priority is not None:
        check_int("realtime_priority", realtime_priority, 1, 99)
    check_flag("monitor", monitor)


def check_seconds(name: str, value: object, lo: float, hi: float) -> float:
    """``value`` as a float if it is a real number (not a bool) of seconds in
    ``lo..hi``; else ConfigError naming ``name``."""
    try:
        ok = not isinstance(value, bool) and isinstance(value, (int, float))
        seconds = float(value) if ok else math.nan  # type: ignore[arg-type]
    except Exception:  # a number whose __float__ raises or overflows
        seconds = math.nan
    if not lo <= seconds <= hi:
        raise ConfigError(name, f"must be seconds in [{lo:g}, {hi:g}], got {value!r}")
    return seconds
