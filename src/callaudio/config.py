"""Configuration of the voice-processing chain: one config per stage under ProcessingConfig.

Mirrors WebRTC's ``AudioProcessing::Config``: every stage has ``enabled`` and its tuning
fields; every config validates itself on construction and names the wrong field
(:class:`~callaudio.errors.ConfigError`). Configs are frozen dataclasses, so a processor's
configuration cannot change behind its back; build a new one with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import math
import numbers
import operator
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ._dsp._typedefs import NATIVE_RATES as _NATIVE_RATES
from ._dsp._typedefs import RESAMPLED_RATES as _RESAMPLED_RATES
from ._dsp._typedefs import SAMPLE_RATES as _CORE_RATES
from .errors import ConfigError

SAMPLE_RATES: tuple[int, ...] = tuple(_CORE_RATES)
"""Sample rates the processing chain takes (Hz); written once, in csrc's ``_typedefs.pxd``.

8, 16, 32 and 48 kHz run natively; 44.1 kHz is resampled to 48 kHz inside the chain
(see :class:`callaudio.VoiceProcessor`)."""

NATIVE_RATES: tuple[int, ...] = tuple(_NATIVE_RATES)
"""Sample rates the compiled stages themselves run at (a stage built alone takes these)."""

RESAMPLED_RATES: dict[int, int] = dict(_RESAMPLED_RATES)
"""Chain rate -> the native rate its stages run at, for the rates the chain resamples."""

RANGES: dict[str, dict[str, tuple[float, float, str]]] = {
    "high_pass": {"cutoff_hz": (20.0, 500.0, "Hz")},
    "echo_canceller": {
        "tail_ms": (32.0, 512.0, "ms"),
        "max_delay_ms": (0.0, 2000.0, "ms"),
        "suppression": (0.0, 4.0, ""),
        "max_attenuation_db": (0.0, 120.0, "dB"),
    },
    "noise_suppressor": {"level_db": (0.0, 30.0, "dB")},
    "gain_control": {
        "target_level_dbfs": (-40.0, -3.0, "dBFS"),
        "max_gain_db": (0.0, 50.0, "dB"),
        "min_gain_db": (-50.0, 0.0, "dB"),
        "max_gain_change_db_per_s": (1.0, 100.0, "dB/s"),
        "noise_ceiling_dbfs": (-90.0, -20.0, "dBFS"),
        "idle_gain_decay_db_per_s": (0.0, 20.0, "dB/s"),
        "limiter_threshold_dbfs": (-20.0, -0.1, "dBFS"),
    },
}
"""Every stage's numeric settings: stage -> field -> (low, high, unit), inclusive.

The one place the ranges are written: the configs below validate against it, and the
compiled stages' constructors validate through :func:`validate_stage`."""

CHOICES: dict[str, dict[str, tuple[int, ...]]] = {
    "high_pass": {"order": (2, 4)},
    "noise_suppressor": {"hops_per_frame": (1, 2, 4)},
}
"""Every stage's discrete settings: stage -> field -> the allowed values."""


def frame_size(sample_rate: int) -> int:
    """Samples in one 10 ms frame at ``sample_rate`` (``sample_rate // 100``), a rate of
    :data:`SAMPLE_RATES`; else ConfigError (22050 gave 220, '16000' 160 and True 0)."""
    return check_sample_rate(sample_rate) // 100


def _plain(value: object) -> int | float | None:
    """``value`` as a plain ``int`` (an integer of any kind: int, numpy's) or ``float``
    (another real number), or None when it is no number (a bool, a str) or converting it
    raises. Checks compare the plain number, never the caller's object (a subclass may
    lie in its comparisons or raise from them) and keep it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        if isinstance(value, numbers.Integral):
            return operator.index(value)  # an exact int
        return float(value)
    except Exception:  # a __float__/__index__ that raises; an overflow
        return None


def check_sample_rate(
    sample_rate: object, field: str = "sample_rate", *, native: bool = False
) -> int:
    """Return ``sample_rate`` as an int, or raise ConfigError (naming ``field``) if the
    chain does not take it (``native=True``: if the stages do not run at it). The one
    rate check of the package."""
    rates = NATIVE_RATES if native else SAMPLE_RATES
    plain = _plain(sample_rate)  # int, float, numpy's integers
    if plain is None or plain not in rates:
        raise ConfigError(field, f"must be one of {rates} Hz, got {sample_rate!r}")
    return rates[rates.index(plain)]  # the int itself


def check_flag(name: str, value: object) -> bool:
    """``value`` if it is a bool (numpy's too); else ConfigError naming ``name`` (a string
    such as ``"no"`` is truthy, an array has no truth value)."""
    dtype = getattr(value, "dtype", None)
    if isinstance(value, bool) or (
        getattr(value, "shape", None) == () and dtype is not None and dtype.kind == "b"
    ):
        return bool(value)
    raise ConfigError(name, f"must be True or False, got {value!r}")


def check_int(name: str, value: object, lo: int, hi: int) -> int:
    """``value`` as a plain int if it is an int (not a bool) in ``lo..hi``; else
    ConfigError naming ``name``."""
    plain = _plain(value) if isinstance(value, int) else None
    if not isinstance(plain, int) or not lo <= plain <= hi:
        raise ConfigError(name, f"must be an int in {lo}..{hi}, got {value!r}")
    return plain


def _check_range(name: str, value: object, lo: float, hi: float, unit: str) -> int | float:
    plain = _plain(value)  # numpy's numbers too (np.float32(12) read 'must be a finite number')
    try:
        finite = plain is not None and math.isfinite(plain)
    except OverflowError:  # an int beyond float range
        finite = False
    if plain is None or not finite:
        raise ConfigError(name, f"must be a finite number of {unit}, got {value!r}")
    if not lo <= plain <= hi:
        raise ConfigError(name, f"must be within [{lo}, {hi}] {unit}, got {value!r}")
    return plain


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(name, f"must be True or False, got {value!r}")
    return value


def _check_choice(name: str, value: object, allowed: tuple[int, ...]) -> int:
    is_bool = isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", "") == "b"
    plain = None if is_bool else _plain(value)
    if plain is None or plain not in allowed:
        listed = ", ".join(map(str, allowed[:-1])) + f" or {allowed[-1]}"
        raise ConfigError(name, f"must be {listed}, got {value!r}")
    return allowed[allowed.index(plain)]  # the int itself


def _validate(stage: str, config: Any, prefix: str) -> None:
    """Check every field of a stage config against RANGES/CHOICES; bools are bools. The
    checked values are kept as plain numbers (never the caller's subclass)."""
    ranges, choices = RANGES.get(stage, {}), CHOICES.get(stage, {})
    for f in fields(config):
        value = getattr(config, f.name)
        if f.name in ranges:
            value = _check_range(prefix + f.name, value, *ranges[f.name])
        elif f.name in choices:
            value = _check_choice(prefix + f.name, value, choices[f.name])
        else:
            value = _check_bool(prefix + f.name, value)
        object.__setattr__(config, f.name, value)


def validate_stage(stage: str, sample_rate: object, **settings: Any) -> None:
    """Validate a compiled stage's constructor arguments (the stages call this).

    ``stage`` is a ProcessingConfig field name (``"echo_canceller"``, ...); ``settings``
    are the stage's keywords. Raises ConfigError naming the bare keyword (``"tail_ms"``).
    """
    check_sample_rate(sample_rate, native=True)
    cls = _STAGE_CLASSES[stage]
    unknown = set(settings) - {f.name for f in fields(cls)}
    if unknown:
        raise ConfigError(sorted(unknown)[0], f"is not a setting of {stage}")
    config = cls.__new__(cls)
    for f in fields(cls):
        object.__setattr__(config, f.name, settings.get(f.name, f.default))
    _validate(stage, config, "")


class _StageConfig:
    """Shared helpers: the stage's constructor keywords are its fields less ``enabled``."""

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the compiled stage's constructor."""
        d = asdict(self)  # type: ignore[call-overload]
        d.pop("enabled", None)
        return dict(d)


@dataclass(frozen=True)
class HighPassConfig(_StageConfig):
    """High-pass filter: Butterworth, removes DC and low rumble before the echo canceller.

    Attributes
    ----------
    enabled : bool
    cutoff_hz : float
        -3 dB corner frequency in Hz, 20..500.
    order : int
        Filter order, 2 or 4 (12 or 24 dB/octave).
    """

    enabled: bool = True
    cutoff_hz: float = 80.0
    order: int = 2

    def __post_init__(self) -> None:
        _validate("high_pass", self, "high_pass.")


@dataclass(frozen=True)
class EchoCancellerConfig(_StageConfig):
    """Acoustic echo canceller (delay estimator, adaptive filter, residual-echo suppressor).

    Attributes
    ----------
    enabled : bool
    tail_ms : float
        Length of the adaptive filter after bulk-delay alignment, in ms (32..512).
    max_delay_ms : float
        Largest bulk delay the delay estimator searches, in ms (0..2000).
    suppression : float
        Over-estimation factor of the residual echo in the suppressor (0..4); 0 runs the
        adaptive filter alone, higher values remove more residual echo at some cost to
        the near-end talker in double talk.
    max_attenuation_db : float
        Largest attenuation the suppressor applies to one frequency bin, in dB (0..120).
    comfort_noise : bool
        Fill suppressed bins with noise shaped like the background, so the output does
        not gate to silence.
    """

    enabled: bool = True
    tail_ms: float = 128.0
    max_delay_ms: float = 1000.0
    suppression: float = 1.0
    max_attenuation_db: float = 50.0
    comfort_noise: bool = True

    def __post_init__(self) -> None:
        _validate("echo_canceller", self, "echo_canceller.")


@dataclass(frozen=True)
class NoiseSuppressorConfig(_StageConfig):
    """Noise suppressor (STFT gain over a tracked noise PSD).

    Attributes
    ----------
    enabled : bool
    level_db : float
        Maximum noise attenuation in dB (WebRTC's levels are 6, 12, 18 and 21), 0..30;
        in the pauses of a babble (confident speech absence) the stage goes to 5/3 of it
        (20 dB at 12).
    hops_per_frame : int
        STFT hops per 10 ms frame when the noise suppressor runs without the echo
        canceller: 1, 2 or 4 (more hops cost proportionally more CPU); its low-delay
        windows add 2.5 ms at any setting. With the echo canceller it shares the
        canceller's synthesis at two 5 ms hops whatever this says (the whole chain stays
        within 5 ms).
    """

    enabled: bool = True
    level_db: float = 12.0
    hops_per_frame: int = 2

    def __post_init__(self) -> None:
        _validate("noise_suppressor", self, "noise_suppressor.")


@dataclass(frozen=True)
class GainControlConfig(_StageConfig):
    """Automatic gain control: VAD-gated speech level, slew-limited gain, limiter.

    Attributes
    ----------
    enabled : bool
    target_level_dbfs : float
        Speech level the output is steered to, in dBFS (-40..-3).
    max_gain_db : float
        Largest gain applied, in dB (0..50); caps how far quiet input and idle noise rise.
    min_gain_db : float
        Smallest gain (largest attenuation), in dB (-50..0).
    max_gain_change_db_per_s : float
        Slew limit of the gain in dB per second (1..100).
    noise_ceiling_dbfs : float
        The gain is capped so the tracked noise floor is not lifted above this level, in
        dBFS (-90..-20): idle noise is not pumped up.
    idle_gain_decay_db_per_s : float
        In non-speech the gain is frozen, then decays towards 0 dB at this rate, in dB/s
        (0..20).
    limiter_threshold_dbfs : float
        No output sample exceeds this peak level, in dBFS (-20..-0.1).
    """

    enabled: bool = True
    target_level_dbfs: float = -18.0
    max_gain_db: float = 40.0
    min_gain_db: float = -20.0
    max_gain_change_db_per_s: float = 30.0
    noise_ceiling_dbfs: float = -50.0
    idle_gain_decay_db_per_s: float = 6.0
    limiter_threshold_dbfs: float = -1.0

    def __post_init__(self) -> None:
        _validate("gain_control", self, "gain_control.")


@dataclass(frozen=True)
class ProcessingConfig:
    """The whole capture chain: high-pass -> echo canceller -> noise suppressor -> gain control.

    Each field is a stage config with its own ``enabled`` flag. The default enables every
    stage this build provides.
    """

    high_pass: HighPassConfig = field(default_factory=HighPassConfig)
    echo_canceller: EchoCancellerConfig = field(default_factory=EchoCancellerConfig)
    noise_suppressor: NoiseSuppressorConfig = field(default_factory=NoiseSuppressorConfig)
    gain_control: GainControlConfig = field(default_factory=GainControlConfig)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            want = _STAGE_CLASSES[f.name]
            if not isinstance(value, want):
                raise ConfigError(f.name, f"must be a {want.__name__}, got {value!r}")

    @classmethod
    def bypass(cls) -> ProcessingConfig:
        """Every stage off: the output equals the input (MEASUREMENT mode)."""
        return cls(
            high_pass=HighPassConfig(enabled=False),
            echo_canceller=EchoCancellerConfig(enabled=False),
            noise_suppressor=NoiseSuppressorConfig(enabled=False),
            gain_control=GainControlConfig(enabled=False),
        )


_STAGE_CLASSES: dict[str, Any] = {
    "high_pass": HighPassConfig,
    "echo_canceller": EchoCancellerConfig,
    "noise_suppressor": NoiseSuppressorConfig,
    "gain_control": GainControlConfig,
}
