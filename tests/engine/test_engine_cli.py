"""The engine's subcommands: process (offline files), demo (a whole simulated call)."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from callaudio.cli import build_parser
from callaudio.cli.files import write_audio as write_wav
from callaudio.config import SAMPLE_RATES
from callaudio.errors import ConfigError
from callaudio.simulation import speech_like


def _run(*argv: str) -> int:
    """Run a subcommand as the parser wires it, its errors raised (not printed)."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


def _read(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64) / 32768.0
        return x.reshape(-1, w.getnchannels()), w.getframerate()


def _tone_db(x: np.ndarray, rate: int, f: float) -> float:
    t = np.arange(x.size) / rate
    c = np.abs(np.dot(x, np.exp(-2j * np.pi * f * t))) * 2 / x.size
    return 20 * np.log10(c + 1e-12)


@pytest.mark.parametrize("rate", [16000, 44100], ids=["16k", "44.1k-resampled"])
def test_process_writes_the_chain_output_at_the_input_rate(tmp_path, rate, capsys):
    speech = speech_like(3.0, rate, level_dbfs=-30.0, seed=1)
    t = np.arange(speech.size) / rate
    hum = 0.05 * np.sin(2 * np.pi * 50 * t)  # the high-pass removes it
    hum += 0.02 * np.sin(2 * np.pi * 1000 * t)  # ... and keeps this
    far = speech_like(3.0, rate, level_dbfs=-25.0, seed=2, talker=1)
    write_wav(tmp_path / "mic.wav", speech + hum, rate)
    write_wav(tmp_path / "far.wav", far, rate)
    out = tmp_path / "out.wav"
    assert (
        _run(
            "process",
            str(tmp_path / "mic.wav"),
            "--far",
            str(tmp_path / "far.wav"),
            "-o",
            str(out),
            "--quiet",
            "--no-agc",
            "--no-ns",
            "--no-aec",
        )
        == 0
    )
    y, r = _read(out)
    x, _ = _read(tmp_path / "mic.wav")
    assert r == rate and y.shape == x.shape
    # The second half (the filter has settled): the 80 Hz second-order high-pass takes
    # 8.6 dB off the 50 Hz hum and leaves 1 kHz alone.
    half = slice(x.shape[0] // 2, None)
    hum_drop = _tone_db(x[half, 0], rate, 50.0) - _tone_db(y[half, 0], rate, 50.0)
    assert 7.5 < hum_drop < 9.5
    assert abs(_tone_db(x[half, 0], rate, 1000.0) - _tone_db(y[half, 0], rate, 1000.0)) < 0.3
    text = capsys.readouterr().out
    assert "stages: high_pass\n" in text and "us per 10 ms frame" in text
    if rate not in SAMPLE_RATES:
        assert "resampled from 44100 Hz and back" in text


def test_process_cancels_the_echo_of_the_far_file(tmp_path, capsys):
    rate = 16000
    far = speech_like(6.0, rate, level_dbfs=-20.0, seed=4)
    d = int(0.045 * rate)  # 45 ms of acoustic + converter delay
    mic = 0.5 * np.r_[np.zeros(d), far[:-d]]
    write_wav(tmp_path / "far.wav", far, rate)
    write_wav(tmp_path / "mic.wav", mic, rate)
    out = tmp_path / "out.wav"
    argv = ["process", str(tmp_path / "mic.wav"), "--far", str(tmp_path / "far.wav")]
    assert _run(*argv, "-o", str(out), "--aec", "--no-agc", "--no-ns", "--quiet") == 0
    y, _ = _read(out)
    x, _ = _read(tmp_path / "mic.wav")
    tail = slice(3 * rate, None)  # converged
    reduction = 10 * np.log10(np.sum(x[tail] ** 2) / np.sum(y[tail] ** 2))
    assert reduction > 20.0
    text = capsys.readouterr().out
    assert "echo_canceller" in text and "delay estimate: 4" in text  # 4x ms


def test_process_stage_switches_and_clear_errors(tmp_path):
    rate = 16000
    x = speech_like(1.0, rate, level_dbfs=-30.0, seed=3)
    write_wav(tmp_path / "mic.wav", x, rate)
    out = tmp_path / "same.wav"
    assert (
        _run(
            "process",
            str(tmp_path / "mic.wav"),
            "-o",
            str(out),
            "--no-hpf",
            "--no-agc",
            "--no-ns",
            "--quiet",
        )
        == 0
    )
    y, _ = _read(out)
    xin, _ = _read(tmp_path / "mic.wav")
    np.testing.assert_array_equal(y, xin)  # every stage off: bit-exact pass-through
    with pytest.raises(ConfigError, match="--far"):
        _run("process", str(tmp_path / "mic.wav"), "-o", str(out), "--aec", "--quiet")
    write_wav(tmp_path / "low.wav", x[:4000], 4000)
    with pytest.raises(ConfigError, match="4000 Hz"):
        _run("process", str(tmp_path / "low.wav"), "-o", str(out), "--quiet")


def test_demo_runs_a_whole_call_and_writes_its_report(tmp_path, capsys):
    outdir = tmp_path / "report"
    assert _run("demo", "--rate", "16000", "--out", str(outdir), "--quiet") == 0
    text = capsys.readouterr().out
    log = [
        line.split(None, 1)[1]
        for line in text.splitlines()
        if line.startswith("  ") and line.strip()[:1].isdigit()
    ]
    names = [entry.split("(")[0] for entry in log]
    expected_order = [
        "call_progressing",
        "call_ringing",
        "call_answered",
        "call_established",
        "interruption_began",
        "call_interrupted",
        "interruption_ended",
        "call_resumed",
        "interruption_began",
        "call_interrupted",
        "call_ended",
        "configuration_restored",
        "interruption_ended",
    ]
    it = iter(names)
    assert all(name in it for name in expected_order), names  # in this order
    assert "call_ended(call=call-1, cause=GSM_CALL_DETECTED)" in log
    assert "session after the call: SOLO_AMBIENT/DEFAULT/NONE, active=False" in text
    metrics = json.loads((outdir / "metrics.json").read_text())
    assert metrics["end_cause"] == "GSM_CALL_DETECTED"
    assert metrics["xruns"] == 0
    assert metrics["callback_us_per_frame_mean"] > 0
    # The chain did its job on the simulated room (floors well under the measured values).
    assert metrics["erle_db_reported_far_end_only"] > 25.0
    # re-converged within 1 s of the resume (a provisional lag replaced on a noisy, just
    # weakened correlation once left it at 29 dB)
    assert metrics["echo_attenuation_db_after_resume"] > 38.0
    assert metrics["near_end_level_change_db_double_talk"] > -6.0
    assert abs(metrics["echo_delay_estimate_ms"] - metrics["echo_delay_true_ms"]) < 5.0
    for name in ("mic", "far", "out", "near", "echo"):
        x, rate = _read(outdir / f"{name}.wav")
        assert rate == 16000 and x.shape[0] == 22 * 16000  # 3 + 14 + 5 s of audio
    for png in ("spectrograms.png", "erle_gain.png", "timeline.png"):
        assert (outdir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    near, _ = _read(outdir / "near.wav")
    echo, _ = _read(outdir / "echo.wav")
    assert np.max(np.abs(echo[: 3 * 16000])) > 0  # the progress tone came back as echo
    assert np.all(near[: 9 * 16000] == 0)  # the near end starts talking at double talk
