"""Audio files for the ``callaudio`` command, through ``soundfile`` (libsndfile).

Reading: every format and subtype libsndfile decodes (WAV of any common subtype, 8- to
32-bit integer, 32/64-bit float, WAVE_FORMAT_EXTENSIBLE, A-law/u-law; FLAC, OGG/Vorbis,
AIFF, ...), mono or stereo, at 8000..192000 Hz, in blocks (flat memory). What it cannot
read is one :class:`~callaudio.errors.SoundFileError` naming the file: not audio, a
truncated file (the header announces more data than the file holds), a sample width that
does not fill its container (1- to 7-bit PCM), more than two channels, a rate out of range.
A pipe streams (WAV, AIFF, OGG, AU) or, for a format libsndfile must seek in (FLAC, MP3,
CAF, RF64), is first copied to an anonymous temporary file (:mod:`.source`).

Writing (:class:`OutputTarget`), decided before any processing:

- a new or existing regular file: written to a temporary file in the same folder and
  renamed over the target at the end (atomic: after a failure the old file is intact and
  no temporary file is left); an existing file keeps its mode, a new one gets
  ``0666 & ~umask``. A read-only existing file is refused. The target is checked again
  just before the rename: a device, FIFO or folder that appeared there meanwhile is never
  replaced (one error line; see :meth:`OutputTarget._put_in_place` for the window left).
- a symbolic link is followed on purpose: the file it points to is replaced as above (in
  the target's folder), the link stays a link.
- a character device (``/dev/null``) is written through, never replaced;
- a FIFO (a named pipe, ``>(...)`` process substitution) gets the whole file once it is
  complete: WAV needs its header rewritten at the end, so it is spooled to an anonymous
  temporary file first;
- ``-`` is standard output: a file the shell opened is written in place, a pipe gets the
  spooled file;
- a directory, a block device or a socket is refused, and so is a new file directly in
  ``/dev`` (a mistyped device name).

Text inputs (``--config`` TOML, batch manifests) are read with :func:`text_lines`: regular
files only, at most a given size (``/dev/zero`` or a FIFO is refused before any read).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError, SoundFileError
from .source import InputSource, quiet_stderr
from .writer import AudioWriter, system_error

__all__ = [
    "MAX_RATE",
    "MIN_RATE",
    "InputFile",
    "OutputTarget",
    "check_folder",
    "output_format",
    "output_subtype",
    "soundfile",
    "text_lines",
    "write_audio",
]

F32 = npt.NDArray[np.float32]

MIN_RATE = 8000
"""Lowest input sample rate ``callaudio process`` accepts (Hz)."""
MAX_RATE = 192000
"""Highest input sample rate ``callaudio process`` accepts (Hz)."""
MAX_CHANNELS = 2

_EXTENSIONS = {
    **dict.fromkeys((".wav", ".wave"), "WAV"), **dict.fromkeys((".ogg", ".oga", ".opus"), "OGG"),
    **dict.fromkeys((".aif", ".aiff", ".aifc"), "AIFF"), ".flac": "FLAC", ".caf": "CAF",
    ".au": "AU", ".w64": "W64", ".rf64": "RF64", ".mp3": "MP3",
}
# Announced data sizes that mean "unknown, read to the end" (streaming writers; sox's
# is 0x7FFFF000, its WAV written to a pipe and saved).
_UNKNOWN_SIZES = (0, 0xFFFFFFFF, 0x7FFFFFFF, 0x7FFFF000)


def soundfile() -> Any:
    """The ``soundfile`` module, or a ConfigError saying how to install it."""
    try:
        import soundfile as sf  # type: ignore[import-untyped, unused-ignore]
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ConfigError(
            "soundfile", "audio files need the soundfile package: pip install soundfile"
        ) from exc
    except OSError as exc:  # pragma: no cover - libsndfile missing on the system
        raise ConfigError("soundfile", f"libsndfile cannot be loaded ({exc})") from exc
    return sf


def _explain(error: str, mpeg: bool = False) -> str:
    """libsndfile's reason for refusing a file, in the user's terms."""
    if mpeg and ("regular file" in error or not error.strip()):
        # libsndfile's generic error after libmpg123 refused the data
        return "cannot read this file as audio (an MP3 header, but no valid MPEG audio frames)"
    if "not recognised" in error:
        return (
            "not an audio file callaudio can read (WAV, FLAC, OGG, AIFF and the other "
            "formats of libsndfile)"
        )
    if "SF_INFO" in error:
        return (
            f"invalid header: the sample rate or channel count is out of range (accepted: "
            f"{MIN_RATE}..{MAX_RATE} Hz, mono or stereo)"
        )
    return f"cannot read this file as audio ({error.strip().rstrip('.')})"


def _fs(name: Any) -> Any:
    """A path as bytes for libsndfile (which soundfile would encode strictly, refusing a
    valid Linux file name that is not UTF-8); an fd or file object as it is."""
    return os.fsencode(name) if isinstance(name, str) else name


def _log_value(log: str, key: str) -> str | None:
    m = re.search(rf"^\s*{re.escape(key)}\s*:\s*(.+)$", log, re.MULTILINE)
    return m.group(1).strip() if m else None


class InputFile:
    """An audio file opened for reading in blocks; its header is checked on opening.

    Attributes
    ----------
    path : str
        As given.
    rate, channels, frames : int
        Sample rate (Hz), channels (1 or 2), frames announced by the header (an estimate
        when ``length_known`` is False).
    length_known : bool
        False for a stream (a pipe): its length is known once it has been read.
    format, subtype : str
        libsndfile's names (``"WAV"``, ``"WAVEX"``, ``"FLAC"`` ...; ``"PCM_24"``, ``"FLOAT"`` ...).
    """

    def __init__(self, path: str | os.PathLike[str], what: str = "input") -> None:
        sf = soundfile()
        self.path = os.fspath(path)
        name = self.path
        if not os.path.exists(name):  # "-" is a name here (stdin: /dev/stdin, as documented)
            why = "no such file" + ("; standard input is /dev/stdin" if name == "-" else "")
            raise SoundFileError(name, "missing", why)
        if os.path.isdir(name):
            raise SoundFileError(name, "missing", "is a directory, not an audio file")
        self._source = InputSource(name)
        try:
            with quiet_stderr(self._source.mpeg):
                self._file = sf.SoundFile(_fs(self._source.target), closefd=False)
        except sf.LibsndfileError as exc:
            self._source.close()
            why = _explain(str(exc.error_string), self._source.mpeg)
            raise SoundFileError(name, "not_wav", why) from exc
        except (RuntimeError, OSError, ValueError, TypeError) as exc:
            self._source.close()
            raise SoundFileError(
                name, "not_wav", f"cannot read this file as audio ({exc})"
            ) from exc
        self._source.mpeg = self._source.mpeg or str(self._file.format) == "MP3"
        try:
            self._check(what)
        except BaseException:
            self.close()
            raise
        self._read = 0

    def _check(self, what: str) -> None:
        f, name = self._file, self.path
        self.rate = int(f.samplerate)
        self.channels = int(f.channels)
        self.frames = int(f.frames)
        self.length_known = bool(f.seekable()) and not self._source.relayed
        self.format = str(f.format)
        self.subtype = str(f.subtype)
        log = str(f.extra_info)
        data = re.search(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", log, re.MULTILINE)
        if data and int(data.group(1)) not in _UNKNOWN_SIZES:
            if int(data.group(1)) > int(data.group(2)):
                raise SoundFileError(
                    name,
                    "truncated",
                    f"the header announces {data.group(1)} bytes of audio but the file "
                    f"holds {data.group(2)}",
                )
        width, align = _log_value(log, "Bit Width"), _log_value(log, "Block Align")
        linear = self.subtype.startswith("PCM") or self.subtype in ("FLOAT", "DOUBLE")
        if linear and width and align and width.isdigit() and align.isdigit():
            bits, block = int(width), int(align)
            if bits % 8 or block != self.channels * bits // 8:
                raise SoundFileError(
                    name,
                    "unsupported",
                    f"{bits}-bit samples in {block}-byte frames (8/16/24/32-bit PCM or float)",
                )
        if not 1 <= self.channels <= MAX_CHANNELS:
            raise SoundFileError(
                name, "unsupported", f"{self.channels} channels (only mono or stereo)"
            )
        if not MIN_RATE <= self.rate <= MAX_RATE:
            raise ConfigError(
                what,
                f"{name}: sample rate {self.rate} Hz is outside {MIN_RATE}..{MAX_RATE} Hz, "
                "the range callaudio accepts",
            )
        if self.frames <= 0 and self.length_known:
            raise SoundFileError(name, "corrupt", "the file holds no audio frames")

    def blocks(self, size: int) -> Iterator[F32]:
        """float32 blocks of up to ``size`` frames, shape ``(n, channels)``, full scale 1.0.

        Raises SoundFileError if the file ends before the frames its header announced.
        """
        sf = soundfile()
        while True:
            try:
                with quiet_stderr(self._source.mpeg):
                    block = self._file.read(size, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                why = "corrupt MPEG audio data" if self._source.mpeg else str(exc)
                raise SoundFileError(
                    self.path, "corrupt", f"cannot decode the audio ({why})"
                ) from exc
            if block.shape[0] == 0:
                break
            self._read += block.shape[0]
            yield block
        if self._read == 0:
            raise SoundFileError(self.path, "corrupt", "the file holds no audio frames")
        if self.length_known and self._read < self.frames:
            raise SoundFileError(
                self.path,
                "truncated",
                f"the header announces {self.frames} frames but the file holds {self._read}",
            )

    @property
    def frames_read(self) -> int:
        """Frames read so far (the length, once :meth:`blocks` is exhausted)."""
        return self._read

    def close(self) -> None:
        """Close the file (and remove its spooled copy, if any)."""
        try:
            self._file.close()
        finally:
            self._source.close()

    def __enter__(self) -> InputFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def output_format(path: str, input_format: str) -> str:
    """libsndfile's format for ``path``: by its extension, else the input's format.

    A ``.wav`` output of a WAVE_FORMAT_EXTENSIBLE input stays EXTENSIBLE.
    """
    fmt = _EXTENSIONS.get(os.path.splitext(path)[1].lower())
    if fmt is None:
        return input_format
    if fmt == "WAV" and input_format in ("WAV", "WAVEX"):
        return input_format
    return fmt


_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)  # the rates libsndfile's Opus encoder takes


def output_subtype(
    fmt: str, requested: str | None, input_subtype: str, path: str = "", rate: int = 0
) -> str:
    """The subtype to write: ``requested`` (checked), else the input's when ``fmt`` can
    hold it, else the format's default (24-bit for float input to FLAC); a ``.opus``
    ``path`` is Opus in Ogg when ``rate`` is one Opus takes (else Ogg's default, Vorbis)."""
    sf = soundfile()
    if requested is not None:
        sub = requested.upper()
        if sub not in sf.available_subtypes(fmt) or not sf.check_format(fmt, sub):
            choices = ", ".join(sorted(s for s in sf.available_subtypes(fmt)))
            raise ConfigError("--subtype", f"{fmt} files cannot hold {sub} (choose {choices})")
        return sub
    if path.lower().endswith(".opus") and rate in _OPUS_RATES and sf.check_format(fmt, "OPUS"):
        return "OPUS"
    # libsndfile decodes MP3 but its WAV (and other) writers cannot encode it
    same_codec = not input_subtype.startswith("MPEG") or fmt == "MP3"
    if same_codec and sf.check_format(fmt, input_subtype):
        return input_subtype
    if input_subtype in ("FLOAT", "DOUBLE", "PCM_32", "PCM_24") and sf.check_format(fmt, "PCM_24"):
        return "PCM_24"
    return str(sf.default_subtype(fmt))


def _temp_prefix(target: str, folder: str) -> bytes:
    """``.NAME.`` for the temporary file beside ``target`` (mkstemp adds 8 characters),
    NAME cut (keeping its extension) where the whole would pass the folder's longest name."""
    try:
        longest = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        longest = 255
    root, ext = os.path.splitext(os.fsencode(os.path.basename(target)))
    room = longest - 10 - len(ext)  # the two dots and mkstemp's 8
    if room < 1:
        root, ext, room = root + ext, b"", longest - 10
    return b"." + root[:room] + ext + b"."


def _seekable(fd: int) -> bool:
    try:
        return stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        return False


def _umask() -> int:
    os.umask(mask := os.umask(0o022))
    return mask


@dataclass
class _Plan:
    kind: str  # "regular", "device", "fifo"
    target: str  # the file written (a symlink's target)


def _plan(path: str) -> _Plan:
    """Where ``path`` leads and how it is written; raises SoundFileError when it cannot be."""
    if path == "-":
        try:
            if sys.stdout is None:  # closed when the program started (>&-)
                raise OSError
            os.fstat(1)
        except OSError:
            raise SoundFileError("-", "unwritable", "standard output is closed") from None
        return _Plan("stdout", path)
    if not path:
        raise SoundFileError(
            "''", "unwritable", "the output path is empty; give a file name, or '-' for stdout"
        )
    try:
        st = os.stat(path)  # through symbolic links
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise SoundFileError(path, "unwritable", f"cannot write here ({exc.strerror})") from exc
    if st is None:  # a new file, or a dangling link's target
        target = os.path.realpath(path) if os.path.islink(path) else path
        if os.path.realpath(os.path.dirname(os.path.abspath(target))) == "/dev":
            raise SoundFileError(  # a mistyped device would become a regular file in /dev
                path, "unwritable", "no such device (no new file is written in /dev)"
            )
        return _Plan("regular", target)
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise SoundFileError(path, "unwritable", "is a directory; give a file name")
    if stat.S_ISCHR(mode):
        return _Plan("device", path)
    if stat.S_ISFIFO(mode):
        return _Plan("fifo", path)
    if not stat.S_ISREG(mode):
        raise SoundFileError(path, "unwritable", "is a block device or socket, not a file")
    if not os.access(path, os.W_OK):
        raise SoundFileError(path, "unwritable", "the file is read-only")
    return _Plan("regular", os.path.realpath(path))


def text_lines(
    path: str | os.PathLike[str],
    *,
    limit: int,
    what: str,
    encoding: str = "utf-8",
    newline: str | None = None,
) -> Iterator[str]:
    """The lines of the regular text file ``path``, read as they come, at most ``limit``
    characters in all: ConfigError(``what``) for a device, FIFO, folder or socket (refused
    before it is opened) and for a larger file (at once when its size says so, else as
    soon as ``limit`` is passed: a file growing meanwhile never fills memory). OSError and
    UnicodeDecodeError pass through."""
    name = os.fspath(path)
    if not stat.S_ISREG(os.stat(name).st_mode):
        raise ConfigError(what, f"{name}: not a regular file")
    # O_NONBLOCK: a FIFO put in its place meanwhile must not block the open (no writer)
    fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # replaced between the two looks
            raise ConfigError(what, f"{name}: not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        fh = open(fd, encoding=encoding, newline=newline)  # closed by the with below
    except BaseException:
        os.close(fd)
        raise
    with fh:
        too_large = f"{name}: larger than {limit:,} bytes"
        if st.st_size > limit:
            raise ConfigError(what, too_large)
        left = limit
        while line := fh.readline(left + 1):
            left -= len(line)
            if left < 0:
                raise ConfigError(what, too_large)
            yield line


def check_folder(path: str | os.PathLike[str]) -> None:
    """Check, before any work, that ``path`` is (or can be created as) a writable folder;
    SoundFileError naming it otherwise. Nothing is left (a probe folder comes and goes)."""
    name = os.fspath(path)
    if not name:  # abspath("") is the working folder: the report would land among its files
        raise SoundFileError("''", "unwritable", "the report folder is empty; give a folder")
    probe = os.path.abspath(name)
    while not os.path.lexists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        why = (
            "exists and is not a folder"
            if probe == os.path.abspath(name)
            else f"{probe!r} is not a folder"
        )
        raise SoundFileError(name, "unwritable", f"{why}; give a folder for the report")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise SoundFileError(name, "unwritable", f"cannot write in {probe!r} (permission denied)")
    try:  # what access() does not tell: a virtual file system (/proc, /sys), root's EROFS
        os.rmdir(tempfile.mkdtemp(prefix=".callaudio-check.", dir=probe))
        longest = os.pathconf(probe, "PC_NAME_MAX")
    except OSError as exc:
        why = _folder_error(exc, probe)
        raise SoundFileError(name, "unwritable", f"cannot write in {probe!r} ({why})") from exc
    rest = os.path.relpath(os.path.abspath(name), probe)
    for part in [] if rest == os.curdir else rest.split(os.sep):
        if len(os.fsencode(part)) > longest:
            raise SoundFileError(name, "unwritable", f"a name is longer than {longest} bytes")


def _folder_error(exc: OSError, folder: str) -> str:
    """Why no file can be made in ``folder``: the errno's text, except for a folder that
    exists and still says "No such file or directory" (a virtual file system such as
    /proc or /sys refuses new files that way)."""
    if isinstance(exc, FileNotFoundError) and os.path.isdir(folder):
        return "its file system does not allow new files"
    return exc.strerror or str(exc)


_PENDING: set[OutputTarget] = set()  # may have a temporary file now (commit/abort: out)


def abandon_outputs() -> None:
    """Remove every pending temporary output and the folders made for it, from any thread:
    the last step before the process exits on a signal its main thread cannot take (it is
    blocked in a read inside libsndfile)."""
    for target in _PENDING.copy():  # (one C call: another thread may add meanwhile)
        target.abandon()


class OutputTarget:
    """Where the processed audio goes; see the module docstring for each kind of path.

    Construct it before processing: it checks the path and, for a regular file, creates
    the temporary file in the target's folder, so an unwritable place is reported (with
    the user's path) before any work. Then :meth:`open` the writer, and :meth:`commit` or
    :meth:`abort` (also done by the context manager on an exception).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        plan = _plan(self.path)
        self.kind = plan.kind
        self._target = plan.target
        self._tmp: str | None = None
        self._spool: IO[bytes] | None = None
        self._writer: Any = None
        self._made_dirs: list[str] = []
        self._finished = os.stat_result((0,) * 10)  # the complete temporary file's (none yet)
        if self.kind == "regular":
            _PENDING.add(self)  # first: a signal any time after leaves no temporary file
            self._create_temp()

    def _create_temp(self) -> None:
        folder = os.path.dirname(self._target) or "."
        missing = []
        probe = os.path.abspath(folder)
        while not os.path.exists(probe):
            missing.append(probe)
            probe = os.path.dirname(probe)
        try:
            for d in reversed(missing):
                os.mkdir(d)
                self._made_dirs.append(d)
            prefix = _temp_prefix(self._target, folder)
            for _ in range(100):  # (as mkstemp, with the name known before the file exists)
                self._tmp = os.path.join(folder, os.fsdecode(prefix) + secrets.token_hex(4))
                try:
                    os.close(os.open(_fs(self._tmp), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                    break
                except FileExistsError:
                    self._tmp = None  # (another's file)
            else:
                raise FileExistsError(f"no free temporary name in {folder!r}")
        except OSError as exc:
            self._tmp = None
            self._remove_dirs()
            _PENDING.discard(self)
            why = _folder_error(exc, probe)  # (the deepest folder that exists)
            raise SoundFileError(
                self.path, "unwritable", f"cannot write in the folder {folder!r} ({why})"
            ) from exc

    def _remove_dirs(self) -> None:
        for d in reversed(self._made_dirs):
            with contextlib.suppress(OSError):
                os.rmdir(d)
        self._made_dirs = []

    def open(self, rate: int, channels: int, fmt: str, subtype: str) -> Any:
        """The ``soundfile.SoundFile`` to write blocks to."""
        sf = soundfile()
        try:
            if self.kind == "regular":
                dest: Any = _fs(self._tmp)
            elif self.kind == "stdout" and _seekable(1):
                dest = 1  # a regular file the shell opened: written in place
            elif self.kind in ("fifo", "stdout"):
                self._spool = tempfile.TemporaryFile()
                dest = self._spool
            else:
                dest = _fs(self._target)
            writer = sf.SoundFile(
                dest,
                "w",
                samplerate=rate,
                channels=channels,
                format=fmt,
                subtype=subtype,
                closefd=False,
            )
        except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
            why = str(exc.error_string) if isinstance(exc, sf.LibsndfileError) else str(exc)
            why = system_error(exc) or why
            raise SoundFileError(
                self.path, "unwritable", f"cannot write {fmt} {subtype} ({why.strip()})"
            ) from exc
        self._writer = AudioWriter(writer, self.path, self._written_fd())
        return self._writer

    @property
    def written_through(self) -> bool:
        """True when the audio goes straight to the target as it is processed (a device,
        a file the shell opened as stdout): a stopped command leaves part of it there."""
        return self.kind == "device" or (self.kind == "stdout" and _seekable(1))

    def _written_fd(self) -> Any:
        """What the writer writes to, for :func:`_write_error` (a path, an fd or a file)."""
        if self.kind == "regular":
            return self._tmp
        if self._spool is not None:
            return self._spool.fileno()
        return 1 if self.kind == "stdout" else None

    def commit(self) -> None:
        """Finish: rename over the target (regular), copy into the FIFO, or just close."""
        if self._writer is not None:
            self._writer.close()
        if self.kind == "regular":
            assert self._tmp is not None
            try:
                existing = os.stat(self._target)
                mode = stat.S_IMODE(existing.st_mode)
            except FileNotFoundError:
                existing = None
                mode = 0o666 & ~_umask()
            os.chmod(self._tmp, mode)
            fd = os.open(self._tmp, os.O_RDONLY)
            try:
                self._finished = os.fstat(fd)
                os.fsync(fd)  # on disk before it replaces the old file
            finally:
                os.close(fd)
            if existing is not None and hasattr(os, "chown"):
                with contextlib.suppress(OSError):  # only root may give a file away
                    os.chown(self._tmp, existing.st_uid, existing.st_gid)
            self._put_in_place(existing is None)
            self._tmp = None
            self._made_dirs = []
            _PENDING.discard(self)
        elif self._spool is not None:
            self._spool.seek(0)
            if self.kind == "stdout":
                sys.stdout.flush()
                shutil.copyfileobj(self._spool, sys.stdout.buffer)
                sys.stdout.buffer.flush()
            else:
                with open(self._target, "wb") as fifo:
                    shutil.copyfileobj(self._spool, fifo)
            self._spool.close()

    def in_place(self) -> bool:
        """True once :meth:`commit` has put the audio at the target (a signal may ask)."""
        with contextlib.suppress(OSError):
            return os.path.samestat(self._finished, os.stat(self._target))
        return False

    def _put_in_place(self, new: bool) -> None:
        """Move the finished temporary file to the target, which was planned (and is
        checked again here) to be a regular file or nothing.

        Something else may have appeared there during the processing (a device node, a
        FIFO, a folder): it is never replaced; the command fails with one line and the
        temporary file is removed. A target that did not exist is created with
        ``link()``, which fails instead of replacing anything that appeared in between.
        An existing regular file is replaced with ``rename()``: between the check and the
        rename a few microseconds remain in which a node created by someone else would be
        replaced (POSIX has no portable "rename only over a regular file").
        """
        assert self._tmp is not None
        try:
            now = os.stat(self._target)
        except FileNotFoundError:
            now = None
        if now is not None and not stat.S_ISREG(now.st_mode):
            self.abort()
            raise SoundFileError(
                self.path,
                "unwritable",
                "is no longer a regular file (it changed while the "
                "audio was processed); left untouched, nothing written",
            )
        if now is None and new:
            try:
                os.link(self._tmp, self._target)
            except FileExistsError:
                return self._put_in_place(False)  # appeared meanwhile: check it again
            except OSError:  # no hard links on this file system: rename as below
                pass
            else:
                os.unlink(self._tmp)
                return None
        os.replace(self._tmp, self._target)
        return None

    def abandon(self) -> None:
        """Remove the temporary file and the folders made for it, touching nothing else
        (the writer may be in use by a thread that will not run again)."""
        tmp, self._tmp = self._tmp, None
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(_fs(tmp))
        self._remove_dirs()
        _PENDING.discard(self)

    def abort(self) -> None:
        """Undo: remove the temporary file and any folder created; the target is untouched."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            self._tmp = None
        if self._spool is not None:
            self._spool.close()
        self._remove_dirs()
        _PENDING.discard(self)

    def __enter__(self) -> OutputTarget:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is not None:
            self.abort()


def write_audio(
    path: str | os.PathLike[str], x: npt.ArrayLike, rate: int, subtype: str = "PCM_16"
) -> None:
    """Write a whole signal (mono or ``(n, channels)``, full scale 1.0), format by the
    extension (WAV when unknown), through an :class:`OutputTarget` (atomic for files)."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    name = os.fspath(path)
    fmt = output_format(name, "WAV")
    with OutputTarget(name) as target:
        writer = target.open(
            int(rate), int(a.shape[1]), fmt, output_subtype(fmt, subtype, "PCM_16")
        )
        writer.write(np.clip(a, -1.0, 1.0) if not subtype.startswith(("FLOAT", "DOUBLE")) else a)
        target.commit()
