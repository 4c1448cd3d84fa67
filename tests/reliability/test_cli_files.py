"""The ``callaudio process`` command given bad files: one clear line, non-zero exit, and
the output file is written atomically (absent or intact after any failure, never half).

Runs the real entry point, :func:`callaudio.cli.main`, in process (and once as a
subprocess), so what is checked is what a user sees.
"""

from __future__ import annotations

import errno
import io
import subprocess
import sys
import wave
from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pytest
import soundfile
from hypothesis import given

from callaudio import cli

from ._support import fuzz_settings

RATE = 16000


def _wav(
    path: Path, *, rate: int = RATE, channels: int = 1, seconds: float = 0.3, width: int = 2
) -> Path:
    n = int(rate * seconds)
    x = 0.1 * np.sin(2 * np.pi * 440 * np.arange(n * channels) / max(rate, 1))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 2:
            w.writeframes((x * 32767).astype("<i2").tobytes())
        else:
            w.writeframes(bytes(n * channels * width))
    return path


def _process_available() -> bool:
    try:
        cli.build_parser().parse_args(["process", "x.wav", "-o", "y.wav"])
    except SystemExit:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _process_available(), reason="the process subcommand is not wired into callaudio.cli"
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["process", *argv, "--quiet"])
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_error_line(code: int, err: str, *mention: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code != 0
    assert len(lines) == 1, err
    assert lines[0].startswith("callaudio: error:"), lines[0]
    assert "Traceback" not in err
    for m in mention:
        assert m in lines[0], (m, lines[0])


def leftovers(folder: Path, name: str) -> list[Path]:
    """Temporary files of an atomic write of ``name`` still lying around."""
    return [p for p in folder.iterdir() if p.name.startswith(f".{name}.")]


def _bad_inputs(tmp: Path) -> dict[str, Path]:
    good = _wav(tmp / "good.wav")
    raw = good.read_bytes()
    cases = {
        "missing": tmp / "nope.wav",
        "empty": tmp / "empty.wav",
        "text": tmp / "notes.wav",
        "png": tmp / "image.wav",
        "header_cut": tmp / "header_cut.wav",
        "data_cut": tmp / "data_cut.wav",
        "zero_rate": tmp / "zero_rate.wav",
        "six_channels": _wav(tmp / "six.wav", channels=6),
        "float32": tmp / "float.wav",
        "directory": tmp / "adir.wav",
    }
    cases["empty"].write_bytes(b"")
    cases["text"].write_text("this is not audio\n" * 20)
    cases["png"].write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    cases["header_cut"].write_bytes(raw[:30])
    cases["data_cut"].write_bytes(raw[: 44 + (len(raw) - 44) // 2])
    z = bytearray(raw)
    z[24:28] = (0).to_bytes(4, "little")  # fmt chunk: sample rate 0
    cases["zero_rate"].write_bytes(bytes(z))
    f = bytearray(raw)
    f[20:22] = (3).to_bytes(2, "little")  # WAVE_FORMAT_IEEE_FLOAT
    cases["float32"].write_bytes(bytes(f))
    cases["directory"].mkdir()
    return cases


BAD = [
    "missing",
    "empty",
    "text",
    "png",
    "header_cut",
    "data_cut",
    "zero_rate",
    "six_channels",
    "float32",
    "directory",
]


@pytest.mark.parametrize("which", ["mic", "far"])
@pytest.mark.parametrize("case", BAD)
def test_a_bad_input_file_gives_one_error_line_and_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, which: str
) -> None:
    bad = _bad_inputs(tmp_path)[case]
    good = tmp_path / "good.wav"
    out = tmp_path / "out" / "processed.wav"
    args = (
        [str(bad), "-o", str(out)]
        if which == "mic"
        else [str(good), "--far", str(bad), "-o", str(out)]
    )
    code, _, err = run(capsys, *args)
    assert_one_error_line(code, err, bad.name)
    assert not out.exists()
    if out.parent.exists():
        assert not leftovers(out.parent, out.name)


def test_a_failed_run_leaves_an_existing_output_intact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "processed.wav"
    out.write_bytes(b"previous result")
    code, _, err = run(capsys, str(_bad_inputs(tmp_path)["data_cut"]), "-o", str(out))
    assert_one_error_line(code, err)
    assert out.read_bytes() == b"previous result"
    assert not leftovers(tmp_path, out.name)


def test_a_write_that_fails_midway_leaves_no_half_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills up while the output is written: the old file stays, no temp left."""
    out = tmp_path / "processed.wav"
    out.write_bytes(b"previous result")
    src = _wav(tmp_path / "in.wav")
    real = soundfile.SoundFile.write

    def full_disk(self: soundfile.SoundFile, data: np.ndarray) -> None:
        real(self, data[: len(data) // 3])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(soundfile.SoundFile, "write", full_disk)
    code, _, err = run(capsys, str(src), "-o", str(out))
    assert_one_error_line(code, err, "No space left")
    assert out.read_bytes() == b"previous result"
    assert not leftovers(tmp_path, out.name)


def test_an_output_path_that_is_a_directory_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    code, _, err = run(capsys, str(_wav(tmp_path / "in.wav")), "-o", str(target))
    assert_one_error_line(code, err)
    assert target.is_dir() and not leftovers(tmp_path, target.name)


@pytest.mark.parametrize("rate", [8000, 11025, 15873, 22050, 44100, 96000])  # 15873: soak find
def test_any_positive_rate_is_resampled_and_written_at_its_own_rate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rate: int
) -> None:
    src = _wav(tmp_path / "in.wav", rate=rate, channels=2)
    out = tmp_path / "o.wav"
    code, _, err = run(capsys, str(src), "-o", str(out))
    assert code == 0, err
    with wave.open(str(out)) as w, wave.open(str(src)) as r:
        assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (
            r.getframerate(),
            r.getnchannels(),
            r.getnframes(),
        )


@fuzz_settings(60)
@given(data=st.data())
def test_mangled_wav_files_never_crash_or_leave_half_files(data: st.DataObject) -> None:
    """Random truncations and byte changes of a valid WAV: exit 0 with a whole WAV at the
    input's length, or exit 1 with one error line and no output."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        raw = bytearray(_wav(tmp / "good.wav", seconds=0.05).read_bytes())
        cut = data.draw(st.integers(0, len(raw)))
        raw = raw[:cut] if data.draw(st.booleans()) else raw
        for _ in range(data.draw(st.integers(0, 4))):
            if raw:
                i = data.draw(st.integers(0, min(len(raw) - 1, 60)))  # mostly the header
                raw[i] = data.draw(st.integers(0, 255))
        src = tmp / "mangled.wav"
        src.write_bytes(bytes(raw))
        out = tmp / "out.wav"
        buf_err, buf_out = io.StringIO(), io.StringIO()
        old = sys.stderr, sys.stdout
        sys.stderr, sys.stdout = buf_err, buf_out
        try:
            code = cli.main(["process", str(src), "-o", str(out), "--quiet"])
        finally:
            sys.stderr, sys.stdout = old
        if code == 0:
            assert soundfile.info(str(out)).frames > 0
        else:
            assert_one_error_line(code, buf_err.getvalue())
            assert not out.exists()
        assert not leftovers(tmp, out.name)


@pytest.mark.slow
def test_the_console_command_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    bad = _bad_inputs(tmp_path)["text"]
    r = subprocess.run(
        [sys.executable, "-m", "callaudio", "process", str(bad), "-o", str(tmp_path / "o.wav")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1
    assert_one_error_line(r.returncode, r.stderr, bad.name)
