"""Batch runs in this process and on a local Dask cluster: results, resume, bad items,
configurations, both AEC Challenge layouts."""

from __future__ import annotations

import math
import os
import socket
import warnings
from pathlib import Path

import numpy as np
import pytest

from callaudio.batch import VOLATILE, available, run
from callaudio.cli import main
from callaudio.cli.batch import EXIT_ITEMS_FAILED
from callaudio.cli.files import write_audio
from callaudio.errors import ConfigError

from .conftest import make_manifest, real_layout, scenario, synthetic_layout

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

ERLE_FLOOR_DB = 20.0


def _stable(table) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in table.to_pylist()]


def _audio(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted((out / "audio").rglob("*.wav"))}


def test_in_process_and_local_cluster_give_identical_results(corpus: Path, tmp_path: Path) -> None:
    here = run(corpus, tmp_path / "here", workers=0)
    # 8787 held by another program: a local cluster with no dashboard asked for binds no
    # fixed port (its scheduler's /health and /metrics took 8787 and warned when it was taken)
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 8787))
        holder.listen()
    except OSError:  # taken already: the warning would show all the same
        pass
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            dask = run(corpus, tmp_path / "dask", workers=2, plots=False)
    finally:
        holder.close()
    assert not [w for w in seen if "8787" in str(w.message)], [str(w.message) for w in seen]
    rows = here.to_pylist()
    assert [r["id"] for r in rows] == [f"item{k}" for k in range(6)]
    assert {r["status"] for r in rows} == {"ok"}
    assert _stable(here) == _stable(dask)
    assert _audio(tmp_path / "here") == _audio(tmp_path / "dask")
    assert len(_audio(tmp_path / "here")) == 6
    assert len({r["worker"] for r in dask.to_pylist()}) >= 1
    for k, r in enumerate(rows):
        res = scenario(k)
        assert r["erle_source"] == "echo"
        assert r["erle_db"] > ERLE_FLOOR_DB, r
        assert abs(r["delay_ms"] - res.bulk_delay_ms) < 5.0, r
        assert r["duration_s"] == pytest.approx(3.0)
        assert 0 < r["rtf"] < 1.0 and r["us_per_frame"] > 0
        has_near = k % 2 == 1
        assert (r["pesq"] is not None) == has_near and (r["stoi"] is not None) == has_near
        if has_near:
            assert 1.0 <= r["pesq"] <= 4.6 and 0.5 < r["stoi"] <= 1.0
            assert math.isfinite(r["output_level_dbfs"])
    summary = (tmp_path / "here" / "summary.md").read_text()
    assert "## callaudio (default)" in summary and "| ERLE (dB) | 6 |" in summary
    assert (tmp_path / "here" / "plots" / "erle_db.png").exists()
    assert (tmp_path / "here" / "plots" / "erle_vs_delay.png").exists()


def test_resume_runs_only_the_missing_items(tmp_path: Path) -> None:
    full = make_manifest(tmp_path / "c", 4)
    half = tmp_path / "c" / "half.csv"
    half.write_text("\n".join(full.read_text().splitlines()[:3]) + "\n")
    out = tmp_path / "out"
    first = run(half, out, workers=0, plots=False)
    assert first.column("id").to_pylist() == ["item0", "item1"]
    with pytest.raises(ConfigError, match="already holds results"):
        run(full, out, workers=0, resume=False)
    assert run(half, out, workers=0, plots=False).num_rows == 2  # nothing left to run
    started: list[tuple[int, int]] = []
    table = run(full, out, workers=0, plots=False, on_start=lambda *a: started.append(a))
    assert started == [(2, 2)]
    assert table.column("id").to_pylist() == ["item0", "item1", "item2", "item3"]
    assert _stable(table)[:2] == _stable(first)
    assert len(list((out / "results.parquet").glob("part-*.parquet"))) == 1  # merged


def test_resume_refuses_a_configuration_changed_under_its_name(tmp_path: Path) -> None:
    """Rows were matched by the configuration's name only: a resume with other settings
    under the same name kept the old rows, computed the rest with the new settings and
    summed both up as one configuration."""
    from callaudio import ProcessingConfig
    from callaudio.cli.common import full_config

    items = make_manifest(tmp_path / "c", 1)
    out = tmp_path / "out"
    run(items, out, workers=0, plots=False, configs={"x": ProcessingConfig()})
    other = full_config(noise_suppressor=False)
    parts = sorted((out / "results.parquet").iterdir())
    with pytest.raises(ConfigError, match="configuration 'x' has other settings"):
        run(items, out, workers=0, plots=False, configs={"x": other})
    assert sorted((out / "results.parquet").iterdir()) == parts
    table = run(items, out, workers=0, plots=False, configs={"x": ProcessingConfig(), "y": other})
    assert sorted(set(table.column("config").to_pylist())) == ["x", "y"]


def test_resume_refuses_an_item_whose_mic_changed(tmp_path: Path) -> None:
    """An id whose manifest now names another microphone file was skipped: its old rows
    passed for the new recording."""
    items = make_manifest(tmp_path / "c", 2)
    out = tmp_path / "out"
    run(items, out, workers=0, plots=False)
    lines = items.read_text().splitlines()
    other = lines[2].split(",")[1]  # item1's mic, given to item0 too
    lines[1] = ",".join([lines[1].split(",")[0], other, *lines[1].split(",")[2:]])
    items.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="item 'item0' now has mic"):
        run(items, out, workers=0, plots=False)


@pytest.mark.parametrize("kind", ["far", "near", "echo"])
def test_resume_refuses_an_item_whose_other_files_changed(tmp_path: Path, kind: str) -> None:
    """Only the microphone file was compared: an id whose far-end, near-end or echo file
    changed (or was dropped) kept rows computed from the old one (ERLE, PESQ against it)."""
    import csv

    items = make_manifest(tmp_path / "c", 2)
    out = tmp_path / "out"
    run(items, out, workers=0, plots=False)
    parts = sorted((out / "results.parquet").iterdir())
    rows = list(csv.DictReader(items.read_text().splitlines()))
    for new, match in ((rows[1][kind], f"now has {kind} "), ("", f"now has no {kind} file")):
        changed = [dict(r) for r in rows]
        changed[0][kind] = new  # item1's file given to item0, then none
        with open(items, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(changed)
        with pytest.raises(ConfigError, match=f"item 'item0' {match}"):
            run(items, out, workers=0, plots=False)
        assert sorted((out / "results.parquet").iterdir()) == parts


def test_a_refused_resume_leaves_the_recorded_settings_as_they_were(tmp_path: Path) -> None:
    """The settings of a run refused for a changed microphone file were recorded in
    configs.json all the same (a refused run changed the folder)."""
    from callaudio.config import ProcessingConfig

    manifest = tmp_path / "m.csv"
    manifest.write_text("id,mic\nlost,nowhere.wav\n")
    out = tmp_path / "out"
    run(manifest, out, workers=0, plots=False)
    before = (out / "configs.json").read_text()
    manifest.write_text("id,mic\nlost,elsewhere.wav\n")
    with pytest.raises(ConfigError, match="item 'lost' now has mic"):
        run(manifest, out, workers=0, plots=False, configs={"y": ProcessingConfig()})
    assert (out / "configs.json").read_text() == before


def test_an_output_folder_whose_name_is_not_utf8_is_run_and_shown(tmp_path: Path, capsys) -> None:
    """``batch --out 'res\\xff'`` with a strict stdout (PYTHONIOENCODING=utf-8): the run
    finished, then printing the folder's name failed with a UnicodeEncodeError traceback."""
    import os

    items = make_manifest(tmp_path / "c", 1)
    out = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"res\xff"))
    argv = ["batch", str(items), "--out", out, "--workers", "0", "--no-plots", "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "res\\udcff" in printed
    assert (Path(out) / "summary.md").is_file()


def _bad_corpus(root: Path) -> Path:
    res = scenario(0).build()
    root.mkdir()
    write_audio(root / "mic48.wav", res.mic, 16000)
    write_audio(root / "far48.wav", res.far[:8000], 48000)
    (root / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk" + bytes(64))
    extra = [
        {"id": "missing", "mic": "nowhere.wav"},
        {"id": "corrupt", "mic": "corrupt.wav"},
        {"id": "rates", "mic": "mic48.wav", "far": "far48.wav"},
        {"id": "setting", "mic": "mic48.wav", "echo_canceller.tail_ms": 99999},
    ]
    return make_manifest(root, 1, extra=extra)


def test_one_failed_item_is_reported_in_the_singular(tmp_path: Path, capsys) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,mic\nlost,nowhere.wav\n")
    argv = ["batch", str(manifest), "--out", str(tmp_path / "o"), "--workers", "0", "--quiet"]
    assert main([*argv, "--no-plots"]) == EXIT_ITEMS_FAILED
    assert "  1 item failed (status 'error'): lost" in capsys.readouterr().out


def test_what_a_missing_optional_package_left_out_is_said(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """No PESQ, STOI or plots because their packages are missing: one line says which and
    how to install them (the run itself succeeds)."""
    import importlib.util

    real = importlib.util.find_spec
    missing = {"pesq", "pystoi", "matplotlib"}
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in missing else real(name, *a)
    )
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,mic\nlost,nowhere.wav\n")
    assert (
        main(["batch", str(manifest), "--out", str(tmp_path / "o"), "--workers", "0", "--quiet"])
        == EXIT_ITEMS_FAILED
    )
    out = capsys.readouterr().out
    assert (
        "  not measured here: PESQ (pesq is not installed: pip install pesq); "
        "STOI (pystoi is not installed: pip install pystoi); "
        "plots (matplotlib is not installed: pip install matplotlib)\n"
    ) in out


def test_summary_and_table_say_what_was_not_measured(tmp_path: Path, capsys, monkeypatch) -> None:
    """summary.md said nothing of the metrics and peers left out (only stderr did): a reader
    of the summary could not tell why PESQ or a peer's table was missing. Now it lists them
    with the reason, and the returned table's metadata holds the same list."""
    import importlib.util

    from callaudio.batch import processors as procs_module
    from callaudio.batch.report import NOT_MEASURED_KEY, skipped_in

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pesq" else real(name, *a)
    )
    monkeypatch.setattr(procs_module, "_installed", lambda module: False)  # no peer here
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,mic\nlost,nowhere.wav\n")
    out = tmp_path / "o"
    table = run(manifest, out, processors="all", workers=0, plots=False)
    got = {s.what: s for s in skipped_in(table)}
    assert NOT_MEASURED_KEY in table.schema.metadata
    assert got["PESQ"].installable and "pip install pesq" in got["PESQ"].reason
    assert got["webrtc"].installable and got["speex"].installable
    assert not got["DNSMOS"].installable and "--mos" in got["DNSMOS"].reason
    assert "plots" not in got  # not asked for
    if real("pystoi") is not None:
        assert got["STOI"].reason == "no value: every item failed"
    summary = (out / "summary.md").read_text()
    assert "Not measured:" in summary
    for line in (
        "- PESQ: pesq is not installed: pip install pesq",
        '- webrtc: its library is not installed: pip install ".[peers]" in a checkout, or '
        'pip install "callaudio-<version>-<tags>.whl[peers]" for a wheel',
        "- speex: its library is not installed",
        "- DNSMOS: not asked (--mos, mos=True)",
        "- AECMOS: not asked",
    ):
        assert line in summary, (line, summary)
    assert (
        main(
            [
                "batch",
                str(manifest),
                "--out",
                str(out),
                "--resume",
                "--workers",
                "0",
                "--quiet",
                "--no-plots",
                "--processors",
                "all",
            ]
        )
        == EXIT_ITEMS_FAILED
    )
    printed = capsys.readouterr().out
    assert "not measured here: PESQ (pesq is not installed: pip install pesq); webrtc (" in printed
    assert "DNSMOS" not in printed  # not asked is not a missing package


def test_bad_items_are_rows_with_their_reason(tmp_path: Path, capsys) -> None:
    manifest = _bad_corpus(tmp_path / "c")
    out = tmp_path / "out"
    code = main(
        ["batch", str(manifest), "--out", str(out), "--workers", "0", "--quiet", "--no-plots"]
    )
    assert code == EXIT_ITEMS_FAILED
    assert "4 items failed" in capsys.readouterr().out
    from callaudio.batch import ResultsStore

    rows = {r["id"]: r for r in ResultsStore(out).read().to_pylist()}
    assert rows["item0"]["status"] == "ok"
    expect = {
        "missing": "no such file",
        "corrupt": "corrupt.wav",
        "rates": "rates differ (mic 16000 Hz, far 48000 Hz)",
        "setting": "tail_ms",
    }
    for key, text in expect.items():
        r = rows[key]
        assert r["status"] == "error" and text in r["error"], r
        assert "\n" not in r["error"]
        assert r["erle_db"] is None
    assert not (out / "audio" / "callaudio" / "missing.wav").exists()
    assert "Errors:" in (out / "summary.md").read_text()


def test_named_configurations_side_by_side(tmp_path: Path) -> None:
    manifest = make_manifest(tmp_path / "c", 2)
    (tmp_path / "noaec.toml").write_text("[echo_canceller]\nenabled = false\n")
    (tmp_path / "full.toml").write_text("[noise_suppressor]\nlevel_db = 12\n")
    out = tmp_path / "out"
    code = main(
        [
            "batch",
            str(manifest),
            "--out",
            str(out),
            "--workers",
            "0",
            "--quiet",
            "--no-plots",
            "--config",
            f"off={tmp_path / 'noaec.toml'}",
            "--config",
            str(tmp_path / "full.toml"),
        ]
    )
    assert code == 0
    from callaudio.batch import ResultsStore

    rows = ResultsStore(out).read().to_pylist()
    assert [(r["id"], r["config"]) for r in rows] == [
        ("item0", "full"),
        ("item0", "off"),
        ("item1", "full"),
        ("item1", "off"),
    ]
    by = {(r["id"], r["config"]): r for r in rows}
    for k in ("item0", "item1"):
        assert by[(k, "off")]["delay_ms"] is None
        assert by[(k, "full")]["erle_db"] > by[(k, "off")]["erle_db"] + 10.0
    assert (out / "audio" / "callaudio-off" / "item0.wav").exists()
    assert (out / "audio" / "callaudio-full" / "item1.wav").exists()


def test_unknown_or_missing_processor_changes_nothing(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown processor"):
        run(corpus, tmp_path / "o", processors=["callaudio", "nope"], workers=0)
    if "speex" not in available():
        with pytest.raises(ConfigError, match="not installed"):
            run(corpus, tmp_path / "o", processors=["speex"], workers=0)
    assert not (tmp_path / "o").exists()


def test_synthetic_folder_on_the_local_default_cluster(tmp_path: Path) -> None:
    folder = synthetic_layout(tmp_path / "synthetic", 3)
    out = tmp_path / "out"
    code = main(
        ["batch", str(folder), "--out", str(out), "--quiet", "--no-plots", "--processors", "all"]
    )
    assert code == 0
    from callaudio.batch import ResultsStore

    rows = ResultsStore(out).read().to_pylist()
    procs = available()
    assert [(r["id"], r["processor"]) for r in rows] == [
        (f"fileid_{k}", p) for k in range(3) for p in sorted(procs)
    ]
    for r in rows:
        assert r["status"] == "ok" and r["erle_source"] == "echo"
        assert (out / r["output"]).exists()
        if r["processor"] == "callaudio":
            assert r["erle_db"] > ERLE_FLOOR_DB


def test_real_recordings_folder(tmp_path: Path) -> None:
    folder = real_layout(tmp_path / "real", 2)
    table = run(folder, tmp_path / "out", workers=0, plots=False)
    rows = table.to_pylist()
    assert [r["id"] for r in rows] == ["sub/rec0_doubletalk", "sub/rec1_doubletalk"]
    for r in rows:
        assert r["status"] == "ok" and r["erle_source"] == "mic"
        assert np.isfinite(r["erle_db"]) and r["pesq"] is None
    assert (tmp_path / "out" / "audio" / "callaudio" / "sub" / "rec1_doubletalk.wav").exists()


def test_unreachable_scheduler_is_one_error_line(
    corpus: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callaudio.batch import runner

    monkeypatch.setattr(runner, "CONNECT_TIMEOUT", "2s")  # the error, not the wait, is tested
    out = tmp_path / "out"
    code = main(["batch", str(corpus), "--out", str(out), "--scheduler", "tcp://127.0.0.1:9"])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("callaudio: error: ") and len(err) <= 2
    assert not out.exists()


def test_progress_line() -> None:
    import io

    from callaudio.batch.runner import Progress

    s = io.StringIO()
    bar = Progress(4, stream=s)
    bar.update(1, 0)
    bar.update(4, 1)
    lines = s.getvalue().splitlines()
    assert lines[0].startswith("batch: 1/4 items, 0 failed, ETA ")
    assert lines[-1] == "batch: 4/4 items, 1 failed, ETA 0:00"
    quiet = io.StringIO()
    Progress(4, enabled=False, stream=quiet).update(4, 0)
    assert quiet.getvalue() == ""


def test_other_rates_are_resampled_to_the_nearest_supported(tmp_path: Path) -> None:
    from callaudio.simulation.resample import resample

    res = scenario(0).build()
    root = tmp_path / "c"
    root.mkdir()
    for sig in ("mic", "far", "echo"):
        write_audio(root / f"{sig}.wav", resample(getattr(res, sig), 16000, 22050), 22050, "FLOAT")
    (root / "m.csv").write_text("id,mic,far,echo\nx,mic.wav,far.wav,echo.wav\n")
    (row,) = run(root / "m.csv", tmp_path / "out", workers=0, plots=False).to_pylist()
    assert row["status"] == "ok" and row["rate"] == 16000
    assert row["duration_s"] == pytest.approx(3.0, abs=1e-3)
    assert row["erle_db"] > ERLE_FLOOR_DB


def test_dnsmos_and_aecmos_when_asked(tmp_path: Path) -> None:
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        import speechmos  # noqa: F401  (make test installs it: the test extra; CI fails)
    pytest.importorskip("speechmos")
    manifest = make_manifest(tmp_path / "c", 1)
    (row,) = run(manifest, tmp_path / "out", workers=0, plots=False, mos=True).to_pylist()
    assert row["status"] == "ok", row
    for col in ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "aecmos_echo", "aecmos_deg"):
        assert 1.0 <= row[col] <= 5.0, (col, row[col])
    assert row["aecmos_echo"] > 3.0  # far-end single talk, echo removed
    plain = run(manifest, tmp_path / "plain", workers=0, plots=False).to_pylist()[0]
    assert plain["dnsmos_ovrl"] is None and plain["aecmos_echo"] is None
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "| AECMOS echo | 1 |" in summary


def test_a_metric_whose_package_went_missing_before_a_resume_is_listed(monkeypatch) -> None:
    """A --resume run without pesq (the earlier run had it) added rows with no PESQ, yet
    PESQ was left out of 'Not measured' (and of the CLI's line): some rows had a value."""
    import importlib.util

    import pyarrow as pa

    from callaudio.batch.report import not_measured

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pesq" else real(name, *a)
    )
    table = pa.table({"status": ["ok", "ok"], "pesq": [3.1, None], "stoi": [0.9, None]})
    got = {s.what: s for s in not_measured(table, plots=False)}
    assert got["PESQ"].installable and "pip install pesq" in got["PESQ"].reason
    if real("pystoi") is not None:
        assert "STOI" not in got  # installed: its missing values are items without near
    whole = pa.table({"status": ["ok", "ok"], "pesq": [3.1, 2.0], "stoi": [0.9, 0.8]})
    assert "PESQ" not in {s.what for s in not_measured(whole, plots=False)}


def test_skipped_in_refuses_a_table_that_does_not_say() -> None:
    """skipped_in(pq.read_table('out/results.parquet')) returned [] ("nothing was left
    out"): the list is only in the table run() returns (and in summary.md)."""
    import pyarrow as pa

    from callaudio.batch.report import NOT_MEASURED_KEY, Skipped, skipped_in, with_not_measured

    plain = pa.table({"status": ["ok"]})
    for bad in (plain, plain.replace_schema_metadata({NOT_MEASURED_KEY: b"{"}), None, [1]):
        with pytest.raises(ConfigError, match="not a table callaudio"):
            skipped_in(bad)
    listed = [Skipped("PESQ", "pesq is not installed", True)]
    assert skipped_in(with_not_measured(plain, listed)) == listed
    assert skipped_in(with_not_measured(plain, [])) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="Linux /proc")
def test_an_out_folder_in_proc_says_its_file_system_refuses_new_files(tmp_path: Path) -> None:
    """--out /proc/x said 'No such file or directory' (the virtual file system's errno),
    where process and demo say the file system does not allow new files."""
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,mic\na,nowhere.wav\n")
    with pytest.raises(ConfigError, match="/proc/x: cannot write in it") as err:
        run(manifest, "/proc/x", workers=0, plots=False)
    assert "its file system does not allow new files" in str(err.value)


def test_closing_lines_that_cannot_be_written_say_the_results_are_complete(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """stdout on a full disk: the results were written, and the one line said only
    ``[Errno 28] No space left on device``."""
    from callaudio.cli import batch as cli_batch

    def full(*_args: object, **_kw: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli_batch, "print", full, raising=False)
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,mic\na,nowhere.wav\n")
    out = tmp_path / "o"
    argv = ["batch", str(manifest), "--out", str(out), "--workers", "0", "--quiet", "--no-plots"]
    assert main(argv) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"callaudio: error: {out}: the results are complete; their closing lines could not "
        "be written to standard output (No space left on device)"
    ]
    assert (out / "summary.md").is_file()
