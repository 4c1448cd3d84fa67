"""Adversarial reproducers (wave 4): `callaudio process` on valid but unusual audio.

The summary's P.56 speech-level meter (cli/summary.py SpeechLevel.level_dbfs) raised
IndexError/ValueError after the output had been written and renamed over its target:
a traceback, exit status 1, and the output file in place. Inputs: a near-silent 24-bit
recording (dither at the last bits: envelope under -100 dBFS), a float WAV with one NaN
or Inf sample, a float WAV far beyond full scale. The same meter's twin in
simulation/metrics.py (_p56) fails the same way (batch rows end in 'IndexError').
Also: libmpg123 prints its own lines on stderr for an MP3-looking corrupt file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")

from callaudio import cli  # noqa: E402
from callaudio.simulation import metrics  # noqa: E402

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


@pytest.mark.parametrize("name", sorted(_signals()))
def test_process_reports_unusual_audio_without_a_traceback(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x, subtype = _signals()[name]
    src, dst = tmp_path / f"{name}.wav", tmp_path / "out.wav"
    soundfile.write(src, x, RATE, subtype=subtype)
    try:
        code = cli.main(["process", str(src), "-o", str(dst), "--quiet"])
    except SystemExit as exc:  # pragma: no cover - argparse
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code != 0:  # refusing is fine, as one line and no output file
        assert len(err.strip().splitlines()) == 1, err
        assert not dst.exists()
    else:
        assert dst.exists()


def test_p56_level_of_a_near_silent_signal_is_a_number() -> None:
    level = metrics.active_level_dbfs(np.full(RATE, 1e-6), RATE)  # raised IndexError
    assert isinstance(level, float)


def test_a_corrupt_mp3_is_one_error_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(5000))
    proc = subprocess.run(
        [sys.executable, "-m", "callaudio", "process", str(bad), "-o", str(tmp_path / "o.wav")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 1
    assert len(lines) == 1 and lines[0].startswith("callaudio: error:"), proc.stderr


def test_a_flac_file_through_a_pipe_is_processed(tmp_path: Path) -> None:
    """README: input is anything libsndfile reads (FLAC included) and "a pipe
    (/dev/stdin) is read to its end". A valid FLAC file piped in failed with "cannot read
    this file as audio (Error : flac decoder lost sync)" -- libsndfile's FLAC reader
    cannot work on a non-seekable stream (WAV, AIFF and OGG pipes work)."""
    x = (0.1 * np.random.default_rng(0).standard_normal(RATE)).astype(np.float32)
    src = tmp_path / "in.flac"
    soundfile.write(src, x, RATE)
    out = tmp_path / "out.wav"
    with open(src, "rb") as f:
        data = f.read()
    proc = subprocess.run(
        [sys.executable, "-m", "callaudio", "process", "/dev/stdin", "-o", str(out), "--quiet"],
        input=data,
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert soundfile.info(out).frames == RATE
