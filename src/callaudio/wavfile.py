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

import numpy as np
import numpy.typing as npt

from .errors import SoundFileError

__all__ = ["WavAudio", "read_wav"]


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


def _chunk(name: str, wanted: bytes, head: int) -> tuple[int, bytes] | None:
    """The size field and first ``head`` bytes of the first ``wanted`` chunk, or None.

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
                    return size, fh.read(head)
                fh.seek(size + (size & 1), os.SEEK_CUR)
    except OSError:
        return None


# data sizes a streaming writer puts in a header it cannot go back to (ffmpeg, sox's
# 0x7FFFF000): the audio is what the file holds, not a truncated file
_UNKNOWN_SIZES = (0xFFFFFFFF, 0x7FFFFFFF, 0x7FFFF000)


_PCM_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")  # KSDATAFORMAT_SUBTYPE_PCM


def _extensible_pcm(name: str) -> io.BytesIO | None:
    """The file relabelled as plain PCM (format tag 1) when its fmt chunk is
    WAVE_FORMAT_EXTENSIBLE with the integer PCM sub-format; else None. The samples of such
    a file are plain PCM's (valid bits left-justified in their container)."""
    data = Path(name).read_bytes()
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if chunk == b"fmt ":
            body = data[pos + 8 : pos + 8 + size]
            if len(body) < 40 or body[24:26] != b"\x01\x00" or body[26:40] != _PCM_GUID_TAIL:
                return None
            return io.BytesIO(data[: pos + 8] + b"\x01\x00" + data[pos + 10 :])
        pos += 8 + size + (size & 1)
    return None


def _open_wave(name: str) -> wave.Wave_read:
    """``wave.open(name)``, or of the file relabelled when it is extensible PCM."""
    try:
        return wave.open(name, "rb")
    except wave.Error as exc:
        if str(exc) != f"unknown format: {0xFFFE}" or (relabelled := _extensible_pcm(name)) is None:
            raise
        return wave.open(relabelled, "rb")


def read_wav(path: str | os.PathLike[str]) -> WavAudio:
    """Read a PCM WAV file into float32.

    Raises
    ------
    SoundFileError
        For a missing, non-WAV, corrupt, truncated or unsupported file (see the module
        docstring); the message names the file and the problem.
    """
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
    try:
        with _open_wave(name) as w:
            channels = w.getnchannels()
            width = w.getsampwidth()
            rate = w.getframerate()
            frames = w.getnframes()
            # At most what the file holds: a header announcing 4 GB made wave allocate
            # 4 GB for a file of a few bytes (MemoryError under a memory limit).
            most = os.path.getsize(name) // max(1, channels * width) + 1
            raw = w.readframes(min(frames, most))
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
    if data is not None and data[0] in _UNKNOWN_SIZES and len(raw) >= frame_bytes:
        raw = raw[: len(raw) - len(raw) % frame_bytes]  # what the stream held
        frames = len(raw) // frame_bytes
    if len(raw) < frames * frame_bytes:
        got = len(raw) // frame_bytes
        raise SoundFileError(
            name, "truncated", f"the header announces {frames} frames but the file holds {got}"
        )
    return WavAudio(_decode(raw, width, channels), rate, width)
