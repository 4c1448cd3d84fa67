"""``callaudio process``: the output is the chain's (through the public API), aligned by
default; per-file figures; the tuning flags and --config; one-line errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from callaudio import ProcessingConfig, VoiceProcessor, process_arrays
from callaudio.config import SAMPLE_RATES
from callaudio.simulation import speech_like

from .conftest import Run, no_temp_files, one_error_line, soundfile, write


def _summary(text: str) -> dict[str, object]:
    return dict(json.loads(text))


def _no_aec(cfg: ProcessingConfig | None = None) -> ProcessingConfig:
    """The chain the command runs without --far: the echo canceller off."""
    cfg = cfg or ProcessingConfig()
    return dataclasses.replace(
        cfg, echo_canceller=dataclasses.replace(cfg.echo_canceller, enabled=False)
    )


def test_the_output_is_process_arrays_output_raw_or_aligned(tmp_path: Path, run: Run) -> None:
    rate = 16000
    rng = np.random.default_rng(5)
    x = speech_like(2.0, rate, level_dbfs=-30.0, seed=2) + 1e-3 * rng.standard_normal(32000)
    x = x.astype(np.float32)
    src = write(tmp_path / "in.wav", x, rate, "FLOAT")
    cfg = _no_aec()
    latency = VoiceProcessor(rate, config=cfg).latency_samples
    assert latency > 0
    raw = tmp_path / "raw.wav"
    assert run("process", str(src), "-o", str(raw), "--no-align", "--quiet")[0] == 0
    expected = process_arrays(x, sample_rate=rate, config=cfg)
    np.testing.assert_allclose(soundfile.read(str(raw), dtype="float32")[0], expected, atol=1e-6)
    aligned = tmp_path / "aligned.wav"
    assert run("process", str(src), "-o", str(aligned), "--quiet")[0] == 0
    longer = process_arrays(np.r_[x, np.zeros(latency, np.float32)], sample_rate=rate, config=cfg)
    np.testing.assert_allclose(
        soundfile.read(str(aligned), dtype="float32")[0], longer[latency:], atol=1e-6
    )


@pytest.mark.parametrize("rate", [16000, 44100, 22050])
def test_a_click_lands_on_the_same_sample_unless_no_align(
    tmp_path: Path, run: Run, rate: int
) -> None:
    x = speech_like(3.0, rate, level_dbfs=-40.0, seed=1)
    at = int(1.7 * rate)
    x[at] += 0.6
    src = write(tmp_path / "click.wav", x, rate, "FLOAT")
    proc_rate = min(SAMPLE_RATES, key=lambda r: (abs(r - rate), -r))
    lag = VoiceProcessor(proc_rate, config=_no_aec()).latency_samples * rate / proc_rate
    for extra, shift in (((), 0.0), (("--no-align",), lag)):
        out = tmp_path / "out.wav"
        code, _, err = run("process", str(src), "-o", str(out), "--quiet", *extra)
        assert code == 0, err
        y = soundfile.read(str(out))[0]
        assert y.shape == x.shape
        near = slice(at - rate // 100, at + rate // 50)
        peak = near.start + int(np.argmax(np.abs(y[near])))
        assert abs(peak - (at + shift)) <= 1, (extra, peak - at)


def test_the_summary_describes_the_file_not_the_last_frame(tmp_path: Path, run: Run) -> None:
    """Echo for 6 s, then 2 s with no far end: the ERLE is the mean over far-active frames."""
    rate = 16000
    far = speech_like(8.0, rate, level_dbfs=-20.0, seed=4)
    far[6 * rate :] = 0.0
    d = int(0.045 * rate)
    mic = 0.5 * np.r_[np.zeros(d), far[:-d]]
    write(tmp_path / "far.wav", far, rate)
    write(tmp_path / "mic.wav", mic, rate)
    out = tmp_path / "out.wav"
    argv = ["process", str(tmp_path / "mic.wav"), "--far", str(tmp_path / "far.wav")]
    code, text, err = run(*argv, "-o", str(out), "--no-agc", "--quiet", "--json")
    assert code == 0, err
    s = _summary(text)
    assert s["stages"] == ["high_pass", "echo_canceller", "noise_suppressor"]
    assert isinstance(s["erle_db_mean"], float) and s["erle_db_mean"] > 20.0
    assert isinstance(s["delay_ms"], float) and abs(s["delay_ms"] - 45.0) < 2.0
    assert isinstance(s["far_active_s"], float) and 3.0 < s["far_active_s"] <= 6.0
    assert s["aligned"] is True and s["output"] == str(out)
    x = soundfile.read(str(tmp_path / "mic.wav"))[0]
    y = soundfile.read(str(out))[0]
    measured = 10 * np.log10(
        np.sum(x[3 * rate : 6 * rate] ** 2) / np.sum(y[3 * rate : 6 * rate] ** 2)
    )
    assert measured > 20.0  # the summary's figure agrees with what happened


@pytest.mark.parametrize(
    ("flag", "value", "stage", "field"),
    [
        ("--ns-level", 21.0, "noise_suppressor", "level_db"),
        ("--agc-target", -30.0, "gain_control", "target_level_dbfs"),
        ("--agc-max-gain", 6.0, "gain_control", "max_gain_db"),
        ("--hpf-cutoff", 200.0, "high_pass", "cutoff_hz"),
    ],
)
def test_each_tuning_flag_reaches_the_chain(
    tmp_path: Path, run: Run, flag: str, value: float, stage: str, field: str
) -> None:
    rate = 16000
    noise = 3e-3 * np.random.default_rng(8).standard_normal(3 * rate)  # for the suppressor
    x = (speech_like(3.0, rate, level_dbfs=-35.0, seed=7) + noise).astype(np.float32)
    src = write(tmp_path / "in.wav", x, rate, "FLOAT")
    out = tmp_path / "o.wav"
    code, _, err = run("process", str(src), "-o", str(out), flag, str(value), "--no-align")
    assert code == 0, err
    base = _no_aec()
    tuned = dataclasses.replace(
        base, **{stage: dataclasses.replace(getattr(base, stage), **{field: value})}
    )
    y = soundfile.read(str(out), dtype="float32")[0]
    np.testing.assert_allclose(y, process_arrays(x, sample_rate=rate, config=tuned), atol=1e-6)
    assert np.max(np.abs(y - process_arrays(x, sample_rate=rate, config=base))) > 1e-3


def test_echo_canceller_flags_reach_the_chain(tmp_path: Path, run: Run) -> None:
    rate = 16000
    far = speech_like(4.0, rate, level_dbfs=-20.0, seed=4).astype(np.float32)
    mic = (0.5 * np.r_[np.zeros(720), far[:-720]]).astype(np.float32)
    write(tmp_path / "far.wav", far, rate, "FLOAT")
    write(tmp_path / "mic.wav", mic, rate, "FLOAT")
    out = tmp_path / "o.wav"
    argv = ["process", str(tmp_path / "mic.wav"), "--far", str(tmp_path / "far.wav")]
    flags = ["--aec-tail", "64", "--aec-max-delay", "200", "--no-align", "--quiet"]
    assert run(*argv, "-o", str(out), *flags)[0] == 0
    base = ProcessingConfig()
    aec = dataclasses.replace(base.echo_canceller, tail_ms=64.0, max_delay_ms=200.0)
    expected = process_arrays(
        mic, far, sample_rate=rate, config=dataclasses.replace(base, echo_canceller=aec)
    )
    np.testing.assert_allclose(soundfile.read(str(out), dtype="float32")[0], expected, atol=1e-6)


def test_config_file_then_flags(tmp_path: Path, run: Run) -> None:
    src = write(tmp_path / "in.wav", speech_like(2.0, 16000, level_dbfs=-30.0, seed=1), 16000)
    cfg = tmp_path / "chain.toml"
    cfg.write_text("[gain_control]\nenabled = false\n[noise_suppressor]\nlevel_db = 18\n")
    out = tmp_path / "o.wav"
    code, text, err = run("process", str(src), "-o", str(out), "--config", str(cfg), "--json")
    assert code == 0, err
    assert _summary(text)["stages"] == ["high_pass", "noise_suppressor"]
    code, text, err = run(
        "process", str(src), "-o", str(out), "--config", str(cfg), "--agc", "--no-ns", "--json"
    )
    assert code == 0, err
    assert _summary(text)["stages"] == ["high_pass", "gain_control"]
    # What the config file sets reaches the chain: every stage off is a bit-exact copy.
    off = tmp_path / "off.toml"
    off.write_text(
        "".join(
            f"[{s}]\nenabled = false\n" for s in ("high_pass", "noise_suppressor", "gain_control")
        )
    )
    assert run("process", str(src), "-o", str(out), "--config", str(off), "--quiet")[0] == 0
    np.testing.assert_array_equal(
        soundfile.read(str(out), dtype="int16")[0], soundfile.read(str(src), dtype="int16")[0]
    )


@pytest.mark.parametrize(
    ("argv", "mention"),
    [
        (["--ns-level", "99"], "--ns-level"),
        (["--ns-level", "loud"], "--ns-level"),
        (["--agc-target", "5"], "--agc-target"),
        (["--aec-tail", "4"], "--aec-tail"),
        (["--aec-max-delay", "-1"], "--aec-max-delay"),
        (["--hpf-cutoff", "nan"], "--hpf-cutoff"),
        (["--rate", "11025"], "--rate"),
        (["--aec"], "--far"),
        (["--bogus"], "--bogus"),
    ],
)
def test_bad_values_are_one_line_and_no_output(
    tmp_path: Path, run: Run, argv: list[str], mention: str
) -> None:
    src = write(tmp_path / "in.wav", np.zeros(1600), 16000)
    out = tmp_path / "o.wav"
    code, _, err = run("process", str(src), "-o", str(out), "--quiet", *argv)
    one_error_line(code, err, mention)
    assert not out.exists() and no_temp_files(tmp_path)


@pytest.mark.parametrize(
    ("text", "mention"),
    [
        ("[noise_suppressor]\nlevel_db = 99\n", "noise_suppressor.level_db"),
        ("[noise_suppressor]\nlevel = 9\n", "noise_suppressor.level"),
        ("[equaliser]\ngain = 1\n", "[equaliser]"),
        ("noise_suppressor = 3\n", "table"),
        ("[gain_control\n", "not valid TOML"),
        ("[gain_control]\nenabled = 'yes'\n", "gain_control.enabled"),
    ],
)
def test_bad_config_files_are_one_line(tmp_path: Path, run: Run, text: str, mention: str) -> None:
    src = write(tmp_path / "in.wav", np.zeros(1600), 16000)
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    out = tmp_path / "o.wav"
    code, _, err = run("process", str(src), "-o", str(out), "--config", str(cfg), "--quiet")
    one_error_line(code, err, "bad.toml", mention)
    assert not out.exists()
    code, _, err = run("process", str(src), "-o", str(out), "--config", str(tmp_path / "no.toml"))
    one_error_line(code, err, "no.toml")


def test_stereo_keeps_its_channels(tmp_path: Path, run: Run) -> None:
    left = speech_like(2.0, 48000, level_dbfs=-30.0, seed=1)
    x = np.stack([left, np.zeros_like(left)], axis=1)
    src = write(tmp_path / "st.wav", x, 48000)
    out = tmp_path / "o.flac"
    code, _, err = run("process", str(src), "-o", str(out), "--no-agc", "--no-ns", "--quiet")
    assert code == 0, err
    y = soundfile.read(str(out))[0]
    assert y.shape == x.shape and np.abs(y[:, 1]).max() == 0.0 and np.abs(y[:, 0]).max() > 0.01


def test_a_far_file_at_another_rate_is_resampled_to_the_mics(tmp_path: Path, run: Run) -> None:
    from callaudio.simulation.resample import resample

    far = speech_like(6.0, 44100, level_dbfs=-20.0, seed=4)
    at_48k = resample(far, 44100, 48000)
    d = int(0.045 * 48000)
    mic = 0.5 * np.r_[np.zeros(d), at_48k[:-d]]
    write(tmp_path / "far.wav", far, 44100)
    write(tmp_path / "mic.wav", mic[: 5 * 48000], 48000, "PCM_24")  # the far file runs longer
    out = tmp_path / "out.wav"
    argv = ["process", str(tmp_path / "mic.wav"), "--far", str(tmp_path / "far.wav")]
    code, text, err = run(*argv, "-o", str(out), "--no-agc", "--quiet", "--json")
    assert code == 0, err
    s = _summary(text)
    assert isinstance(s["delay_ms"], float) and abs(s["delay_ms"] - 45.0) < 2.0
    x = soundfile.read(str(tmp_path / "mic.wav"))[0]
    y = soundfile.read(str(out))[0]
    assert y.shape == x.shape == (5 * 48000,)
    tail = slice(3 * 48000, None)
    assert 10 * np.log10(np.sum(x[tail] ** 2) / np.sum(y[tail] ** 2)) > 20.0
