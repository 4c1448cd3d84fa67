"""The command under hostile use: an output path that changes while the audio is processed,
option values that used to end in a traceback, a report folder that is a file, a closed
stderr. Each failure is one ``callaudio: error:`` line with nothing else written."""

from __future__ import annotations

import io
import os
import shlex
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from callaudio.cli import files
from callaudio.errors import SoundFileError

from .conftest import Run, no_temp_files, one_error_line, soundfile, write

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return write(tmp_path / "in.wav", 0.1 * np.sin(np.arange(8000) / 5), 16000)


# The command as a shell user starts it: SIGINT, SIGTERM and SIGHUP at their defaults. A
# test run started in the background or under nohup hands its children those signals
# ignored (an ignored signal at exec stays ignored), and the command rightly leaves an
# ignored signal alone: the signal tests then hung for 30 s (SIGHUP, a CI run under nohup).
_DEFAULT_SIGNALS = (
    "import os, signal, sys\n"
    "for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):\n"
    "    signal.signal(s, signal.SIG_DFL)\n"
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])\n"
)


def _command(*args: str) -> list[str]:
    """``python -m callaudio ARGS`` with the three signals at their defaults."""
    return [sys.executable, "-c", _DEFAULT_SIGNALS, "-m", "callaudio", *args]


def _cli(args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The command in a shell (for redirections such as ``2>&-``), with a timeout."""
    line = f"{shlex.quote(sys.executable)} -m callaudio {args}"
    return subprocess.run(
        ["sh", "-c", line], capture_output=True, text=True, env=ENV, timeout=timeout
    )


# -- an output path that changes during the processing ----------------------------------------


def _finished_target(path: Path) -> files.OutputTarget:
    target = files.OutputTarget(path)
    writer = target.open(16000, 1, "WAV", "PCM_16")
    writer.write(np.zeros(160))
    return target


@pytest.mark.parametrize("existing", [False, True])
def test_a_fifo_that_replaced_the_target_meanwhile_is_not_replaced(
    tmp_path: Path, existing: bool
) -> None:
    out = tmp_path / "out.wav"
    if existing:
        out.write_bytes(b"old")
    target = _finished_target(out)
    out.unlink(missing_ok=True)
    os.mkfifo(out)  # appears while the audio is processed
    with pytest.raises(SoundFileError, match="no longer a regular file"):
        target.commit()
    assert stat.S_ISFIFO(os.lstat(out).st_mode)
    assert no_temp_files(tmp_path)


def test_a_device_node_that_replaced_the_target_meanwhile_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    target = _finished_target(out)
    try:
        os.mknod(out, 0o666 | stat.S_IFCHR, os.stat("/dev/null").st_rdev)
    except PermissionError:
        target.abort()
        pytest.skip("mknod needs privileges")
    with pytest.raises(SoundFileError, match="no longer a regular file"):
        target.commit()
    assert stat.S_ISCHR(os.lstat(out).st_mode) and no_temp_files(tmp_path)


def test_a_folder_that_appeared_at_the_target_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    target = _finished_target(out)
    out.mkdir()
    with pytest.raises(SoundFileError, match="no longer a regular file"):
        target.commit()
    assert out.is_dir() and no_temp_files(tmp_path)


def test_a_new_target_is_created_and_an_existing_one_replaced(tmp_path: Path) -> None:
    for out in (tmp_path / "new.wav", tmp_path / "new.wav"):  # new, then existing
        _finished_target(out).commit()
        assert soundfile.info(str(out)).frames == 160
    assert no_temp_files(tmp_path)


def test_the_command_reports_a_target_that_changed_in_one_line(
    tmp_path: Path, run: Run, src: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.wav"
    commit = files.OutputTarget.commit

    def racing_commit(self: files.OutputTarget) -> None:
        os.mkfifo(out)  # someone makes a FIFO there just before the end
        commit(self)

    monkeypatch.setattr(files.OutputTarget, "commit", racing_commit)
    code, _, err = run("process", str(src), "-o", str(out), "--quiet")
    one_error_line(code, err, str(out), "no longer a regular file")
    assert stat.S_ISFIFO(os.lstat(out).st_mode) and no_temp_files(tmp_path)


# -- option values --------------------------------------------------------------------------


def test_a_negative_demo_seed_is_one_line_before_any_work(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callaudio.cli import demo

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("the demo ran before its options were checked")

    monkeypatch.setattr(demo, "run_call", refuse)
    out = tmp_path / "d"
    code, stdout, err = run("demo", "--seed", "-1", "--out", str(out))
    one_error_line(code, err, "seed")
    assert stdout == "" and not out.exists()


@pytest.mark.parametrize("level", ["1e308", "inf", "nan", "-1e308", "3"])
def test_a_loopback_level_out_of_range_is_one_line(level: str) -> None:
    done = _cli(f"loopback --device no-such-device --level={level}", timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    one_error_line(done.returncode, done.stderr, "level")


@pytest.mark.parametrize("kind", ["file", "fifo", "under-a-file"])
def test_a_demo_report_folder_that_is_not_a_folder_is_refused_first(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    from callaudio.cli import demo

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("the demo ran before --out was checked")

    monkeypatch.setattr(demo, "run_call", refuse)
    existing = tmp_path / "taken"
    if kind == "fifo":
        os.mkfifo(existing)
    else:
        existing.write_bytes(b"x")
    out = existing / "report" if kind == "under-a-file" else existing
    code, stdout, err = run("demo", "--out", str(out))
    one_error_line(code, err, "not a folder")
    assert stdout == ""


def test_an_empty_demo_report_folder_is_refused_first(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # --out '' wrote mic.wav, far.wav ... into the working folder, over the user's files
    from callaudio.cli import demo

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("the demo ran before --out was checked")

    monkeypatch.setattr(demo, "run_call", refuse)
    monkeypatch.chdir(tmp_path)
    code, stdout, err = run("demo", "--out", "")
    one_error_line(code, err, "empty")
    assert stdout == "" and os.listdir(tmp_path) == []


@pytest.mark.parametrize("kind", ["proc", "too-long", "too-long-inside"])
def test_a_demo_report_folder_that_cannot_be_made_is_refused_first(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """``--out /proc/demo`` (root passes access() there) and a name over the file system's
    longest ran the whole call, then failed with the errno text of the staging folder."""
    from callaudio.cli import demo

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("the demo ran before --out was checked")

    monkeypatch.setattr(demo, "run_call", refuse)
    if kind == "proc":
        if not os.path.isdir("/proc/self"):
            pytest.skip("no /proc")
        out, why = "/proc/callaudio-demo", "cannot write in '/proc'"
    else:
        out = str(tmp_path / ("r" * 300 if kind == "too-long" else f"a/{'r' * 300}/b"))
        why = "longer than"
    code, stdout, err = run("demo", "--out", out)
    one_error_line(code, err, why)
    assert stdout == "" and os.listdir(tmp_path) == []


# -- a closed stderr ------------------------------------------------------------------------


def test_process_with_stderr_closed_writes_its_output(tmp_path: Path, src: Path) -> None:
    out = tmp_path / "out.wav"
    done = _cli(f"process {shlex.quote(str(src))} -o {shlex.quote(str(out))} 2>&-")
    assert done.returncode == 0, done.stdout
    assert "callaudio process:" in done.stdout
    assert soundfile.info(str(out)).frames == 8000


def test_a_failure_with_stderr_closed_prints_nothing_on_stdout(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    missing = tmp_path / "missing.wav"
    done = _cli(f"process {shlex.quote(str(missing))} -o {shlex.quote(str(out))} 2>&-")
    assert done.returncode == 1 and done.stdout == "" and not out.exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_terminated_process_leaves_no_temporary_output(tmp_path: Path, sig: int) -> None:
    """SIGTERM (``timeout``, a service stop) and SIGHUP (the terminal closed) clean up as
    Ctrl-C does; they used to leave the half-written ``.out.wav.XXXX`` behind. The input
    is a pipe that stays open, so the main thread is blocked in libsndfile's read, where
    Python's handlers never run (all three signals used to hang there): the signal
    watcher ends the command 1 s later, its temporary output removed."""
    head = io.BytesIO()
    soundfile.write(head, np.zeros(16000), 16000, format="WAV", subtype="PCM_16")
    wav = bytearray(head.getvalue())
    wav[4:8] = wav[40:44] = (0xFFFFFFFF).to_bytes(4, "little")  # a stream of unknown length
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    p = subprocess.Popen(
        _command("process", "/dev/stdin", "-o", str(out_dir / "o.wav")),
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    assert p.stdin is not None
    try:
        p.stdin.write(bytes(wav))
        p.stdin.flush()
        for _ in range(3000):  # until the temporary output exists (at most 30 s)
            if any(out_dir.iterdir()) or p.poll() is not None:
                break
            time.sleep(0.01)
        assert any(out_dir.iterdir()), p.communicate(timeout=30)[1]
        p.send_signal(sig)
        p.wait(timeout=30)  # stdin stays open: it is the signal that ends the command
    finally:
        p.kill()
    assert p.stderr is not None
    err = p.stderr.read().decode()
    assert p.returncode == 128 + sig, err
    assert list(out_dir.iterdir()) == []
    name = signal.Signals(sig).name  # said once, by the watcher that ended the command
    assert err.splitlines()[-1:] == [f"callaudio: process interrupted ({name}): nothing written"]
    assert err.count("interrupted") == 1, err


@pytest.mark.parametrize("stop", [KeyboardInterrupt, "sigterm"])
def test_a_signal_before_the_output_is_guarded_leaves_no_temporary_file(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch, stop: object
) -> None:
    """A signal just after the temporary output was made and before the ``with`` around
    it (the window a loaded machine hit: SIGHUP left ``.o.wav.XXXXXXXX``) left it behind:
    nothing held it any more. The command now removes every pending temporary output."""
    from callaudio import cli
    from callaudio.cli import process

    real = process.OutputTarget

    def made_then_stopped(path: str) -> object:
        real(path)
        raise KeyboardInterrupt if stop is KeyboardInterrupt else cli._Terminated(15)

    monkeypatch.setattr(process, "OutputTarget", made_then_stopped)
    src = write(tmp_path / "in.wav", np.zeros(1600), 16000)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, stdout, _ = run("process", str(src), "-o", str(out_dir / "o.wav"))
    assert code == (130 if stop is KeyboardInterrupt else 143) and stdout == ""
    assert list(out_dir.iterdir()) == []


def _endless_wav() -> bytes:
    """A WAV header that announces a stream of unknown length, and one second of it."""
    head = io.BytesIO()
    soundfile.write(head, np.zeros(16000), 16000, format="WAV", subtype="PCM_16")
    wav = bytearray(head.getvalue())
    wav[4:8] = wav[40:44] = (0xFFFFFFFF).to_bytes(4, "little")
    return bytes(wav)


def test_two_signals_at_once_still_clean_up(tmp_path: Path) -> None:
    """SIGINT and SIGTERM back to back: the first one's clean-up runs to its end (the
    second used to raise inside it and leave ``.out.wav.XXXX``)."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    cmd = _command("process", "/dev/stdin", "-o", str(out_dir / "o.wav"))
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    assert p.stdin is not None
    try:
        p.stdin.write(_endless_wav())
        p.stdin.flush()
        for _ in range(3000):
            if any(out_dir.iterdir()) or p.poll() is not None:
                break
            time.sleep(0.01)
        p.send_signal(signal.SIGINT)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
    finally:
        p.kill()
    assert p.returncode in (128 + signal.SIGINT, 128 + signal.SIGTERM)
    assert list(out_dir.iterdir()) == []


CHILD_WITH_ITS_OWN_HANDLER = """
import os, signal, sys, threading
from callaudio.cli import main
got = []
signal.signal(signal.SIGTERM, lambda s, f: got.append(s))
threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
rc = main(["process", "/dev/stdin", "-o", sys.argv[1], "--quiet"])
print("survived", rc, got, signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL, flush=True)
"""


def test_a_programs_own_sigterm_handler_is_left_alone(tmp_path: Path) -> None:
    """``main()`` in a program that handles SIGTERM itself: the signal is the program's
    (the stuck-read watcher used to exit the whole process 1 s after it)."""
    out = tmp_path / "o.wav"
    p = subprocess.Popen(
        [sys.executable, "-c", CHILD_WITH_ITS_OWN_HANDLER, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
        text=False,
    )
    try:
        assert p.stdin is not None
        p.stdin.write(_endless_wav())
        p.stdin.flush()
        time.sleep(1.6)  # the signal came at 0.3 s; the old watcher exited at 1.3 s
        stdout, stderr = p.communicate(timeout=60)  # closes stdin: the command finishes
    finally:
        p.kill()
    assert p.returncode == 0, stderr.decode()
    last = stdout.decode().splitlines()[-1]
    assert last == f"survived 0 [{int(signal.SIGTERM)}] True", stdout
    assert out.exists()
