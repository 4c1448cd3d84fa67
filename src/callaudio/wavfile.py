"""Reading WAV files for the audio controller, with the standard library's ``wave``.

Supported: RIFF/WAVE, integer PCM (format tag 1), 8-bit unsigned, 16-, 24- and 32-bit
signed little-endian, mono or stereo, any sample rate. The whole file is read into memory
(ringtones and prompts are short) and converted to float32 in [-1, 1):
``x / 2**(bits - 1)`` (8-bit: ``(x - 128) / 128``).

Everything else raises :class:`~callaudio.errors.SoundFileError` with a ``reason``:
``missing`` (no such file, or a directory), ``not_wav`` (no RIFF/WAVE header),
``corrupt`` (chunks missing or inconsistent, no audio), ``truncated`` (the file ends
before the data its header announces) or ``unsupported`` (float or compressed formats,
more than two channels, other sample widths). WAVE_FORMAT_EXTENSIBLE with integer PCM
samples (what sox and ffmpeg write for 24- and 32-bit samples) is read too: Python <
3.12's ``wave`` refuses its format tag, so it reads the file relabelled as plain PCM.
"""

from __future__ import annotations

import io
import os
import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import SoundFileError

__all__ = [
    "WavAudio",
    "WavFileSource",
    "WavInfo",
    "WavReader",
    "decode_pcm",
    "probe_wav",
    "read_looping",
    "read_wav",
]


@dataclass(frozen=True)
class WavAudio:
    """Decoded WAV audio.

    Attributes
    ----------
    samples : ndarray
        float32, shape (frames, channels).
    sample_rate : int
        Hz.
    sample_width : int
        Bytes per sample in the file (1, 2, 3 or 4).
    """

    samples: npt.NDArray[np.float32]
    sample_rate: int
    sample_width: int

    @property
    def channels(self) -> int:
        """1 or 2."""
        return int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        """Seconds."""
        return float(self.samples.shape[0]) / self.sample_rate


def _decode(raw: bytes, width: int, channels: int) -> npt.NDArray[np.float32]:
    data: npt.NDArray[np.float32]
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        data = ints.astype(np.float32) / float(1 << 23)
    else:
        data = (np.frombuffer(raw, dtype="<i4").astype(np.float64) / float(1 << 31)).astype(
            np.float32
        )
    return np.ascontiguousarray(data.reshape(-1, channels), dtype=np.float32)


def _bits_per_sample(name: str) -> int | None:
    """The fmt chunk's bits per sample (``wave`` rounds 1..7 up to one byte silently)."""
    body = _chunk(name, b"fmt ", 16)
    return int(struct.unpack_from("<H", body[1], 14)[0]) if body and len(body[1]) == 16 else None


def _chunk(name: str, wanted: bytes, head: int) -> tuple[int, bytes, int] | None:
    """The size field, first ``head`` bytes and body offset of the first ``wanted`` chunk,
    or None.

    Walks the chunk headers wherever they are in the file (a large JUNK or LIST chunk may
    come before ``fmt ``), seeking over each chunk's body.
    """
    try:
        with open(name, "rb") as fh:
            fh.seek(12)
            while True:
                header = fh.read(8)
                if len(header) < 8:
                    return None
                chunk, size = header[:4], struct.unpack("<I", header[4:])[0]
                if chunk == wanted:
                    at = fh.tell()
                    return size, fh.read(head), at
                fh.seek(size + (size & 1), os.SEEK_CUR)
    except OSError:
        return None


# data sizes a streaming writer puts in a header it cannot go back to (ffmpeg, sox's
# 0x7FFFF000): the audio is what the file holds, not a truncated file
_UNKNOWN_SIZES = (0xFFFFFFFF, 0x7FFFFFFF, 0x7FFFF000)


_PCM_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")  # KSDATAFORMAT_SUBTYPE_PCM


class _Relabelled(io.RawIOBase):
    """The file read through with its format tag (2 bytes at ``tag_at``) read as 1 (plain
    PCM): what ``wave`` needs to parse a WAVE_FORMAT_EXTENSIBLE PCM header, without
    reading the file into memory."""

    def __init__(self, name: str, tag_at: int) -> None:
        self._fh = open(name, "rb")
        self._tag_at = tag_at

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        return self._fh.seek(pos, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def readinto(self, buf: Any) -> int:
        at = self._fh.tell()
        data = self._fh.read(len(buf))
        lo, hi = max(at, self._tag_at), min(at + len(data), self._tag_at + 2)
        if lo < hi:
            patched = bytearray(data)
            patched[lo - at : hi - at] = b"\x01\x00"[lo - self._tag_at : hi - self._tag_at]
            data = bytes(patched)
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._fh.close()
        super().close()


def _extensible_pcm(name: str) -> _Relabelled | None:
    """The file relabelled as plain PCM (format tag 1) when its fmt chunk is
    WAVE_FORMAT_EXTENSIBLE with the integer PCM sub-format; else None. The samples of such
    a file are plain PCM's (valid bits left-justified in their container)."""
    found = _chunk(name, b"fmt ", 40)
    if found is None:
        return None
    body = found[1]
    if len(body) < 40 or body[24:26] != b"\x01\x00" or body[26:40] != _PCM_GUID_TAIL:
        return None
    return _Relabelled(name, found[2])


def _open_wave(name: str) -> wave.Wave_read:
    """``wave.open(name)``, or of the file relabelled when it is extensible PCM."""
    try:
        return wave.open(name, "rb")
    except wave.Error as exc:
        if str(exc) != f"unknown format: {0xFFFE}" or (relabelled := _extensible_pcm(name)) is None:
            raise
        with io.BufferedReader(relabelled) as fh:  # (wave reads only the header here)
            return wave.open(fh, "rb")


@dataclass(frozen=True)
class WavInfo:
    """A checked WAV file's format and where its samples are (what :func:`probe_wav`
    found): ``frames`` frames of ``channels * sample_width`` bytes from byte ``offset``."""

    name: str
    channels: int
    sample_width: int
    sample_rate: int
    frames: int
    offset: int


def _path_name(path: object) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise SoundFileError(repr(path), "missing", "not a file path (give a str or a Path)")
    try:
        name = os.fspath(path)
    except Exception:  # an os.PathLike whose __fspath__ raises
        name = None
    if not isinstance(name, str):
        raise SoundFileError(repr(path), "missing", "not a file path (give a str or a Path)")
    try:
        is_file = Path(name).is_file()
    except (OSError, ValueError) as exc:  # a name too long, an embedded NUL
        why = getattr(exc, "strerror", None) or str(exc)
        short = name if len(name) <= 200 else name[:200] + "..."
        raise SoundFileError(short, "missing", f"not a usable file path ({why})") from None
    if not is_file:
        why = "is a directory, not a sound file" if os.path.isdir(name) else "no such sound file"
        if os.path.exists(name) and not os.path.isdir(name):  # a FIFO, a device, a socket
            why = "not a regular file (a FIFO or a device), not a sound file"
        raise SoundFileError(name, "missing", why)
    return name


def probe_wav(path: str | os.PathLike[str]) -> WavInfo:
    """Check a PCM WAV file's header and size without reading its samples.

    Raises
    ------
    SoundFileError
        For a missing, non-WAV, corrupt, truncated or unsupported file (see the module
        docstring), as :func:`read_wav`.
    """
    name = _path_name(path)
    try:
        with _open_wave(name) as w:
            channels = w.getnchannels()
            width = w.getsampwidth()
            rate = w.getframerate()
            frames = w.getnframes()
    except wave.Error as exc:
        text = str(exc)
        if "RIFF" in text or "WAVE" in text:
            raise SoundFileError(
                name, "not_wav", f"not a WAV file ({text}); sound files here are integer PCM WAV"
            ) from exc
        if text.startswith("unknown format"):
            raise SoundFileError(
                name,
                "unsupported",
                f"only integer PCM WAV is supported ({text}); convert it, e.g. "
                "sox IN -e signed -b 16 OUT.wav",
            ) from exc
        if "bad sample width" in text:
            raise SoundFileError(name, "unsupported", f"unsupported sample width ({text})") from exc
        raise SoundFileError(name, "corrupt", f"corrupt WAV file ({text})") from exc
    except EOFError as exc:
        raise SoundFileError(name, "truncated", "the file ends inside a header chunk") from exc
    except (RuntimeError, ValueError, struct.error) as exc:
        # The stdlib chunk parser raises these for mangled chunk sizes.
        raise SoundFileError(name, "corrupt", f"corrupt WAV file ({exc})") from exc
    except OSError as exc:
        raise SoundFileError(name, "missing", f"cannot read the sound file ({exc})") from exc
    bits = _bits_per_sample(name)
    if bits is not None and (bits % 8 or bits != 8 * width):
        raise SoundFileError(name, "unsupported", f"{bits}-bit samples (only 8/16/24/32-bit PCM)")
    if channels not in (1, 2):
        raise SoundFileError(name, "unsupported", f"{channels} channels (only mono or stereo)")
    if width not in (1, 2, 3, 4):
        raise SoundFileError(name, "unsupported", f"{8 * width}-bit samples (only 8/16/24/32)")
    if rate <= 0:
        raise SoundFileError(name, "corrupt", f"invalid sample rate {rate}")
    if frames == 0:
        raise SoundFileError(name, "corrupt", "the file holds no audio frames")
    frame_bytes = channels * width
    data = _chunk(name, b"data", 0)
    if data is None:  # (wave found one: the file changed under us)
        raise SoundFileError(name, "corrupt", "no data chunk")
    try:
        held = max(0, os.path.getsize(name) - data[2])
    except OSError as exc:
        raise SoundFileError(name, "missing", f"cannot read the sound file ({exc})") from exc
    if data[0] in _UNKNOWN_SIZES and held >= frame_bytes:
        frames = held // frame_bytes  # what the stream held
    if held < frames * frame_bytes:
        got = held // frame_bytes
        raise SoundFileError(
            name, "truncated", f"the header announces {frames} frames but the file holds {got}"
        )
    return WavInfo(name, channels, width, rate, frames, data[2])


def decode_pcm(raw: bytes, info: WavInfo) -> npt.NDArray[np.float32]:
    """Whole frames of ``info``'s PCM bytes as float32 ``(frames, channels)``."""
    return _decode(raw, info.sample_width, info.channels)


def read_wav(path: str | os.PathLike[str]) -> WavAudio:
    """Read a PCM WAV file into float32 (whole: :class:`WavFileSource` streams one).

    Raises
    ------
    SoundFileError
        For a missing, non-WAV, corrupt, truncated or unsupported file (see the module
        docstring); the message names the file and the problem.
    """
    info = probe_wav(path)
    size = info.frames * info.channels * info.sample_width
    try:
        with open(info.name, "rb") as fh:
            fh.seek(info.offset)
            raw = fh.read(size)
    except OSError as exc:
        raise SoundFileError(info.name, "missing", f"cannot read the sound file ({exc})") from exc
    if len(raw) < size:
        raise SoundFileError(info.name, "truncated", "the file shrank while it was read")
    return WavAudio(decode_pcm(raw, info), info.sample_rate, info.sample_width)


class WavReader:
    """Reads a checked WAV file's samples block by block (one open file, bounded memory).

    :meth:`read` gives up to ``frames`` frames as float32 ``(n, channels)``, an empty block
    at the end; a file that shrinks or cannot be read any more raises SoundFileError
    (``truncated``/``missing``). A file removed while open is still read to its end (the
    open handle keeps it). :meth:`close` is idempotent.
    """

    def __init__(self, info: WavInfo) -> None:
        self.info = info
        self._frame_bytes = info.channels * info.sample_width
        try:
            self._fh: Any = open(info.name, "rb")
        except OSError as exc:
            raise SoundFileError(
                info.name, "missing", f"cannot open the sound file ({exc})"
            ) from exc
        self._next = 0  # frames read so far

    @property
    def position(self) -> int:
        """Frames read so far."""
        return self._next

    def read(self, frames: int) -> npt.NDArray[np.float32]:
        """Up to ``frames`` frames; an empty block at the end of the file's audio."""
        info, fh = self.info, self._fh
        if fh is None:
            raise SoundFileError(info.name, "missing", "the sound file was closed")
        n = max(0, min(int(frames), info.frames - self._next))
        want = n * self._frame_bytes
        try:
            fh.seek(info.offset + self._next * self._frame_bytes)
            raw = fh.read(want)
        except (OSError, ValueError) as exc:
            raise SoundFileError(
                info.name, "missing", f"cannot read the sound file ({exc})"
            ) from exc
        if len(raw) < want:
            got = self._next + len(raw) // self._frame_bytes
            raise SoundFileError(
                info.name,
                "truncated",
                f"the file shrank while playing: {got} of {info.frames} frames",
            )
        self._next += n
        return decode_pcm(raw, info)

    def rewind(self) -> None:
        """Back to the first frame."""
        self._next = 0

    def close(self) -> None:
        """Close the file (reading again raises SoundFileError)."""
        fh, self._fh = self._fh, None
        if fh is not None:
            fh.close()


def read_looping(reader: Any, frames: int) -> npt.NDArray[np.float32]:
    """Up to ``frames`` frames from ``reader`` (``read(n)``/``rewind()``, as
    :class:`WavReader`), starting the file again at its end: a whole block across the seam
    (a file of a few frames is not one read per pass). Shorter only where a pass after a
    rewind reads nothing (a file with no audio)."""
    parts = [reader.read(frames)]
    got = int(parts[0].shape[0])
    while got < frames:
        reader.rewind()
        part = reader.read(frames - got)
        if part.shape[0] == 0:
            break
        parts.append(part)
        got += int(part.shape[0])
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


class WavFileSource:
    """A :class:`~callaudio.audio.base.PlaybackSource` over a WAV file, streamed.

    Construction checks the file (:func:`probe_wav`: the same SoundFileError as
    :func:`read_wav`) without reading its samples. Each playback opens its own
    :class:`WavReader` (:meth:`open_reader`); the engine decodes and resamples it in
    blocks ahead of the audio thread (:class:`~callaudio.engine.streamed.StreamedSound`),
    so memory stays bounded whatever the file's length. :meth:`read` and :meth:`rewind`
    (the protocol's pull interface) read through a reader of its own.
    """

    def __init__(self, path: str | os.PathLike[str], loop: bool = False) -> None:
        self._info = probe_wav(path)
        self._loop = bool(loop)
        self._reader: WavReader | None = None

    @property
    def path(self) -> str:
        """The file."""
        return self._info.name

    @property
    def info(self) -> WavInfo:
        """What :func:`probe_wav` found."""
        return self._info

    @property
    def sample_rate(self) -> int:
        """Hz."""
        return self._info.sample_rate

    @property
    def channels(self) -> int:
        """1 or 2."""
        return self._info.channels

    @property
    def loop(self) -> bool:
        """Whether the file starts again at its end."""
        return self._loop

    @property
    def frames(self) -> int:
        """Frames in one pass of the file."""
        return self._info.frames

    def open_reader(self) -> WavReader:
        """A new reader at the first frame (the caller closes it).

        The header is checked again: a file put at the path since (removed and written
        anew, renamed over it) in another format raises SoundFileError rather than having
        its bytes decoded as the checked format (loud noise)."""
        info, now = self._info, probe_wav(self._info.name)
        shape = (now.channels, now.sample_width, now.sample_rate, now.offset)
        if shape != (info.channels, info.sample_width, info.sample_rate, info.offset):
            raise SoundFileError(
                info.name, "missing", "the file was replaced by one in another format"
            )
        return WavReader(info)

    def read(self, frames: int) -> npt.NDArray[np.float32]:
        """Up to ``frames`` frames (wrapping around when looping); SoundFileError when the
        file became unreadable."""
        if self._reader is None:
            self._reader = self.open_reader()
        if self._loop:
            return read_looping(self._reader, int(frames))
        return self._reader.read(frames)

    def rewind(self) -> None:
        """Back to the first frame."""
        if self._reader is not None:
            self._reader.rewind()

    def close(self) -> None:
        """Close the pull interface's reader (each playback closes its own)."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()

    def __repr__(self) -> str:
        info = self._info
        return (
            f"WavFileSource({info.name!r}, {info.sample_rate} Hz, {info.channels} ch, "
            f"{info.frames} frames, loop={self._loop})"
        )
