"""Where ``callaudio process`` reads an input from, and libmpg123's stderr kept quiet.

libsndfile reads WAV, AIFF, OGG and AU from a pipe, but needs to seek in FLAC (it loses
sync), MP3, CAF and RF64: :class:`InputSource` relays a stream of the first kind and spools
one of the second to an anonymous temporary file. :func:`quiet_stderr` silences file
descriptor 2 while libmpg123 (libsndfile's MP3 decoder), which prints its own
diagnostics there, opens or decodes a file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import IO, Any

from ..errors import SoundFileError

__all__ = ["InputSource", "is_mpeg", "quiet_stderr"]

# Formats libsndfile decodes from a pipe, by their first bytes (WAV, W64, AIFF, OGG, AU).
_STREAMABLE = (b"RIFF", b"RIFX", b"riff", b"FORM", b"OggS", b".snd")
# Formats it needs to seek in (FLAC, MP3, CAF, RF64/BW64): a pipe of them is spooled.
_SEEKING = (b"fLaC", b"ID3", b"caff", b"RF64", b"BW64")
_HEAD = 16


def is_mpeg(head: bytes) -> bool:
    """True when ``head`` starts like an MP3 (an ID3v2 tag or an MPEG audio frame)."""
    return head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] >= 0xE0)


_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved: int | None = None


@contextlib.contextmanager
def quiet_stderr(enabled: bool) -> Iterator[None]:
    """File descriptor 2 on /dev/null while the block runs (when ``enabled``).

    libmpg123, libsndfile's MP3 decoder, prints its own diagnostics ("Note: Illegal
    Audio-MPEG-Header ...") straight to fd 2; the command's one error line says what
    matters. Nested and concurrent uses share one redirection (counted under a lock); the
    original fd 2 comes back when the last one ends. Nothing happens when fd 2 is closed.
    """
    global _quiet_depth, _quiet_saved
    if not enabled:
        yield
        return
    with _quiet_lock:
        if _quiet_depth == 0:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            try:
                saved = os.dup(2)
            except OSError:
                saved = None
            if saved is not None:
                try:
                    null = os.open(os.devnull, os.O_WRONLY)
                except OSError:  # no /dev/null: leave fd 2 alone
                    os.close(saved)
                    saved = None
                else:
                    os.dup2(null, 2)
                    os.close(null)
            _quiet_saved = saved
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _quiet_saved is not None:
                os.dup2(_quiet_saved, 2)
                os.close(_quiet_saved)
                _quiet_saved = None


class InputSource:
    """What libsndfile opens for an input path.

    A regular file is opened by its name. A pipe (or another stream) cannot seek: its
    first bytes are read to recognise the format; a format libsndfile decodes from a
    stream (WAV, AIFF, OGG ...), or bytes of no known format, are relayed through an
    anonymous pipe (those first bytes, then the rest, by a thread), so the input streams
    with flat memory; a format that needs seeking (FLAC, MP3, CAF, RF64) is copied to an
    anonymous temporary file first, deleted when closed (or when the process ends).

    Attributes
    ----------
    target : str or int
        What to give ``soundfile.SoundFile``: the path, or a file descriptor.
    relayed : bool
        True when ``target`` is the relay's pipe (the input cannot seek).
    mpeg : bool
        True when the input starts like an MP3 (its decoder's stderr is silenced).
    """

    def __init__(self, name: str) -> None:
        self.target: Any = name
        self.relayed = False
        self._spool: IO[bytes] | None = None
        self._relay_fd: int | None = None
        try:
            if stat.S_ISREG(os.stat(name).st_mode):
                with open(name, "rb") as fh:
                    self.mpeg = is_mpeg(fh.read(_HEAD))
                return
            src = open(name, "rb", buffering=0)  # handed to the relay thread
        except OSError as exc:
            raise SoundFileError(name, "missing", f"cannot open ({exc.strerror or exc})") from exc
        try:
            head = b""
            while len(head) < _HEAD:
                more = src.read(_HEAD - len(head))
                if not more:
                    break
                head += more
            self.mpeg = is_mpeg(head)
        except OSError as exc:
            src.close()
            raise SoundFileError(name, "corrupt", f"cannot read ({exc.strerror or exc})") from exc
        if head.startswith(_SEEKING) or (self.mpeg and not head.startswith(_STREAMABLE)):
            self._spool_stream(name, head, src)
            return
        read_end, write_end = os.pipe()
        self._relay_fd = read_end
        self.target = read_end
        self.relayed = True
        threading.Thread(
            target=_relay, args=(head, src, write_end), name="callaudio-input", daemon=True
        ).start()

    def _spool_stream(self, name: str, head: bytes, src: IO[bytes]) -> None:
        try:
            self._spool = tempfile.TemporaryFile()
            self._spool.write(head)
            shutil.copyfileobj(src, self._spool, 1 << 20)
            self._spool.flush()
            self._spool.seek(0)
        except OSError as exc:
            self.close()
            why = exc.strerror or str(exc)
            raise SoundFileError(
                name, "unsupported", f"cannot copy the stream to a temporary file ({why})"
            ) from exc
        finally:
            src.close()
        self.target = self._spool.fileno()

    def close(self) -> None:
        """Remove the spooled copy / end the relay (idempotent)."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        if self._relay_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._relay_fd)  # the relay's next write fails and it ends
            self._relay_fd = None


def _relay(head: bytes, src: IO[bytes], write_end: int) -> None:
    """Write ``head`` then the rest of ``src`` into the pipe ``write_end``; stops quietly
    when the reading end is closed."""
    try:
        with open(write_end, "wb") as out:
            out.write(head)
            shutil.copyfileobj(src, out, 1 << 16)
    except OSError:  # the reader closed its end (BrokenPipeError) or the source failed
        pass
    finally:
        src.close()
