"""Objective measures for the echo canceller, noise suppressor and gain control.

Levels are in dBFS relative to a full-scale DC (a full-scale square wave): a signal
``x`` with values in [-1, 1] has level ``10 log10(mean(x**2))`` dBFS, so a full-scale sine
is -3.01 dBFS. This is the same scale as ITU-T's dBov.

References
----------
- ITU-T Rec. P.56 (12/2011), "Objective measurement of active speech level", method B:
  envelope with a 0.03 s time constant, 0.2 s hangover, margin M = 15.9 dB.
- S. R. Quackenbush, T. P. Barnwell, M. A. Clements, *Objective Measures of Speech
  Quality*, Prentice-Hall, 1988 (segmental SNR, frame SNR clamped to [-10, 35] dB).
- Y. Uemura, Y. Takahashi, H. Saruwatari, K. Shikano, K. Kondo, "Automatic optimization
  scheme of spectral subtraction based on musical noise assessment via higher-order
  statistics", IWAENC 2008 (kurtosis ratio of power spectra as a musical-noise measure).
- G. Enzner, H. Buchner, A. Favrot, F. Kuech, "Acoustic echo control", Academic Press
  Library in Signal Processing vol. 4, 2014 (ERLE definition).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "ActiveLevelMeter",
    "active_fraction",
    "active_level_dbfs",
    "active_mask",
    "erle_db",
    "frame_levels_dbfs",
    "level_dbfs",
    "log_kurtosis_ratio",
    "log_spectral_variance",
    "near_end_loss_db",
    "segmental_snr_db",
    "snr_db",
    "snr_improvement_db",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ArrayLike = npt.ArrayLike

#: Floor applied to energies before taking logs (about -200 dBFS).
_EPS = 1e-20

#: P.56 method B constants.
_P56_TIME_CONSTANT_S = 0.03
_P56_HANGOVER_S = 0.2
_P56_MARGIN_DB = 15.9
#: Block length used to evaluate the P.56 envelope (s). The envelope's 30 ms time
#: constant makes a 1 ms evaluation grid indistinguishable from per-sample evaluation.
_P56_BLOCK_S = 0.001
#: Threshold grid (dBFS): 0.25 dB steps from -100 dBFS; an envelope above the top bin
#: (+200 dBFS) counts in the top bin.
_P56_STEP_DB = 0.25
_P56_FLOOR_DB = -100.0
_P56_BINS = int((200.0 - _P56_FLOOR_DB) / _P56_STEP_DB) + 1


def _as_1d(x: ArrayLike, name: str) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    return a


def _db(energy: FloatArray | float) -> FloatArray:
    return np.asarray(10.0 * np.log10(np.maximum(energy, _EPS)), dtype=np.float64)


def level_dbfs(x: ArrayLike) -> float:
    """Mean-square level of ``x`` in dBFS (``10 log10(mean(x**2))``; -200 for silence)."""
    a = _as_1d(x, "x")
    if a.size == 0:
        raise ValueError("x is empty")
    return float(_db(float(np.mean(a * a))))


class ActiveLevelMeter:
    """ITU-T P.56 method B active level of one signal at ``rate`` Hz, fed block by block.

    The envelope is ``|x|`` smoothed by two cascaded one-pole filters (0.03 s), evaluated
    once per 1 ms block. A block is active at threshold ``c`` when the envelope reached
    ``c`` within the 0.2 s hangover, i.e. when the envelope's running maximum over the
    hangover is ``>= c``; so the activity at every threshold of the grid follows from one
    histogram of that running maximum (block counts and energies per 0.25 dB bin), and
    memory stays flat. NaN and +-Inf samples count as silence (as in the processing chain).
    Feeding a signal in pieces of any sizes gives the same result as feeding it whole.
    """

    def __init__(self, rate: int, *, keep_envelope: bool = False) -> None:
        self.block = max(1, round(_P56_BLOCK_S * rate))
        self.hangover = max(1, round(_P56_HANGOVER_S * rate / self.block))
        self._g = float(np.exp(-self.block / (_P56_TIME_CONSTANT_S * rate)))
        self._p = self._q = 0.0
        self._tail = np.zeros(0)
        self._recent = np.zeros(0)  # envelope of the last hangover - 1 blocks
        self._count = np.zeros(_P56_BINS)
        self._energy = np.zeros(_P56_BINS)
        self._total = 0.0
        self._envelopes: list[FloatArray] | None = [] if keep_envelope else None
        self._result: tuple[float, float] | None = None
        self._finished = False

    def add(self, x: ArrayLike) -> None:
        """Append samples (flattened)."""
        if self._finished:
            raise ValueError("the meter has finished; start a new one")
        a = np.asarray(x, dtype=np.float64).reshape(-1)
        if not np.isfinite(a).all():
            a = np.where(np.isfinite(a), a, 0.0)
        a = np.concatenate([self._tail, a])
        nb = a.size // self.block
        self._tail = a[nb * self.block :]
        if nb:
            body = a[: nb * self.block].reshape(nb, self.block)
            self._account(np.abs(body).mean(axis=1), (body * body).sum(axis=1))

    def _account(self, mean_abs: FloatArray, energy: FloatArray) -> None:
        g, p, q = self._g, self._p, self._q
        env = np.empty_like(mean_abs)
        for i, v in enumerate(mean_abs.tolist()):
            p = g * p + (1.0 - g) * v
            q = g * q + (1.0 - g) * p
            env[i] = q
        self._p, self._q = p, q
        if self._envelopes is not None:
            self._envelopes.append(env)
        hang = self.hangover
        hist = np.concatenate([np.zeros(max(0, hang - 1 - self._recent.size)), self._recent, env])
        running = np.lib.stride_tricks.sliding_window_view(hist, hang).max(axis=1)
        self._recent = hist[hist.size - (hang - 1) :] if hang > 1 else np.zeros(0)
        self._total += float(energy.sum())
        with np.errstate(divide="ignore"):
            pos = (20.0 * np.log10(running) - _P56_FLOOR_DB) / _P56_STEP_DB
        keep = pos >= 0.0
        idx = np.minimum(np.floor(pos[keep]), _P56_BINS - 1).astype(np.int64)
        self._count += np.bincount(idx, minlength=_P56_BINS)
        self._energy += np.bincount(idx, weights=energy[keep], minlength=_P56_BINS)

    def finish(self) -> tuple[float, float] | None:
        """``(active level, threshold)`` in dBFS; None when no block reached the
        -100 dBFS floor of the threshold grid (silence: no activity). Idempotent."""
        if not self._finished:
            self._finished = True
            if self._tail.size:
                t = self._tail
                self._account(np.array([np.abs(t).mean()]), np.array([float(np.sum(t * t))]))
                self._tail = np.zeros(0)
            self._result = self._crossing()
        return self._result

    @property
    def envelope(self) -> FloatArray:
        """The block envelope (only with ``keep_envelope=True``)."""
        if self._envelopes is None:
            raise ValueError("the meter was made without keep_envelope=True")
        return np.concatenate(self._envelopes) if self._envelopes else np.zeros(0)

    def _crossing(self) -> tuple[float, float] | None:
        nonzero = np.nonzero(self._count)[0]
        if self._total <= 0.0 or nonzero.size == 0:
            return None
        size = int(nonzero[-1]) + 1  # thresholds up to the loudest running maximum
        thr_db = _P56_FLOOR_DB + _P56_STEP_DB * np.arange(size)
        # Blocks active at threshold j: running maximum in bin >= j (never none here).
        n_act = np.cumsum(self._count[::-1])[::-1][:size] * self.block
        e_act = np.cumsum(self._energy[::-1])[::-1][:size]
        act_db = _db(e_act / n_act)
        diff = act_db - thr_db
        # diff decreases (roughly) with the threshold; find the first crossing of M.
        below = np.nonzero(diff <= _P56_MARGIN_DB)[0]
        if below.size == 0:
            return float(act_db[-1]), float(thr_db[-1])
        j = int(below[0])
        if j == 0:
            return float(act_db[0]), float(thr_db[0])
        # Linear interpolation between thresholds j-1 and j (as in P.56's bisection).
        d0, d1 = diff[j - 1], diff[j]
        frac = (d0 - _P56_MARGIN_DB) / (d0 - d1) if d0 != d1 else 0.0
        level = act_db[j - 1] + frac * (act_db[j] - act_db[j - 1])
        thr = thr_db[j - 1] + frac * (thr_db[j] - thr_db[j - 1])
        return float(level), float(thr)


def _activity(env: FloatArray, threshold: float, hang: int) -> BoolArray:
    """Blocks whose envelope is >= threshold, extended by ``hang`` blocks of hangover."""
    above = env >= threshold
    idx = np.where(above, np.arange(env.size), -(10**9))
    last = np.maximum.accumulate(idx)
    return np.asarray(np.arange(env.size) - last < hang, dtype=np.bool_)


def active_level_dbfs(x: ArrayLike, rate: int) -> float:
    """Active speech level of ``x`` in dBFS, after ITU-T P.56 method B.

    The envelope is ``|x|`` smoothed by two cascaded one-pole filters with a 0.03 s time
    constant; a sample is active at threshold ``c`` if the envelope was >= ``c`` within the
    last 0.2 s (hangover). The active level ``A(c)`` is the mean square over active samples;
    the result is ``A(c)`` at the threshold where ``A(c) - 20 log10(c) = 15.9`` dB
    (thresholds on a 0.25 dB grid from -100 dBFS, linearly interpolated; computed by
    :class:`ActiveLevelMeter`). Returns -200 when nothing is active: silence, or an
    envelope that never reaches -100 dBFS. NaN and +-Inf samples count as silence.
    As in P.56 itself, where ``A(c) - 20 log10(c)`` runs within a few tenths of a dB of the
    margin over a range of thresholds, the crossing (and the level) is ill-conditioned and
    may move by up to ~1 dB between near-identical signals.

    Parameters
    ----------
    x : array_like
        One-dimensional signal, full scale 1.0.
    rate : int
        Sample rate in Hz.
    """
    a = _as_1d(x, "x")
    if a.size == 0:
        raise ValueError("x is empty")
    meter = ActiveLevelMeter(int(rate))
    meter.add(a)
    found = meter.finish()
    return -200.0 if found is None else found[0]


def active_mask(x: ArrayLike, rate: int) -> BoolArray:
    """Per-sample P.56 speech activity of ``x`` (the activity at the active-level threshold).

    Returns a boolean array of ``len(x)``; all False when nothing is active.
    """
    a = _as_1d(x, "x")
    if a.size == 0:
        return np.zeros(0, dtype=np.bool_)
    meter = ActiveLevelMeter(int(rate), keep_envelope=True)
    meter.add(a)
    found = meter.finish()
    if found is None:
        return np.zeros(a.size, dtype=np.bool_)
    act = _activity(meter.envelope, 10.0 ** (found[1] / 20.0), meter.hangover)
    return np.asarray(np.repeat(act, meter.block)[: a.size], dtype=np.bool_)


def active_fraction(x: ArrayLike, rate: int) -> float:
    """Fraction of samples of ``x`` that P.56 counts as active speech."""
    m = active_mask(x, rate)
    return float(m.mean()) if m.size else 0.0


def _frames(x: FloatArray, n: int) -> FloatArray:
    nf = x.size // n
    return x[: nf * n].reshape(nf, n)


def frame_levels_dbfs(x: ArrayLike, rate: int, frame_ms: float = 10.0) -> FloatArray:
    """Mean-square level of each non-overlapping ``frame_ms`` frame of ``x`` in dBFS."""
    a = _as_1d(x, "x")
    n = max(1, round(frame_ms * rate / 1000.0))
    f = _frames(a, n)
    return _db(np.mean(f * f, axis=1))


def erle_db(
    mic_echo: ArrayLike,
    out_residual: ArrayLike,
    rate: int,
    frame_ms: float = 50.0,
    mask: ArrayLike | None = None,
    min_echo_dbfs: float = -70.0,
) -> tuple[FloatArray, float]:
    """Echo return loss enhancement per frame and its median.

    ``ERLE = 10 log10(sum(e**2) / sum(r**2))`` per non-overlapping frame, where ``e`` is the
    echo at the microphone and ``r`` is the echo remaining in the output (for far-end single
    talk with no noise, the output itself).

    Parameters
    ----------
    mic_echo, out_residual : array_like
        Echo component at the microphone and residual echo in the output (same length,
        time-aligned).
    rate : int
        Sample rate in Hz.
    frame_ms : float
        Frame length in ms.
    mask : array_like of bool, optional
        Per-sample mask; only frames where the mask is true for at least half the samples
        count (e.g. ``far_only``).
    min_echo_dbfs : float
        Frames whose echo level is below this (silent far end) are excluded.

    Returns
    -------
    per_frame : ndarray
        ERLE in dB for every frame (NaN for excluded frames).
    median : float
        Median ERLE over the included frames (NaN if none).
    """
    e = _as_1d(mic_echo, "mic_echo")
    r = _as_1d(out_residual, "out_residual")
    if e.size != r.size:
        raise ValueError(f"lengths differ: mic_echo {e.size}, out_residual {r.size}")
    n = max(1, round(frame_ms * rate / 1000.0))
    fe = _frames(e, n)
    fr = _frames(r, n)
    pe = np.mean(fe * fe, axis=1)
    pr = np.mean(fr * fr, axis=1)
    per = _db(pe) - _db(pr)
    keep = _db(pe) >= min_echo_dbfs
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        if m.size != e.size:
            raise ValueError("mask length differs from the signal length")
        keep &= _frames(m.astype(np.float64), n).mean(axis=1) >= 0.5
    per = np.where(keep, per, np.nan)
    med = float(np.nanmedian(per)) if np.any(keep) else float("nan")
    return per, med


def snr_db(clean: ArrayLike, processed: ArrayLike) -> float:
    """Global SNR in dB: ``10 log10(sum(clean**2) / sum((processed - clean)**2))``."""
    s = _as_1d(clean, "clean")
    y = _as_1d(processed, "processed")
    if s.size != y.size:
        raise ValueError("lengths differ")
    return float(_db(np.sum(s * s)) - _db(np.sum((y - s) ** 2)))


def segmental_snr_db(
    clean: ArrayLike,
    processed: ArrayLike,
    rate: int,
    frame_ms: float = 20.0,
    lo_db: float = -10.0,
    hi_db: float = 35.0,
    active_only: bool = True,
) -> float:
    """Segmental SNR in dB (Quackenbush et al. 1988).

    The mean over non-overlapping frames of ``10 log10(sum(s**2) / sum((y - s)**2))``,
    each frame's value clamped to ``[lo_db, hi_db]``. With ``active_only`` only frames where
    the clean speech is P.56-active count (frames of silence would otherwise pin the mean
    at ``lo_db``).
    """
    s = _as_1d(clean, "clean")
    y = _as_1d(processed, "processed")
    if s.size != y.size:
        raise ValueError("lengths differ")
    n = max(1, round(frame_ms * rate / 1000.0))
    fs = _frames(s, n)
    fd = _frames(y - s, n)
    seg = _db(np.sum(fs * fs, axis=1)) - _db(np.sum(fd * fd, axis=1))
    seg = np.clip(seg, lo_db, hi_db)
    if active_only:
        act = _frames(active_mask(s, rate).astype(np.float64), n).mean(axis=1) >= 0.5
        if not np.any(act):
            raise ValueError("clean signal has no active speech")
        seg = seg[act]
    return float(np.mean(seg))


def snr_improvement_db(
    clean: ArrayLike,
    noisy: ArrayLike,
    processed: ArrayLike,
    rate: int,
    frame_ms: float = 20.0,
) -> float:
    """Segmental SNR of ``processed`` minus that of ``noisy``, both against ``clean`` (dB)."""
    return segmental_snr_db(clean, processed, rate, frame_ms) - segmental_snr_db(
        clean, noisy, rate, frame_ms
    )


def near_end_loss_db(
    out: ArrayLike,
    near_clean: ArrayLike,
    mask: ArrayLike | None = None,
) -> float:
    """Level of the near-end talker in ``out`` relative to the clean near end, in dB.

    Method: least-squares projection. Over the masked samples (e.g. ``double_talk``) the
    gain ``g = <out, s> / <s, s>`` of the clean near end ``s`` in ``out`` is estimated;
    anything in ``out`` uncorrelated with ``s`` (residual echo, noise) does not bias ``g``
    on average, so echo leaking through the canceller does not make a suppressed near end
    look louder. The result is ``20 log10(|g|)``: 0 dB means the near end is kept, -6 dB
    means it was halved. A processor that delays its output must be aligned by the caller
    first. Positive values mean amplification. Returns -200 when ``out`` holds none of
    the near end.

    Parameters
    ----------
    out : array_like
        Processor output.
    near_clean : array_like
        Clean near-end speech as received at the microphone, same length and alignment.
    mask : array_like of bool, optional
        Samples to evaluate (default: all).
    """
    y = _as_1d(out, "out")
    s = _as_1d(near_clean, "near_clean")
    if y.size != s.size:
        raise ValueError("lengths differ")
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        if m.size != y.size:
            raise ValueError("mask length differs from the signal length")
        y, s = y[m], s[m]
    ss = float(np.dot(s, s))
    if ss <= 0.0:
        raise ValueError("near_clean is silent over the mask")
    g = float(np.dot(y, s)) / ss
    return float(_db(g * g))


def _power_spectrogram(x: FloatArray, rate: int, frame_ms: float) -> FloatArray:
    n = 1 << max(4, int(np.ceil(np.log2(frame_ms * rate / 1000.0))))
    hop = n // 2
    if x.size < n:
        raise ValueError("signal shorter than one analysis frame")
    nf = 1 + (x.size - n) // hop
    idx = np.arange(n)[None, :] + hop * np.arange(nf)[:, None]
    w = np.hanning(n + 1)[:n]
    spec = np.fft.rfft(x[idx] * w, axis=1)
    return np.asarray(spec.real**2 + spec.imag**2, dtype=np.float64)


def _kurtosis(p: FloatArray) -> float:
    """Uemura et al.'s kurtosis of power-spectral values: ``mu4 / mu2**2`` (raw moments)."""
    m2 = float(np.mean(p**2))
    if m2 <= 0.0:
        return float("nan")
    return float(np.mean(p**4) / m2**2)


def log_kurtosis_ratio(
    noise_before: ArrayLike,
    noise_after: ArrayLike,
    rate: int,
    frame_ms: float = 32.0,
    band_hz: tuple[float, float] = (100.0, 7000.0),
) -> float:
    """Log kurtosis ratio ``ln(kurt_after / kurt_before)`` of power-spectral values.

    Uemura et al. (2008): musical noise comes from isolated spectral peaks, which lengthen
    the tail of the distribution of the residual's power-spectral values and raise their
    kurtosis ``mu4 / mu2**2`` (raw moments of the power values ``P`` over all frames and
    bins in ``band_hz``; 6 for the periodogram of Gaussian noise, whose ``P`` is
    exponential). Each bin is first normalised by its mean power so a coloured spectrum
    does not count as kurtosis. 0 means the processing added no musical noise; Uemura et al.
    found the kurtosis ratio to track the perceived amount of musical noise, larger being
    worse.

    Parameters
    ----------
    noise_before, noise_after : array_like
        Speech-free noise before and after processing (time-aligned, any lengths).
    rate : int
        Sample rate in Hz.
    frame_ms : float
        Analysis frame (rounded up to a power of two samples, Hann window, 50 % overlap).
    band_hz : (float, float)
        Band of the bins used, Hz.
    """
    a = _as_1d(noise_before, "noise_before")
    b = _as_1d(noise_after, "noise_after")
    pa = _power_spectrogram(a, rate, frame_ms)
    pb = _power_spectrogram(b, rate, frame_ms)
    n = 2 * (pa.shape[1] - 1)
    f = np.arange(pa.shape[1]) * rate / n
    sel = (f >= band_hz[0]) & (f <= min(band_hz[1], rate / 2))
    # Normalise each bin by its mean so coloured noise does not inflate the kurtosis.
    pa = pa[:, sel] / np.maximum(pa[:, sel].mean(axis=0), _EPS)
    pb = pb[:, sel] / np.maximum(pb[:, sel].mean(axis=0), _EPS)
    return float(np.log(_kurtosis(pb) / _kurtosis(pa)))


def log_spectral_variance(
    x: ArrayLike,
    rate: int,
    frame_ms: float = 32.0,
    band_hz: tuple[float, float] = (100.0, 7000.0),
) -> float:
    """Mean over frequency of the variance over time of the log power spectrum (dB²).

    A stationary Gaussian noise's periodogram gives about 31 dB² (the variance of
    ``10 log10`` of an exponential variable is ``(10/ln 10)**2 * pi**2 / 6``); musical
    residual noise, with bins flickering on and off, gives much more.
    """
    a = _as_1d(x, "x")
    p = _power_spectrogram(a, rate, frame_ms)
    n = 2 * (p.shape[1] - 1)
    f = np.arange(p.shape[1]) * rate / n
    sel = (f >= band_hz[0]) & (f <= min(band_hz[1], rate / 2))
    lp = _db(p[:, sel])
    return float(np.mean(np.var(lp, axis=0)))
