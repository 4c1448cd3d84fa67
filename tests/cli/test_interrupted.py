"""A command stopped by Ctrl-C, SIGTERM or SIGHUP says so in one line on stderr, with
what it kept (it printed nothing: the progress line just stopped)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from callaudio import cli

from .conftest import Run, write


def _ctrl_c(*_args: object, **_kw: object) -> None:
    """A stand-in for a step of the command that Ctrl-C stops."""
    raise KeyboardInterrupt


def _stop(signum: int) -> KeyboardInterrupt:
    """What the CLI raises where the command is on that signal."""
    return KeyboardInterrupt() if signum == 2 else cli._Terminated(signum)


@pytest.mark.parametrize(("signum", "name"), [(2, "SIGINT"), (15, "SIGTERM"), (1, "SIGHUP")])
def test_process_says_it_was_interrupted_and_wrote_nothing(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch, signum: int, name: str
) -> None:
    from callaudio.cli import process

    def stopped(*_args: object, **_kw: object) -> None:
        raise _stop(signum)

    monkeypatch.setattr(process, "_stream", stopped)
    src = write(tmp_path / "in.wav", np.zeros(1600), 16000)
    out = tmp_path / "o.wav"
    code, stdout, err = run("process", str(src), "-o", str(out), "--quiet")
    assert code == 128 + signum and stdout == ""
    assert err.splitlines() == [f"callaudio: process interrupted ({name}): nothing written"]
    assert not out.exists()


def test_process_into_a_device_says_part_of_the_audio_went_there(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callaudio.cli import process

    monkeypatch.setattr(process, "_stream", _ctrl_c)
    src = write(tmp_path / "in.wav", np.zeros(1600), 16000)
    code, _, err = run("process", str(src), "-o", "/dev/null", "--quiet")
    assert code == 130
    assert err.splitlines() == [
        "callaudio: process interrupted (SIGINT): /dev/null got part of the audio"
    ]


def test_demo_says_it_was_interrupted(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callaudio.cli import demo

    def stopped(*_args: object, **_kw: object) -> None:
        raise _stop(15)

    monkeypatch.setattr(demo, "run_call", stopped)
    code, _, err = run("demo", "--out", str(tmp_path / "rep"), "--quiet")
    assert code == 143
    assert err.splitlines() == ["callaudio: demo interrupted (SIGTERM): nothing written"]
    assert not (tmp_path / "rep").exists()


@pytest.mark.parametrize(("signum", "name"), [(2, "SIGINT"), (15, "SIGTERM")])
def test_batch_says_how_many_items_are_done_and_how_to_go_on(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch, signum: int, name: str
) -> None:
    pytest.importorskip("pyarrow")
    from callaudio.batch import runner

    real = runner.process_item
    calls: list[str] = []

    def second_stops(item, *args, **kw):  # type: ignore[no-untyped-def]
        calls.append(item.id)
        if len(calls) == 2:
            raise _stop(signum)
        return real(item, *args, **kw)

    monkeypatch.setattr(runner, "process_item", second_stops)
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,mic\na,nowhere.wav\nb,nowhere.wav\nc,nowhere.wav\n")
    out = tmp_path / "o"
    code, stdout, err = run(
        "batch", str(manifest), "--out", str(out), "--workers", "0", "--quiet", "--no-plots"
    )
    assert code == 128 + signum and stdout == ""
    assert err.splitlines() == [
        f"callaudio: batch interrupted ({name}): 1 item done in {out}; --resume continues"
    ]


def test_process_stopped_after_its_output_is_in_place_says_it_is_complete(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callaudio.cli import process

    monkeypatch.setattr(process, "_print_summary", _ctrl_c)
    src = write(tmp_path / "in.wav", np.zeros(1600), 16000)
    out = tmp_path / "o.wav"
    code, _, err = run("process", str(src), "-o", str(out), "--quiet")
    assert code == 130
    assert err.splitlines() == [f"callaudio: process interrupted (SIGINT): {out} is complete"]
    assert out.is_file()


def test_demo_stopped_after_its_report_is_written_says_it_is_complete(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callaudio.cli import demo, report

    rep = tmp_path / "rep"

    def written(outdir: Path, *_args: object, **_kw: object) -> list[str]:
        outdir.mkdir()
        return []

    monkeypatch.setattr(demo, "run_call", lambda *a, **k: None)
    monkeypatch.setattr(demo, "measure", lambda call: {})
    monkeypatch.setattr(report, "print_report", lambda *a: None)
    monkeypatch.setattr(report, "write_folder", written)
    monkeypatch.setattr(demo, "print", _ctrl_c, raising=False)  # the last lines
    code, _, err = run("demo", "--out", str(rep), "--quiet")
    assert code == 130
    assert err.splitlines() == [
        f"callaudio: demo interrupted (SIGINT): the report in {rep} is complete"
    ]


@pytest.mark.parametrize("step", ["link", "replace"])
def test_process_stopped_just_after_its_rename_says_the_output_is_complete(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """A signal between the rename (or link, for a new file) and the line that follows it
    said 'nothing written' of an output that was in place, whole."""
    import os

    out = tmp_path / "o.wav"
    if step == "replace":
        out.write_bytes(b"previous result")
    real = getattr(os, step)

    def then_stopped(src: str, dst: str) -> None:
        real(src, dst)
        if os.fspath(dst) == str(out):
            raise KeyboardInterrupt

    monkeypatch.setattr(os, step, then_stopped)
    src = write(tmp_path / "in.wav", np.zeros(1600), 16000)
    code, stdout, err = run("process", str(src), "-o", str(out), "--quiet")
    assert code == 130 and stdout == ""
    assert err.splitlines() == [f"callaudio: process interrupted (SIGINT): {out} is complete"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "o.wav"]
    assert out.read_bytes()[:4] == b"RIFF"


def test_demo_stopped_just_after_its_report_folder_is_renamed_says_it_is_complete(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from callaudio.cli import demo, report

    rep = tmp_path / "rep"
    real = os.rename

    def then_stopped(src: str, dst: str) -> None:
        real(src, dst)
        if os.fspath(dst) == str(rep):
            raise _stop(1)

    monkeypatch.setattr(demo, "run_call", lambda *a, **k: None)
    monkeypatch.setattr(demo, "measure", lambda call: {})
    monkeypatch.setattr(report, "print_report", lambda *a: None)
    monkeypatch.setattr(report, "_write", lambda outdir, *a: [(outdir / "x.txt").write_text("")])
    monkeypatch.setattr(os, "rename", then_stopped)
    code, _, err = run("demo", "--out", str(rep), "--quiet")
    assert code == 129
    assert err.splitlines() == [
        f"callaudio: demo interrupted (SIGHUP): the report in {rep} is complete"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_a_second_signal_after_the_first_keeps_the_first_ones_status(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGHUP, then SIGINT once the signal handlers came back (the command's clean-up
    done): the line named SIGHUP and the status was 130 (SIGINT's)."""
    import contextlib

    from callaudio.cli import process

    real = cli._termination_as_interrupt

    @contextlib.contextmanager
    def then_sigint(interruption: object = None):  # type: ignore[no-untyped-def]
        with real(interruption):  # type: ignore[arg-type]
            yield
        raise KeyboardInterrupt  # the second signal, under the restored handlers

    def stopped(*_args: object, **_kw: object) -> None:
        raise _stop(1)

    monkeypatch.setattr(cli, "_termination_as_interrupt", then_sigint)
    monkeypatch.setattr(process, "_stream", stopped)
    src = write(tmp_path / "in.wav", np.zeros(1600), 16000)
    code, stdout, err = run("process", str(src), "-o", str(tmp_path / "o.wav"), "--quiet")
    assert code == 129 and stdout == ""
    assert err.splitlines() == ["callaudio: process interrupted (SIGHUP): nothing written"]


def test_a_summary_that_cannot_be_written_says_the_output_is_complete(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """stdout on a full disk (``> /dev/full``): the output was in place, and the one line
    said only ``[Errno 28] No space left on device``."""
    from callaudio.cli import process

    def full(*_args: object, **_kw: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(process, "_print_summary", full)
    src = write(tmp_path / "in.wav", np.zeros(1600), 16000)
    out = tmp_path / "o.wav"
    code, _, err = run("process", str(src), "-o", str(out), "--quiet")
    assert code == 1 and out.is_file()
    assert err.splitlines() == [
        f"callaudio: error: {out}: is complete; its summary could not be written to "
        "standard output (No space left on device)"
    ]


def test_a_demo_whose_metrics_cannot_be_printed_still_writes_its_report(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """stdout on a full disk: the metrics' print failed before the report folder was
    written (the whole call lost), with only ``[Errno 28] No space left on device``."""
    from callaudio.cli import demo, report

    rep = tmp_path / "rep"

    def full(*_args: object, **_kw: object) -> None:
        raise OSError(28, "No space left on device")

    def written(outdir: Path, *_args: object, **_kw: object) -> list[str]:
        outdir.mkdir()
        return []

    monkeypatch.setattr(demo, "run_call", lambda *a, **k: None)
    monkeypatch.setattr(demo, "measure", lambda call: {})
    monkeypatch.setattr(report, "print_report", full)
    monkeypatch.setattr(report, "write_folder", written)
    code, _, err = run("demo", "--out", str(rep), "--quiet")
    assert code == 1 and rep.is_dir()
    assert err.splitlines() == [
        f"callaudio: error: {rep}: the report is complete; the metrics could not be written "
        "to standard output (No space left on device)"
    ]
