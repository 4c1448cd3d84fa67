"""Where ``callaudio process`` writes: checked before processing, never replacing what is not
a regular file, atomic for regular files with the right mode, quiet on a closed stdout."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from .conftest import Run, no_temp_files, one_error_line, soundfile, write


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return write(tmp_path / "in.wav", 0.1 * np.sin(np.arange(8000) / 5), 16000)


@pytest.fixture
def no_processing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the chain is ever built: the check must come before processing."""
    from callaudio.cli import process

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("the file was processed before the output path was checked")

    monkeypatch.setattr(process, "VoiceProcessor", refuse)


@pytest.mark.usefixtures("no_processing")
def test_an_existing_directory_is_refused_before_processing(
    tmp_path: Path, run: Run, src: Path
) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    code, _, err = run("process", str(src), "-o", str(target), "--quiet")
    one_error_line(code, err, str(target), "directory")
    assert target.is_dir() and not list(target.iterdir())


@pytest.mark.usefixtures("no_processing")
@pytest.mark.parametrize("where", ["under_a_file", "proc", "read_only_folder"])
def test_an_unwritable_folder_is_refused_before_processing_with_the_users_path(
    tmp_path: Path, run: Run, src: Path, where: str
) -> None:
    if where == "under_a_file":
        out = src / "out.wav"  # a folder that is a file
    elif where == "proc":
        out = Path("/proc/callaudio-test/out.wav")  # not writable, even for root
        if not Path("/proc/self").exists():
            pytest.skip("no /proc")
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        folder = tmp_path / "ro"
        folder.mkdir(mode=0o500)
        out = folder / "out.wav"
    code, _, err = run("process", str(src), "-o", str(out), "--quiet")
    line = one_error_line(code, err, str(out))
    assert f".{out.name}." not in line  # no internal temporary name
    assert not out.exists()


def test_new_files_follow_the_umask_and_existing_files_keep_their_mode(
    tmp_path: Path, run: Run, src: Path
) -> None:
    old = os.umask(0o027)
    try:
        new = tmp_path / "new.wav"
        assert run("process", str(src), "-o", str(new), "--quiet")[0] == 0
        assert stat.S_IMODE(new.stat().st_mode) == 0o640
        os.umask(0o022)
        existing = tmp_path / "existing.wav"
        existing.write_bytes(b"old")
        existing.chmod(0o604)
        assert run("process", str(src), "-o", str(existing), "--quiet")[0] == 0
        assert stat.S_IMODE(existing.stat().st_mode) == 0o604
        assert soundfile.info(str(existing)).frames == 8000
    finally:
        os.umask(old)
    assert no_temp_files(tmp_path)


def test_output_equal_to_the_input_works_and_keeps_its_mode(tmp_path: Path, run: Run) -> None:
    x = 0.1 * np.sin(np.arange(8000) / 5)
    path = write(tmp_path / "same.wav", x, 16000)
    path.chmod(0o664)
    code, _, err = run("process", str(path), "-o", str(path), "--no-hpf", "--no-ns", "--no-agc")
    assert code == 0, err
    assert stat.S_IMODE(path.stat().st_mode) == 0o664
    y, _ = soundfile.read(str(path))
    np.testing.assert_allclose(y, x, atol=1 / 32768)
    assert no_temp_files(tmp_path)


def test_a_read_only_existing_file_is_refused(tmp_path: Path, run: Run, src: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root may write read-only files")
    out = tmp_path / "ro.wav"
    out.write_bytes(b"keep")
    out.chmod(0o444)
    code, _, err = run("process", str(src), "-o", str(out), "--quiet")
    one_error_line(code, err, str(out), "read-only")
    assert out.read_bytes() == b"keep"


def test_dev_null_is_written_through_not_replaced(run: Run, src: Path) -> None:
    before = os.stat("/dev/null")
    code, _, err = run("process", str(src), "-o", "/dev/null", "--quiet")
    assert code == 0, err
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert after.st_ino == before.st_ino


def test_a_character_device_copy_stays_a_device(tmp_path: Path, run: Run, src: Path) -> None:
    node = tmp_path / "null"
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.stat("/dev/null").st_rdev)
    except PermissionError:
        pytest.skip("mknod needs privileges")
    mode = stat.S_IMODE(node.lstat().st_mode)
    code, _, err = run("process", str(src), "-o", str(node), "--quiet")
    assert code == 0, err
    st = node.lstat()
    assert stat.S_ISCHR(st.st_mode) and stat.S_IMODE(st.st_mode) == mode
    assert no_temp_files(tmp_path)


def test_a_fifo_receives_the_whole_file_and_stays_a_fifo(
    tmp_path: Path, run: Run, src: Path
) -> None:
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, _, err = run("process", str(src), "-o", str(fifo), "--no-hpf", "--no-ns", "--no-agc")
    reader.join(timeout=30)
    assert code == 0, err
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    received = tmp_path / "received.wav"
    received.write_bytes(got[0])
    np.testing.assert_array_equal(
        soundfile.read(str(received), dtype="int16")[0], soundfile.read(str(src), dtype="int16")[0]
    )


def test_a_symlink_is_followed_its_target_replaced_atomically(
    tmp_path: Path, run: Run, src: Path
) -> None:
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = real_dir / "target.wav"
    target.write_bytes(b"old")
    target.chmod(0o600)
    link = tmp_path / "link.wav"
    link.symlink_to(target)
    assert run("process", str(src), "-o", str(link), "--quiet")[0] == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert soundfile.info(str(target)).frames == 8000
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert no_temp_files(tmp_path) and no_temp_files(real_dir)
    # A dangling link: its target is created.
    dangling = tmp_path / "dangling.wav"
    dangling.symlink_to(real_dir / "created.wav")
    assert run("process", str(src), "-o", str(dangling), "--quiet")[0] == 0
    assert dangling.is_symlink() and soundfile.info(str(real_dir / "created.wav")).frames == 8000


def test_a_missing_output_folder_is_created_and_removed_again_on_failure(
    tmp_path: Path, run: Run, src: Path
) -> None:
    out = tmp_path / "a" / "b" / "out.wav"
    assert run("process", str(src), "-o", str(out), "--quiet")[0] == 0
    assert soundfile.info(str(out)).frames == 8000
    bad = tmp_path / "c" / "d" / "out.wav"
    code, _, err = run("process", str(src), "-o", str(bad), "--ns-level", "99", "--quiet")
    one_error_line(code, err, "--ns-level")
    assert not (tmp_path / "c").exists()


def test_a_closed_stdout_ends_quietly(tmp_path: Path, src: Path) -> None:
    """``callaudio process ... | head -1``: no 'Broken pipe' message, no traceback; the
    output file is complete (it is written before the summary)."""
    out = tmp_path / "out.wav"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    p = subprocess.Popen(
        [sys.executable, "-m", "callaudio", "process", str(src), "-o", str(out), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert p.stdout is not None and p.stderr is not None
    p.stdout.close()  # the reader has gone before the first line
    err = p.stderr.read().decode()
    code = p.wait(timeout=120)
    assert err == ""
    assert code == 141  # as a Unix tool killed by SIGPIPE
    assert soundfile.info(str(out)).frames == 8000


@pytest.mark.parametrize("dash", ["-", "/dev/stdout"])
def test_stdout_gets_the_audio_and_stderr_the_summary(tmp_path: Path, src: Path, dash: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    argv = [sys.executable, "-m", "callaudio", "process", str(src), "-o", dash, "--quiet"]
    piped = subprocess.run(argv, capture_output=True, env=env, timeout=120, check=True)
    received = tmp_path / "piped.wav"
    received.write_bytes(piped.stdout)
    assert soundfile.info(str(received)).frames == 8000
    assert b"callaudio process:" in piped.stderr
    with open(tmp_path / "redirected.wav", "wb") as fh:  # `> file`: written in place
        subprocess.run(argv, stdout=fh, stderr=subprocess.DEVNULL, env=env, timeout=120, check=True)
    assert soundfile.info(str(tmp_path / "redirected.wav")).frames == 8000


def test_a_stream_of_unknown_length_on_stdin_is_processed_to_its_end(
    tmp_path: Path, src: Path
) -> None:
    """``ffmpeg ... -f wav - | callaudio process /dev/stdin``: the WAV header's sizes are
    0xFFFFFFFF and the pipe cannot seek; the length is what arrives."""
    raw = bytearray(src.read_bytes())
    raw[4:8] = raw[40:44] = b"\xff\xff\xff\xff"
    out = tmp_path / "out.wav"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run(
        [sys.executable, "-m", "callaudio", "process", "/dev/stdin", "-o", str(out), "--json"],
        input=bytes(raw),
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert soundfile.info(str(out)).frames == 8000


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError(28, "No space left on device")])
def test_an_interrupted_run_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, run: Run, src: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    from callaudio.cli import process

    real = process.VoiceProcessor

    class Failing(real):  # type: ignore[misc, valid-type]
        calls = 0

        def process_capture(self, mic: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
            Failing.calls += 1
            if Failing.calls == 30:
                raise error
            return super().process_capture(mic, out=out)

    monkeypatch.setattr(process, "VoiceProcessor", Failing)
    out = tmp_path / "out.wav"
    out.write_bytes(b"previous result")
    code, _, err = run("process", str(src), "-o", str(out), "--quiet")
    if isinstance(error, OSError):
        one_error_line(code, err, "No space left")
    else:
        assert code == 130
    assert out.read_bytes() == b"previous result"
    assert no_temp_files(tmp_path)
