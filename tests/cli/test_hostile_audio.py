"""`callaudio process` on valid but unusual audio, and on broken audio and paths.

Valid but unusual input is processed (a near-silent 24-bit file, a float WAV with a NaN or
an Inf sample, samples far over full scale, FLAC or CAF through a pipe); bad input is one
error line naming the problem, without a traceback or libmpg123's own lines, and the
output file is not replaced. (Wave-4 adversarial reproducers, moved here once fixed.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")

from callaudio import cli  # noqa: E402
from callaudio.audio.recording import MemoryBackend  # noqa: E402
from callaudio.cli import process as process_cmd  # noqa: E402
from callaudio.cli.summary import SpeechLevel  # noqa: E402
from callaudio.client import VoiceClient  # noqa: E402
from callaudio.errors import SoundFileError  # noqa: E402
from callaudio.simulation import metrics, speech_like  # noqa: E402
from callaudio.wavfile import read_wav  # noqa: E402

RATE = 16000


def _signals() -> dict[str, tuple[np.ndarray, str]]:
    rng = np.random.default_rng(0)
    tone = (0.1 * np.sin(2 * np.pi * 440 * np.arange(2 * RATE) / RATE)).astype(np.float32)
    nan1, inf1 = tone.copy(), tone.copy()
    nan1[100], inf1[100] = np.nan, np.inf
    dither = (rng.integers(-2, 3, 2 * RATE) * 2.0**-23).astype(np.float64)  # +-2 LSB, 24-bit
    return {
        "dither24": (dither, "PCM_24"),
        "one_nan": (nan1, "FLOAT"),
        "one_inf": (inf1, "FLOAT"),
        "huge": (np.full(RATE, 1e30, np.float32), "FLOAT"),
    }


def _main(*argv: str) -> int:
    try:
        return cli.main(list(argv))
    except SystemExit as exc:  # pragma: no cover - argparse
        return int(exc.code or 0)


def _run(*argv: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "callaudio", *argv],
        input=data,
        capture_output=True,
        timeout=60,
    )


@pytest.mark.parametrize("name", sorted(_signals()))
def test_process_reports_unusual_audio_without_a_traceback(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x, subtype = _signals()[name]
    src, dst = tmp_path / f"{name}.wav", tmp_path / "out.wav"
    soundfile.write(src, x, RATE, subtype=subtype)
    code = _main("process", str(src), "-o", str(dst), "--quiet")
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code != 0:  # refusing is fine, as one line and no output file
        assert len(err.strip().splitlines()) == 1, err
        assert not dst.exists()
    else:
        assert dst.exists()


@pytest.mark.parametrize("name", ["one_nan", "one_inf"])
def test_a_non_finite_sample_is_silence_and_the_summary_measures_the_rest(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    x, subtype = _signals()[name]
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    soundfile.write(src, x, RATE, subtype=subtype)
    assert _main("process", str(src), "-o", str(dst), "--quiet", "--json", "--no-agc") == 0
    s = json.loads(capsys.readouterr().out)
    clean = _signals()["one_nan"][0].copy()
    clean[100] = 0.0
    assert s["input_speech_level_dbfs"] == pytest.approx(
        metrics.active_level_dbfs(clean, RATE), abs=0.01
    )
    y = soundfile.read(dst, dtype="float32")[0]
    assert np.isfinite(y).all() and np.abs(y).max() > 0.01


def test_the_summary_is_made_before_the_output_replaces_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure while the figures are gathered leaves the old output file intact."""
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    soundfile.write(src, _signals()["one_nan"][0], RATE)
    dst.write_bytes(b"old output")

    def broken(self: SpeechLevel) -> float | None:
        raise RuntimeError("meter failed")

    monkeypatch.setattr(process_cmd.SpeechLevel, "level_dbfs", broken)
    with pytest.raises(RuntimeError, match="meter failed"):
        cli.main(["process", str(src), "-o", str(dst), "--quiet"])
    assert dst.read_bytes() == b"old output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out.wav"]


def test_p56_level_of_a_near_silent_signal_is_a_number() -> None:
    level = metrics.active_level_dbfs(np.full(RATE, 1e-6), RATE)  # raised IndexError
    assert isinstance(level, float)
    assert level == -200.0  # the envelope never reaches the -100 dBFS floor: no activity
    assert not metrics.active_mask(np.full(RATE, 1e-6), RATE).any()
    meter = SpeechLevel(RATE)
    meter.add(np.full(RATE, 1e-6))
    assert meter.level_dbfs() is None


def test_p56_meter_takes_non_finite_samples_as_silence() -> None:
    x = speech_like(3.0, RATE, level_dbfs=-27.0, seed=1)
    bad = x.copy()
    bad[[10, 5000, 20000]] = [np.nan, np.inf, -np.inf]
    clean = x.copy()
    clean[[10, 5000, 20000]] = 0.0
    want = metrics.active_level_dbfs(clean, RATE)
    assert metrics.active_level_dbfs(bad, RATE) == want
    np.testing.assert_array_equal(metrics.active_mask(bad, RATE), metrics.active_mask(clean, RATE))
    meter = SpeechLevel(RATE)
    for part in np.array_split(bad, 7):
        meter.add(part)
    assert meter.level_dbfs() == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("gain_db", [60.0, 300.0, 600.0])
def test_p56_level_far_over_full_scale_follows_the_gain(gain_db: float) -> None:
    """Thresholds stop at +200 dBFS; over them the level is that of the loud blocks."""
    x = speech_like(3.0, RATE, level_dbfs=-27.0, seed=3)
    level = metrics.active_level_dbfs(x * 10.0 ** (gain_db / 20.0), RATE)
    if gain_db < 200.0:
        assert level == pytest.approx(metrics.active_level_dbfs(x, RATE) + gain_db, abs=0.01)
    else:
        assert np.isfinite(level) and level > gain_db - 30.0


def test_a_corrupt_mp3_is_one_error_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(5000))
    proc = _run("process", str(bad), "-o", str(tmp_path / "o.wav"))
    lines = [ln for ln in proc.stderr.decode().splitlines() if ln.strip()]
    assert proc.returncode == 1
    assert len(lines) == 1 and lines[0].startswith("callaudio: error:"), proc.stderr
    assert "MP3" in lines[0] and "regular file" not in lines[0]
    assert not (tmp_path / "o.wav").exists()


def test_an_mp3_is_written_as_pcm_to_a_wav_file(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.mp3", tmp_path / "out.wav"
    x = (0.1 * np.random.default_rng(1).standard_normal(RATE)).astype(np.float32)
    try:
        soundfile.write(src, x, RATE)
    except Exception:  # pragma: no cover - a libsndfile without MP3
        pytest.skip("this libsndfile writes no MP3")
    assert _main("process", str(src), "-o", str(dst), "--quiet") == 0
    assert soundfile.info(dst).subtype.startswith("PCM")


@pytest.mark.parametrize("ext", ["flac", "caf", "rf64", "wav"])
def test_a_file_through_a_pipe_is_processed_whole(ext: str, tmp_path: Path) -> None:
    """README: input is anything libsndfile reads and "a pipe (/dev/stdin) is read to its
    end". libsndfile cannot decode FLAC (lost sync), CAF (no frames) or RF64 (frames lost)
    from a stream: those are spooled to a temporary file first; WAV streams."""
    x = (0.1 * np.random.default_rng(0).standard_normal(RATE)).astype(np.float32)
    src = tmp_path / f"in.{ext}"
    soundfile.write(src, x, RATE)
    out = tmp_path / "out.wav"
    proc = _run("process", "/dev/stdin", "-o", str(out), "--quiet", data=src.read_bytes())
    assert proc.returncode == 0, proc.stderr.decode()
    assert soundfile.info(out).frames == RATE


def test_garbage_through_a_pipe_is_refused_at_once(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    proc = _run("process", "/dev/stdin", "-o", str(out), data=bytes(100_000))
    lines = proc.stderr.decode().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, lines
    assert "not an audio file" in lines[0]
    assert not out.exists()


def test_an_empty_output_path_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "in.wav"
    soundfile.write(src, _signals()["one_nan"][0], RATE)
    monkeypatch.chdir(tmp_path)
    assert _main("process", str(src), "-o", "", "--quiet") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "output path is empty" in err, err
    assert "->" not in err and ".." not in err  # no temporary file name
    assert sorted(os.listdir(tmp_path)) == ["in.wav"]


def test_a_sound_file_path_that_is_a_directory_says_so(tmp_path: Path) -> None:
    with pytest.raises(SoundFileError, match="is a directory") as info:
        read_wav(tmp_path)
    assert info.value.reason == "missing"
    with pytest.raises(SoundFileError, match="no such sound file"):
        read_wav(tmp_path / "nothing.wav")
    fifo = tmp_path / "f.wav"
    os.mkfifo(fifo)  # was reported as "no such sound file"; never opened (it would block)
    for special in (fifo, Path("/dev/null")):
        with pytest.raises(SoundFileError, match="not a regular file"):
            read_wav(special)
    client = VoiceClient(MemoryBackend())
    try:
        with pytest.raises(SoundFileError, match="is a directory"):
            client.audio_controller.start_playing_sound_file(tmp_path)
        assert client.audio_controller.sound is None
    finally:
        client.close()


def _streamed_wav(path: Path, size: int, subtype: str = "PCM_16") -> np.ndarray:
    """A WAV as a streaming writer leaves it: the RIFF and data sizes it could not go back
    to fill in (sox writes 0x7FFFF000 to a pipe; ffmpeg 0xFFFFFFFF), then 0.5 s of audio."""
    x = (0.1 * np.sin(2 * np.pi * 440 * np.arange(RATE // 2) / RATE)).astype(np.float32)
    soundfile.write(path, x, RATE, format="WAV", subtype=subtype)
    wav = bytearray(path.read_bytes())
    at = wav.index(b"data")
    wav[4:8] = min(size + at, 0xFFFFFFFF).to_bytes(4, "little")
    wav[at + 4 : at + 8] = size.to_bytes(4, "little")
    path.write_bytes(bytes(wav))
    return x


@pytest.mark.parametrize("size", [0x7FFFF000, 0xFFFFFFFF], ids=["sox", "ffmpeg"])
def test_a_streamed_wav_saved_to_a_file_is_read_to_its_end(size: int, tmp_path: Path) -> None:
    # Adversarial round 13: sox's unknown-length size (its WAV written to a pipe and saved,
    # `sox ... -t wav - | cat > f.wav`) was refused as truncated by `process` and by the
    # controller's sound files ("the header announces 2147479552 bytes ... holds 16000").
    src = tmp_path / "streamed.wav"
    x = _streamed_wav(src, size)
    out = tmp_path / "out.wav"
    assert _main("process", str(src), "-o", str(out), "--quiet") == 0
    assert soundfile.info(out).frames == x.size
    audio = read_wav(src)
    assert audio.samples.shape == (x.size, 1)
    assert np.allclose(audio.samples[:, 0], x, atol=2.0**-14)


def test_a_wav_that_announces_more_than_it_holds_is_still_truncated(tmp_path: Path) -> None:
    src = tmp_path / "cut.wav"
    _streamed_wav(src, 0x7FFFE000)  # no streaming writer's size: a file cut short
    assert _main("process", str(src), "-o", str(tmp_path / "o.wav"), "--quiet") == 1
    with pytest.raises(SoundFileError) as info:
        read_wav(src)
    assert info.value.reason == "truncated"
