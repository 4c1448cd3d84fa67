"""Call-progress tones measured on the generated signal (ITU-T E.180 Supplement 2 plans)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from callaudio.errors import ConfigError
from callaudio.tones import (
    DBM0_FULL_SCALE,
    TONE_PLANS,
    TonePlan,
    ToneSource,
    ToneSpec,
    render_period,
    render_tone,
    tone_plan,
)

RATES = [8000, 16000, 48000]
KINDS = ["ringback", "busy"]
EXPECTED = {
    ("US", "ringback"): ((440.0, 480.0), (2.0, 4.0)),
    ("US", "busy"): ((480.0, 620.0), (0.5, 0.5)),
    ("UK", "ringback"): ((400.0, 450.0), (0.4, 0.2, 0.4, 2.0)),
    ("UK", "busy"): ((400.0,), (0.375, 0.375)),
    ("CEPT", "ringback"): ((425.0,), (1.0, 4.0)),
    ("CEPT", "busy"): ((425.0,), (0.5, 0.5)),
}
CASES = [(p, k, r) for p in TONE_PLANS for k in KINDS for r in RATES]
IDS = [f"{p}-{k}-{r // 1000}k" for p, k, r in CASES]


def spec_of(plan: str, kind: str) -> ToneSpec:
    spec: ToneSpec = getattr(TONE_PLANS[plan], kind)
    return spec


def test_plans_match_e180_supplement_2() -> None:
    for (plan, kind), (freqs, cadence) in EXPECTED.items():
        spec = spec_of(plan, kind)
        assert (spec.frequencies, spec.cadence) == (freqs, cadence)


def _on_runs(x: np.ndarray, rate: int) -> list[tuple[bool, float]]:
    """(on?, seconds) runs from 10 ms block energies."""
    block = rate // 100
    n = len(x) // block
    energy = (x[: n * block].astype(np.float64).reshape(n, block) ** 2).mean(axis=1)
    on = energy > 0.01 * energy.max()
    runs: list[tuple[bool, float]] = []
    for flag in on:
        if runs and runs[-1][0] == flag:
            runs[-1] = (flag, runs[-1][1] + 0.01)
        else:
            runs.append((bool(flag), 0.01))
    return runs


@pytest.mark.parametrize(("plan", "kind", "rate"), CASES, ids=IDS)
def test_cadence_measured_from_the_signal(plan: str, kind: str, rate: int) -> None:
    spec = spec_of(plan, kind)
    x = render_period(spec, rate)
    assert x.dtype == np.float32 and x.shape == (round(spec.period * rate),)
    runs = _on_runs(x, rate)
    assert [flag for flag, _ in runs] == [True, False] * (len(spec.cadence) // 2)
    measured = [seconds for _, seconds in runs]
    np.testing.assert_allclose(measured, spec.cadence, atol=0.0101)


@pytest.mark.parametrize(("plan", "kind", "rate"), CASES, ids=IDS)
def test_frequencies_and_level_measured_in_the_first_burst(plan: str, kind: str, rate: int) -> None:
    spec = spec_of(plan, kind)
    x = render_period(spec, rate).astype(np.float64)
    ramp = round(spec.ramp * rate)
    burst = x[ramp : round(spec.cadence[0] * rate) - ramp]
    # level: each component is a sine of amplitude A, so the burst's RMS is A * sqrt(n / 2)
    amplitude = 10 ** ((spec.level_dbm0 - DBM0_FULL_SCALE) / 20)
    rms = math.sqrt(float(np.mean(burst**2)))
    assert rms == pytest.approx(amplitude * math.sqrt(len(spec.frequencies) / 2), rel=0.01)
    # frequencies: the strongest spectral peaks, within one bin
    padded = len(burst) * 4
    spectrum = np.abs(np.fft.rfft(burst * np.hanning(len(burst)), padded))
    freqs = np.fft.rfftfreq(padded, 1 / rate)
    peaks = [
        i for i in range(1, len(spectrum) - 1) if spectrum[i - 1] < spectrum[i] >= spectrum[i + 1]
    ]
    top = sorted(sorted(peaks, key=lambda i: spectrum[i])[-len(spec.frequencies) :])
    bin_hz = rate / len(burst)
    np.testing.assert_allclose(freqs[top], spec.frequencies, atol=bin_hz)
    # silence between bursts is exact
    off_start = round(spec.cadence[0] * rate)
    off_stop = round((spec.cadence[0] + spec.cadence[1]) * rate)
    assert not x[off_start:off_stop].any()


@pytest.mark.parametrize("rate", RATES)
def test_edges_are_ramped_not_clicked(rate: int) -> None:
    spec = TONE_PLANS["US"].ringback
    x = render_period(spec, rate).astype(np.float64)
    peak = np.abs(x).max()
    stop = round(spec.cadence[0] * rate)
    assert abs(x[0]) < 0.01 * peak and abs(x[stop - 1]) < 0.01 * peak
    ramp = round(spec.ramp * rate)
    # the envelope rises monotonically through the ramp
    env = np.abs(x[: 2 * ramp])
    first_half = env[: ramp // 2].max()
    assert first_half < 0.5 * env[ramp : 2 * ramp].max()


def test_tone_source_loops_phase_continuously() -> None:
    spec = ToneSpec((440.0,))  # continuous: 1 s period, 440 whole cycles
    src = ToneSource(spec, 16000)
    chunks = [src.read(5000) for _ in range(7)]  # 35000 samples: crosses two wraps
    x = np.concatenate(chunks)[:, 0].astype(np.float64)
    np.testing.assert_array_equal(x[:16000], x[16000:32000])
    steps = np.abs(np.diff(x))
    assert steps[15999] <= steps.max() + 1e-6  # the wrap is no bigger a step than any other
    assert src.loop and src.channels == 1 and "440.0" in repr(src)


def test_render_tone_duration_and_start() -> None:
    spec = TONE_PLANS["UK"].ringback
    x = render_tone(spec, 8000, 7.25)
    assert x.shape == (58000,) and x.dtype == np.float32
    period = render_period(spec, 8000)
    np.testing.assert_array_equal(x[:24000], period)
    np.testing.assert_array_equal(x[24000:48000], period)
    assert render_tone(spec, 8000, 0).shape == (0,)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"frequencies": ()}, "frequencies"),
        ({"frequencies": (-440.0,)}, "frequencies"),
        ({"frequencies": (440.0,), "cadence": (1.0,)}, "cadence"),
        ({"frequencies": (440.0,), "cadence": (1.0, 0.0)}, "cadence"),
        ({"frequencies": (440.0,), "level_dbm0": 3.0}, "level_dbm0"),
        ({"frequencies": (440.0,), "cadence": (0.004, 1.0)}, "ramp"),
        # wrong types: raw TypeError/ValueError before
        ({"frequencies": "440"}, "frequencies"),
        ({"frequencies": (None,)}, "frequencies"),
        ({"frequencies": np.array([440.0, 480.0])}, "frequencies"),
        ({"frequencies": (440.0,), "cadence": "12"}, "cadence"),
        ({"frequencies": (440.0,), "level_dbm0": "x"}, "level_dbm0"),
        ({"frequencies": (440.0,), "ramp": None}, "ramp"),
        # a period is rendered whole: (1e6, 1) asked for 358 GiB
        ({"frequencies": (440.0,), "cadence": (1e6, 1.0)}, "cadence"),
        ({"frequencies": (440.0,), "cadence": (0.5,) * 200}, "cadence"),
        ({"frequencies": tuple(range(100, 2000, 10))}, "frequencies"),
    ],
)
def test_bad_specs(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        ToneSpec(**kwargs)  # type: ignore[arg-type]


def test_rate_must_carry_the_frequencies() -> None:
    with pytest.raises(ConfigError, match="Nyquist"):
        render_period(ToneSpec((5000.0,)), 8000)
    with pytest.raises(ConfigError, match="sample_rate"):
        render_period(ToneSpec((500.0,)), 0)
    with pytest.raises(ConfigError, match="duration"):
        render_tone(ToneSpec((500.0,)), 8000, -1)


def test_plan_lookup() -> None:
    assert tone_plan("uk") is TONE_PLANS["UK"]
    custom = TonePlan("JP", ToneSpec((400.0,), (1.0, 2.0)), ToneSpec((400.0,), (0.5, 0.5)))
    assert tone_plan(custom) is custom
    with pytest.raises(ConfigError, match="known: US, UK, CEPT"):
        tone_plan("Mars")


def test_plans_take_specs_only() -> None:
    spec = ToneSpec([440, 480], [2, 4])  # a list of ints is taken, as floats
    assert spec == ToneSpec((440.0, 480.0), (2.0, 4.0))
    with pytest.raises(ConfigError, match="ringback"):
        TonePlan("x", ringback="no", busy=spec)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="busy"):
        TonePlan("x", spec, None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="name"):
        TonePlan(None, spec, spec)  # type: ignore[arg-type]


class _RaisingFloat(float):
    def __float__(self) -> float:
        raise RuntimeError("no float")


class _RaisingStr(str):
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def upper(self) -> str:
        raise RuntimeError("no upper")


@pytest.mark.parametrize(
    "duration", [None, "1", 1j, np.zeros(2), 10**400, 1e308, -1.0, math.nan, _RaisingFloat(1.0)]
)
def test_render_tone_refuses_a_duration_it_cannot_render(duration: object) -> None:
    """None/'1'/an array: TypeError; 10**400 and 1e308: OverflowError (before)."""
    spec = TONE_PLANS["US"].ringback
    with pytest.raises(ConfigError, match="duration"):
        render_tone(spec, 8000, duration)  # type: ignore[arg-type]


def test_render_tone_refuses_a_rate_beyond_any_sound_card() -> None:
    with pytest.raises(ConfigError, match="sample_rate"):  # OverflowError before
        render_tone(TONE_PLANS["US"].ringback, 10**400, 1.0)


def test_a_period_shorter_than_a_sample_is_refused_where_it_is_rendered() -> None:
    """A 20 us cadence rounds to no sample: render_tone returned 0 samples for 1 s and a
    ToneSource failed with 'samples: a looping source needs at least one frame'."""
    spec = ToneSpec((440.0,), (1e-5, 1e-5), ramp=0.0)
    with pytest.raises(ConfigError, match="cadence"):
        render_tone(spec, 8000, 1.0)
    with pytest.raises(ConfigError, match="cadence"):
        ToneSource(spec, 8000)


def test_a_tone_plan_name_is_read_as_a_plain_str() -> None:
    assert tone_plan(_RaisingStr("uk")) is TONE_PLANS["UK"]  # RuntimeError before
    with pytest.raises(ConfigError, match="plan"):
        tone_plan(5)  # type: ignore[arg-type]
