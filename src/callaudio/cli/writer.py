"""The audio file being written, whose failures are one error naming the output.

libsndfile reports a failed write (a full disk, a file size limit) as "System error",
the errno lost; :func:`write_error` finds the system's reason again (for a device,
:func:`system_error` reads the errno the failed call left).
"""

from __future__ import annotations

import contextlib
import os
import stat
from typing import Any

import numpy.typing as npt

from ..errors import SoundFileError

__all__ = ["AudioWriter", "system_error", "write_error"]

_SFE_SYSTEM = 2  # libsndfile's error code for a failed system call ("System error.")


def system_error(exc: BaseException) -> str | None:
    """The system's reason (``"No space left on device"``) for a libsndfile "System
    error" ``exc``, from the errno its failed call left; None for another error or when
    there is none."""
    if getattr(exc, "code", None) != _SFE_SYSTEM:
        return None
    try:
        import soundfile as sf  # type: ignore[import-untyped, unused-ignore]

        errno = int(sf._ffi.errno)  # the errno right after soundfile's last C call
    except Exception:  # (another soundfile, no cffi): libsndfile's own text then
        return None
    return os.strerror(errno) if errno > 0 else None


def write_error(dest: str | int | None) -> str | None:
    """Why writing to ``dest`` fails, as the system says it (``"No space left on device"``,
    ``"File too large"``): libsndfile reports a failed write as "System error" and the
    errno is lost by then, so one block is written past the end of the file again here
    (and cut off). None when that write succeeds or ``dest`` cannot be probed."""
    if dest is None:
        return None
    try:
        fd = os.open(dest, os.O_WRONLY) if isinstance(dest, str) else dest
    except OSError as exc:
        return exc.strerror
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        try:
            os.pwrite(fd, bytes(65536), st.st_size)
        except OSError as exc:
            return exc.strerror
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, st.st_size)
        return None
    except OSError:
        return None
    finally:
        if isinstance(dest, str):
            os.close(fd)


class AudioWriter:
    """The ``soundfile.SoundFile`` being written, whose failures (a full disk, a file size
    limit) are one :class:`SoundFileError` naming the output and the system's reason."""

    def __init__(self, writer: Any, path: str, dest: str | int | None) -> None:
        self._writer = writer
        self._path = path
        self._dest = dest

    def _failed(self, exc: Exception) -> SoundFileError:
        why = system_error(exc) if self._dest is None else write_error(self._dest)
        if why is None:
            why = str(getattr(exc, "error_string", None) or exc).strip().rstrip(".")
        return SoundFileError(self._path, "unwritable", f"cannot write ({why})")

    def write(self, data: npt.ArrayLike) -> None:
        """Append frames (``(n, channels)`` or mono)."""
        try:
            self._writer.write(data)
        except (RuntimeError, OSError) as exc:  # LibsndfileError is a RuntimeError
            raise self._failed(exc) from exc

    def close(self) -> None:
        """Finish the file (libsndfile rewrites the header here)."""
        try:
            self._writer.close()
        except (RuntimeError, OSError) as exc:
            raise self._failed(exc) from exc

    @property
    def closed(self) -> bool:
        """True once closed."""
        return bool(self._writer.closed)
