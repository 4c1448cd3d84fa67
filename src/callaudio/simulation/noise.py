"""Background noises for the noise-suppressor and echo-canceller scenarios (pure NumPy).

Stationary: white, pink (power spectral density ~ 1/f), brown (~ 1/f^2), a fan-like hum
(mains harmonics plus low-passed broadband noise). Non-stationary: babble (several talkers),
keyboard-like clicks, and a pink noise whose level steps by a given number of dB.

Coloured noises are made by shaping the spectrum of white Gaussian noise in one FFT
(the "frequency-domain synthesis" of N. J. Kasdin, "Discrete simulation of colored noise and
stochastic processes and 1/f^alpha power law noise generation", Proc. IEEE 83(5), 1995).
All generators return float32 arrays whose mean-square level (dBFS, see
:mod:`~callaudio.simulation.metrics`) is ``level_dbfs``; for the level-step noise the level
before the step is ``level_dbfs``.

:func:`mix_at_snr` defines the SNR as the clean speech's ITU-T P.56 active level minus the
noise's mean-square level over the whole signal (the usual convention for speech-in-noise
tests, e.g. ITU-T P.501/P.1100 test set-ups).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from .metrics import active_level_dbfs
from .metrics import level_dbfs as _level
from .speech import load_talker, speech_like

__all__ = [
    "NOISE_KINDS",
    "babble_noise",
    "brown_noise",
    "hum_noise",
    "keyboard_noise",
    "make_noise",
    "mix_at_snr",
    "pink_noise",
    "step_noise",
    "white_noise",
]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

#: Frequency (Hz) below which the 1/f and 1/f^2 spectra are held flat.
_F_LOW_HZ = 20.0


def _n(duration_s: float, rate: int) -> int:
    if not duration_s > 0.0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    if not 8000 <= int(rate) <= 96000:
        raise ValueError(f"sample_rate must be in [8000, 96000] Hz, got {rate}")
    return round(duration_s * rate)


def _rng(seed: int, kind: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), kind, 0x0015E])


def _scale(x: F64, level: float) -> F32:
    cur = _level(x)
    if cur <= -150.0:
        raise ValueError("generated noise is silent")
    return np.asarray(x * 10.0 ** ((level - cur) / 20.0), dtype=np.float32)


def _shaped(n: int, rate: int, rng: np.random.Generator, psd: Callable[[F64], F64]) -> F64:
    """Gaussian noise with power spectral density proportional to ``psd(f)`` (f in Hz)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.asarray(np.fft.rfftfreq(n, 1.0 / rate), dtype=np.float64)
    spec *= np.sqrt(psd(f))
    return np.fft.irfft(spec, n=n)


def white_noise(
    duration_s: float, sample_rate: int, *, level_dbfs: float = -40.0, seed: int = 0
) -> F32:
    """White Gaussian noise."""
    n = _n(duration_s, sample_rate)
    return _scale(_rng(seed, 1).standard_normal(n), level_dbfs)


def pink_noise(
    duration_s: float, sample_rate: int, *, level_dbfs: float = -40.0, seed: int = 0
) -> F32:
    """Pink noise: PSD ~ 1/f above 20 Hz (equal power per octave), flat below, no DC."""
    n = _n(duration_s, sample_rate)
    x = _shaped(
        n,
        sample_rate,
        _rng(seed, 2),
        lambda f: np.where(f > 0, 1.0 / np.maximum(f, _F_LOW_HZ), 0.0),
    )
    return _scale(x, level_dbfs)


def brown_noise(
    duration_s: float, sample_rate: int, *, level_dbfs: float = -40.0, seed: int = 0
) -> F32:
    """Brown (red) noise: PSD ~ 1/f^2 above 20 Hz (-6 dB/octave), flat below, no DC."""
    n = _n(duration_s, sample_rate)
    x = _shaped(
        n,
        sample_rate,
        _rng(seed, 3),
        lambda f: np.where(f > 0, 1.0 / np.maximum(f, _F_LOW_HZ) ** 2, 0.0),
    )
    return _scale(x, level_dbfs)


def hum_noise(
    duration_s: float,
    sample_rate: int,
    *,
    level_dbfs: float = -40.0,
    seed: int = 0,
    fundamental_hz: float = 50.0,
    n_harmonics: int = 6,
    tonal_to_broadband_db: float = 6.0,
) -> F32:
    """Fan-like hum: harmonics of ``fundamental_hz`` plus low-passed broadband noise.

    Harmonic ``k`` (k = 1 .. n_harmonics) has amplitude ``1/k``, a random phase and a slow
    (0.2-0.5 Hz) +-10 % amplitude wobble; the broadband part is pink noise low-passed at
    1.5 kHz (second order), ``tonal_to_broadband_db`` below the tonal part.
    """
    n = _n(duration_s, sample_rate)
    rate = int(sample_rate)
    rng = _rng(seed, 4)
    t = np.arange(n) / rate
    tonal = np.zeros(n)
    for k in range(1, n_harmonics + 1):
        fk = k * fundamental_hz
        if fk >= 0.45 * rate:
            break
        wob = 1.0 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * t + rng.uniform(0, 2 * np.pi))
        tonal += wob / k * np.sin(2 * np.pi * fk * t + rng.uniform(0.0, 2 * np.pi))
    broad = _shaped(
        n,
        rate,
        rng,
        lambda f: np.where(f > 0, 1.0 / np.maximum(f, _F_LOW_HZ), 0.0) / (1.0 + (f / 1500.0) ** 4),
    )
    broad *= 10.0 ** ((_level(tonal) - tonal_to_broadband_db - _level(broad)) / 20.0)
    return _scale(tonal + broad, level_dbfs)


def babble_noise(
    duration_s: float,
    sample_rate: int,
    *,
    level_dbfs: float = -40.0,
    seed: int = 0,
    n_talkers: int = 6,
    recorded: bool = True,
) -> F32:
    """Babble: the sum of ``n_talkers`` talkers at equal active level.

    With ``recorded`` the two recorded talkers (:func:`~callaudio.simulation.speech.load_talker`)
    are among them; the rest are :func:`~callaudio.simulation.speech.speech_like` voices
    cycling through its six talkers with different seeds.
    """
    n = _n(duration_s, sample_rate)
    if n_talkers < 1:
        raise ValueError(f"n_talkers must be >= 1, got {n_talkers}")
    rng = _rng(seed, 5)
    total = np.zeros(n)
    for i in range(n_talkers):
        sub = int(rng.integers(2**31))
        if recorded and i < 2:
            v = load_talker(i, sample_rate, duration_s, seed=sub)
        else:
            v = speech_like(duration_s, sample_rate, seed=sub, talker=i % 6)
        total += v[:n]
    return _scale(total, level_dbfs)


def keyboard_noise(
    duration_s: float,
    sample_rate: int,
    *,
    level_dbfs: float = -40.0,
    seed: int = 0,
    keys_per_s: float = 6.0,
) -> F32:
    """Keyboard-like clicks: impulsive transients on a faint noise floor.

    Keystrokes arrive as a Poisson process of ``keys_per_s``; each has a press and a
    release click 60-150 ms apart. A click is an exponentially decaying (2-6 ms) noise burst
    through a resonance at 1.5-5 kHz (Q ~ 2) with a random amplitude (+-6 dB). A white noise
    floor 50 dB below the clicks' level stays between keystrokes.
    """
    n = _n(duration_s, sample_rate)
    rate = int(sample_rate)
    rng = _rng(seed, 6)
    x = np.zeros(n)
    t = float(rng.exponential(1.0 / keys_per_s))
    clen = round(0.03 * rate)
    tt = np.arange(clen) / rate
    freqs = np.fft.rfftfreq(clen, 1.0 / rate)
    while t < duration_s:
        for delay, gain in ((0.0, 1.0), (float(rng.uniform(0.06, 0.15)), 0.5)):
            start = round((t + delay) * rate)
            if start >= n:
                break
            burst = rng.standard_normal(clen) * np.exp(-tt / rng.uniform(0.002, 0.006))
            fc = rng.uniform(1500.0, min(5000.0, 0.4 * rate))
            spec = np.fft.rfft(burst) / (1.0 + 4.0 * ((freqs - fc) / fc) ** 2)
            click = np.fft.irfft(spec, n=clen) * gain * 10.0 ** (rng.uniform(-6, 6) / 20.0)
            stop = min(n, start + clen)
            x[start:stop] += click[: stop - start]
        t += float(rng.exponential(1.0 / keys_per_s))
    floor = rng.standard_normal(n) * 10.0 ** ((_level(x) - 50.0) / 20.0)
    return _scale(x + floor, level_dbfs)


def step_noise(
    duration_s: float,
    sample_rate: int,
    *,
    level_dbfs: float = -40.0,
    seed: int = 0,
    step_time_s: float | None = None,
    step_db: float = 10.0,
) -> F32:
    """Pink noise at ``level_dbfs`` that steps by ``step_db`` at ``step_time_s``.

    ``step_time_s`` defaults to the middle of the signal. The step is an instantaneous gain
    change of exactly ``step_db``; the level before it is exactly ``level_dbfs`` (the level
    after it is ``level_dbfs + step_db`` up to the noise's own fluctuation).
    """
    n = _n(duration_s, sample_rate)
    t_step = duration_s / 2.0 if step_time_s is None else step_time_s
    if not 0.0 <= t_step <= duration_s:
        raise ValueError(f"step_time_s must be within [0, {duration_s}], got {t_step}")
    x = pink_noise(duration_s, sample_rate, level_dbfs=level_dbfs, seed=seed).astype(np.float64)
    k = round(t_step * sample_rate)
    if k > 0:
        # Exactly ``level_dbfs`` before the step.
        x *= 10.0 ** ((level_dbfs - _level(x[:k])) / 20.0)
    x[k:n] *= 10.0 ** (step_db / 20.0)
    return np.asarray(x, dtype=np.float32)


_GENERATORS: dict[str, Callable[..., F32]] = {
    "white": white_noise,
    "pink": pink_noise,
    "brown": brown_noise,
    "hum": hum_noise,
    "babble": babble_noise,
    "keyboard": keyboard_noise,
    "step": step_noise,
}
#: Names accepted by :func:`make_noise`.
NOISE_KINDS: tuple[str, ...] = tuple(_GENERATORS)


def make_noise(
    kind: str,
    duration_s: float,
    sample_rate: int,
    *,
    level_dbfs: float = -40.0,
    seed: int = 0,
    **options: float | int | bool | None,
) -> F32:
    """Noise of ``kind`` (one of :data:`NOISE_KINDS`); ``options`` go to its generator."""
    try:
        gen = _GENERATORS[kind]
    except KeyError:
        raise ValueError(f"unknown noise kind {kind!r}; choose from {NOISE_KINDS}") from None
    return gen(duration_s, sample_rate, level_dbfs=level_dbfs, seed=seed, **options)


def mix_at_snr(
    clean: npt.ArrayLike, noise: npt.ArrayLike, snr_db: float, sample_rate: int
) -> tuple[F32, F32]:
    """Add ``noise`` to ``clean`` at ``snr_db``.

    The noise is scaled so that ``active_level_dbfs(clean) - level_dbfs(noise) = snr_db``
    (P.56 active speech level against the noise's mean-square level over the whole signal).

    Returns
    -------
    noisy : numpy.ndarray
        ``clean + scaled_noise`` (float32).
    scaled_noise : numpy.ndarray
        The noise as added (float32), so the clean and noise parts stay known.
    """
    s = np.asarray(clean, dtype=np.float64)
    v = np.asarray(noise, dtype=np.float64)
    if s.shape != v.shape or s.ndim != 1:
        raise ValueError(f"clean and noise must be 1-D of equal length: {s.shape}, {v.shape}")
    speech = active_level_dbfs(s, sample_rate)
    if speech <= -150.0:
        raise ValueError("clean signal has no active speech")
    nl = _level(v)
    if nl <= -150.0:
        raise ValueError("noise is silent")
    g = 10.0 ** ((speech - snr_db - nl) / 20.0)
    scaled = v * g
    return np.asarray(s + scaled, dtype=np.float32), np.asarray(scaled, dtype=np.float32)
