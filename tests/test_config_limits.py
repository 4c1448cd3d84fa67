"""One home for the core's limits: the rates come from the compiled core's _typedefs, the
stage ranges from config.RANGES/CHOICES, and a compiled stage built directly refuses
exactly what its config refuses, with the same error class."""

from __future__ import annotations

from typing import Any

import pytest

import callaudio as ca
from callaudio import config
from callaudio._dsp import _typedefs
from callaudio._dsp.aec import EchoCanceller
from callaudio._dsp.agc import GainControl
from callaudio._dsp.hpf import HighPass
from callaudio._dsp.ns import NoiseSuppressor
from callaudio.errors import ConfigError

STAGES: dict[str, tuple[Any, Any]] = {
    "high_pass": (ca.HighPassConfig, HighPass),
    "echo_canceller": (ca.EchoCancellerConfig, EchoCanceller),
    "noise_suppressor": (ca.NoiseSuppressorConfig, NoiseSuppressor),
    "gain_control": (ca.GainControlConfig, GainControl),
}


def test_the_rates_are_the_compiled_cores():
    assert config.SAMPLE_RATES == tuple(_typedefs.SAMPLE_RATES) == ca.SAMPLE_RATES
    assert config.SAMPLE_RATES == (8000, 16000, 32000, 44100, 48000)
    for rate in config.SAMPLE_RATES:
        assert config.check_sample_rate(rate) == rate
        assert config.frame_size(rate) == rate // 100


@pytest.mark.parametrize("bad", [11025, 22050, 96000, 0, -16000, True, "16000", None, 16000.5])
def test_check_sample_rate_refuses_and_names_the_field(bad):
    with pytest.raises(ConfigError) as ei:
        config.check_sample_rate(bad)
    assert ei.value.field == "sample_rate"
    with pytest.raises(ConfigError) as ei:
        config.check_sample_rate(bad, field="preferred_sample_rate")
    assert ei.value.field == "preferred_sample_rate"


@pytest.mark.parametrize("stage", list(STAGES))
def test_every_compiled_stage_refuses_an_unsupported_rate(stage):
    with pytest.raises(ConfigError) as ei:
        STAGES[stage][1](44100)
    assert ei.value.field == "sample_rate"


def _cases() -> list[tuple[str, str, float, bool]]:
    """(stage, field, value, valid): each range's ends and just beyond them."""
    out = []
    for stage, fields in config.RANGES.items():
        for name, (lo, hi, _unit) in fields.items():
            step = max(1e-3, (hi - lo) * 1e-3)
            out += [(stage, name, lo, True), (stage, name, hi, True)]
            out += [(stage, name, lo - step, False), (stage, name, hi + step, False)]
    for stage, fields in config.CHOICES.items():
        for name, allowed in fields.items():
            out += [(stage, name, v, True) for v in allowed]
            out += [(stage, name, max(allowed) + 1, False), (stage, name, 0, False)]
    return out


@pytest.mark.parametrize(("stage", "name", "value", "valid"), _cases())
def test_config_and_compiled_stage_agree(stage, name, value, valid):
    cfg_cls, stage_cls = STAGES[stage]
    if valid:
        cfg = cfg_cls(**{name: value})
        built = stage_cls(16000, **cfg.kwargs())
        assert getattr(built, name) == pytest.approx(value)
        return
    with pytest.raises(ConfigError) as ei:
        cfg_cls(**{name: value})
    assert ei.value.field == f"{stage}.{name}"
    with pytest.raises(ConfigError) as ei:
        stage_cls(16000, **{name: value})
    assert ei.value.field == name


def test_echo_canceller_tail_agrees_with_its_config():
    """The compiled stage used to accept 10 ms, the config 32 ms: both start at 32 now."""
    lo = config.RANGES["echo_canceller"]["tail_ms"][0]
    assert lo == 32.0
    EchoCanceller(16000, tail_ms=lo)
    with pytest.raises(ConfigError):
        EchoCanceller(16000, tail_ms=10.0)


def test_validate_stage_refuses_unknown_settings():
    with pytest.raises(ConfigError) as ei:
        config.validate_stage("echo_canceller", 16000, tail_ms=64.0, bogus=1.0)
    assert ei.value.field == "bogus"
    config.validate_stage("echo_canceller", 16000, tail_ms=64.0)


def test_core_limits_are_exported():
    assert _typedefs.INPUT_CLAMP == 16.0
    assert _typedefs.ERROR_CODES["OK"] == 0
    assert len(set(_typedefs.ERROR_CODES.values())) == len(_typedefs.ERROR_CODES)


class _LyingFloat(float):
    """Comparisons that say "in range" whatever the value."""

    def __le__(self, other: object) -> bool:
        return True

    __ge__ = __le__

    def __lt__(self, other: object) -> bool:
        return False

    __gt__ = __lt__


class _LyingInt(int):
    __le__ = _LyingFloat.__le__
    __ge__ = _LyingFloat.__ge__
    __lt__ = _LyingFloat.__lt__
    __gt__ = _LyingFloat.__gt__


class _RaisingInt(int):
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("__eq__")

    __hash__ = int.__hash__


def test_numbers_are_checked_and_kept_as_plain_numbers():
    """The checks compared the caller's object (its comparisons may lie or raise) and kept
    it: tail_ms=1e9 passed, VoiceProcessor(RaisingInt(16000)) raised RuntimeError."""
    with pytest.raises(ConfigError, match="tail_ms"):
        ca.EchoCancellerConfig(tail_ms=_LyingFloat(1e9))
    with pytest.raises(ConfigError, match="channels"):
        ca.VoiceProcessor(16000, channels=_LyingInt(200))
    with pytest.raises(ConfigError, match="channels"):
        ca.VoiceProcessor(16000, channels=_LyingInt(0))
    with pytest.raises(ConfigError, match="max_gain_db"):
        ca.GainControlConfig(max_gain_db=2**2000)
    hp = ca.HighPassConfig(cutoff_hz=_LyingFloat(100.0), order=_RaisingInt(4))
    assert type(hp.cutoff_hz) is float and type(hp.order) is int and hp.order == 4
    assert type(ca.EchoCancellerConfig(tail_ms=256).tail_ms) is int  # an int stays an int
    assert config.check_sample_rate(_RaisingInt(16000)) == 16000
    assert type(ca.VoiceProcessor(_RaisingInt(16000)).sample_rate) is int
    assert config.check_int("n", _LyingInt(5), 1, 9) == 5
    with pytest.raises(ConfigError, match="n"):
        config.check_int("n", _LyingInt(50), 1, 9)


def test_a_stage_setting_takes_numpys_numbers_and_keeps_a_plain_one() -> None:
    # np.float32(12) and np.int64(12) (a level computed with NumPy) were refused with
    # 'must be a finite number of dB', while rates and channel counts took numpy's ints
    import dataclasses
    import json

    import numpy as np

    from callaudio import NoiseSuppressorConfig, ProcessingConfig

    for value, plain in ((np.float32(12.0), 12.0), (np.int64(12), 12), (np.float64(12.5), 12.5)):
        cfg = NoiseSuppressorConfig(level_db=value)
        assert cfg.level_db == plain and type(cfg.level_db) is type(plain)
    cfg = ProcessingConfig(noise_suppressor=NoiseSuppressorConfig(level_db=np.float32(12.0)))
    assert cfg == ProcessingConfig()  # 12 dB is the default: equal, and JSON-serialisable
    json.dumps(dataclasses.asdict(cfg))
    for bad in (np.float32("nan"), np.bool_(True), np.array(12.0), "12"):
        with pytest.raises(ConfigError, match="level_db"):
            NoiseSuppressorConfig(level_db=bad)


def test_frame_size_takes_the_chains_rates_only() -> None:
    assert [ca.frame_size(r) for r in ca.SAMPLE_RATES] == [80, 160, 320, 441, 480]
    for bad in (22050, "16000", True, 0, -16000, 16000.5):
        with pytest.raises(ConfigError, match="sample_rate"):
            ca.frame_size(bad)  # type: ignore[arg-type]
