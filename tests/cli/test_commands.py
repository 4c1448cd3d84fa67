"""The ``callaudio`` command's frame: the parser, usage errors, bench, python -m."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from callaudio.cli import build_parser

from .conftest import Run, one_error_line


def test_every_subcommand_is_registered_with_help() -> None:
    parser = build_parser()
    text = parser.format_help()
    for name in ("demo", "process", "loopback", "devices", "bench"):
        assert name in text
        args = parser.parse_args([name] if name != "process" else [name, "x.wav", "-o", "y"])
        assert callable(args.func)


@pytest.mark.parametrize(
    ("argv", "mention"),
    [
        (["bench", "--repeat", "0"], "--repeat"),
        (["bench", "--rates", "12345"], "--rates"),
        (["process", "in.wav"], "-o"),
        (["process", "in.wav", "--agc-target", "-20"], "required: -o/--output"),
        (["demo", "--rate", "8"], "--rate"),
        (["nonsense"], "nonsense"),
        (["demo", "--rte", "16000"], "--rte"),
    ],
)
def test_usage_errors_are_one_line_with_status_2(run: Run, argv: list[str], mention: str) -> None:
    code, _, err = run(*argv)
    assert code == 2
    one_error_line(code, err, mention)


@pytest.mark.parametrize(
    ("argv", "unknown", "helped"),
    [
        (["demo", "--rte", "16000"], "--rte 16000", "callaudio demo"),
        (["process", "in.wav", "-o", "out.wav", "--bogus"], "--bogus", "callaudio process"),
        (["--bogus"], "--bogus", "callaudio"),
        (["process", "--ouput", "out.wav", "in.wav"], "--ouput", "callaudio process"),
        (["process", "in.wav", "--ouput=out.wav"], "--ouput=out.wav", "callaudio process"),
    ],
)
def test_an_unknown_option_points_at_its_commands_help(
    run: Run, argv: list[str], unknown: str, helped: str
) -> None:
    code, out, err = run(*argv)
    assert (code, out) == (2, "")
    line = one_error_line(code, err, f"unrecognized arguments: {unknown}")
    assert line.endswith(f"(see {helped} --help)"), line


def test_a_file_named_like_an_option_after_dashes_is_no_typo(run: Run) -> None:
    # after '--' every argument is a value: '-in.wav' is the input file, and what is
    # missing is -o (it was reported as 'unrecognized arguments: -in.wav')
    code, _, err = run("process", "--", "-in.wav")
    one_error_line(code, err, "required: -o/--output")


def test_a_dash_for_the_input_points_at_dev_stdin(run: Run, tmp_path, monkeypatch) -> None:
    """`-o -` writes to stdout, but a "-" input was "-: no such file": the line now says
    that standard input is read as /dev/stdin (as the README documents)."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run("process", "-", "-o", "x.wav")
    assert (code, out) == (1, "")
    one_error_line(code, err, "-: no such file; standard input is /dev/stdin")
    assert not (tmp_path / "x.wav").exists()
    code, _, err = run("process", "gone.wav", "-o", "x.wav")
    assert one_error_line(code, err).endswith("gone.wav: no such file")


def test_bench_prints_each_stage(run: Run) -> None:
    code, out, err = run("bench", "--repeat", "1", "--rates", "16000")
    assert code == 0, err
    assert "(one pass over a 16 s double-talk call" in out.splitlines()[0]  # not "best of 1"
    rows = {line.split()[0]: line for line in out.splitlines()[2:] if line.startswith("  ")}
    for stage in ("high_pass", "echo_canceller", "noise_suppressor", "gain_control"):
        assert float(rows[stage].split()[-1]) > 0


def test_python_m_callaudio_is_the_command() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run(
        [sys.executable, "-m", "callaudio", "--version"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert r.stdout.startswith("callaudio ")
