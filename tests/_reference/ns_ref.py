"""Slow NumPy model of the compiled noise suppressor (``callaudio._dsp.ns``).

The same algorithm as ``csrc/callaudio/_dsp/ns.pyx`` (see its docstring for the papers:
Mauler & Martin 2007 low-delay windows, Gerkmann & Hendriks 2012 noise PSD, decision-directed a
priori SNR and log-MMSE gain of Ephraim & Malah 1984/1985, OM-LSA presence weighting of
Cohen & Berdugo 2001, the speech-pause floor, Sohn et al. 1999 frame VAD), written
bin-vectorised in float64 with ``numpy.fft`` and libm's exp/log (the compiled kernels use
float32 and polynomial exp/log accurate to ~2 ulp). Tests run both on the same frames and
compare outputs and states. The constants mirror ``csrc/callaudio/_dsp/ns_impl.h``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["NoiseSuppressorRef", "exp_half_e1", "lowdelay_windows", "mauler_martin_windows"]

F64 = npt.NDArray[np.float64]

XI_H1 = 10.0 ** (13.5 / 10.0)
XI_H1_PAPER = 10.0 ** (15.0 / 10.0)  # at 8 kHz and in babble (wbar >= ONSET_MAX_W)
NOISE_TAU_S = 0.072
SPP_TAU_S = 0.5
SPP_CAP = 0.99
DD_TAU_S = 0.24749158226254556  # 0.98 per 5 ms hop
DD_ALPHA_MAX = 0.98
XI_MIN = 10.0 ** (-25.0 / 10.0)
GAMMA_MAX = 1.0e4
XI_MAX = 1.0e6
INIT_S = 0.05
NOISE_FLOOR_DBFS = -140.0
VAD_BAND_HZ = (100.0, 8000.0)
VAD_A01 = 0.2
VAD_A10 = 0.1
VAD_THRESHOLD = 0.12
VAD_THRESHOLD_NB = 0.13  # at 8 kHz
VAD_SLOPE = 40.0
LOG_ODDS_MAX = 30.0
# the core's one input clamp limit, written in csrc's ca_limits.h
INPUT_LIMIT = float(
    re.search(
        r"#define CA_INPUT_CLAMP\s+([0-9.eE+-]+)",
        (Path(__file__).resolve().parents[2] / "csrc/callaudio/_dsp/ca_limits.h").read_text(),
    ).group(1)  # type: ignore[union-attr]
)
TINY = 1e-25
SPP_MARGIN = 5.0
SAP_TAU_S = 0.022
SAP_LOCAL_HZ = 50.0
SAP_GLOBAL_HZ = 500.0
SAP_ZMIN = 10.0 ** (-10.0 / 10.0)
SAP_ZMAX = 10.0 ** (-5.0 / 10.0)
SAP_QMAX = 0.95
FLOOR_WIN_S = 1.0
FLOOR_GATE = 10.0 ** (4.0 / 10.0)
FLOOR_TAU_S = 0.1
FLOOR_ON_DB = 2.0
FLOOR_FULL_DB = 5.0
FLOOR_FLAT_LO = 0.02
FLOOR_FLAT_HI = 0.05
FLOOR_HOLD_TAU_S = 3.0
FLOOR_BIAS = 8.0
FLOOR_GMIN_SHARE = 0.75
ABSENT_ON_DB = (5.0, 8.0)
ABSENT_MARGIN_DB = 6.0
ABSENT_LEVEL_TAU_S = 2.0
ABSENT_HANG_S = 0.15
ABSENT_TAU_S = 0.05
ABSENT_DEPTH = 5.0 / 3.0
ABSENT_MAX_LEV_DB = 25.0
TONAL_BINS = 8
TONAL_ON = 10.0 ** (20.0 / 10.0)
TONAL_FULL = 10.0 ** (25.0 / 10.0)
TONAL_TAU_S = 0.5
TONAL_EVERY_S = 0.02
TONAL_COH_TAU_S = 0.3
ONSET_ON = 10.0 ** (10.0 / 10.0)
ONSET_HOLD_S = 1.5
ONSET_COH = (0.25, 0.75)
ONSET_TAU_S = 0.02
ONSET_MAX_W = 0.05
ONSET_OFF = 10.0 ** (3.0 / 10.0)
TRANS_LO_HZ = 1000.0
TRANS_HI_HZ = 8000.0
TRANS_ON = 10.0 ** (10.0 / 10.0)
TRANS_FRAC = (0.3, 0.3)
TRANS_JUMP = 10.0 ** (4.0 / 10.0)
TRANS_OFF = 10.0 ** (6.0 / 10.0)
TRANS_MAX_S = 0.05
TRANS_SUPPRESS_S = 0.015
TRANS_RETRIG = 10.0 ** (-10.0 / 10.0)
TRANS_CONFIRM_S = 0.06
TRANS_DREF_TAU_S = (0.01, 0.05)
TRANS_REF_TAU_S = 0.03
TRANS_RATE_TAU_S = 2.0
TRANS_RATE = (1.0, 2.0)
TRANS_KEEP = 4.0
TRANS_GMIN = 10.0 ** (-30.0 / 20.0)

_A = (-0.57721566, 0.99999193, -0.24991055, 0.05519968, -0.00976004, 0.00107857)
_NUM = (8.5733287401, 18.0590169730, 8.6347608925, 0.2677737343)
_DEN = (9.5733223454, 25.6329561486, 21.0996530827, 3.9584969228)


def exp_half_e1(v: npt.ArrayLike) -> F64:
    """``exp(E1(v) / 2)`` with E1 from Abramowitz & Stegun 5.1.53 (v < 1) / 5.1.56."""
    v = np.maximum(np.asarray(v, dtype=np.float64), 1e-8)
    small = -np.log(v) + _A[0] + v * (_A[1] + v * (_A[2] + v * (_A[3] + v * (_A[4] + v * _A[5]))))
    vl = np.maximum(v, 1.0)
    num = (((vl + _NUM[0]) * vl + _NUM[1]) * vl + _NUM[2]) * vl + _NUM[3]
    den = (((vl + _DEN[0]) * vl + _DEN[1]) * vl + _DEN[2]) * vl + _DEN[3]
    large = num / den * np.exp(-vl) / vl
    return np.asarray(np.exp(0.5 * np.where(v < 1.0, small, large)), dtype=np.float64)


def presence_gain(xi: F64, gam: F64, gmin: float, odds: F64) -> tuple[F64, F64]:
    """The log-spectral amplitude gain (floored at ``gmin``) under speech-presence
    uncertainty from the a priori SNR ``xi``, the a posteriori ``gam`` and the a priori
    absence ``odds``: ``(gain, presence)``, the gain's edge bins copied from their
    neighbours.  Presence is judged against a noise power SPP_MARGIN times the estimate."""
    r = xi / (1.0 + xi)
    v = r * gam
    gh1 = np.clip(r * exp_half_e1(v), gmin, 1.0)
    vq = np.minimum(v / SPP_MARGIN, 50.0)
    q = 1.0 / (1.0 + odds * (1.0 + xi / SPP_MARGIN) * np.exp(-vq))
    g = np.exp(q * np.log(gh1) + (1.0 - q) * np.log(gmin))
    g[0], g[-1] = g[1], g[-2]
    return g, q


def mauler_martin_windows(K: int, R: int) -> tuple[F64, F64]:
    """Analysis and synthesis windows of length ``K`` for hop ``R``, delay ``R``
    (Mauler & Martin 2007, M = R, d = 0): the stage's windows without ``low_delay``."""
    L = 2 * (K - R)
    n = np.arange(K)
    hl = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / L)
    hs = 0.5 - 0.5 * np.cos(2.0 * np.pi * (n - (K - 2 * R)) / (2 * R))
    wa = np.zeros(K)
    ws = np.zeros(K)
    wa[: K - R] = np.sqrt(hl[: K - R])
    wa[K - R :] = np.sqrt(hs[K - R :])
    ws[K - R :] = np.sqrt(hs[K - R :])
    mid = slice(K - 2 * R, K - R)
    den = np.sqrt(hl[mid])
    ws[mid] = np.where(den > 0.0, hs[mid] / np.where(den > 0.0, den, 1.0), 0.0)
    return wa, ws


def lowdelay_windows(K: int, R: int, d: int) -> tuple[F64, F64]:
    """Analysis and synthesis windows of length ``K`` for hop ``R`` and delay ``d``
    (Mauler & Martin 2007): ``wa * ws`` rises as sin^2 over ``[K-R-d, K-R)``, is one up
    to ``K-d`` and falls as cos^2 over the last ``d`` samples."""
    wa = np.zeros(K)
    ws = np.zeros(K)
    r = K - d
    wa[:r] = np.sin(0.5 * np.pi * (np.arange(r) + 0.5) / r)
    j = np.arange(d)
    wa[r:] = np.cos(0.5 * np.pi * (j + 0.5) / d)
    prod = np.zeros(K)
    prod[K - R - d : K - R] = np.sin(0.5 * np.pi * (j + 0.5) / d) ** 2
    prod[K - R : K - d] = 1.0
    prod[K - d :] = np.cos(0.5 * np.pi * (j + 0.5) / d) ** 2
    ws[prod > 0] = prod[prod > 0] / wa[prod > 0]
    return wa, ws


class NoiseSuppressorRef:
    """Reference model with the constructor and per-frame behaviour of the compiled stage.

    Parameters
    ----------
    sample_rate : int
        Sample rate in Hz (8000, 16000, 32000 or 48000).
    level_db : float
        Maximum noise attenuation in dB (0..30).
    hops_per_frame : int
        Analysis hops per 10 ms frame (1, 2 or 4).
    low_delay : bool
        Output delay ``frame_size / 4`` (2.5 ms) instead of one hop.
    delay_samples : int
        With the low-delay pair, this output delay (1 .. hop) instead (0: the rule above).
    """

    def __init__(
        self,
        sample_rate: int,
        level_db: float = 12.0,
        hops_per_frame: int = 2,
        low_delay: bool = False,
        delay_samples: int = 0,
    ):
        self.sample_rate = int(sample_rate)
        self.frame_size = self.sample_rate // 100
        self.hop_size = self.frame_size // hops_per_frame
        self.hops_per_frame = int(hops_per_frame)
        self.fft_size = 2 * self.frame_size
        low_delay = low_delay or delay_samples > 0
        d = min(self.hop_size, self.frame_size // 4) if low_delay else self.hop_size
        d = delay_samples if delay_samples > 0 else d
        self.latency_samples = d
        K, R = self.fft_size, self.hop_size
        self.nbins = K // 2 + 1
        if low_delay:
            self.wa, self.ws = lowdelay_windows(K, R, d)
        else:
            self.wa, self.ws = mauler_martin_windows(K, R)
        hop_s = R / self.sample_rate
        self.gmin = 10.0 ** (-level_db / 20.0)
        self.a_noise = math.exp(-hop_s / NOISE_TAU_S)
        self.a_spp = math.exp(-hop_s / SPP_TAU_S)
        self.n_init = max(1, int(INIT_S / hop_s + 0.5))
        self.vad_lo = int(VAD_BAND_HZ[0] * K / self.sample_rate + 0.999999)
        self.vad_hi = min(self.nbins, int(VAD_BAND_HZ[1] * K / self.sample_rate) + 1)
        self.vad_threshold = VAD_THRESHOLD_NB if self.sample_rate < 16000 else VAD_THRESHOLD
        self.wa_energy = float(np.sum(self.wa**2))
        self.noise_floor = 10.0 ** (NOISE_FLOOR_DBFS / 10.0) * self.wa_energy
        bw = self.sample_rate / self.fft_size
        self.h_local = int(SAP_LOCAL_HZ / bw + 0.5)
        self.h_global = int(SAP_GLOBAL_HZ / bw + 0.5)
        self.n_hist = max(1, int(FLOOR_WIN_S / hop_s + 0.5))
        self.a_floor = math.exp(-hop_s / FLOOR_TAU_S)
        self.a_whold = math.exp(-hop_s / FLOOR_HOLD_TAU_S)
        self.a_dd = min(math.exp(-hop_s / DD_TAU_S), DD_ALPHA_MAX)
        self.tonal_every = max(1, int(TONAL_EVERY_S / hop_s + 0.5))
        self.a_pbar = math.exp(-self.tonal_every * hop_s / TONAL_TAU_S)
        self.a_coh = math.exp(-self.tonal_every * hop_s / TONAL_COH_TAU_S)
        self.hold_n = float(int(ONSET_HOLD_S / hop_s + 0.5))
        self.a_onset = math.exp(-hop_s / ONSET_TAU_S)
        self.t_lo = int(TRANS_LO_HZ * K / self.sample_rate + 0.5)
        self.t_hi = min(self.nbins, int(TRANS_HI_HZ * K / self.sample_rate) + 1)
        self.a_tref = math.exp(-hop_s / TRANS_REF_TAU_S)
        self.t_max = max(1, int(TRANS_MAX_S / hop_s + 0.5))
        self.t_sup = min(self.t_max, max(1, int(TRANS_SUPPRESS_S / hop_s + 0.5)))
        self.t_conf = max(1, int(TRANS_CONFIRM_S / hop_s + 0.5))
        self.a_dref = tuple(math.exp(-hop_s / t) for t in TRANS_DREF_TAU_S)
        nt = self.t_hi - self.t_lo
        self.t_nbins = tuple(math.ceil(f * nt - 1e-9) for f in TRANS_FRAC)
        self.a_trate = math.exp(-hop_s / TRANS_RATE_TAU_S)
        self.abs_hang = max(1, int(ABSENT_HANG_S / hop_s + 0.5))
        self.a_abs = math.exp(-hop_s / ABSENT_TAU_S)
        self.a_alev = math.exp(-hop_s / ABSENT_LEVEL_TAU_S)
        self.reset()

    def reset(self) -> None:
        """Return to the state after construction."""
        K, nb = self.fft_size, self.nbins
        self.inbuf = np.zeros(K)
        self.outacc = np.zeros(self.hop_size + self.latency_samples)
        self.noise_gh = np.full(nb, self.noise_floor)  # the Gerkmann-Hendriks tracker
        self.noise = self.noise_gh.copy()  # what the gain uses (tracker lifted by the floor)
        self.pprev = np.zeros(nb)
        self.gain = np.ones(nb)
        self.sppbar = np.zeros(nb)
        self.zeta = np.zeros(nb)
        self.xi = np.full(nb, XI_MIN)
        self.floor_spec = np.zeros(nb)
        self.pbar = np.zeros(nb)
        self.tonal_t = np.zeros(nb)
        self.tonal_fl = np.zeros(nb)
        self.xprev = np.zeros(nb, dtype=np.complex128)  # unit phasors, the hop before
        self.zlast = np.zeros(nb, dtype=np.complex128)  # the last update's phase advance
        self.coh = np.zeros(nb, dtype=np.complex128)  # phase coherence average
        self.hold = np.zeros(nb)  # onset hold, hops left
        self.psm = np.zeros(nb)  # the periodogram's ONSET_TAU_S average
        self.ehist: list[float] = []
        self.tref = np.zeros(nb)  # the spectrum before a transient (TRANS_REF_TAU_S mean)
        self.dref = np.zeros(nb)  # the detection reference (TRANS_DREF_TAU_S: down, up)
        self.t_left = 0  # hops left in a transient
        self.t_refr = False  # a transient that lasted: not a click, until it ends
        self.t_count = 0  # transients started
        self.t_peak = 0.0  # the transient's highest e_h
        self.t_el0 = 0.0
        self.t_wt = 0.0
        self.t_pend = 0
        self.t_voiced = False
        self.t_rate = 0.0
        self.t_ehist = [0.0, 0.0]
        self.t_elprev = 0.0
        self.wbar = 0.0
        self.abs_run = 0  # hops since the last one that stood ABSENT_ON over the pauses
        self.abs_u = 0.0  # the speech-absence weight
        self.abs_lev = ABSENT_ON_DB[0] + ABSENT_MARGIN_DB  # the talker's level over F, dB
        self.count = 0
        self.log_odds = 0.0
        self.speech_prob = 0.0
        self.presence_acc = 0.0

    @property
    def noise_level_dbfs(self) -> float:
        """Mean-square level of the estimated noise in dBFS."""
        w = np.full(self.nbins, 2.0)
        w[0] = w[-1] = 1.0
        return float(10.0 * np.log10(np.sum(w * self.noise) / (self.fft_size * self.wa_energy)))

    def _hop(self, x: F64) -> tuple[F64, float]:
        K, R, d = self.fft_size, self.hop_size, self.latency_samples
        self.inbuf = np.concatenate([self.inbuf[R:], x])
        X = np.fft.rfft(self.wa * self.inbuf)
        presence = self.gain_hop(X)
        y = np.fft.irfft(self.gain * X, K) * self.ws
        self.outacc = self.outacc + y[K - R - d :]
        out = self.outacc[:R].copy()
        self.outacc = np.concatenate([self.outacc[R:], np.zeros(R)])
        return out, presence

    def gain_hop(self, X: npt.NDArray[np.complex128]) -> float:
        """One hop's gain (``self.gain``) from the analysis spectrum ``X``; returns the
        hop's mean presence probability over the VAD band.

        The spectrum and the state between hops are rounded to float32 as the compiled
        stage stores them (near a discrete decision, e.g. the stagnation cap, a float64
        state would drift away from the compiled one's by more than rounding)."""
        X = np.asarray(X, dtype=np.complex64).astype(np.complex128)
        P = X.real**2 + X.imag**2
        P = np.where(P >= TINY, P, 0.0)
        # Phase coherence of the band's bins (tonal protection): the phase advance over a
        # hop, z, against the last update's, averaged as unit phasors.
        band = slice(self.vad_lo, self.vad_hi)
        unit = np.where(P > 0.0, X / np.sqrt(np.where(P > 0.0, P, 1.0)), 0.0)
        if self.count % self.tonal_every == 0:
            z = unit[band] * np.conj(self.xprev[band])
            c = self.a_coh * self.coh[band] + (1.0 - self.a_coh) * z * np.conj(self.zlast[band])
            c = np.where(np.abs(c.real) < TINY, 0.0, c.real) + 1j * np.where(
                np.abs(c.imag) < TINY, 0.0, c.imag
            )
            self.coh[band] = c
            self.zlast[band] = z
        if (self.count + 1) % self.tonal_every == 0:
            self.xprev[band] = unit[band]
        nz = self.noise_gh
        if self.count < self.n_init:
            nz = nz + (P - nz) / (self.count + 1)
        else:
            ratio = np.minimum(P / nz, GAMMA_MAX)
            low = self.sample_rate >= 16000 and self.wbar < ONSET_MAX_W
            xh = np.float32(XI_H1 if low else XI_H1_PAPER)
            rh = np.float32(xh / (np.float32(1.0) + xh))  # float32, as the kernel has it
            post = 1.0 / (1.0 + (1.0 + xh) * np.exp(-ratio * rh))
            self.sppbar = self.a_spp * self.sppbar + (1.0 - self.a_spp) * post
            self.sppbar = np.where(self.sppbar < TINY, 0.0, self.sppbar)
            post = np.where(self.sppbar > SPP_CAP, np.minimum(post, SPP_CAP), post)
            en = (1.0 - post) * P + post * nz
            # Onset hold: after a bin rises ONSET_ON over the tracker, while it is phase
            # coherent (a steady partial), the tracker may fall there but not rise.
            ps = self.a_onset * self.psm + (1.0 - self.a_onset) * P
            self.psm = np.asarray(np.where(ps < TINY, 0.0, ps), np.float32).astype(np.float64)
            onset = self.psm.astype(np.float32) > np.float32(ONSET_ON) * nz.astype(np.float32)
            hold_on = self.wbar < ONSET_MAX_W  # off in babble
            onset &= hold_on
            self.hold = np.where(
                onset & (self.hold <= 0.0), self.hold_n, np.maximum(self.hold - 1.0, 0.0)
            )
            off = np.float32(ONSET_OFF) * nz.astype(np.float32)
            self.hold = np.where(self.psm.astype(np.float32) < off, 0.0, self.hold)
            c2 = self.coh.real.astype(np.float32) ** 2 + self.coh.imag.astype(np.float32) ** 2
            lo2, hi2 = ONSET_COH[0] ** 2, ONSET_COH[1] ** 2
            kap = np.clip((c2 - np.float32(lo2)) * np.float32(1.0 / (hi2 - lo2)), 0.0, 1.0)
            kap = np.where((self.hold > 0.0) & hold_on, kap, 0.0)
            old = nz
            nz = self.a_noise * nz + (1.0 - self.a_noise) * en
            nz = np.where((kap > 0.0) & (nz > old), old + (1.0 - kap) * (nz - old), nz)
        self.noise_gh = nz = np.maximum(nz, self.noise_floor)
        # Speech-pause floor: a hop within FLOOR_GATE of the band energy's minimum over
        # the last FLOOR_WIN_S (itself included) updates the pause spectrum, which lifts
        # the tracker by a weight from how far its band mean exceeds the tracker's.
        e = float(np.mean(P[band]))
        self.ehist = [*self.ehist, e][-self.n_hist :]
        if e <= min(self.ehist) * FLOOR_GATE:
            self.floor_spec = self.a_floor * self.floor_spec + (1.0 - self.a_floor) * P
            self.floor_spec = np.where(self.floor_spec < TINY, 0.0, self.floor_spec)
        f_mean = max(float(np.mean(self.floor_spec[band])), 1e-30)
        r_db = 10.0 * math.log10(f_mean / float(np.mean(nz[band])))
        w = min(max((r_db - FLOOR_ON_DB) / (FLOOR_FULL_DB - FLOOR_ON_DB), 0.0), 1.0)
        # Tonal pause spectra (music, sustained tones; also car rumble) are not babble: the
        # weight falls to 0 with the spectral flatness.
        flat = math.exp(float(np.mean(np.log(self.floor_spec[band] + 1e-30)))) / f_mean
        wf = math.log(max(flat, 1e-30) / FLOOR_FLAT_LO) / math.log(FLOOR_FLAT_HI / FLOOR_FLAT_LO)
        w *= min(max(wf, 0.0), 1.0)
        if self.sample_rate < 16000:
            w = 0.0  # narrowband: off
        # The weight is held (max with its FLOOR_HOLD_TAU_S average); the pause spectrum is
        # bias-compensated (FLOOR_BIAS) and, where it lifts the tracker, the gain floor
        # rises to gmin ** (1 - FLOOR_GMIN_SHARE w).
        self.wbar = self.a_whold * self.wbar + (1.0 - self.a_whold) * w
        self.wbar = 0.0 if self.wbar < 1e-30 else self.wbar
        w = max(w, self.wbar)
        if self.count % self.tonal_every == 0:
            self.pbar[band] = self.a_pbar * self.pbar[band] + (1.0 - self.a_pbar) * P[band]
            self._tonal_update(band)
        lim = nz - self.tonal_t * (nz - np.minimum(nz, self.tonal_fl))
        self.noise = np.maximum(lim, np.float32(FLOOR_BIAS * w) * self.floor_spec)
        gmin = self.gmin ** (1.0 - FLOOR_GMIN_SHARE * w)
        self._transient(P)
        self.count += 1
        gam = np.minimum(P / self.noise, GAMMA_MAX)
        xi = self.a_dd * self._dd_gain() ** 2 * self.pprev / self.noise
        xi = xi + (1.0 - self.a_dd) * np.maximum(gam - 1.0, 0.0)
        xi = np.clip(xi, XI_MIN, XI_MAX)
        # A priori speech-absence odds (Cohen & Berdugo 2001) from the previous hop's xi.
        a = math.exp(-self.hop_size / self.sample_rate / SAP_TAU_S)
        self.zeta = a * self.zeta + (1.0 - a) * self.xi
        pl = self._presence(self._smooth(self.zeta, self.h_local))
        pg = self._presence(self._smooth(self.zeta, self.h_global))
        qa = np.minimum(1.0 - pl * pg, SAP_QMAX)
        odds = qa / (1.0 - qa)
        self.xi = xi
        self.gain, q = presence_gain(xi, gam, gmin, odds)
        self._final_gain(X, P, gam, gmin, odds, q)
        if self.t_wt > 0.0 and self.sample_rate >= 16000:
            # In a click, each bin above TRANS_LO_HZ at most TRANS_KEEP times its power
            # before it (not at 8 kHz, where 1-4 kHz carries most of the talker's cues).
            hi = slice(self.t_lo, None)  # above the voiced band only
            cl = np.clip(TRANS_KEEP * self.tref[hi] / np.maximum(P[hi], 1e-30), TRANS_GMIN**2, 1)
            self.gain[hi] = self.gain[hi] * np.exp(0.5 * self.t_wt * np.log(cl))
        self._absence(e, f_mean, gmin)
        self.pprev = P
        for name in (
            "noise_gh",
            "noise",
            "pprev",
            "gain",
            "sppbar",
            "zeta",
            "xi",
            "floor_spec",
            "pbar",
            "tonal_t",
            "tonal_fl",
            "tref",
            "dref",
        ):
            setattr(self, name, np.asarray(getattr(self, name), np.float32).astype(np.float64))
        for name in ("xprev", "zlast", "coh"):
            v = np.asarray(getattr(self, name), np.complex64).astype(np.complex128)
            setattr(self, name, v)
        return float(np.mean(q[self.vad_lo : self.vad_hi]))

    def _absence(self, e: float, f_mean: float, gmin: float) -> None:
        """Speech absence in babble (ns.pyx item 4b): a hop whose band energy ``e`` stands
        ABSENT_ON over the pause spectrum's band mean ``f_mean`` is the talker's; after
        ABSENT_HANG_S without one the absence weight rises to 1 (ABSENT_TAU_S), at the
        next one it is 0; in the babble state the gain is multiplied by
        (gmin ** ABSENT_DEPTH / gmin_used) ** u."""
        r_db = 10.0 * math.log10(max(e, 1e-30) / f_mean)
        on = min(max(self.abs_lev - ABSENT_MARGIN_DB, ABSENT_ON_DB[0]), ABSENT_ON_DB[1])
        if r_db > ABSENT_ON_DB[0]:
            self.abs_lev = self.a_alev * self.abs_lev + (1.0 - self.a_alev) * r_db
        if r_db > on:
            self.abs_run = 0
        elif self.abs_run < self.abs_hang:
            self.abs_run += 1
        if self.abs_run >= self.abs_hang:
            self.abs_u = self.a_abs * self.abs_u + (1.0 - self.a_abs)
        else:
            self.abs_u = 0.0
        if self.wbar >= ONSET_MAX_W and self.abs_u > 0.0 and self.abs_lev < ABSENT_MAX_LEV_DB:
            lg = math.log(np.float32(gmin))  # the kernel's float32 gain floor
            f = np.float32(math.exp(self.abs_u * (ABSENT_DEPTH * math.log(self.gmin) - lg)))
            self.gain = self.gain * f

    def _dd_gain(self) -> F64:
        """The previous hop's gain in the decision-directed recursion (a hook for the
        experiments of bench/ns_hrnr.py; here the gain applied)."""
        return self.gain

    def _final_gain(
        self, X: npt.NDArray[np.complex128], P: F64, gam: F64, gmin: float, odds: F64, q: F64
    ) -> None:
        """A hook for the experiments of bench/ns_hrnr.py (a second gain after this hop's
        ``self.gain``, before the click clamp); nothing here."""

    def _transient(self, P: F64) -> None:
        """Transient (keyboard click) suppression (ns.pyx item 2): during a transient that
        is abrupt, broadband-high and not a voiced onset, the gain's noise PSD is lifted to
        each bin's rise over the spectrum before it, weighted by how many clicks were
        confirmed (decayed within TRANS_MAX_S) over the last TRANS_RATE_TAU_S."""
        hf, lf = slice(self.t_lo, self.t_hi), slice(self.vad_lo, self.t_lo)
        eh, el = float(np.mean(P[hf])), float(np.mean(P[lf]))
        dl = el - self.t_elprev
        self.t_elprev = el
        e2 = self.t_ehist[0]
        self.t_ehist = [self.t_ehist[1], eh]

        def count(thr: float) -> int:
            # bins of the band standing thr over the detection reference (float32, as
            # the kernel compares)
            ref = (self.dref[hf] + self.noise_floor).astype(np.float32)
            return int(np.count_nonzero(P[hf].astype(np.float32) > np.float32(thr) * ref))

        def onset() -> bool:
            return (
                self.count >= self.n_init
                and eh > TRANS_JUMP * e2
                and eh > float(np.mean(self.tref[hf]))
                and count(TRANS_ON) >= self.t_nbins[0]
            )

        def begin() -> None:
            self.t_left = self.t_max
            self.t_peak = eh
            self.t_el0 = el - dl  # the low band before the transient
            self.t_pend = self.t_conf
            self.t_voiced = False
            self.t_count += 1

        if self.t_left > 0:
            pk = self.t_peak
            self.t_peak = max(pk, eh)
            if self.t_left < self.t_max and self.t_ehist[0] < TRANS_RETRIG * pk and onset():
                begin()  # a new click in the last one's decay
            elif count(TRANS_OFF) < self.t_nbins[1]:
                self.t_left = 0
            else:
                self.t_left -= 1
                self.t_refr = self.t_left == 0
            self.t_voiced = self.t_voiced or self.t_refr  # it lasted: not a click
        elif self.t_refr:
            self.t_refr = not count(TRANS_OFF) < self.t_nbins[1]
        elif onset():
            begin()
        if self.t_pend > 0:
            # confirmed a click TRANS_CONFIRM_S after its onset unless it lasted or voicing
            # followed it (a plosive)
            if self.t_left == 0 and el > TRANS_OFF * self.t_el0:
                self.t_voiced = True
            self.t_pend -= 1
            if self.t_pend == 0 and not self.t_voiced:
                self.t_rate += 1.0
        self.t_rate *= self.a_trate
        wt = min(max((self.t_rate - TRANS_RATE[0]) / (TRANS_RATE[1] - TRANS_RATE[0]), 0.0), 1.0)
        sup = self.t_left > self.t_max - self.t_sup  # the transient's first t_sup hops
        self.t_wt = wt if sup else 0.0
        if self.t_left > 0:
            if wt > 0.0 and sup:
                self.noise = np.maximum(self.noise, np.float32(wt) * (P - self.tref))
        else:
            t = self.a_tref * self.tref + (1.0 - self.a_tref) * P
            self.tref = np.where(t < TINY, 0.0, t)
            # the detection reference: down fast, up slowly
            a = np.where(P < self.dref, *self.a_dref)
            t = a * self.dref + (1.0 - a) * P
            self.dref = np.where(t < TINY, 0.0, t)

    def _tonal_update(self, band: slice) -> None:
        """Tonal protection (ns.pyx item 2): in the band, where the mean periodogram stands
        more than TONAL_ON above the larger of its noise-like part's (pbar (1 - |coh|)^2)
        minima over the TONAL_BINS bins on either side (within the band, its edges
        repeated), the weight with which the tracker falls towards that local floor."""
        h, lo, hi, pbar = TONAL_BINS, band.start, band.stop, self.pbar
        pn = pbar * np.maximum(1.0 - np.abs(self.coh), 0.0) ** 2
        k = np.arange(lo, hi)
        left = np.min([pn[np.maximum(k - j, lo)] for j in range(1, h + 1)], axis=0)
        right = np.min([pn[np.minimum(k + j, hi - 1)] for j in range(1, h + 1)], axis=0)
        fl = np.maximum(np.maximum(left, right), self.noise_floor)
        self.tonal_t[band] = np.clip((pbar[band] / fl - TONAL_ON) / (TONAL_FULL - TONAL_ON), 0, 1)
        self.tonal_fl[band] = fl

    @staticmethod
    def _smooth(z: F64, half: int) -> F64:
        if half <= 0:
            return z
        w = np.hanning(2 * half + 3)[1:-1]
        w /= w.sum()
        zp = np.concatenate([np.full(half, z[0]), z, np.full(half, z[-1])])
        return np.convolve(zp, w, mode="valid")

    @staticmethod
    def _presence(z: F64) -> F64:
        p = np.log(np.maximum(z, 1e-30) / SAP_ZMIN) / math.log(SAP_ZMAX / SAP_ZMIN)
        return np.clip(p, 0.0, 1.0)

    def process(self, frame: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Process one 10 ms frame; returns the output frame (float32)."""
        x = np.asarray(frame, dtype=np.float32).astype(np.float64)
        x = np.where(np.isnan(x), 0.0, np.clip(x, -INPUT_LIMIT, INPUT_LIMIT))
        x = np.where(np.abs(x) < TINY, 0.0, x)
        R = self.hop_size
        out = np.empty(self.frame_size)
        m = 0.0
        for h in range(self.hops_per_frame):
            out[h * R : (h + 1) * R], mh = self._hop(x[h * R : (h + 1) * R])
            m += mh
        self.frame_vad(m / self.hops_per_frame)
        return out.astype(np.float32)

    def process_spectrum(
        self, X: npt.NDArray[np.complex128], hop: int
    ) -> npt.NDArray[np.complex128]:
        """The shared-synthesis path: hop ``hop`` of a frame's spectrum (this model's
        window), gained; the speech probability follows the frame's last hop."""
        if hop == 0:
            self.presence_acc = 0.0
        self.presence_acc += self.gain_hop(X)
        if hop == self.hops_per_frame - 1:
            self.frame_vad(self.presence_acc / self.hops_per_frame)
        return np.asarray(self.gain * X)

    def frame_vad(self, m: float) -> None:
        """Sohn's HMM recursion on the frame's mean presence ``m``."""
        lam = VAD_SLOPE * (m - self.vad_threshold)
        e = math.exp(self.log_odds)
        lo = math.log((VAD_A01 + (1.0 - VAD_A10) * e) / ((1.0 - VAD_A01) + VAD_A10 * e)) + lam
        self.log_odds = min(max(lo, -LOG_ODDS_MAX), LOG_ODDS_MAX)
        self.speech_prob = 1.0 / (1.0 + math.exp(-self.log_odds))

    def process_signal(self, x: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Process a signal whose length is a multiple of the frame size."""
        a = np.asarray(x, dtype=np.float32)
        N = self.frame_size
        return np.concatenate(
            [self.process(a[i : i + N]) for i in range(0, a.size - a.size % N, N)]
            or [np.zeros(0, dtype=np.float32)]
        )
