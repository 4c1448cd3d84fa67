"""Speech signals for tests: a seeded synthetic talker and recorded (espeak-ng) talkers.

``speech_like`` is a source-filter formant synthesiser (G. Fant, *Acoustic Theory of
Speech Production*, Mouton, 1960; D. H. Klatt, "Software for a cascade/parallel formant
synthesizer", JASA 67(3), 1980):

- voiced excitation: a Rosenberg glottal-flow pulse (A. E. Rosenberg, "Effect of glottal
  pulse shape on the quality of natural vowels", JASA 49(2B), 1971; opening 40 %, closing
  16 % of the period), differentiated for lip radiation, with an f0 contour (Hz) that
  declines over each phrase and rises on accented syllables, plus 1 % jitter;
- four cascaded two-pole formant resonators (centre frequency and bandwidth in Hz) whose
  targets move between vowels; the time-varying filter is applied frame by frame in the
  STFT domain (32 ms square-root-Hann frames, 75 % overlap);
- unvoiced excitation: white noise through one resonance per fricative (s, sh, f) and
  short bursts for plosives;
- a syllabic rhythm (syllables of 0.12-0.32 s, i.e. about 4 Hz) grouped into talkspurts
  of 3-10 syllables separated by 0.3-1.1 s pauses, giving 60-70 % P.56 activity.

The result is scaled so its P.56 active speech level equals ``level_dbfs``.

``load_talker`` reads the recorded clips in ``data/`` (espeak-ng voices, made by
``data/make_clips.sh``): talker 0 is ``talker_a.wav`` (en-us, male), talker 1 is
``talker_b.wav`` (en-us+f3, female); both 16 kHz 16-bit mono.
"""

from __future__ import annotations

import itertools
import wave
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import numpy.typing as npt

from .metrics import active_level_dbfs
from .resample import resample

__all__ = [
    "TALKER_FILES",
    "Talker",
    "load_talker",
    "read_wav",
    "speech_like",
    "write_wav",
]

#: Recorded clips, by talker index (files in ``callaudio/simulation/data``).
TALKER_FILES: tuple[str, ...] = ("talker_a.wav", "talker_b.wav")
#: Sample rate of the recorded clips (Hz).
CLIP_RATE = 16000

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Talker:
    """Voice parameters of a synthetic talker.

    Attributes
    ----------
    f0_hz : float
        Mean fundamental frequency in Hz.
    formant_scale : float
        Factor on the (male) formant frequencies; ~1.17 for a female vocal tract.
    rate_scale : float
        Factor on syllable durations (>1 is slower).
    """

    f0_hz: float
    formant_scale: float
    rate_scale: float


#: Synthetic talkers; 0 is male-like (~120 Hz), 1 female-like (~210 Hz).
_TALKERS: tuple[Talker, ...] = (
    Talker(120.0, 1.00, 1.00),
    Talker(210.0, 1.17, 0.95),
    Talker(100.0, 0.95, 1.08),
    Talker(240.0, 1.22, 0.90),
    Talker(145.0, 1.05, 1.03),
    Talker(185.0, 1.12, 0.97),
)

#: Vowel formant targets (F1, F2, F3) in Hz for an adult male (Peterson & Barney, 1952).
_VOWELS = np.array(
    [
        [730.0, 1090.0, 2440.0],  # a
        [530.0, 1840.0, 2480.0],  # e (bed)
        [270.0, 2290.0, 3010.0],  # i
        [570.0, 840.0, 2410.0],  # o (caught)
        [300.0, 870.0, 2240.0],  # u
        [660.0, 1720.0, 2410.0],  # ae
        [520.0, 1190.0, 2390.0],  # schwa (hut)
        [390.0, 1990.0, 2550.0],  # I (bit)
    ]
)
_BANDWIDTHS = np.array([80.0, 100.0, 140.0, 220.0])
_F4_HZ = 3500.0
#: Corner of the higher-pole correction (Hz).
_HPC_HZ = 1000.0
#: Frication noise gain relative to the glottal source, chosen so fricatives sit
#: 10-20 dB below vowels and 3-8 kHz holds a few % of the energy, as in recorded speech.
_FRICATION_GAIN = 25.0
#: Nasal-murmur formants (Hz) used for voiced consonants.
_NASAL = np.array([250.0, 1100.0, 2300.0])
#: Fricatives: (centre Hz, bandwidth Hz, relative amplitude).
_FRICATIVES = ((5500.0, 2500.0, 0.35), (3000.0, 1200.0, 0.4), (2000.0, 5000.0, 0.15))


@dataclass
class _Tracks:
    """Breakpoint lists of control tracks (time in s, value)."""

    t: list[float]
    av: list[float]
    au: list[float]
    f0: list[float]
    formants: list[tuple[float, float, float]]
    fric: list[int]


def _plan(duration_s: float, talker: Talker, rng: np.random.Generator) -> _Tracks:
    """Draw the prosodic plan: talkspurts, syllables, consonants, vowel targets, f0."""
    tr = _Tracks([], [], [], [], [], [])
    fs = talker.formant_scale
    vowel = _VOWELS[rng.integers(len(_VOWELS))] * fs

    def point(t: float, av: float, au: float, f0: float, fmt: F64, fric: int = 0) -> None:
        tr.t.append(t)
        tr.av.append(av)
        tr.au.append(au)
        tr.f0.append(f0)
        tr.formants.append((float(fmt[0]), float(fmt[1]), float(fmt[2])))
        tr.fric.append(fric)

    t = float(rng.uniform(0.05, 0.3))
    point(0.0, 0.0, 0.0, talker.f0_hz, vowel)
    while t < duration_s:
        n_syl = int(rng.integers(2, 9))
        spurt_start = t
        durs = rng.uniform(0.12, 0.32, n_syl) * talker.rate_scale
        spurt_len = float(durs.sum())
        for k in range(n_syl):
            d = float(durs[k])
            # f0: phrase declination from +12 % to -12 %, accent on ~30 % of syllables.
            rel = (t - spurt_start) / max(spurt_len, 1e-3)
            accent = 1.12 if rng.random() < 0.3 else 1.0
            f0 = talker.f0_hz * (1.12 - 0.24 * rel) * accent
            target = _VOWELS[rng.integers(len(_VOWELS))] * fs
            onset = rng.random()
            c = t
            if onset < 0.3:
                # Fricative onset: noise, then the vowel.
                kind = int(rng.integers(len(_FRICATIVES)))
                fd = float(rng.uniform(0.05, 0.11)) * talker.rate_scale
                amp = _FRICATIVES[kind][2]
                point(c, 0.0, 0.0, f0, vowel, kind)
                point(c + 0.015, 0.0, amp, f0, vowel, kind)
                point(c + fd - 0.015, 0.0, amp, f0, vowel, kind)
                point(c + fd, 0.0, 0.0, f0, target, kind)
                c += fd
            elif onset < 0.45:
                # Plosive: closure silence, a short broadband burst.
                cd = float(rng.uniform(0.03, 0.06))
                point(c, 0.0, 0.0, f0, vowel, 2)
                point(c + cd, 0.0, 0.0, f0, vowel, 2)
                point(c + cd + 0.003, 0.0, 0.5, f0, target, 2)
                point(c + cd + 0.015, 0.0, 0.0, f0, target, 2)
                c += cd + 0.015
            elif onset < 0.65:
                # Voiced (nasal-like) onset: weak, low formants.
                nd = float(rng.uniform(0.04, 0.08))
                nas = _NASAL * fs
                point(c, 0.05, 0.0, f0, nas)
                point(c + 0.01, 0.3, 0.0, f0, nas)
                point(c + nd, 0.3, 0.0, f0, nas)
                c += nd
            # Vowel nucleus: rise, transition to target, decay.
            end = t + d
            # At least 0.1 s so the breakpoints below stay in time order.
            vlen = max(end - c, 0.1)
            end = c + vlen
            peak = float(rng.uniform(0.7, 1.0))
            point(c, 0.0 if onset >= 0.65 or onset < 0.45 else 0.3, 0.0, f0, vowel)
            point(c + 0.03, peak, 0.0, f0 * 1.02, 0.5 * (vowel + target))
            point(c + 0.4 * vlen, peak, 0.0, f0, target)
            point(end - 0.04, 0.8 * peak, 0.0, f0 * 0.97, target)
            point(end, 0.0, 0.0, f0 * 0.95, target)
            vowel = target
            if rng.random() < 0.15:
                # Fricative coda.
                kind = int(rng.integers(2))
                fd = float(rng.uniform(0.05, 0.1))
                amp = 0.7 * _FRICATIVES[kind][2]
                point(end + 0.005, 0.0, amp, f0, vowel, kind)
                point(end + fd, 0.0, 0.0, f0, vowel, kind)
                end += fd
            t = end + float(rng.uniform(0.0, 0.03))
        # Pause between talkspurts.
        t += float(rng.uniform(0.4, 1.4))
    point(t + 1.0, 0.0, 0.0, talker.f0_hz, vowel)
    return tr


def _rosenberg_derivative(phase: F64) -> F64:
    """Derivative of the Rosenberg glottal flow at ``phase`` in [0, 1) (per period)."""
    tp, tn = 0.40, 0.16
    out = np.zeros_like(phase)
    op = phase < tp
    out[op] = 0.5 * np.pi / tp * np.sin(np.pi * phase[op] / tp)
    cl = (phase >= tp) & (phase < tp + tn)
    out[cl] = -0.5 * np.pi / tn * np.sin(0.5 * np.pi * (phase[cl] - tp) / tn)
    return out


def _resonator_mag(freqs: F64, fc: F64, bw: F64 | float, rate: float) -> F64:
    """|H| of two-pole resonators ``1 / (1 - 2 r cos(theta) z^-1 + r^2 z^-2)``, |H(1)| = 1.

    ``fc`` has shape (frames, 1); ``freqs`` shape (bins,). Returns (frames, bins).
    """
    r = np.exp(-np.pi * np.asarray(bw) / rate)
    theta = 2.0 * np.pi * fc / rate
    z1 = np.exp(-1j * 2.0 * np.pi * freqs / rate)[None, :]
    a1 = -2.0 * r * np.cos(theta)
    a2 = r * r
    den = np.abs(1.0 + a1 * z1 + a2 * z1 * z1)
    dc = np.abs(1.0 + a1 + a2)
    return np.asarray(dc / den, dtype=np.float64)


def _stft_filter(x: F64, gains: F64, n_fft: int, hop: int, win: F64) -> F64:
    """Filter ``x`` frame by frame: frame ``i`` (starting at ``i * hop``) times ``gains[i]``."""
    n_frames = gains.shape[0]
    pad = np.zeros(n_fft + hop * (n_frames - 1))
    pad[: min(x.size, pad.size)] = x[: pad.size]
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    spec = np.fft.rfft(pad[idx] * win, axis=1) * gains
    frames = np.fft.irfft(spec, n=n_fft, axis=1) * win
    out = np.zeros_like(pad)
    np.add.at(out, idx.ravel(), frames.ravel())
    return out


def speech_like(
    duration_s: float,
    sample_rate: int,
    *,
    level_dbfs: float = -26.0,
    seed: int = 0,
    talker: int = 0,
) -> F32:
    """Seeded synthetic speech-like signal.

    Parameters
    ----------
    duration_s : float
        Length in seconds (> 0).
    sample_rate : int
        Sample rate in Hz (8000-96000).
    level_dbfs : float
        Active speech level (ITU-T P.56, :func:`~callaudio.simulation.metrics.active_level_dbfs`)
        of the result in dBFS.
    seed : int
        Seed of the random plan and excitation; the same (seed, talker, rate, duration)
        gives the same samples.
    talker : int
        Voice: 0 male-like (f0 ~120 Hz), 1 female-like (~210 Hz), 2-5 further voices.

    Returns
    -------
    numpy.ndarray
        float32 array of ``round(duration_s * sample_rate)`` samples.
    """
    if not duration_s > 0.0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    rate = int(sample_rate)
    if not 8000 <= rate <= 96000:
        raise ValueError(f"sample_rate must be in [8000, 96000] Hz, got {sample_rate}")
    if not 0 <= talker < len(_TALKERS):
        raise ValueError(f"talker must be in [0, {len(_TALKERS) - 1}], got {talker}")
    voice = _TALKERS[talker]
    rng = np.random.default_rng([int(seed), int(talker), 0x5EEC])
    n = round(duration_s * rate)
    plan = _plan(duration_s, voice, rng)
    bt = np.asarray(plan.t)
    if np.any(np.diff(bt) < -1e-9):
        raise RuntimeError("speech_like: control breakpoints out of time order")
    bt = np.maximum.accumulate(bt)  # remove rounding-level inversions
    t = np.arange(n) / rate

    # Sample-rate tracks.
    av = np.interp(t, bt, np.asarray(plan.av))
    au = np.interp(t, bt, np.asarray(plan.au))
    f0 = np.interp(t, bt, np.asarray(plan.f0))
    # Slow random f0 wander (+-3 %) and per-period jitter (~1 %).
    knots = np.arange(0.0, duration_s + 0.4, 0.2)
    wander = np.interp(t, knots, rng.normal(0.0, 0.015, knots.size))
    f0 = f0 * (1.0 + wander)
    phase_inc = f0 / rate
    cyc = np.cumsum(phase_inc)
    period_idx = np.floor(cyc).astype(np.int64)
    jitter = rng.normal(0.0, 0.01, int(period_idx[-1]) + 2)
    # Jitter scales each period's length: the phase increment of every sample of period k
    # is multiplied by (1 + jitter[k]); periods are counted on the unjittered phase.
    cyc = np.cumsum(phase_inc * (1.0 + jitter[period_idx]))
    period_idx = np.floor(cyc).astype(np.int64)
    phase = cyc - period_idx
    shimmer = 1.0 + rng.normal(0.0, 0.05, int(period_idx[-1]) + 1)
    glottal = _rosenberg_derivative(phase) * shimmer[period_idx]
    # Aspiration noise on voiced segments (breathiness, -30 dB).
    noise_v = rng.standard_normal(n)
    voiced_src = av * (glottal + 0.03 * noise_v * (phase < 0.56))
    unvoiced_src = _FRICATION_GAIN * au * rng.standard_normal(n)

    # Frame-wise spectral envelopes.
    n_fft = 1 << int(np.ceil(np.log2(0.032 * rate)))
    hop = n_fft // 4
    win = np.sqrt(np.hanning(n_fft + 1)[:n_fft])
    n_frames = int(np.ceil((n + n_fft) / hop)) + 1
    centres = (np.arange(n_frames) * hop + n_fft / 2 - n_fft) / rate
    freqs = np.asarray(np.fft.rfftfreq(n_fft, 1.0 / rate), dtype=np.float64)
    fmts = np.asarray(plan.formants)
    cols = [np.interp(centres, bt, fmts[:, k])[:, None] for k in range(3)]
    bw = _BANDWIDTHS * (1.0 + 0.1 * (voice.formant_scale - 1.0))
    nyq_guard = 0.45 * rate
    h_v = np.ones((n_frames, freqs.size))
    for k, col in enumerate([*cols, np.full((n_frames, 1), _F4_HZ * voice.formant_scale)]):
        # A formant above the band (F3/F4 of a female voice at 8 kHz) is left out, not
        # clamped to the band edge, where two stacked resonances would make a +40 dB peak.
        mag = _resonator_mag(freqs, np.minimum(col, nyq_guard), bw[k], rate)
        h_v *= np.where(col > nyq_guard, 1.0, mag)
    # Higher-pole correction (Fant 1960): the formants above F4 lift the spectrum above
    # ~1 kHz, modelled as +6 dB/octave (fc in Hz); then the band limit of a capture
    # (4th-order roll-off above 7 kHz).
    h_v *= (np.sqrt(1.0 + (freqs / _HPC_HZ) ** 2) / np.sqrt(1.0 + (freqs / 7000.0) ** 8))[None, :]

    fric_kind = np.asarray(plan.fric)
    kind_at = fric_kind[np.clip(np.searchsorted(bt, centres), 0, bt.size - 1)]
    h_u = np.empty((n_frames, freqs.size))
    for k, (fc, b, _) in enumerate(_FRICATIVES):
        mag = _resonator_mag(freqs, np.array([[min(fc, nyq_guard)]]), b, rate)[0]
        mag = mag / mag.max() + 0.05
        h_u[kind_at == k] = mag
    h_u *= 1.0 / np.sqrt(1.0 + (freqs / 9000.0) ** 8)[None, :]

    # Offset by one frame so sample 0 sits inside the second frame (full OLA weight).
    pre = np.concatenate([np.zeros(n_fft), voiced_src])
    pru = np.concatenate([np.zeros(n_fft), unvoiced_src])
    y = _stft_filter(pre, h_v, n_fft, hop, win) + _stft_filter(pru, h_u, n_fft, hop, win)
    y = y[n_fft : n_fft + n]
    # Remove DC and sub-audio content (first-order high-pass at ~60 Hz, by FFT).
    spec = np.fft.rfft(y)
    f = np.fft.rfftfreq(n, 1.0 / rate)
    spec *= f / np.sqrt(f * f + 60.0**2)
    y = np.fft.irfft(spec, n=n)

    lvl = active_level_dbfs(y, rate)
    if lvl <= -150.0:
        raise ValueError("duration too short to contain speech")
    y *= 10.0 ** ((level_dbfs - lvl) / 20.0)
    return np.asarray(y, dtype=np.float32)


def read_wav(path: str) -> tuple[F32, int]:
    """Read a 16-bit PCM mono WAV file; returns (float32 samples in [-1, 1), rate in Hz)."""
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: need 16-bit mono PCM WAV")
        rate = w.getframerate()
        raw = w.readframes(w.getnframes())
    x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / np.float32(32768.0)
    return x, rate


def write_wav(path: str, x: npt.ArrayLike, sample_rate: int) -> None:
    """Write ``x`` (full scale 1.0) as 16-bit PCM mono WAV, rounding and clipping to int16."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"x must be one-dimensional, got shape {a.shape}")
    pcm = np.clip(np.rint(a * 32768.0), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())


@lru_cache(maxsize=8)
def _utterances(talker: int) -> tuple[F64, ...]:
    """The clip of ``talker`` at 16 kHz, split at pauses of >= 150 ms into utterances."""
    if not 0 <= talker < len(TALKER_FILES):
        raise ValueError(f"talker must be in [0, {len(TALKER_FILES) - 1}], got {talker}")
    ref = resources.files("callaudio.simulation") / "data" / TALKER_FILES[talker]
    with resources.as_file(ref) as path:
        if not path.is_file():
            raise FileNotFoundError(
                f"speech clip {path} is missing; regenerate it with data/make_clips.sh"
            )
        x, rate = read_wav(str(path))
    if rate != CLIP_RATE:
        raise ValueError(f"{path}: expected {CLIP_RATE} Hz, got {rate}")
    blk = CLIP_RATE // 100
    nb = x.size // blk
    e = np.mean(x[: nb * blk].astype(np.float64).reshape(nb, blk) ** 2, axis=1)
    voiced = 10.0 * np.log10(e + 1e-12) > 10.0 * np.log10(e.max()) - 50.0
    # Close gaps shorter than 150 ms, then cut at the remaining gaps (20 ms margins).
    idx = np.nonzero(voiced)[0]
    starts = [int(idx[0])]
    ends = []
    for a, b in itertools.pairwise(idx.tolist()):
        if b - a > 15:
            ends.append(a + 1)
            starts.append(b)
    ends.append(int(idx[-1]) + 1)
    margin = 2
    return tuple(
        x[max(0, (s0 - margin) * blk) : min(x.size, (e0 + margin) * blk)].astype(np.float64)
        for s0, e0 in zip(starts, ends, strict=True)
    )


@lru_cache(maxsize=16)
def _utterances_at(talker: int, rate: int) -> tuple[F64, ...]:
    return tuple(
        u if rate == CLIP_RATE else resample(u, CLIP_RATE, rate) for u in _utterances(talker)
    )


def load_talker(
    talker: int,
    sample_rate: int,
    duration_s: float | None = None,
    *,
    seed: int = 0,
    level_dbfs: float | None = -26.0,
) -> F32:
    """Recorded speech of ``talker`` at ``sample_rate``.

    The talker's clip is split into its sentences; a seeded generator shuffles them and
    draws the pause before each (0.25-0.9 s, the first 0.05-0.3 s), and sentences are
    appended (cycling through fresh shuffles) until ``duration_s`` is reached; the last one
    is cut. The sentences are resampled from 16 kHz with
    :func:`~callaudio.simulation.resample.resample`.

    Parameters
    ----------
    talker : int
        0 (``talker_a.wav``, male) or 1 (``talker_b.wav``, female).
    sample_rate : int
        Output rate in Hz.
    duration_s : float, optional
        Output length in seconds; default: every sentence once.
    seed : int
        Seed of the sentence order and pauses.
    level_dbfs : float or None
        Active speech level (P.56) of the result in dBFS; None keeps the clip's scale.

    Raises
    ------
    FileNotFoundError
        If the clip is missing (never falls back to synthetic speech).
    """
    rate = int(sample_rate)
    if not 8000 <= rate <= 96000:
        raise ValueError(f"sample_rate must be in [8000, 96000] Hz, got {sample_rate}")
    if duration_s is not None and not duration_s > 0.0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    utts = _utterances_at(int(talker), rate)
    rng = np.random.default_rng([int(seed), int(talker), 0xC11B])
    target = None if duration_s is None else round(duration_s * rate)
    parts: list[F64] = []
    total = 0
    first = True
    while True:
        for i in rng.permutation(len(utts)):
            lo, hi = (0.05, 0.3) if first else (0.25, 0.9)
            gap = round(float(rng.uniform(lo, hi)) * rate)
            first = False
            parts.extend((np.zeros(gap), utts[int(i)]))
            total += gap + utts[int(i)].size
            if target is not None and total >= target:
                break
        if target is None or total >= target:
            break
    y = np.concatenate(parts)
    if target is not None:
        y = y[:target]
    if level_dbfs is not None:
        lvl = active_level_dbfs(y, rate)
        if lvl <= -150.0:
            raise ValueError("duration too short to contain speech")
        y = y * 10.0 ** ((level_dbfs - lvl) / 20.0)
    return np.asarray(y, dtype=np.float32)
