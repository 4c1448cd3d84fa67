"""Call-progress tones: ringback (progress) and busy, with the regional tone plans.

Reference: ITU-T Recommendation E.180 (03/1998), "Technical characteristics of tones for
the telephone service", and its Supplement 2, "Various tones used in national networks"
(the national tables of frequencies and cadences). The plans here:

======  =======================  ==========================  ============================
plan    ringback (progress)      busy                        source
======  =======================  ==========================  ============================
US      440+480 Hz, 2.0 on       480+620 Hz, 0.5 on 0.5 off  E.180 Suppl. 2 (United
        4.0 off                                              States; ANSI T1.401)
UK      400+450 Hz, 0.4 on 0.2   400 Hz, 0.375 on 0.375 off  E.180 Suppl. 2 (United
        off 0.4 on 2.0 off                                   Kingdom; BT SIN 350)
CEPT    425 Hz, 1.0 on 4.0 off   425 Hz, 0.5 on 0.5 off      E.180 Suppl. 2 (most of
                                                             Europe); CEPT T/CS 20-15,
                                                             ETSI TR 101 041
======  =======================  ==========================  ============================

Units: frequencies in Hz; cadences in seconds, alternating on and off, starting with on;
levels in dBm0 per frequency component. E.180 leaves levels to national practice
(-10 to -24 dBm0 are typical); the default here is -19 dBm0 per component, the US value.
dBm0 becomes digital full scale through G.711's digital milliwatt: a full-scale sine is
+3.14 dBm0, so ``level_dbfs = level_dbm0 - 3.14``.

Each tone is rendered once per sample rate, one whole cadence period, as float32, with
5 ms raised-cosine ramps at every on/off edge (no clicks); a :class:`ToneSource` loops that
period. The period of every plan above holds a whole number of cycles of each frequency,
so the loop is phase-continuous; for other specs the wrap falls in the final "off" segment.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from .audio.base import ArraySource
from .errors import ConfigError, ConfigTypeError

__all__ = [
    "DBM0_FULL_SCALE",
    "TONE_PLANS",
    "TonePlan",
    "ToneSource",
    "ToneSpec",
    "render_period",
    "render_tone",
    "tone_plan",
]

#: A full-scale sine in G.711 is +3.14 dBm0 (the digital milliwatt, ITU-T G.711).
DBM0_FULL_SCALE = 3.14
#: Bounds of a :class:`ToneSpec`: frequencies summed, cadence segments, seconds per period.
MAX_COMPONENTS, MAX_SEGMENTS, MAX_PERIOD = 16, 64, 60.0
#: The longest tone :func:`render_tone` renders at once, in seconds (an hour).
MAX_DURATION = 3600.0
#: The highest sample rate a tone is rendered at, in Hz.
MAX_RATE = 768000


def _numbers(name: str, values: object, most: int) -> tuple[float, ...]:
    """``values`` (a tuple or list of real numbers, at most ``most``) as floats; else
    ConfigTypeError naming ``name``."""
    wrong = ConfigTypeError(name, f"must be a tuple of at most {most} numbers, got {values!r}")
    if not isinstance(values, (tuple, list)) or len(values) > most:
        raise wrong
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise wrong
        try:
            out.append(float(v))
        except Exception:  # a Real whose __float__ raises or overflows
            raise wrong from None
    return tuple(out)


@dataclass(frozen=True)
class ToneSpec:
    """One tone: its frequencies, cadence and level.

    Attributes
    ----------
    frequencies : tuple of float
        Hz; the components are summed (a dual tone for 440+480).
    cadence : tuple of float
        Seconds, alternating on/off and starting with on, of even length; an empty
        cadence is a continuous tone.
    level_dbm0 : float
        Level of each component in dBm0.
    ramp : float
        Seconds of raised-cosine fade at each edge.
    """

    frequencies: tuple[float, ...]
    cadence: tuple[float, ...] = ()
    level_dbm0: float = -19.0
    ramp: float = 0.005

    def __post_init__(self) -> None:
        freqs = _numbers("frequencies", self.frequencies, MAX_COMPONENTS)
        cadence = _numbers("cadence", self.cadence, MAX_SEGMENTS)
        level = _numbers("level_dbm0", (self.level_dbm0,), 1)[0]
        ramp = _numbers("ramp", (self.ramp,), 1)[0]
        if not freqs or any(not math.isfinite(f) or f <= 0 for f in freqs):
            raise ConfigError("frequencies", f"need one or more positive Hz, got {freqs}")
        if len(cadence) % 2 or any(not math.isfinite(x) or x <= 0 for x in cadence):
            raise ConfigError("cadence", f"need on/off pairs of positive seconds, got {cadence}")
        if sum(cadence) > MAX_PERIOD:  # one period is rendered whole
            raise ConfigError("cadence", f"a period is at most {MAX_PERIOD:g} s, got {cadence}")
        if not math.isfinite(level) or level > 0:
            raise ConfigError("level_dbm0", f"must be <= 0 dBm0, got {level}")
        shortest_on = min(cadence[::2], default=math.inf)
        if not (0 <= ramp <= shortest_on / 2):
            raise ConfigError("ramp", f"must be in [0, shortest on / 2], got {ramp}")
        for name, value in (
            ("frequencies", freqs),
            ("cadence", cadence),
            ("level_dbm0", level),
            ("ramp", ramp),
        ):
            object.__setattr__(self, name, value)

    @property
    def period(self) -> float:
        """Seconds of one cadence cycle (1 s for a continuous tone)."""
        return sum(self.cadence) if self.cadence else 1.0

    @property
    def amplitude(self) -> float:
        """Peak amplitude of each component, as a fraction of full scale."""
        return float(10.0 ** ((self.level_dbm0 - DBM0_FULL_SCALE) / 20.0))


@dataclass(frozen=True)
class TonePlan:
    """A region's call-progress tones."""

    name: str
    ringback: ToneSpec
    busy: ToneSpec

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise ConfigTypeError("name", f"must be a str, got {self.name!r}")
        for field in ("ringback", "busy"):
            if not isinstance(getattr(self, field), ToneSpec):
                raise ConfigTypeError(field, f"must be a ToneSpec, got {getattr(self, field)!r}")


#: The regional plans (ITU-T E.180 Supplement 2), by name.
TONE_PLANS: Mapping[str, TonePlan] = MappingProxyType(
    {
        "US": TonePlan(
            "US",
            ringback=ToneSpec((440.0, 480.0), (2.0, 4.0)),
            busy=ToneSpec((480.0, 620.0), (0.5, 0.5), level_dbm0=-24.0),
        ),
        "UK": TonePlan(
            "UK",
            ringback=ToneSpec((400.0, 450.0), (0.4, 0.2, 0.4, 2.0)),
            busy=ToneSpec((400.0,), (0.375, 0.375)),
        ),
        "CEPT": TonePlan(
            "CEPT",
            ringback=ToneSpec((425.0,), (1.0, 4.0)),
            busy=ToneSpec((425.0,), (0.5, 0.5)),
        ),
    }
)


def tone_plan(plan: str | TonePlan) -> TonePlan:
    """Look up a plan by name (case-insensitive) or pass a :class:`TonePlan` through."""
    if isinstance(plan, TonePlan):
        return plan
    # str's own upper(): a str subclass's __str__/upper/__hash__ never run (they may raise)
    found = TONE_PLANS.get(str.upper(plan)) if isinstance(plan, str) else None
    if found is None:
        raise ConfigError("plan", f"unknown tone plan {plan!r} (known: {', '.join(TONE_PLANS)})")
    return found


def _check_rate(sample_rate: int, spec: ToneSpec) -> None:
    if (
        isinstance(sample_rate, bool)
        or not isinstance(sample_rate, int)
        or not 0 < sample_rate <= MAX_RATE
    ):
        raise ConfigError("sample_rate", f"must be an int in 1..{MAX_RATE}, got {sample_rate!r}")
    if max(spec.frequencies) >= sample_rate / 2:
        raise ConfigError(
            "sample_rate", f"{sample_rate} Hz cannot carry {max(spec.frequencies)} Hz (Nyquist)"
        )


def _envelope(spec: ToneSpec, sample_rate: int, n: int) -> npt.NDArray[np.float64]:
    """On/off gate with raised-cosine edges over one period of ``n`` samples."""
    if not spec.cadence:
        return np.ones(n)
    env = np.zeros(n)
    ramp = round(spec.ramp * sample_rate)
    if ramp:
        rise = 0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp) + 0.5) / ramp)
    edges = np.round(np.cumsum((0.0, *spec.cadence)) * sample_rate).astype(int)
    for k in range(0, len(spec.cadence), 2):
        start, stop = int(edges[k]), int(edges[k + 1])
        env[start:stop] = 1.0
        if ramp:
            env[start : start + ramp] = rise
            env[stop - ramp : stop] = rise[::-1]
    return env


def render_period(spec: ToneSpec, sample_rate: int) -> npt.NDArray[np.float32]:
    """One cadence period of ``spec`` at ``sample_rate``, mono float32."""
    _check_rate(sample_rate, spec)
    n = round(spec.period * sample_rate)
    if n < 1:  # a looping source of it had nothing to loop, render_tone returned nothing
        raise ConfigError(
            "cadence", f"a period of {spec.period:g} s is shorter than a sample at {sample_rate} Hz"
        )
    t = np.arange(n, dtype=np.float64) / sample_rate
    wave = np.zeros(n)
    for f in spec.frequencies:
        wave += np.sin(2.0 * np.pi * f * t)
    return (spec.amplitude * wave * _envelope(spec, sample_rate, n)).astype(np.float32)


def render_tone(spec: ToneSpec, sample_rate: int, duration: float) -> npt.NDArray[np.float32]:
    """``duration`` seconds of ``spec`` from the start of its cadence, mono float32."""
    seconds: float | None = None
    if not isinstance(duration, bool) and isinstance(duration, numbers.Real):
        try:
            seconds = float(duration)
        except Exception:  # a Real whose __float__ raises or overflows
            seconds = None
    if seconds is None or not 0 <= seconds <= MAX_DURATION:
        raise ConfigError("duration", f"must be 0..{MAX_DURATION:g} seconds, got {duration!r}")
    period = render_period(spec, sample_rate)
    n = round(seconds * sample_rate)
    reps = -(-n // period.shape[0]) if n else 0
    return np.tile(period, reps)[:n]


class ToneSource(ArraySource):
    """A looping :class:`~callaudio.audio.base.PlaybackSource` of one tone.

    Parameters
    ----------
    spec : ToneSpec
        The tone.
    sample_rate : int
        Hz (the session's preferred rate).
    """

    def __init__(self, spec: ToneSpec, sample_rate: int) -> None:
        super().__init__(render_period(spec, sample_rate), sample_rate, loop=True)
        self.spec = spec

    def __repr__(self) -> str:
        return (
            f"<ToneSource {self.spec.frequencies} Hz {self.spec.cadence} @ {self.sample_rate} Hz>"
        )
