"""``callaudio process`` reads and writes through libsndfile: subtypes, formats, refusals."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from .conftest import Run, no_temp_files, one_error_line, soundfile, write

BYPASS = ("--no-hpf", "--no-ns", "--no-agc", "--quiet")


def _ints(n: int, bits: int, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(bits)
    top = 1 << (bits - 1)
    x = rng.integers(-top, top, size=(n, channels), dtype=np.int64)
    x[:4, 0] = [-top, top - 1, 0, -1]  # both full-scale ends
    return x


def test_24_bit_extensible_in_is_24_bit_extensible_out_bit_exact(tmp_path: Path, run: Run) -> None:
    x = _ints(4000, 24, channels=2).astype(np.int32) << 8  # soundfile's int32 holds 24 bits high
    src = tmp_path / "sox24.wav"
    soundfile.write(str(src), x, 48000, subtype="PCM_24", format="WAVEX")
    assert src.read_bytes()[20:22] == b"\xfe\xff"  # WAVE_FORMAT_EXTENSIBLE, as sox/ffmpeg write
    out = tmp_path / "out.wav"
    code, text, err = run("process", str(src), "-o", str(out), *BYPASS)
    assert code == 0, err
    info = soundfile.info(str(out))
    assert (info.format, info.subtype, info.channels, info.frames) == ("WAVEX", "PCM_24", 2, 4000)
    y, _ = soundfile.read(str(out), dtype="int32")
    np.testing.assert_array_equal(y, x)  # every stage off: the 24 bits pass untouched
    assert "WAVEX PCM_24 -> WAVEX PCM_24" in text


def test_32_bit_float_in_is_float_out(tmp_path: Path, run: Run) -> None:
    rng = np.random.default_rng(1)
    x = (0.3 * rng.standard_normal(3200)).astype(np.float32)
    src = write(tmp_path / "f.wav", x, 16000, "FLOAT")
    out = tmp_path / "o.wav"
    code, _, err = run("process", str(src), "-o", str(out), *BYPASS)
    assert code == 0, err
    assert soundfile.info(str(out)).subtype == "FLOAT"
    y, _ = soundfile.read(str(out), dtype="float32")
    np.testing.assert_array_equal(y, x)


def test_flac_in_and_out_and_a_subtype_for_the_output(tmp_path: Path, run: Run) -> None:
    x = _ints(8000, 16).astype(np.int16)[:, 0]
    src = write(tmp_path / "in.flac", x, 32000, "PCM_16")
    out = tmp_path / "out.flac"
    code, _, err = run("process", str(src), "-o", str(out), *BYPASS)
    assert code == 0, err
    assert (soundfile.info(str(out)).format, soundfile.info(str(out)).subtype) == ("FLAC", "PCM_16")
    np.testing.assert_array_equal(soundfile.read(str(out), dtype="int16")[0], x)
    # The extension chooses the format, --subtype the sample format.
    wav = tmp_path / "wide.wav"
    code, _, err = run("process", str(src), "-o", str(wav), "--subtype", "pcm_24", *BYPASS)
    assert code == 0, err
    assert (soundfile.info(str(wav)).format, soundfile.info(str(wav)).subtype) == ("WAV", "PCM_24")
    y = soundfile.read(str(wav), dtype="int32")[0] >> 16
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize(
    ("ext", "fmt", "subtype"), [(".ogg", "OGG", "VORBIS"), (".aiff", "AIFF", "PCM_16")]
)
def test_ogg_and_aiff_are_read(tmp_path: Path, run: Run, ext: str, fmt: str, subtype: str) -> None:
    t = np.arange(16000) / 16000
    x = 0.25 * np.sin(2 * np.pi * 440 * t)
    src = write(tmp_path / f"in{ext}", x, 16000, subtype, format=fmt)
    out = tmp_path / "out.wav"
    code, text, err = run("process", str(src), "-o", str(out), *BYPASS)
    assert code == 0, err
    y, rate = soundfile.read(str(out))
    assert rate == 16000 and y.shape == (16000,)
    assert np.corrcoef(x[1000:], y[1000:])[0, 1] > 0.99  # (Vorbis is lossy)
    assert f"{fmt} {subtype} -> WAV" in text


def test_a_subtype_the_format_cannot_hold_is_one_line(tmp_path: Path, run: Run) -> None:
    src = write(tmp_path / "in.wav", np.zeros(1600), 16000)
    out = tmp_path / "out.flac"
    code, _, err = run("process", str(src), "-o", str(out), "--subtype", "FLOAT", "--quiet")
    one_error_line(code, err, "--subtype", "FLAC", "PCM_24")
    assert not out.exists() and no_temp_files(tmp_path)


def _patched(raw: bytes, offset: int, fmt: str, value: int) -> bytes:
    b = bytearray(raw)
    b[offset : offset + struct.calcsize(fmt)] = struct.pack(fmt, value)
    return bytes(b)


@pytest.mark.parametrize("bits", [1, 7])
def test_pcm_narrower_than_its_container_is_refused(tmp_path: Path, run: Run, bits: int) -> None:
    good = write(tmp_path / "good.wav", 0.1 * np.ones(1600), 16000)
    bad = tmp_path / f"bits{bits}.wav"
    bad.write_bytes(_patched(good.read_bytes(), 34, "<H", bits))  # fmt: bits per sample
    out = tmp_path / "o.wav"
    code, _, err = run("process", str(bad), "-o", str(out), "--quiet")
    one_error_line(code, err, bad.name, f"{bits}-bit")
    assert not out.exists()


@pytest.mark.parametrize("which", ["mic", "far"])
@pytest.mark.parametrize("rate", [1, 200, 4000, 200000, 4294967295])
def test_a_rate_outside_the_range_is_refused_for_mic_and_far(
    tmp_path: Path, run: Run, which: str, rate: int
) -> None:
    good = write(tmp_path / "good.wav", 0.1 * np.ones(1600), 16000)
    bad = tmp_path / "rate.wav"
    raw = _patched(good.read_bytes(), 24, "<I", rate)  # fmt: sample rate
    bad.write_bytes(_patched(raw, 28, "<I", min(rate * 2, 0xFFFFFFFF)))  # bytes per second
    out = tmp_path / "o.wav"
    argv = [str(bad)] if which == "mic" else [str(good), "--far", str(bad)]
    code, _, err = run("process", *argv, "-o", str(out), "--quiet")
    line = one_error_line(code, err, bad.name)
    if rate > 0:
        assert "8000..192000 Hz" in line
    assert not out.exists() and no_temp_files(tmp_path)


def test_a_streamed_wav_with_an_unknown_data_size_is_read_to_its_end(
    tmp_path: Path, run: Run
) -> None:
    """ffmpeg and sox writing to a pipe put 0xFFFFFFFF in the size fields: not truncation."""
    x = 0.1 * np.sin(np.arange(3200) / 7)
    good = write(tmp_path / "good.wav", x, 16000)
    raw = good.read_bytes()
    assert raw[36:40] == b"data"
    streamed = tmp_path / "streamed.wav"
    streamed.write_bytes(_patched(_patched(raw, 4, "<I", 0xFFFFFFFF), 40, "<I", 0xFFFFFFFF))
    out = tmp_path / "o.wav"
    code, _, err = run("process", str(streamed), "-o", str(out), *BYPASS)
    assert code == 0, err
    np.testing.assert_array_equal(
        soundfile.read(str(out), dtype="int16")[0], soundfile.read(str(good), dtype="int16")[0]
    )


def test_a_truncated_flac_is_one_line(tmp_path: Path, run: Run) -> None:
    rng = np.random.default_rng(3)
    src = write(tmp_path / "in.flac", 0.3 * rng.standard_normal(48000), 48000)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    out = tmp_path / "o.wav"
    code, _, err = run("process", str(cut), "-o", str(out), "--quiet")
    one_error_line(code, err, cut.name)
    assert not out.exists() and no_temp_files(tmp_path)


@pytest.mark.parametrize("subtype", ["IMA_ADPCM", "MS_ADPCM", "ULAW", "ALAW", "GSM610"])
def test_compressed_wav_subtypes_are_read(tmp_path: Path, run: Run, subtype: str) -> None:
    t = np.arange(8000) / 8000
    x = 0.3 * np.sin(2 * np.pi * 300 * t)
    src = write(tmp_path / "in.wav", x, 8000, subtype)
    out = tmp_path / "out.wav"
    code, _, err = run("process", str(src), "-o", str(out), *BYPASS)
    assert code == 0, err
    info = soundfile.info(str(out))
    assert info.frames == soundfile.info(str(src)).frames  # (ADPCM and GSM fill whole blocks)
    assert info.subtype == subtype  # WAV holds them all: the input's subtype is kept


@pytest.mark.parametrize("bits", [1, 7, 12])
def test_the_sound_file_reader_refuses_pcm_narrower_than_its_container(
    tmp_path: Path, bits: int
) -> None:
    """The AudioController's WAV reader (callaudio.wavfile) refuses them as the CLI does."""
    from callaudio.errors import SoundFileError
    from callaudio.wavfile import read_wav

    good = write(tmp_path / "good.wav", 0.1 * np.ones(1600), 16000)
    assert read_wav(good).sample_width == 2
    bad = tmp_path / f"bits{bits}.wav"
    bad.write_bytes(_patched(good.read_bytes(), 34, "<H", bits))
    with pytest.raises(SoundFileError, match=f"{bits}-bit") as info:
        read_wav(bad)
    assert info.value.reason == "unsupported"


@pytest.mark.parametrize(("rate", "subtype"), [(16000, "OPUS"), (48000, "OPUS"), (44100, "VORBIS")])
def test_an_opus_extension_writes_opus_where_opus_takes_the_rate(
    tmp_path: Path, run: Run, rate: int, subtype: str
) -> None:
    """``-o x.opus`` wrote Ogg Vorbis (the extension only chose the container); Opus takes
    8/12/16/24/48 kHz, so a 44.1 kHz file stays Vorbis, the summary naming it."""
    x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
    src = write(tmp_path / "in.wav", x, rate, "PCM_16")
    out = tmp_path / "out.opus"
    code, text, err = run("process", str(src), "-o", str(out), *BYPASS)
    assert code == 0, err
    info = soundfile.info(str(out))
    assert (info.format, info.subtype, info.samplerate) == ("OGG", subtype, rate)
    assert f"OGG {subtype}" in text
