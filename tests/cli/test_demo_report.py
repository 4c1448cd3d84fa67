"""The demo's report: the call clock and audio time linked, interruptions located."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from callaudio.cli import demo, report


@pytest.fixture(scope="module")
def call() -> demo.DemoRun:
    return demo.run_call(16000, seed=1)


def test_interruptions_are_located_on_both_time_axes(call: demo.DemoRun) -> None:
    spans = report._interruptions(call)
    first_len = demo.FIRST_INTERRUPTION_S
    assert len(spans) == 2
    (b1, e1), (b2, e2) = spans
    assert e1 is not None and e1 - b1 == pytest.approx(first_len)
    assert e2 is not None and e2 - b2 >= demo.GRACE_PERIOD_S  # outlasted the grace period
    ends = {name: b / 100.0 for name, _a, b in call.marks}
    audio = report._audio_time_of_interruptions(call)
    assert audio == pytest.approx([ends["noise burst"], ends[demo.RESUMED[-1].name]])
    # Audio time and call clock advance together inside a segment, not across interruptions.
    (a0, c0), (a1, c1) = call.audio_at_clock[3], call.audio_at_clock[4]
    assert a1 - a0 == pytest.approx(demo.SEGMENTS[-1].seconds)
    assert c1 - c0 == pytest.approx(demo.SEGMENTS[-1].seconds + first_len)


def test_report_folder_without_plots(call: demo.DemoRun, tmp_path: Path) -> None:
    metrics = demo.measure(call)
    written = report.write_folder(tmp_path, call, metrics, plots=False)
    assert written == [
        "mic.wav",
        "far.wav",
        "out.wav",
        "near.wav",
        "echo.wav",
        "metrics.json",
        "events.txt",
    ]
    assert np.isfinite(metrics["echo_attenuation_db_far_end_only"])


def test_a_new_report_folder_has_the_umask_mode(call: demo.DemoRun, tmp_path: Path) -> None:
    # it is a temporary folder renamed: tempfile.mkdtemp's 0700 made it private
    mask = os.umask(0o022)
    os.umask(mask)
    out = tmp_path / "report"
    report.write_folder(out, call, demo.measure(call), plots=False)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~mask


def test_a_report_folder_named_up_to_the_longest_name_is_written(
    call: demo.DemoRun, tmp_path: Path
) -> None:
    """A 240-255 byte folder name ran the whole call, then failed: the staging folder
    beside it (``.NAME.xxxxxxxx.partial``) was 18 bytes longer than the longest name."""
    out = tmp_path / ("r" * os.pathconf(tmp_path, "PC_NAME_MAX"))
    report.write_folder(out, call, demo.measure(call), plots=False)
    assert (out / "metrics.json").is_file() and os.listdir(tmp_path) == [out.name]


def test_gain_stays_flat_while_only_the_far_end_talks(call: demo.DemoRun) -> None:
    # The gain trace the report plots: in the far-end-only stretch there is nobody at the
    # near end, so the gain control learns nothing and its gain does not move (issue 16:
    # it once climbed ~15 dB on residual echo and noise).
    t = np.asarray(call.stats_t)
    gain = np.asarray(call.stats_gain, dtype=np.float64)
    (a, b), *_ = [(a, b) for name, a, b in call.marks if name == "far end only"]
    stretch = gain[(t >= a / 100.0) & (t <= b / 100.0)]
    assert stretch.size >= 100  # 50 ms reports over 6 s
    assert np.all(np.isfinite(stretch))
    assert float(np.max(stretch) - np.min(stretch)) <= 1.0


def _stop(*_args: object) -> list[str]:
    raise KeyboardInterrupt  # what the CLI raises where the demo is on Ctrl-C or SIGTERM


def test_a_report_stopped_while_written_leaves_no_partial_folder(
    call: demo.DemoRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signal while the plots were drawn left the WAVs, metrics and events in the report
    folder (a partial report); now nothing, and an earlier report in it stays whole."""
    pytest.importorskip("matplotlib")
    metrics = demo.measure(call)
    monkeypatch.setattr(report, "_plots", _stop)
    with pytest.raises(KeyboardInterrupt):
        report.write_folder(tmp_path / "made" / "rep", call, metrics, plots=True)
    assert list(tmp_path.iterdir()) == []  # nor the folders made for it, nor a temporary one
    old = tmp_path / "old"
    old.mkdir()
    (old / "notes.txt").write_text("mine")
    (old / "metrics.json").write_text("{}")
    with pytest.raises(KeyboardInterrupt):
        report.write_folder(old, call, metrics, plots=True)
    assert sorted(p.name for p in old.iterdir()) == ["metrics.json", "notes.txt"]
    assert (old / "metrics.json").read_text() == "{}"
    monkeypatch.undo()
    written = report.write_folder(old, call, metrics, plots=False)
    assert sorted(p.name for p in old.iterdir()) == sorted([*written, "notes.txt"])


def test_a_signal_while_the_report_moves_in_finishes_the_move(
    call: demo.DemoRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files move into an existing folder one by one; the run's one signal coming in
    between still leaves the whole report (then stops)."""
    metrics = demo.measure(call)
    replace = os.replace
    calls: list[str] = []

    def once(src: Path, dst: Path) -> None:
        replace(src, dst)
        calls.append(str(dst))
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", once)  # (the module report uses)
    with pytest.raises(KeyboardInterrupt):
        report.write_folder(tmp_path, call, metrics, plots=False)
    monkeypatch.undo()
    assert len(calls) == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["mic.wav", "far.wav", "out.wav", "near.wav", "echo.wav", "metrics.json", "events.txt"]
    )


def test_a_write_error_in_the_report_names_the_users_path_and_leaves_nothing(
    call: demo.DemoRun, tmp_path: Path
) -> None:
    """A file size limit (as a full disk) mid-report: libsndfile's "System error." escaped
    as a traceback; now one SoundFileError with the reason, naming the report's path (not
    the temporary folder's), and no folder left."""
    import resource

    from callaudio.errors import SoundFileError

    metrics = demo.measure(call)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, hard))
    try:
        with pytest.raises(SoundFileError, match="File too large") as info:
            report.write_folder(tmp_path / "rep", call, metrics, plots=False)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert str(info.value).startswith(str(tmp_path / "rep" / "mic.wav"))
    assert list(tmp_path.iterdir()) == []


def test_a_report_that_cannot_be_moved_in_whole_moves_nothing(
    call: demo.DemoRun, tmp_path: Path
) -> None:
    """``metrics.json`` is a folder in the existing report folder: the WAVs before it in
    name order were moved in, and stayed there; now the folder is refused first."""
    from callaudio.errors import SoundFileError

    metrics = demo.measure(call)
    (tmp_path / "metrics.json").mkdir()
    with pytest.raises(SoundFileError, match=r"metrics\.json: is a folder"):
        report.write_folder(tmp_path, call, metrics, plots=False)
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
