"""Reproducible acoustic-echo scenarios for the echo canceller's tests, demo and benchmarks.

Signal chain (every step seeded)::

    far (what the app plays; AEC reference)
      -> loudspeaker soft clipping (optional)      x_ls = (p/d) tanh(d x / p)
      -> playback clock drift (optional)           resampled by 1 / (1 + ppm 1e-6)
      -> bulk delay (buffers, driver)              integer samples
      -> loudspeaker-to-mic room response          image method (rir.py), scaled to the ERL;
                                                   switched to a second response at the
                                                   echo-path change
      = echo
    near (clean near-end talker)  -> talker-to-mic room response  = near (at the mic)
    noise (noise.py)                                               = noise
    mic = echo + near + noise      (not clipped)

Levels are in dBFS (see :mod:`~callaudio.simulation.metrics`). ``far_level_dbfs`` is the
P.56 active level of ``far``; the echo is scaled so that its active level is
``far_level_dbfs - erl_db`` (ERL = echo return loss of the acoustic path, dB); ``near`` is
scaled to the active level ``near_level_dbfs`` at the mic; the noise's mean-square level is
``near_level_dbfs - noise_snr_db``.

The soft clipper ``(p/d) tanh(d x / p)``, with ``p`` the far signal's peak and ``d`` the
drive, has unity gain for small signals and maps the peak to ``p tanh(d) / d``; it models
the saturation of a small loudspeaker and its amplifier (the memoryless nonlinearity used
by, e.g., A. Stenger and W. Kellermann, "Adaptation of a memoryless preprocessor for
nonlinear acoustic echo cancelling", Signal Processing 80(9), 2000).

Clock drift: a playback clock ``ppm`` parts per million fast consumes the far signal faster
than the capture clock samples the mic, so the echo at capture sample ``n`` is the played
signal at ``n (1 + ppm 1e-6)``; the echo-path delay shrinks by ``ppm 1e-6`` samples per
sample (100 ppm: 2 ms over 20 s).

Example
-------
>>> from callaudio.simulation import scenario, metrics
>>> res = scenario.double_talk(16000)            # or EchoScenario(...).build()
>>> out = res.mic                                # ... the canceller's output goes here
>>> per_frame, median = metrics.erle_db(res.echo, out - res.near, 16000, mask=res.far_only)
>>> loss = metrics.near_end_loss_db(out, res.near, res.double_talk)
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError
from .metrics import active_level_dbfs, active_mask, level_dbfs
from .noise import NOISE_KINDS, make_noise, mix_at_snr
from .resample import resample_ratio
from .rir import SPEED_OF_SOUND, image_source_rir, place_in_room
from .speech import load_talker, speech_like

__all__ = [
    "EchoResult",
    "EchoScenario",
    "NoisyResult",
    "double_talk",
    "drift",
    "far_single_talk",
    "near_single_talk",
    "noisy_speech",
    "path_change",
    "soft_clip",
]

MAX_DURATION_S = 86400.0
"""The longest scenario (a day of audio: 1.4e9 samples at 16 kHz)."""
_NUMBERS = (
    "duration_s", "bulk_delay_ms", "rt60_s", "speaker_mic_distance_m", "talker_mic_distance_m",
    "erl_db", "far_level_dbfs", "near_level_dbfs", "noise_snr_db", "clip_drive", "drift_ppm",
    "path_change_s", "path_change_distance_m",
)  # fmt: skip
_OPTIONAL = ("path_change_s", "path_change_distance_m")

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

Interval = tuple[float, float]

#: Length of the cross-fade at the echo-path change (s).
_SWITCH_S = 0.005


def _fftconv(x: F64, h: F64, n: int) -> F64:
    """First ``n`` samples of the linear convolution of ``x`` and ``h``."""
    m = x.size + h.size - 1
    nfft = 1 << int(np.ceil(np.log2(max(m, 2))))
    y = np.fft.irfft(np.fft.rfft(x, nfft) * np.fft.rfft(h, nfft), nfft)
    out = np.zeros(n)
    k = min(n, m)
    out[:k] = y[:k]
    return out


@dataclass(frozen=True)
class EchoScenario:
    """Parameters of an echo scenario; :meth:`build` renders the signals.

    Attributes
    ----------
    sample_rate : int
        Hz (8000-96000).
    duration_s : float
        Length of every signal (s).
    bulk_delay_ms : float
        Delay between the far signal and the loudspeaker (buffers, driver), ms, >= 0.
    rt60_s : float
        Reverberation time of the room (s), 0.1-1.0.
    room_dim : tuple of 3 float
        Room size in metres.
    speaker_mic_distance_m : float
        Loudspeaker-to-mic distance (m), 0.05-1.
    talker_mic_distance_m : float
        Near talker-to-mic distance (m), 0.05-1.
    erl_db : float
        Echo return loss: far active level minus echo active level at the mic (dB).
    far_level_dbfs, near_level_dbfs : float
        Active speech levels of the far signal and of the near end at the mic (dBFS).
    far_talker, near_talker : int
        Talker indices (0: male, 1: female) for the recorded clips or ``speech_like``.
    speech : str
        ``"recorded"`` (espeak-ng clips, :func:`~callaudio.simulation.speech.load_talker`)
        or ``"synthetic"`` (:func:`~callaudio.simulation.speech.speech_like`).
    far_intervals, near_intervals : tuple of (start_s, end_s), or None
        When each talker speaks. ``None`` means the whole signal; ``()`` means never.
        Each interval starts a fresh stretch of speech (not a cut of a longer one).
    noise_kind : str or None
        One of :data:`~callaudio.simulation.noise.NOISE_KINDS`, or None for no noise.
    noise_snr_db : float
        Near-end level over noise level (dB); the noise level is
        ``near_level_dbfs - noise_snr_db`` even when the near end is silent.
    soft_clip : bool
        Apply the loudspeaker soft clipper.
    clip_drive : float
        Drive ``d`` of the clipper (> 0); the far peak is compressed to ``tanh(d) / d``.
    drift_ppm : float
        Playback clock error in parts per million (positive: playback fast), |ppm| <= 1000.
    path_change_s : float or None
        Time of the echo-path change (s): the loudspeaker and mic move to new seeded
        positions and the echo switches to the new response (linear cross-fade over the
        5 ms before ``path_change_sample``), scaled to
        the first one's energy so the ERL stays. The near-end path does not change.
    path_change_distance_m : float or None
        Loudspeaker-to-mic distance after the change (m, 0.05-1); default: twice the
        first distance, or half of it if that exceeds 1 m.
    seed : int
        Seed of everything random (talker material, room positions, noise).
    """

    sample_rate: int = 16000
    duration_s: float = 10.0
    bulk_delay_ms: float = 100.0
    rt60_s: float = 0.3
    room_dim: tuple[float, float, float] = (5.0, 4.0, 2.8)
    speaker_mic_distance_m: float = 0.1
    talker_mic_distance_m: float = 0.5
    erl_db: float = 6.0
    far_level_dbfs: float = -26.0
    near_level_dbfs: float = -32.0
    far_talker: int = 0
    near_talker: int = 1
    speech: str = "recorded"
    far_intervals: tuple[Interval, ...] | None = None
    near_intervals: tuple[Interval, ...] | None = ()
    noise_kind: str | None = None
    noise_snr_db: float = 30.0
    soft_clip: bool = False
    clip_drive: float = 2.0
    drift_ppm: float = 0.0
    path_change_s: float | None = None
    path_change_distance_m: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        def bad(name: str, msg: str) -> None:
            raise ConfigError(name, msg)  # a ValueError too

        # Numbers first (a str failed as a raw TypeError in a comparison, NaN levels and a
        # string seed only when built, and a 1e9 s duration allocated without end).
        for name in _NUMBERS:
            v = getattr(self, name)
            if v is not None or name not in _OPTIONAL:
                if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                    bad(name, f"must be a finite number, got {v!r}")
        for name in ("sample_rate", "far_talker", "near_talker", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
                bad(name, f"must be an int >= 0, got {v!r}")
        for name in ("far_intervals", "near_intervals"):
            iv = getattr(self, name)
            pairs = () if iv is None else iv
            if not isinstance(pairs, (tuple, list)) or not all(
                isinstance(p, (tuple, list))
                and len(p) == 2
                and all(isinstance(t, numbers.Real) and not isinstance(t, bool) for t in p)
                for p in pairs
            ):
                bad(name, f"must be None or (start_s, end_s) pairs of seconds, got {iv!r:.80}")
        if not 8000 <= self.sample_rate <= 96000:
            bad("sample_rate", f"must be in [8000, 96000] Hz, got {self.sample_rate}")
        if not 0.5 < self.duration_s <= MAX_DURATION_S:
            bad(
                "duration_s",
                f"must be > 0.5 s and at most {MAX_DURATION_S:g} s, got {self.duration_s}",
            )
        if not 0.0 <= self.bulk_delay_ms <= 2000.0:
            bad("bulk_delay_ms", f"must be in [0, 2000] ms, got {self.bulk_delay_ms}")
        if not 0.1 <= self.rt60_s <= 1.0:
            bad("rt60_s", f"must be in [0.1, 1.0] s, got {self.rt60_s}")
        for name in ("speaker_mic_distance_m", "talker_mic_distance_m", "path_change_distance_m"):
            v = getattr(self, name)
            if v is not None and not 0.05 <= v <= 1.0:
                bad(name, f"must be in [0.05, 1.0] m, got {v}")
        if self.speech not in ("recorded", "synthetic"):
            bad("speech", f"must be 'recorded' or 'synthetic', got {self.speech!r}")
        if self.noise_kind is not None and self.noise_kind not in NOISE_KINDS:
            bad("noise_kind", f"must be None or one of {NOISE_KINDS}, got {self.noise_kind!r}")
        if not self.clip_drive > 0.0:
            bad("clip_drive", f"must be > 0, got {self.clip_drive}")
        if not abs(self.drift_ppm) <= 1000.0:
            bad("drift_ppm", f"must be within +-1000 ppm, got {self.drift_ppm}")
        if self.path_change_s is not None and not 0.0 < self.path_change_s < self.duration_s:
            bad("path_change_s", f"must be inside (0, {self.duration_s}) s")
        for name in ("far_intervals", "near_intervals"):
            iv = getattr(self, name)
            for a, b in iv or ():
                if not 0.0 <= a < b <= self.duration_s:
                    bad(name, f"interval ({a}, {b}) must satisfy 0 <= start < end <= duration")

    def _changed_distance(self) -> float:
        if self.path_change_distance_m is not None:
            return self.path_change_distance_m
        d = self.speaker_mic_distance_m
        return 2.0 * d if 2.0 * d <= 1.0 else 0.5 * d

    def replace(self, **changes: object) -> EchoScenario:
        """A copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ rendering

    def _talk(self, talker: int, intervals: tuple[Interval, ...] | None, stream: int) -> F64:
        """Speech of ``talker`` placed in ``intervals`` (None: the whole signal)."""
        rate, n = self.sample_rate, round(self.duration_s * self.sample_rate)
        spans = ((0.0, self.duration_s),) if intervals is None else intervals
        out = np.zeros(n)
        ramp = round(0.01 * rate)
        for k, (a, b) in enumerate(spans):
            seed = int(np.random.default_rng([self.seed, stream, k]).integers(2**31))
            if self.speech == "recorded":
                seg = load_talker(talker, rate, b - a, seed=seed, level_dbfs=None)
            else:
                seg = speech_like(b - a, rate, seed=seed, talker=talker)
            s = seg.astype(np.float64)
            # 10 ms raised-cosine fade out at the interval's end (fade-in is the speech's own
            # leading pause).
            r = min(ramp, s.size)
            s[s.size - r :] *= 0.5 * (1.0 + np.cos(np.pi * np.arange(1, r + 1) / r))
            i0 = round(a * rate)
            out[i0 : i0 + s.size] += s[: n - i0]
        return out

    def build(self) -> EchoResult:
        """Render the scenario's signals and masks."""
        rate = self.sample_rate
        n = round(self.duration_s * rate)
        rng = np.random.default_rng([self.seed, 0xEC40])

        # Far end.
        far = np.zeros(n)
        if self.far_intervals != ():
            far = self._talk(self.far_talker, self.far_intervals, 1)
            far *= 10.0 ** ((self.far_level_dbfs - active_level_dbfs(far, rate)) / 20.0)
        # Loudspeaker: soft clipping, playback clock drift.
        ls = far.copy()
        if self.soft_clip and np.any(far):
            peak = float(np.max(np.abs(far)))
            d = self.clip_drive
            ls = peak / d * np.tanh(d * far / peak)
        if self.drift_ppm != 0.0:
            ls = resample_ratio(ls, 1.0 / (1.0 + self.drift_ppm * 1e-6), n_out=n)
        bulk = round(self.bulk_delay_ms * rate / 1000.0)
        ls = np.concatenate([np.zeros(bulk), ls])[:n]

        # Room: the mic, the loudspeaker and the near talker share one room.
        spk, mic = place_in_room(self.room_dim, self.speaker_mic_distance_m, rng)
        talker_pos, _ = place_in_room(
            self.room_dim, self.talker_mic_distance_m, rng, anchor=mic, margin_m=0.3
        )
        h_echo = image_source_rir(rate, self.room_dim, spk, mic, rt60_s=self.rt60_s)
        h_near = image_source_rir(rate, self.room_dim, talker_pos, mic, rt60_s=self.rt60_s)
        echo = _fftconv(ls, h_echo, n)
        rirs = [h_echo]
        change = None
        if self.path_change_s is not None:
            spk2, mic2 = place_in_room(self.room_dim, self._changed_distance(), rng)
            h2 = image_source_rir(rate, self.room_dim, spk2, mic2, rt60_s=self.rt60_s)
            # Same broadband gain as the first path, so only the path (not the ERL) changes.
            h2 *= np.sqrt(np.sum(h_echo**2) / np.sum(h2**2))
            echo2 = _fftconv(ls, h2, n)
            change = round(self.path_change_s * rate)
            w = np.clip((np.arange(n) - change) / max(1, round(_SWITCH_S * rate)) + 1.0, 0, 1)
            echo = (1.0 - w) * echo + w * echo2
            rirs.append(h2)
        if np.any(echo):
            g = 10.0 ** ((self.far_level_dbfs - self.erl_db - active_level_dbfs(echo, rate)) / 20.0)
            echo *= g
            rirs = [h * g for h in rirs]

        # Near end at the mic.
        near = np.zeros(n)
        if self.near_intervals != ():
            dry = self._talk(self.near_talker, self.near_intervals, 2)
            near = _fftconv(dry, h_near, n)
            near *= 10.0 ** ((self.near_level_dbfs - active_level_dbfs(near, rate)) / 20.0)

        noise = np.zeros(n)
        if self.noise_kind is not None:
            noise = make_noise(
                self.noise_kind,
                self.duration_s,
                rate,
                level_dbfs=self.near_level_dbfs - self.noise_snr_db,
                seed=int(rng.integers(2**31)),
            ).astype(np.float64)[:n]

        mic_sig = echo + near + noise
        far_active = active_mask(echo, rate) if np.any(echo) else np.zeros(n, dtype=bool)
        near_active = active_mask(near, rate) if np.any(near) else np.zeros(n, dtype=bool)
        direct = self.speaker_mic_distance_m / SPEED_OF_SOUND * rate
        return EchoResult(
            scenario=self,
            sample_rate=rate,
            far=far.astype(np.float32),
            mic=mic_sig.astype(np.float32),
            echo=echo.astype(np.float32),
            near=near.astype(np.float32),
            noise=noise.astype(np.float32),
            far_active=far_active,
            near_active=near_active,
            bulk_delay_samples=bulk,
            direct_path_samples=float(direct),
            echo_paths=tuple(rirs),
            path_change_sample=change,
        )


@dataclass(frozen=True)
class EchoResult:
    """Signals of a rendered :class:`EchoScenario` (all float32, same length).

    Attributes
    ----------
    far : ndarray
        What the application plays (the echo canceller's reference).
    mic : ndarray
        What the microphone records: ``echo + near + noise``.
    echo, near, noise : ndarray
        The components of ``mic``; ``near`` is the clean near-end speech as received at the
        mic (reverberant), the reference for measuring near-end preservation.
    far_active, near_active : ndarray of bool
        Per-sample P.56 activity of ``echo`` and of ``near`` (threshold 15.9 dB below each
        one's active level, 0.2 s hangover).
    bulk_delay_samples : int
        The bulk delay in samples.
    direct_path_samples : float
        Loudspeaker-to-mic propagation delay in samples (distance / c * rate).
    echo_paths : tuple of ndarray
        The loudspeaker-to-mic responses as applied (ERL gain included, bulk delay not:
        ``echo = conv(far delayed by bulk_delay_samples, echo_paths[0])`` without clipping
        or drift); two after an echo-path change.
    path_change_sample : int or None
        Sample at which the echo path changes.
    """

    scenario: EchoScenario
    sample_rate: int
    far: F32
    mic: F32
    echo: F32
    near: F32
    noise: F32
    far_active: B
    near_active: B
    bulk_delay_samples: int
    direct_path_samples: float
    echo_paths: tuple[F64, ...] = field(default_factory=tuple)
    path_change_sample: int | None = None

    @property
    def far_only(self) -> B:
        """Far end active, near end silent."""
        return np.asarray(self.far_active & ~self.near_active)

    @property
    def double_talk(self) -> B:
        """Both ends active."""
        return np.asarray(self.far_active & self.near_active)

    @property
    def near_only(self) -> B:
        """Near end active, far end silent."""
        return np.asarray(self.near_active & ~self.far_active)

    @property
    def delay_samples(self) -> float:
        """True echo delay at the start: bulk delay plus direct path, in samples."""
        return self.bulk_delay_samples + self.direct_path_samples

    @property
    def delay_ms(self) -> float:
        """True echo delay at the start (ms)."""
        return 1000.0 * self.delay_samples / self.sample_rate

    def delay_samples_at(self, t_s: float) -> float:
        """True echo delay at time ``t_s`` (s), including clock drift."""
        ppm = self.scenario.drift_ppm
        return self.delay_samples - ppm * 1e-6 * t_s * self.sample_rate

    def frame_mask(self, name: str, frame_ms: float = 10.0, min_fraction: float = 0.5) -> B:
        """Per-frame version of a mask (``far_active``, ``near_active``, ``far_only``,
        ``double_talk`` or ``near_only``): true where at least ``min_fraction`` of the
        frame's samples are true. Frames are non-overlapping, ``frame_ms`` long; a partial
        last frame is dropped.
        """
        if name not in ("far_active", "near_active", "far_only", "double_talk", "near_only"):
            raise ConfigError("name", f"unknown mask {name!r}")
        m = np.asarray(getattr(self, name), dtype=np.float64)
        k = max(1, round(frame_ms * self.sample_rate / 1000.0))
        nf = m.size // k
        return np.asarray(m[: nf * k].reshape(nf, k).mean(axis=1) >= min_fraction)

    @property
    def erl_db(self) -> float:
        """Measured echo return loss: active level of ``far`` minus that of ``echo`` (dB)."""
        if not np.any(self.far) or not np.any(self.echo):
            return float("nan")
        return active_level_dbfs(self.far, self.sample_rate) - active_level_dbfs(
            self.echo, self.sample_rate
        )

    def levels_dbfs(self) -> dict[str, float]:
        """Mean-square level (dBFS) of every signal."""
        return {k: level_dbfs(getattr(self, k)) for k in ("far", "mic", "echo", "near", "noise")}


# ---------------------------------------------------------------------------- presets


def far_single_talk(delay_ms: float = 100.0, rate: int = 16000, **overrides: object) -> EchoResult:
    """Far-end single talk: 10 s of far speech, no near end, no noise."""
    sc = EchoScenario(sample_rate=rate, duration_s=10.0, bulk_delay_ms=delay_ms)
    return sc.replace(**overrides).build()


def double_talk(rate: int = 16000, **overrides: object) -> EchoResult:
    """Far speech throughout 16 s; the near end talks during 4-8 s and 11-15 s.

    0-4 s and 8-11 s are far-end single talk (convergence, ERLE); the near end is 6 dB
    quieter at the mic than the far end is loud (-32 dBFS) and the echo is at -32 dBFS.
    """
    sc = EchoScenario(
        sample_rate=rate,
        duration_s=16.0,
        near_intervals=((4.0, 8.0), (11.0, 15.0)),
    )
    return sc.replace(**overrides).build()


def path_change(rate: int = 16000, **overrides: object) -> EchoResult:
    """Far-end single talk for 16 s with an echo-path change at 8 s."""
    sc = EchoScenario(sample_rate=rate, duration_s=16.0, path_change_s=8.0)
    return sc.replace(**overrides).build()


def drift(ppm: float = 100.0, rate: int = 16000, **overrides: object) -> EchoResult:
    """Far-end single talk for 20 s with a playback clock ``ppm`` off."""
    sc = EchoScenario(sample_rate=rate, duration_s=20.0, drift_ppm=ppm)
    return sc.replace(**overrides).build()


def soft_clip(rate: int = 16000, **overrides: object) -> EchoResult:
    """Far-end single talk for 12 s through a soft-clipping loudspeaker (drive 2)."""
    sc = EchoScenario(sample_rate=rate, duration_s=12.0, soft_clip=True, clip_drive=2.0)
    return sc.replace(**overrides).build()


def near_single_talk(rate: int = 16000, **overrides: object) -> EchoResult:
    """Near-end single talk: 8 s of near speech, a silent far end, no noise."""
    sc = EchoScenario(sample_rate=rate, duration_s=8.0, far_intervals=(), near_intervals=None)
    return sc.replace(**overrides).build()


# ---------------------------------------------------------------------- noisy speech


@dataclass(frozen=True)
class NoisyResult:
    """Speech in noise for the noise suppressor (all float32, same length).

    Attributes
    ----------
    clean : ndarray
        The clean speech (silent during the first ``lead_s``).
    noise : ndarray
        The noise as added.
    noisy : ndarray
        ``clean + noise``.
    speech_active : ndarray of bool
        Per-sample P.56 activity of ``clean``.
    noise_only : ndarray of bool
        Samples before the speech starts (the first ``lead_s``).
    """

    sample_rate: int
    kind: str | None
    snr_db: float
    clean: F32
    noise: F32
    noisy: F32
    speech_active: B
    noise_only: B


def noisy_speech(
    kind: str | None,
    snr_db: float,
    rate: int = 16000,
    *,
    duration_s: float = 8.0,
    lead_s: float = 1.5,
    talker: int = 1,
    speech: str = "recorded",
    level_dbfs: float = -26.0,
    seed: int = 0,
    **noise_options: Any,
) -> NoisyResult:
    """Speech at ``level_dbfs`` (P.56) in noise of ``kind`` at ``snr_db``.

    The first ``lead_s`` seconds are noise only (for the suppressor to adapt and for
    measuring speech-free attenuation); the speech fills the rest. The SNR is the speech's
    active level minus the noise's mean-square level over the whole signal
    (:func:`~callaudio.simulation.noise.mix_at_snr`). ``kind=None`` gives clean speech
    (``noise`` all zero). ``noise_options`` go to the noise generator (e.g.
    ``step_time_s`` for ``"step"``).
    """
    n = round(duration_s * rate)
    if not 0.0 <= lead_s < duration_s - 0.5:
        raise ConfigError("lead_s", f"must be in [0, duration_s - 0.5), got {lead_s}")
    if speech not in ("recorded", "synthetic"):
        raise ConfigError("speech", f"must be 'recorded' or 'synthetic', got {speech!r}")
    rng = np.random.default_rng([int(seed), 0x0015E])
    s_seed, n_seed = (int(v) for v in rng.integers(2**31, size=2))
    i0 = round(lead_s * rate)
    if speech == "recorded":
        sp = load_talker(talker, rate, (n - i0) / rate, seed=s_seed, level_dbfs=level_dbfs)
    else:
        sp = speech_like((n - i0) / rate, rate, seed=s_seed, talker=talker, level_dbfs=level_dbfs)
    clean = np.zeros(n)
    clean[i0 : i0 + sp.size] = sp[: n - i0]
    if kind is None:
        noise = np.zeros(n, dtype=np.float32)
        noisy = clean.astype(np.float32)
    else:
        raw = make_noise(kind, duration_s, rate, seed=n_seed, **noise_options)[:n]
        noisy, noise = mix_at_snr(clean, raw, snr_db, rate)
    noise_only = np.zeros(n, dtype=bool)
    noise_only[:i0] = True
    return NoisyResult(
        sample_rate=rate,
        kind=kind,
        snr_db=float(snr_db),
        clean=clean.astype(np.float32),
        noise=noise,
        noisy=noisy,
        speech_active=active_mask(clean, rate),
        noise_only=noise_only,
    )
