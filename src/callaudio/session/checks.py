"""Argument checks of the session's setters: each returns a plain value (a bool, an int, a
float, an exact ``str``), never the caller's object, whose comparisons or hash may lie or
raise, or raises :class:`~callaudio.errors.ConfigError` naming the argument."""

from __future__ import annotations

import contextlib
import numbers

from ..config import SAMPLE_RATES, check_flag, check_sample_rate
from ..errors import ConfigError

__all__ = [
    "MAX_IO_BUFFER",
    "MIN_IO_BUFFER",
    "check_flag",
    "check_io_buffer",
    "check_preferred_rate",
    "check_source",
]

MIN_IO_BUFFER = 0.001
"""Shortest preferred I/O buffer duration (seconds)."""
MAX_IO_BUFFER = 0.5
"""Longest preferred I/O buffer duration (seconds)."""


def check_preferred_rate(hz: object) -> int:
    """The preferred rate must be one the processing chain runs at (config owns the list)."""
    if isinstance(hz, numbers.Integral) and not isinstance(hz, bool):
        with contextlib.suppress(ConfigError):
            return check_sample_rate(hz)
    text = f"must be one of {SAMPLE_RATES} Hz (an int, numpy's too), got {hz!r}"
    raise ConfigError("preferred_sample_rate", text)


def check_io_buffer(seconds: object) -> float:
    """Seconds in MIN_IO_BUFFER..MAX_IO_BUFFER, as a plain float (2**2000 is refused)."""
    try:
        value = float(seconds) if isinstance(seconds, (int, float)) else float("nan")
    except Exception:  # an int beyond float range; a __float__ that raises
        value = float("nan")
    if isinstance(seconds, bool) or not MIN_IO_BUFFER <= value <= MAX_IO_BUFFER:
        raise ConfigError(
            "preferred_io_buffer_duration",
            f"must be seconds in [{MIN_IO_BUFFER}, {MAX_IO_BUFFER}], got {seconds!r}",
        )
    return value


def check_source(source: object, voip: object = False) -> str:
    """An interruption source as an exact ``str`` (a subclass's ``__hash__`` may raise),
    and ``voip`` a bool (an int, as before)."""
    if not isinstance(source, str) or not isinstance(voip, int):  # a bool (an int) is one
        raise ConfigError("source/voip", f"must be a str and a bool, got {source!r}, {voip!r}")
    return str.__str__(source)
