"""Property-based fuzzing of the VoiceProcessor API, process_arrays and the configs.

Contract under test (callaudio.processing's module docstring): every call either returns a
finite frame of the input's shape and dtype or raises FrameError / ConfigError; a refused
frame leaves the processor unchanged, so a processor that saw any mix of bad calls produces
bit-identical output to a twin that saw only the accepted ones.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given

import callaudio as ca
from callaudio.config import (
    SAMPLE_RATES,
    EchoCancellerConfig,
    GainControlConfig,
    HighPassConfig,
    NoiseSuppressorConfig,
    ProcessingConfig,
)

from ._strategies import (
    JUNK,
    OTHER_DTYPES,
    VALID_DTYPES,
    FrameCase,
    frame_cases,
    near,
    out_buffers,
)
from ._support import fuzz_settings

RATES = st.sampled_from(SAMPLE_RATES)


@st.composite
def processing_configs(draw: st.DrawFn) -> ProcessingConfig:
    """Valid configurations: every stage on or off, every field anywhere in its range."""
    hp = HighPassConfig(
        enabled=draw(st.booleans()),
        cutoff_hz=draw(st.floats(20.0, 500.0)),
        order=draw(st.sampled_from([2, 4])),
    )
    extra: dict[str, Any] = {}
    fields = EchoCancellerConfig.__dataclass_fields__
    if "suppression" in fields:
        extra["suppression"] = draw(st.floats(0.0, 4.0))
    if "max_attenuation_db" in fields:
        extra["max_attenuation_db"] = draw(st.floats(0.0, 120.0))
    if "comfort_noise" in fields:
        extra["comfort_noise"] = draw(st.booleans())
    aec = EchoCancellerConfig(
        enabled=draw(st.booleans()),
        tail_ms=draw(st.floats(32.0, 512.0)),
        max_delay_ms=draw(st.floats(0.0, 2000.0)),
        **extra,
    )
    ns = NoiseSuppressorConfig(enabled=draw(st.booleans()), level_db=draw(st.floats(0.0, 30.0)))
    gc = GainControlConfig(
        enabled=draw(st.booleans()),
        target_level_dbfs=draw(st.floats(-40.0, -3.0)),
        max_gain_db=draw(st.floats(0.0, 50.0)),
        min_gain_db=draw(st.floats(-50.0, 0.0)),
        max_gain_change_db_per_s=draw(st.floats(1.0, 100.0)),
        noise_ceiling_dbfs=draw(st.floats(-90.0, -20.0)),
        idle_gain_decay_db_per_s=draw(st.floats(0.0, 20.0)),
        limiter_threshold_dbfs=draw(st.floats(-20.0, -0.1)),
    )
    return ProcessingConfig(high_pass=hp, echo_canceller=aec, noise_suppressor=ns, gain_control=gc)


def _peak_bound(cfg: ProcessingConfig) -> float:
    """Largest |sample| a float32 output may hold: the limiter's ceiling, or the input clamp."""
    if cfg.gain_control.enabled:
        return 10.0 ** (cfg.gain_control.limiter_threshold_dbfs / 20.0) * (1 + 1e-6)
    return math.inf


@st.composite
def call_sequences(draw: st.DrawFn, max_steps: int = 14) -> dict[str, Any]:
    rate = draw(RATES)
    channels = draw(st.sampled_from([1, 1, 1, 2, 3]))
    cfg = draw(processing_configs())
    n = rate // 100
    steps = []
    for _ in range(draw(st.integers(1, max_steps))):
        if draw(st.booleans()):
            steps.append(("render", draw(frame_cases(n, 0)), None, True))
        else:
            case = draw(frame_cases(n, channels))
            out, out_ok = draw(out_buffers(case.array))
            steps.append(("capture", case, out, out_ok))
    return {"rate": rate, "channels": channels, "config": cfg, "steps": steps}


@fuzz_settings(200)
@given(call_sequences())
def test_calls_either_succeed_finite_or_raise_frameerror_and_change_nothing(
    seq: dict[str, Any],
) -> None:
    rate, channels, cfg = seq["rate"], seq["channels"], seq["config"]
    vp = ca.VoiceProcessor(rate, channels=channels, config=cfg)
    twin = ca.VoiceProcessor(rate, channels=channels, config=cfg)  # sees only accepted calls
    bound = _peak_bound(cfg)
    for kind, case, out, out_ok in seq["steps"]:
        assert isinstance(case, FrameCase)
        x = case.array
        if kind == "render":
            if case.valid:
                vp.process_render(x)
                twin.process_render(np.array(x))
            else:
                with pytest.raises(ca.FrameError):
                    vp.process_render(x)
            continue
        accepted = case.valid and out_ok
        if not accepted:
            with pytest.raises(ca.FrameError):
                vp.process_capture(x, out=out)
            continue
        clean = np.array(x)  # the twin gets a contiguous copy
        y = vp.process_capture(x, out=out)
        ref = twin.process_capture(clean)
        if out is not None:
            assert y is out
        assert y.shape == x.shape and y.dtype == x.dtype, case.note
        assert np.all(np.isfinite(y)), case.note
        if y.dtype == np.float32:
            assert float(np.max(np.abs(y), initial=0.0)) <= bound, case.note
        np.testing.assert_array_equal(y, ref, err_msg=case.note)
    st_a, st_b = vp.stats, twin.stats
    assert st_a == st_b
    assert st_a.capture_frames == sum(
        1 for k, c, _, ok in seq["steps"] if k == "capture" and c.valid and ok
    )


@fuzz_settings(150)
@given(
    rate=st.one_of(RATES, near(15999, 48001), JUNK, st.sampled_from([16000.0, 8000, 44100])),
    channels=st.one_of(st.integers(-3, 40), JUNK),
    config=st.one_of(st.none(), processing_configs(), JUNK),
)
def test_constructor_accepts_exactly_the_documented_arguments(
    rate: Any, channels: Any, config: Any
) -> None:
    rate_ok = isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate in SAMPLE_RATES
    channels_ok = (
        isinstance(channels, int) and not isinstance(channels, bool) and 1 <= channels <= 32
    )
    config_ok = config is None or isinstance(config, ProcessingConfig)
    if rate_ok and channels_ok and config_ok:
        vp = ca.VoiceProcessor(rate, channels=channels, config=config)
        assert vp.sample_rate == int(rate) and vp.channels == channels
        assert vp.frame_size == int(rate) // 100
        shape = (vp.frame_size,) if channels == 1 else (vp.frame_size, channels)
        y = vp.process_capture(np.zeros(shape, dtype=np.float32))
        assert y.shape == shape and np.all(np.isfinite(y))
    else:
        with pytest.raises(ca.ConfigError):
            ca.VoiceProcessor(rate, channels=channels, config=config)


# (config class, field, documented lower bound, upper bound); None bounds: bool/choice fields
_FIELDS: list[tuple[type, str, float | None, float | None]] = [
    (HighPassConfig, "enabled", None, None),
    (HighPassConfig, "cutoff_hz", 20.0, 500.0),
    (HighPassConfig, "order", None, None),
    (EchoCancellerConfig, "enabled", None, None),
    (EchoCancellerConfig, "tail_ms", 32.0, 512.0),
    (EchoCancellerConfig, "max_delay_ms", 0.0, 2000.0),
    *[
        (EchoCancellerConfig, name, lo, hi)
        for name, lo, hi in (("suppression", 0.0, 4.0), ("max_attenuation_db", 0.0, 120.0))
        if name in EchoCancellerConfig.__dataclass_fields__
    ],
    *[
        (EchoCancellerConfig, "comfort_noise", None, None)
        for _ in range(1)
        if "comfort_noise" in EchoCancellerConfig.__dataclass_fields__
    ],
    (NoiseSuppressorConfig, "enabled", None, None),
    (NoiseSuppressorConfig, "level_db", 0.0, 30.0),
    (GainControlConfig, "enabled", None, None),
    (GainControlConfig, "target_level_dbfs", -40.0, -3.0),
    (GainControlConfig, "max_gain_db", 0.0, 50.0),
    (GainControlConfig, "min_gain_db", -50.0, 0.0),
    (GainControlConfig, "max_gain_change_db_per_s", 1.0, 100.0),
    (GainControlConfig, "noise_ceiling_dbfs", -90.0, -20.0),
    (GainControlConfig, "idle_gain_decay_db_per_s", 0.0, 20.0),
    (GainControlConfig, "limiter_threshold_dbfs", -20.0, -0.1),
]


@st.composite
def field_values(draw: st.DrawFn) -> tuple[type, str, Any, float | None, float | None]:
    cls, name, lo, hi = draw(st.sampled_from(_FIELDS))
    if lo is None:
        value = draw(st.one_of(JUNK, st.sampled_from([True, False, 2, 4, 3, 0])))
    else:
        assert hi is not None
        value = draw(st.one_of(near(lo, hi), JUNK))
    return cls, name, value, lo, hi


def _documented_ok(name: str, value: Any, lo: float | None, hi: float | None) -> bool:
    if name in ("enabled", "comfort_noise"):
        return isinstance(value, bool)
    if name == "order":
        return not isinstance(value, bool) and value in (2, 4)
    assert lo is not None and hi is not None
    return (  # a real number of any kind (NumPy's too: np.float32(12) is 12 dB), not a bool
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and lo <= value <= hi
    )


@fuzz_settings(300)
@given(field_values(), RATES)
def test_every_config_field_validates_and_valid_configs_build(
    fv: tuple[type, str, Any, float | None, float | None], rate: int
) -> None:
    cls, name, value, lo, hi = fv
    if not _documented_ok(name, value, lo, hi):
        with pytest.raises(ca.ConfigError) as info:
            cls(**{name: value})
        assert name in info.value.field
        return
    cfg = cls(**{name: value})
    assert getattr(cfg, name) == value
    key = {
        HighPassConfig: "high_pass",
        EchoCancellerConfig: "echo_canceller",
        NoiseSuppressorConfig: "noise_suppressor",
        GainControlConfig: "gain_control",
    }[cls]
    pc = ProcessingConfig(**{key: cfg})
    vp = ca.VoiceProcessor(rate, config=pc)
    y = vp.process_capture(np.full(vp.frame_size, 0.5, dtype=np.float32))
    assert np.all(np.isfinite(y))


@fuzz_settings(100)
@given(
    st.one_of(JUNK, st.builds(HighPassConfig)),
    st.sampled_from(["high_pass", "echo_canceller", "noise_suppressor", "gain_control"]),
)
def test_processing_config_refuses_non_stage_values(value: Any, key: str) -> None:
    if type(value) is type(getattr(ProcessingConfig(), key)):  # its own stage class
        ProcessingConfig(**{key: value})
    else:
        with pytest.raises(ca.ConfigError):
            ProcessingConfig(**{key: value})


# -- process_arrays ---------------------------------------------------------------------

NUMERIC = tuple(d for d in OTHER_DTYPES if d.kind in "iuf") + VALID_DTYPES


@st.composite
def signals(draw: st.DrawFn, *, max_frames: int = 5, allow_none: bool = False) -> Any:
    if allow_none and draw(st.booleans()):
        return None
    dtype = draw(st.sampled_from(VALID_DTYPES + OTHER_DTYPES))
    n = draw(st.integers(0, max_frames * 480 + 7))
    ndim = draw(st.sampled_from([1, 1, 2, 0, 3]))
    shape = {0: (), 1: (n,), 2: (n, draw(st.integers(1, 3))), 3: (n, 1, 1)}[ndim]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([0.0, 1e-6, 0.1, 1.0, 1e6, 1e300]))
    with np.errstate(over="ignore", invalid="ignore"):
        v = rng.standard_normal(shape) * scale
        if dtype.kind == "f" and v.size and draw(st.booleans()):
            v.reshape(-1)[draw(st.integers(0, v.size - 1))] = draw(
                st.sampled_from([math.nan, math.inf, -math.inf])
            )
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            return np.clip(np.nan_to_num(v), info.min, info.max).astype(dtype)
        if dtype.kind == "O":
            return np.array(v, dtype=object)
        return v.astype(dtype)


def _numeric_signal(a: Any) -> bool:
    return (
        isinstance(a, np.ndarray)
        and a.dtype.kind in "iuf"
        and a.dtype.kind != "b"
        and a.ndim in (1, 2)
        and (a.ndim == 1 or 1 <= a.shape[1] <= 32)
    )


@fuzz_settings(120)
@given(mic=signals(), far=signals(allow_none=True), rate=RATES)
def test_process_arrays_returns_finite_or_raises_documented(mic: Any, far: Any, rate: int) -> None:
    ok = _numeric_signal(mic) and (far is None or _numeric_signal(far))
    if not ok:
        with pytest.raises(ca.CallAudioError):
            ca.process_arrays(mic, far, sample_rate=rate)
        return
    with np.errstate(over="ignore"):
        y = ca.process_arrays(mic, far, sample_rate=rate)
    assert y.shape == mic.shape
    # int16 in either byte order comes back as native int16 (issue 13)
    is_int16 = mic.dtype.kind == "i" and mic.dtype.itemsize == 2
    assert y.dtype == (np.int16 if is_int16 else np.float32)
    assert np.all(np.isfinite(y))


def test_process_arrays_matches_frame_by_frame_processing_with_hostile_values() -> None:
    """Offline and streaming paths agree even when the signals hold NaN/Inf/huge values."""
    rng = np.random.default_rng(8)
    n = 480 * 40
    mic = (0.05 * rng.standard_normal(n)).astype(np.float32)
    far = (0.1 * rng.standard_normal(n)).astype(np.float32)
    mic[[100, 5000, 5001]] = [np.nan, np.inf, -3e38]
    far[[7000, 9000]] = [np.nan, 1e30]
    from ._support import full_config, run_frames

    cfg = full_config()
    y_off = ca.process_arrays(mic, far, sample_rate=48000, config=cfg)
    y_rt = run_frames(ca.VoiceProcessor(48000, config=cfg), mic, far)
    np.testing.assert_array_equal(y_off, y_rt)
    assert np.all(np.isfinite(y_off))
