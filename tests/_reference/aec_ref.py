"""NumPy reference model of callaudio's echo canceller (slow, per frame, float64).

Mirrors ``csrc/callaudio/_dsp/aec.pyx`` step by step (same constants, same order of
operations, float64 instead of float32); the tests compare the compiled kernel against it.
See that file for the papers (Enzner & Vary 2006; Kuech, Mabande & Enzner 2014; Soo & Pang
1990; Valin 2007; Mauler & Martin 2007) and the units.  Sizes: frame ``n = rate // 100``,
FFT ``2n``, ``k = n + 1`` bins (50 Hz apart at every rate), ``P`` partitions of one frame,
lags ``0 .. L-1`` frames.
"""

from __future__ import annotations

import math
import re
from collections import deque
from pathlib import Path

import numpy as np
import numpy.typing as npt

# the window pair and band layout are design, not arithmetic: shared with the kernel
from callaudio._dsp.aec_delay import band_edges
from callaudio._dsp.aec_suppressor import analysis_windows

F64 = npt.NDArray[np.float64]
C128 = npt.NDArray[np.complex128]
I64 = npt.NDArray[np.int64]

# ---- design constants: read from the header aec.pyx compiles, never copied ------------
HEADER = Path(__file__).resolve().parents[2] / "csrc" / "callaudio" / "_dsp" / "aec_constants.h"


def read_constants(path: Path = HEADER, prefix: str = "AEC_") -> dict[str, int | float]:
    """``#define <prefix><NAME> <number>`` lines of ``path`` as {NAME: int or float}."""
    out: dict[str, int | float] = {}
    for line in path.read_text().splitlines():
        m = re.match(
            rf"\s*#define {prefix}(\w+)\s+([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)f?(?:\s|$)",
            line,
        )
        if m:
            text = m.group(2)
            out[m.group(1)] = int(text) if re.fullmatch(r"[-+]?\d+", text) else float(text)
    return out


_C = read_constants()
HEADROOM = int(_C["HEADROOM"])
FIFO_FRAMES = int(_C["FIFO_FRAMES"])
NB = int(_C["NB"])
DE_TAU = float(_C["DE_TAU"])
DE_RHO_MIN = float(_C["DE_RHO_MIN"])
DE_CONFIRM = int(_C["DE_CONFIRM"])
DE_CONFIRM_CHANGE = int(_C["DE_CONFIRM_CHANGE"])
DE_MARGIN = float(_C["DE_MARGIN"])
DE_JUMP_ERLE = float(_C["DE_JUMP_ERLE"])
DE_RHO_JUMP = float(_C["DE_RHO_JUMP"])
DE_WEAK_FRAMES = int(_C["DE_WEAK_FRAMES"])
DE_PROVE_FRAMES = int(_C["DE_PROVE_FRAMES"])
DE_FORGET = float(_C["DE_FORGET"])
DE_MARGIN_FAST = float(_C["DE_MARGIN_FAST"])
DE_RELOCK_FRAMES = int(_C["DE_RELOCK_FRAMES"])
DT_RATIO = float(_C["DT_RATIO"])
DT_HANG = int(_C["DT_HANG"])
DT_RHO = float(_C["DT_RHO"])
DT_NEAR = float(_C["DT_NEAR"])
DT_LEAK = float(_C["DT_LEAK"])
DT_RHO_FREEZE = float(_C["DT_RHO_FREEZE"])
DT_PERSIST = int(_C["DT_PERSIST"])
COH_SMOOTH = float(_C["COH_SMOOTH"])
COH_LO = float(_C["COH_LO"])
COH_HI = float(_C["COH_HI"])
COH_LEAK = float(_C["COH_LEAK"])
DT_MU_LO = float(_C["DT_MU_LO"])
DT_MU_HI = float(_C["DT_MU_HI"])
DT_MU_CUT = float(_C["DT_MU_CUT"])
DT_MU_HOLD = float(_C["DT_MU_HOLD"])
DT_MU_CALM = int(_C["DT_MU_CALM"])
DT_MU_QUIET = float(_C["DT_MU_QUIET"])
DT_MU_LEAK = float(_C["DT_MU_LEAK"])
DT_MU_AGE = int(_C["DT_MU_AGE"])
ANCHOR_ERLE = float(_C["ANCHOR_ERLE"])
ANCHOR_DOM = float(_C["ANCHOR_DOM"])
ANCHOR_FRAMES = int(_C["ANCHOR_FRAMES"])
KF_Q = float(_C["KF_Q"])
KF_SPREAD = float(_C["KF_SPREAD"])
KF_PSI0 = float(_C["KF_PSI0"])
KF_PSIMIN = float(_C["KF_PSIMIN"])
KF_DECAY = float(_C["KF_DECAY"])
KF_LAMBDA = float(_C["KF_LAMBDA"])
KF_REG = float(_C["KF_REG"])
KF_DELTA = float(_C["KF_DELTA"])
KF_SHRINK = float(_C["KF_SHRINK"])
KAL_RES = float(_C["KAL_RES"])
LEAK_BETA0 = float(_C["LEAK_BETA0"])
DIV_ALPHA = float(_C["DIV_ALPHA"])
DIV_RATIO = float(_C["DIV_RATIO"])
DIV_FRAMES = int(_C["DIV_FRAMES"])
TP_SMOOTH1 = float(_C["TP_SMOOTH1"])
TP_SMOOTH2 = float(_C["TP_SMOOTH2"])
TP_UPDATE1 = float(_C["TP_UPDATE1"])
TP_UPDATE2 = float(_C["TP_UPDATE2"])
TP_BACK = float(_C["TP_BACK"])
TP_FLOOR = float(_C["TP_FLOOR"])
TP_KEEP = float(_C["TP_KEEP"])
DIV_FG = float(_C["DIV_FG"])
DIV_FG_ADD = float(_C["DIV_FG_ADD"])
DIV_SE = float(_C["DIV_SE"])
DIV_FG_FRAMES = int(_C["DIV_FG_FRAMES"])
STAT_ALPHA = float(_C["STAT_ALPHA"])
FAR_ACTIVE = float(_C["FAR_ACTIVE"])
TINY = float(_C["TINY"])
DR_GAIN = float(_C["DR_GAIN"])
DR_EVAL = int(_C["DR_EVAL"])
DR_MAX = float(_C["DR_MAX"])
DR_STEP = float(_C["DR_STEP"])
DR_SD_PRIOR = float(_C["DR_SD_PRIOR"])
DR_SD_MEAS = float(_C["DR_SD_MEAS"])
DR_SD_WALK = float(_C["DR_SD_WALK"])
DR_GATE = float(_C["DR_GATE"])
# the residual-echo suppressor's own constants (aec_suppressor.h)
_S = read_constants(HEADER.with_name("aec_suppressor.h"), "AEC_SUP_")
NL_BETA = float(_S["NL_BETA"])
NL_SMOOTH = float(_S["NL_SMOOTH"])
NL_WEIGHT = float(_S["NL_WEIGHT"])
NL_GATE = float(_S["NL_GATE"])
ECHO_DB = float(_S["ECHO_DB"])
NEAR_DB = float(_S["NEAR_DB"])
OVER_ECHO = float(_S["OVER_ECHO"])
OVER_NEAR = float(_S["OVER_NEAR"])
NEAR_HOLD = float(_S["NEAR_HOLD"])
NEAR_LEAK = float(_S["NEAR_LEAK"])
OVER_ERLE = float(_S["OVER_ERLE"])
ERLE_HOLD = int(_S["ERLE_HOLD"])
ERLE_RATE = float(_S["ERLE_RATE"])
ERLE_GATE = float(_S["ERLE_GATE"])
ERLE_MIN = float(_S["ERLE_MIN"])
ERLE_FRAMES = int(_S["ERLE_FRAMES"])
ERLE_OVER = float(_S["ERLE_OVER"])
ERLE_CAP = float(_S["ERLE_CAP"])
JUMP_FRAMES = int(_S["JUMP_FRAMES"])
JUMP_LOUDER = float(_S["JUMP_LOUDER"])
OVER_JUMP = float(_S["OVER_JUMP"])
KEEP_FLOOR = float(_S["KEEP_FLOOR"])
KEEP_NEAR = float(_S["KEEP_NEAR"])
KEEP_DECAY = float(_S["KEEP_DECAY"])
KEEP_RATIO = float(_S["KEEP_RATIO"])
KEEP_COH_LO = float(_S["KEEP_COH_LO"])
KEEP_COH_HI = float(_S["KEEP_COH_HI"])
# the core's one input clamp limit, written in ca_limits.h
CLAMP = float(read_constants(HEADER.with_name("ca_limits.h"), "CA_")["INPUT_CLAMP"])
MASK32 = 0xFFFFFFFF


def _sanitize(x: npt.ArrayLike) -> F64:
    a = np.asarray(x, dtype=np.float64)
    return np.clip(np.where(np.isfinite(a), a, 0.0), -CLAMP, CLAMP)


def _power(z: C128) -> F64:
    return np.asarray(z.real**2 + z.imag**2, dtype=np.float64)


class EchoCancellerRef:
    """Slow model of :class:`callaudio._dsp.aec.EchoCanceller` (same keywords, same API)."""

    def __init__(
        self,
        sample_rate: int,
        tail_ms: float = 128.0,
        max_delay_ms: float = 1000.0,
        suppression: float = 1.0,
        max_attenuation_db: float = 50.0,
        comfort_noise: bool = True,
    ) -> None:
        self.sample_rate = sample_rate
        n = self.n = sample_rate // 100
        self.k = n + 1
        self.P = HEADROOM + math.ceil(tail_ms / 10.0 - 1e-9)
        self.L = math.ceil(max_delay_ms / 10.0 - 1e-9) + 1
        self.H = self.L + self.P + 1
        self.suppression = suppression
        self.gmin = 10.0 ** (-max_attenuation_db / 20.0)
        self.comfort_noise = comfort_noise
        self.latency_samples = n // 4
        wa, ws = analysis_windows(n, self.latency_samples)
        # the compiled stage stores the windows in float32
        self.wa = wa.astype(np.float32).astype(np.float64)
        self.ws = ws.astype(np.float32).astype(np.float64)
        self.wscale = float(np.sum(self.wa**2)) / n
        self.edges = band_edges(n)
        self.de_a = math.exp(-1.0 / DE_TAU)
        p = np.arange(self.P)
        self.psi0: F64 = KF_PSI0 * KF_DECAY ** np.maximum(p - HEADROOM - 1, 0).astype(np.float64)
        self.fifo: deque[F64] = deque()
        self.X = np.zeros((self.H, self.k), np.complex128)  # far spectra ring
        self.X2 = np.zeros((self.H, self.k))  # far power ring
        self.ff = np.zeros((self.H, NB))  # far features ring
        self.fe2 = np.zeros(self.H)  # far frame mean squares
        self._reset_all()

    # ------------------------------------------------------------------ state
    def _reset_all(self) -> None:
        n, L = self.n, self.L
        self.t = 0
        self.far_prev = np.zeros(n)
        self.mic_prev = np.zeros(n)
        self.y_prev = np.zeros(n)
        self.X[:] = 0.0
        self.X2[:] = 0.0
        self.ff[:] = 0.0
        self.fe2[:] = 0.0
        self.mu_f = np.zeros(NB)
        self.mu_m = np.zeros(NB)
        self.nfeat = 0
        self.C = np.zeros(L)
        self.F = np.zeros(L)
        self.M = 0.0
        self.nde = 0
        self.lag = -1
        self.lag_age = 0
        self.relock_n = 0
        self.cand = -1
        self.cand_n = 0
        self.d = 0
        self.ola = np.zeros(2 * n)
        self.rng = 0x12345678
        self._reset_path()
        self.last_lag = -2
        self.hold = 0
        self.lag_before = -3
        self.since_louder = 1 << 30
        self.hold_jump = False

    def _reset_path(self) -> None:
        k, P = self.k, self.P
        self.W = np.zeros((P, k), np.complex128)
        self.Psi = np.repeat(self.psi0[:, None], k, axis=1)
        self.Phi = np.zeros(k)
        self.PX = np.zeros(k)
        self.rr = 0
        self.anchor_n = 0
        self.peak = np.zeros(P)
        self.peak_i = np.zeros(P, np.int64)
        self.Rrev = np.zeros(k)
        self.gamma = 0.0
        self.Ebar = np.zeros(k)
        self.Ybar = np.zeros(k)
        self.Pey = 0.0
        self.Pyy = 0.0
        self.leak = 1.0
        self.nf = np.full(k, 1e-6)
        self.See = np.zeros(k)
        self.Rs = np.zeros(k)
        self.NLe = np.zeros(k)
        self.NLc = np.zeros(k)
        self.Ls = np.zeros(k)
        self.Aee = np.zeros(k)
        self.Ayy = np.zeros(k)
        self.Res = np.zeros(k)
        self.nlearn = 0
        self.zbar = 0.0
        self.pzz = 0.0
        self.near = 0.0
        self.near_now = 0.0
        self.keep_ctx = 0.0
        self.G = np.ones(k)
        self.p_far = self.p_y = self.p_mic = self.p_e = self.p_out = 0.0
        self.conv_lin = 0.0
        self.sm_s = self.se_s = 0.0
        self.div_n = self.cp_n = 0
        self.nact = 0
        self.g_echo = 0.0  # echo power per far power, from a filter that works (0: unknown)
        self.provisional = True  # no filter cancelled at the lag yet (see aec.pyx)
        self.dt_hang = 0
        self.s_ee = self.s_yy = self.s_ey = 0.0
        self.talk_n = 0
        self.dt_x = 0.0
        self.dt_calm = 0
        self.leak_q = 1.0
        self.leak_n = 0
        self.dt_hold = False
        self.Cdy = np.zeros(self.k, np.complex128)
        self.Cyy = np.zeros(self.k)
        self.Cdd = np.zeros(self.k)
        # two-path: the kept copy of the filter (never adapts) and its delay state
        self.Wf = np.zeros((P, k), np.complex128)
        self.Psif = np.repeat(self.psi0[:, None], k, axis=1)
        self.peakf = np.zeros(P)
        self.peak_if = np.zeros(P, np.int64)
        self.df = self.d
        self.fg_lag = -1
        self.fg_prov = True
        self.fg_g = 0.0
        self.tp_d1 = self.tp_d2 = self.tp_v1 = self.tp_v2 = 0.0
        self.sf_s = 0.0
        self.ef = np.zeros(self.n)
        self.dr_C = np.zeros(k, np.complex128)
        self.dr_n = 0
        self.dr_pk = HEADROOM
        self.dr_delta = 0.0
        self.dr_p = DR_SD_PRIOR * DR_SD_PRIOR
        self.w_ph = self.fg_ph = 0.0

    def reset(self) -> None:
        """Forget the echo path; keep the delay estimate, shorten its memory ten-fold."""
        self._reset_path()
        self._weaken_prior(0.1)
        self.lag_age = 0  # the kept lag is held DE_PROVE_FRAMES again (see aec.pyx)

    def _weaken_prior(self, factor: float) -> None:
        """Scale the delay estimator's memory by ``factor``, unless it is already short."""
        if self.nde <= DE_WEAK_FRAMES:
            return
        self.C *= factor
        self.F *= factor
        self.M *= factor
        self.nde = min(self.nde, 10)

    # ------------------------------------------------------------------ streams
    def render(self, far: npt.ArrayLike) -> None:
        """Queue one far frame (the oldest is dropped beyond FIFO_FRAMES)."""
        if len(self.fifo) >= FIFO_FRAMES:
            self.fifo.popleft()
        self.fifo.append(np.asarray(far, dtype=np.float32).astype(np.float64))

    def set_delay_hint(self, delay_ms: float) -> None:
        """Start from this bulk delay (ms) until the estimator locks."""
        lag = min(int(delay_ms / 10.0 + 0.5), self.L - 1)
        if self.lag < 0:
            self._set_lag(lag)

    def _slot(self, back: int) -> int:
        return (self.t - back) % self.H

    def capture(self, mic: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Cancel the echo in one microphone frame; returns the output frame."""
        n, P = self.n, self.P
        far = _sanitize(self.fifo.popleft() if self.fifo else np.zeros(n))
        x_mic = _sanitize(np.asarray(mic, dtype=np.float32))
        slot = self._slot(0)
        # 1. far spectrum of [prev, cur] (overlap-save block), power, frame energy
        X = np.fft.rfft(np.concatenate([self.far_prev, far]))
        self.far_prev = far
        self.X[slot] = X
        self.X2[slot] = _power(X)
        self.fe2[slot] = float(np.mean(far * far))
        # 2. microphone analysis spectrum (low-delay window)
        D = np.fft.rfft(self.wa * np.concatenate([self.mic_prev, x_mic]))
        self.mic_prev = x_mic
        # 3. bulk delay
        self._delay_update(slot, self.X2[slot], _power(D))
        # 4. echo estimate and error; the two-path test against the kept copy
        y, e, self.PX, fsum = self._estimate(self.W, self.Psi, self.d, x_mic)
        tp = self._two_path(x_mic, y, e, fsum)
        if tp < 0:  # restored from the copy: its estimate
            y, e, self.PX, fsum = self._estimate(self.W, self.Psi, self.d, x_mic)
        idx = [self._slot(self.d + p) for p in range(P)]
        Xp = self.X[idx]
        X2p = self.X2[idx]
        self._near_talk(float(np.mean(x_mic * x_mic)), float(np.mean(e * e)), float(np.mean(y * y)))
        # the random walk stops for Geigel's talker, or the suppressor's (last frame) for
        # DT_PERSIST far-active frames behind a filter that leaks little, with an error
        # uncorrelated with the echo estimate (see aec.pyx, _talker)
        if self.dt_hang > 0:
            talker = True
        else:
            cond = (
                self.g_echo > 0.0
                and self.fe2[self._slot(self.d + HEADROOM)] > FAR_ACTIVE
                and self.near > DT_NEAR
                and self.leak < DT_LEAK
                and abs(self.s_ey) < DT_RHO_FREEZE * math.sqrt(self.s_ee * self.s_yy)
            )
            self.talk_n = self.talk_n + 1 if cond else 0
            talker = self.talk_n >= DT_PERSIST
        self._divergence(x_mic, e)
        # 5. Kalman update (diagonal, partitioned), E = FFT([0, e])
        E = np.fft.rfft(np.concatenate([np.zeros(n), e]))
        # the random walk per bin: down to the mic/echo-estimate coherence, weighted by the
        # suppressor's near-end presence (see aec.pyx, _random_walk)
        coh = _power(self.Cdy) / (self.Cyy * self.Cdd + 1e-30)
        qf = np.clip((coh - COH_LO) / (COH_HI - COH_LO), 0.0, 1.0)
        # the leakage the control reads: latched where the suppressor's presence is
        # < DT_MU_QUIET, for DT_MU_AGE frames of presence; off above DT_MU_LEAK whatever
        # (aec.pyx, _random_walk)
        xn = self.near_now
        if xn < DT_MU_QUIET or self.leak >= DT_MU_LEAK:
            self.leak_q, self.leak_n = self.leak, 0
        else:
            self.leak_n = min(self.leak_n + 1, DT_MU_AGE)
        lq = self.leak_q if self.leak_n < DT_MU_AGE else self.leak
        on = self.g_echo > 0.0 and self.leak < DT_MU_LEAK and lq < COH_LEAK
        if not on:
            qf[:] = 1.0
        qf = 1.0 - min(self.near, 1.0) * (1.0 - qf)
        # the Kalman step and the random walk shrink with the suppressor's near-end presence
        # (see aec.pyx, _random_walk): the step by DT_MU_CUT, the walk to 0 (a talker)
        s_dt = 0.0
        # not while the divergence test's error is louder than the mic, nor DT_MU_CALM
        # frames after it declared an echo-path change, nor in the suppressor's hold after
        # a lag change (aec.pyx, _random_walk)
        calm = (
            self.dt_calm == 0 and self.div_n == 0 and self.hold == 0
            and self.since_louder >= DT_MU_CALM
        )
        self.dt_calm = max(self.dt_calm - 1, 0)
        # near-end dominated: the next frame's delay update holds the lag (aec.pyx)
        self.dt_hold = (
            xn >= DT_MU_QUIET
            and (lq < COH_LEAK or self.leak < COH_LEAK)
            and self.fg_lag >= 0
            and self.relock_n == 0
            and self.dt_calm == 0
            and self.since_louder >= DT_MU_CALM
        )
        if on:
            xnow = xn if calm else 0.0
            self.dt_x = max(xnow, DT_MU_HOLD * self.dt_x)
            s_dt = min(max((min(self.dt_x, 1.0) - DT_MU_LO) / (DT_MU_HI - DT_MU_LO), 0.0), 1.0)
        if s_dt >= 1.0:
            talker = True
        qf = qf * (1.0 - s_dt)
        self.Phi = KF_LAMBDA * self.Phi + (1.0 - KF_LAMBDA) * _power(E) + TINY
        # gain regularisation: an absolute floor plus KF_REG times the far power per bin
        inv = 1.0 / (0.5 * self.PX + self.Phi + 2.0 * n * (KF_DELTA + KF_REG * fsum / P))
        inv = inv * (1.0 - DT_MU_CUT * s_dt)
        # measurement and time update per partition, in order: the random walk's power
        # includes the neighbours' (W[p-1] already updated this frame, W[p+1] not yet)
        pk0 = self.dr_pk
        w_old = self.W[pk0].copy()
        free = (
            not talker and fsum > FAR_ACTIVE and self.g_echo > 0.0 and self.conv_lin >= ANCHOR_ERLE
        )
        for p in range(P):
            mu = self.Psi[p] * inv
            self.W[p] = self.W[p] + mu * np.conj(Xp[p]) * E
            psi = self.Psi[p] * np.maximum(1.0 - 0.5 * mu * X2p[p], 1.0 - KF_SHRINK)
            nb = np.zeros(self.k)
            if p > 0:
                nb += _power(self.W[p - 1])
            if p < P - 1:
                nb += _power(self.W[p + 1])
            floor = KF_PSIMIN * self.psi0[p] + TINY
            q = 0.0 if talker else KF_Q * qf  # no random walk while the near end talks
            self.Psi[p] = (1.0 - q) * psi + q * (_power(self.W[p]) + KF_SPREAD * nb + floor)
        # gradient constraint: the peak partition and two round-robin partitions
        todo = [int(np.argmax(self.peak))]
        for _ in range(2):
            r = self.rr
            while r in todo:
                r = (r + 1) % P
            todo.append(r)
            self.rr = (r + 1) % P
        for r in todo:
            w = np.fft.irfft(self.W[r], 2 * n)
            w[n:] = 0.0
            self.W[r] = np.fft.rfft(w)
            a = np.abs(w[:n])
            self.peak_i[r] = int(np.argmax(a))
            self.peak[r] = float(a[self.peak_i[r]])
        if tp > 0:  # the filter was the better one: keep a copy (after its update)
            self.Wf, self.Psif = self.W.copy(), self.Psi.copy()
            self.peakf, self.peak_if, self.df = self.peak.copy(), self.peak_i.copy(), self.d
            self.fg_lag, self.fg_prov, self.fg_g = self.lag, self.provisional, self.g_echo
            self.fg_ph = self.w_ph
        self._drift(free, pk0, w_old)
        self._anchor()
        # 6. residual-echo suppressor, synthesis, statistics
        out = self._suppress(x_mic, y, e, D)
        self.lag_age = min(self.lag_age + 1, DE_PROVE_FRAMES)
        self.relock_n = max(self.relock_n - 1, 0)
        self.t += 1
        return out.astype(np.float32)

    def _drift(self, free: bool, pk: int, w_old: C128) -> None:
        """Clock drift (aec.pyx, _drift): the filter and the kept copy rotated by the drift
        every frame; the filter's remaining rotation on its peak partition, summed over
        its free frames (each bin weighted by the mic/echo-estimate coherence of the last
        frame) and fitted as a delay every DR_EVAL frames, corrects the drift; the
        partition tracked is the most energetic one at the last DR_EVAL boundary."""
        if free:
            coh = _power(self.Cdy) / (self.Cyy * self.Cdd + 1e-30)
            self.dr_C = self.dr_C + coh * self.W[pk] * np.conj(w_old)
            self.dr_n += 1
        if self.t % DR_EVAL == 0 and self.dr_n >= DR_EVAL // 2:
            w = np.pi * np.arange(1, self.k - 1) / self.n
            c = self.dr_C[1 : self.k - 1]
            a = np.abs(c)
            den = float(np.sum(w * w * a))
            u = 1e-6 * self.n  # samples per frame per ppm
            x = -float(np.sum(w * a * np.angle(c))) / den / u if den > 0.0 else 0.0
            r = DR_SD_MEAS * DR_SD_MEAS
            g = min(self.dr_p / (self.dr_p + r), DR_GAIN)  # scalar Kalman gain, capped
            if x * x <= DR_GATE * DR_GATE * (self.dr_p + r):  # else an outlier: skipped
                dl = self.dr_delta + g * x * u
                if abs(dl) <= DR_MAX * 1e-6 * self.n:  # else the filter re-fitting the path
                    self.dr_delta = dl
                    self.dr_p *= 1.0 - g
            self.dr_p += DR_SD_WALK * DR_SD_WALK
            self.dr_C[:] = 0.0
            self.dr_n = 0
        if self.t % DR_EVAL == 0:  # the next window's partition: the most energetic
            self.dr_pk = int(np.argmax(np.sum(_power(self.W), axis=1)))
        self.w_ph += self.dr_delta
        if self.fg_lag >= 0:
            self.fg_ph += self.dr_delta
        bins = np.pi * np.arange(self.k) / self.n
        if abs(self.w_ph) >= DR_STEP:
            self.W = self.W * np.exp(-1j * bins * self.w_ph)[None, :]
            self.w_ph = 0.0
        if abs(self.fg_ph) >= DR_STEP:
            self.Wf = self.Wf * np.exp(-1j * bins * self.fg_ph)[None, :]
            self.fg_ph = 0.0

    def _estimate(self, W: C128, Psi: F64, d: int, mic: F64) -> tuple[F64, F64, F64, float]:
        """Echo estimate, error, sum_p Psi |X_p|^2 and the far power over the span."""
        idx = [self._slot(d + p) for p in range(self.P)]
        y = np.fft.irfft(np.sum(W * self.X[idx], axis=0), 2 * self.n)[self.n :]
        px = np.sum(Psi * self.X2[idx], axis=0)
        return y, mic - y, px, float(np.sum(self.fe2[idx]))

    def _two_path(self, mic: F64, y: F64, e: F64, fsum: float) -> int:
        """Ochiai's two echo paths with the SpeexDSP significance test (see aec.pyx):
        1 = keep a copy of the filter, -1 = restored from the copy, 0 = neither."""
        yf, self.ef, _, _ = self._estimate(self.Wf, self.Psif, self.df, mic)
        if fsum <= FAR_ACTIVE:
            return 0
        sff = float(np.sum(self.ef**2))
        see = float(np.sum(e**2))
        dbf = float(np.sum((y - yf) ** 2)) + self.n * TP_FLOOR
        dd = sff - see
        v = sff * dbf
        if dd > 0.0 and (see > TP_KEEP * float(np.sum(mic**2)) or self.dt_hang > 0):
            dd = 0.0  # not cancelling, or a near talker: no copy
        self.tp_d1 = TP_SMOOTH1 * self.tp_d1 + (1.0 - TP_SMOOTH1) * dd
        self.tp_d2 = TP_SMOOTH2 * self.tp_d2 + (1.0 - TP_SMOOTH2) * dd
        self.tp_v1 = TP_SMOOTH1**2 * self.tp_v1 + (1.0 - TP_SMOOTH1) ** 2 * v
        self.tp_v2 = TP_SMOOTH2**2 * self.tp_v2 + (1.0 - TP_SMOOTH2) ** 2 * v
        r = 0
        if (
            dd * abs(dd) > v
            or self.tp_d1 * abs(self.tp_d1) > TP_UPDATE1 * self.tp_v1
            or self.tp_d2 * abs(self.tp_d2) > TP_UPDATE2 * self.tp_v2
        ):
            r = 1
        elif self.fg_lag >= 0 and (
            -dd * abs(dd) > TP_BACK * v
            or -self.tp_d1 * abs(self.tp_d1) > TP_BACK * self.tp_v1
            or -self.tp_d2 * abs(self.tp_d2) > TP_BACK * self.tp_v2
        ):
            self.W, self.Psi = self.Wf.copy(), self.Psif.copy()
            self.peak, self.peak_i, self.d = self.peakf.copy(), self.peak_if.copy(), self.df
            if self.lag != self.fg_lag:
                self.lag, self.cand, self.cand_n = self.fg_lag, -1, 0
            self.provisional, self.g_echo = self.fg_prov, self.fg_g
            self.anchor_n = self.div_n = self.cp_n = 0
            self.se_s = self.sf_s
            self.w_ph = self.fg_ph
            r = -1
        if r != 0:
            self.tp_d1 = self.tp_d2 = self.tp_v1 = self.tp_v2 = 0.0
        return r

    def _divergence(self, mic: F64, e: F64) -> None:
        """Echo-path change: error louder than the mic for DIV_FRAMES far-active frames,
        unless the kept copy still cancels (then the filter drifted; see aec.pyx)."""
        if self.fe2[self._slot(self.d + HEADROOM)] <= FAR_ACTIVE:
            return
        self.sm_s = DIV_ALPHA * self.sm_s + (1.0 - DIV_ALPHA) * float(np.mean(mic * mic))
        self.se_s = DIV_ALPHA * self.se_s + (1.0 - DIV_ALPHA) * float(np.mean(e * e))
        self.sf_s = DIV_ALPHA * self.sf_s + (1.0 - DIV_ALPHA) * float(np.mean(self.ef**2))
        self.div_n = self.div_n + 1 if self.se_s > DIV_RATIO * self.sm_s else 0
        # or the kept copy adds echo behind a filter removing < 3 dB, no near talk (aec.pyx)
        added = self.fg_lag >= 0 and self.dt_hang == 0 and self.sf_s > DIV_FG_ADD * self.sm_s
        self.cp_n = self.cp_n + 1 if added and self.se_s > DIV_SE * self.sm_s else 0
        if self.div_n >= DIV_FRAMES and self.fg_lag >= 0 and self.sf_s < DIV_FG * self.sm_s:
            self.div_n = 0
        elif self.div_n >= DIV_FRAMES or self.cp_n >= DIV_FG_FRAMES:
            self.Psi = np.maximum(self.Psi, _power(self.W))
            # the echo path changed: weaken the delay prior as reset() does (if there is one),
            # unless a near-end talker is evident (then the filter drifted in double talk)
            # and the lag becomes provisional (see aec.pyx)
            if self.lag >= 0 and self.dt_hang == 0:
                self._weaken_prior(DE_FORGET if self.fg_lag >= 0 else 0.1)
                self.provisional = True
                if self.cp_n >= DIV_FG_FRAMES:  # the copy adds echo (aec.pyx)
                    self.relock_n = DE_RELOCK_FRAMES
                    self.Psi = np.maximum(self.Psi, self.psi0[:, None])
            self.div_n = self.cp_n = 0
            self.dt_calm = DT_MU_CALM

    # ------------------------------------------------------------------ delay
    def _features(self, s2: F64) -> F64:
        e = self.edges
        f = np.empty(NB)
        for b in range(NB):
            floor = (e[b + 1] - e[b]) * 2.0 * self.n * 1e-7
            f[b] = math.log(float(np.sum(s2[e[b] : e[b + 1]])) + floor)
        return f

    def _delay_update(self, slot: int, x2: F64, d2: F64) -> None:
        L = self.L
        ff = self._features(x2)
        fm = self._features(d2)
        self.nfeat += 1
        am = max(1.0 / self.nfeat, 1.0 / DE_TAU)
        self.mu_f += am * (ff - self.mu_f)
        self.mu_m += am * (fm - self.mu_m)
        xm = fm - self.mu_m
        self.ff[slot] = ff - self.mu_f
        self.nde += 1
        a = max(1.0 - 1.0 / self.nde, self.de_a)
        hist = self.ff[[self._slot(lag) for lag in range(L)]]
        self.C = a * self.C + hist @ xm
        self.F = a * self.F + np.sum(hist * hist, axis=1)
        self.C[np.abs(self.C) < TINY] = 0.0
        self.F[self.F < TINY] = 0.0
        self.M = a * self.M + float(xm @ xm)
        valid = min(self.t + 1, L)
        rho = self.C[:valid] / np.sqrt(self.F[:valid] * self.M + 1e-12)
        best = int(np.argmax(rho))
        if rho[best] < DE_RHO_MIN:
            return
        if self.lag >= 0 and (self.dt_hold or abs(best - self.lag) <= HEADROOM):
            # within the filter's headroom (_anchor follows it), or a frame the double-talk
            # control judged near-end dominated (aec_delay.pyx)
            self.cand_n = 0
            return
        # neighbouring lags (10 ms apart) count as the same candidate (see aec.pyx)
        if self.cand >= 0 and abs(best - self.cand) <= 1:
            self.cand_n += 1
        else:
            self.cand_n = 1
        self.cand = best
        rlag = float(rho[self.lag]) if 0 <= self.lag < valid else -2.0
        if self.lag < 0:
            if self.cand_n >= DE_CONFIRM:
                self._set_lag(best)
        elif self.provisional and (  # see aec_delay.pyx
            self.lag_age >= DE_PROVE_FRAMES
            or self.relock_n > 0  # a recent echo-path change (aec.pyx _aged)
            or rho[best] > rlag + DE_MARGIN_FAST
        ):
            if (
                self.cand_n >= DE_CONFIRM
                and rho[best] >= DE_RHO_JUMP
                and rho[best] > rlag + DE_MARGIN
            ):
                self._set_lag(best)
        elif (
            self.cand_n >= DE_CONFIRM_CHANGE
            and rho[best] >= DE_RHO_JUMP
            and rho[best] > rlag + DE_MARGIN
            and self.conv_lin < DE_JUMP_ERLE
        ):
            self._set_lag(best)

    def _near_talk(self, ms_mic: float, ms_e: float, ms_y: float) -> None:
        """Geigel's test in power form with the measured echo gain, for an excess that does
        not correlate with the echo estimate (see aec.pyx)."""
        if self.g_echo <= 0.0:
            self.dt_hang = 0
            return
        pf = max(float(self.fe2[self._slot(self.d + p)]) for p in range(self.P))
        self.s_ee = 0.8 * self.s_ee + 0.2 * ms_e
        self.s_yy = 0.8 * self.s_yy + 0.2 * ms_y
        self.s_ey = 0.8 * self.s_ey + 0.1 * (ms_mic - ms_y - ms_e)
        if ms_mic > DT_RATIO * self.g_echo * pf and self.s_ey < DT_RHO * math.sqrt(
            self.s_ee * self.s_yy
        ):
            self.dt_hang = DT_HANG
        elif self.dt_hang > 0:
            self.dt_hang -= 1

    def _set_lag(self, lag: int) -> None:
        """Take a new coarse lag; shift the filter partitions so the echo path is kept."""
        newd = max(0, lag - HEADROOM)
        shift = newd - self.d
        unproven = self.provisional and self.lag < 0
        self.lag = lag
        self.cand = -1
        self.cand_n = 0
        self.anchor_n = 0
        self.lag_age = 0
        self.g_echo = 0.0
        self.provisional = True
        self.dt_hang = 0
        if shift != 0:
            self._move(shift)
            self.d = newd
        if unproven:  # the first lag: no filter cancelled yet: at least the prior (aec.pyx)
            self.Psi = np.maximum(self.Psi, self.psi0[:, None])

    def _move(self, shift: int) -> None:
        """Shift the partitions by ``shift`` frames, keeping the echo path found."""
        W = np.zeros_like(self.W)
        Psi = np.repeat(self.psi0[:, None], self.k, axis=1)
        peak = np.zeros(self.P)
        peak_i = np.zeros(self.P, np.int64)
        for p in range(self.P):
            q = p + shift
            if 0 <= q < self.P:
                W[p], Psi[p], peak[p], peak_i[p] = (
                    self.W[q],
                    self.Psi[q],
                    self.peak[q],
                    self.peak_i[q],
                )
        self.W, self.Psi, self.peak, self.peak_i = W, Psi, peak, peak_i

    def _anchor(self) -> None:
        """Keep a dominant filter peak within one partition of partition HEADROOM."""
        if self.lag < 0 or self.conv_lin < ANCHOR_ERLE:
            self.anchor_n = 0
            return
        pk = int(np.argmax(self.peak))
        others = [self.peak[p] for p in range(self.P) if p < pk - 1 or p > pk + 1]
        second = max(others) if others else 0.0
        newd = max(0, self.d + pk - HEADROOM)
        if (
            self.peak[pk] <= 0.0
            or self.peak[pk] < ANCHOR_DOM * second
            or HEADROOM - 1 <= pk <= HEADROOM + 1
            or newd == self.d
        ):
            self.anchor_n = 0
            return
        self.anchor_n += 1
        if self.anchor_n >= ANCHOR_FRAMES:  # the path stays measured (aec.pyx _anchor)
            g, prov, hang = self.g_echo, self.provisional, self.dt_hang
            self._set_lag(newd + HEADROOM)
            self.g_echo, self.provisional, self.dt_hang = g, prov, hang

    # ------------------------------------------------------------------ suppressor
    def _suppress(self, mic: F64, y: F64, e: F64, D: C128) -> F64:
        n, k = self.n, self.k
        Yt = np.fft.rfft(self.wa * np.concatenate([self.y_prev, y]))
        self.y_prev = y
        Et = D - Yt
        # the talker's floor reads the coherence up to the last frame (the kernel accumulates
        # it after the suppressor)
        coh_last = _power(self.Cdy) / (self.Cyy * self.Cdd + 1e-30)
        # the mic/echo-estimate coherence spectra of the random walk (aec.pyx, _random_walk)
        a = COH_SMOOTH
        self.Cdy = a * self.Cdy + (1.0 - a) * D * np.conj(Yt)
        self.Cyy = a * self.Cyy + (1.0 - a) * _power(Yt)
        self.Cdd = a * self.Cdd + (1.0 - a) * _power(D)
        see = _power(Et)
        syy = _power(Yt)
        # leakage (Valin 2007): regression of |E|^2 on |Y|^2 over time
        self.Ebar = 0.95 * self.Ebar + 0.05 * see + TINY
        self.Ybar = 0.95 * self.Ybar + 0.05 * syy + TINY
        dE = see - self.Ebar
        dY = syy - self.Ybar
        beta = LEAK_BETA0 * min(1.0, float(np.sum(syy)) / (float(np.sum(see)) + 1e-12))
        self.Pey = (1.0 - beta) * self.Pey + beta * float(np.sum(dE * dY))
        self.Pyy = (1.0 - beta) * self.Pyy + beta * float(np.sum(dY * dY))
        if self.Pyy > 1e-12:
            self.leak = min(max(self.Pey / self.Pyy, 0.005), 1.0)
        # reverberation beyond the filter tail, decaying like the last two partitions
        e1 = float(np.sum(_power(self.W[-1])))
        e2 = float(np.sum(_power(self.W[-2])))
        self.gamma = min(e1 / (e2 + 1e-20), 0.9) if e2 > 0.0 else 0.0
        beyond = self.X2[self._slot(self.d + self.P)]
        self.Rrev = self.gamma * (self.Rrev + 0.5 * _power(self.W[-1]) * beyond)
        self.Rrev[self.Rrev < TINY] = 0.0
        # The filter's uncertainty counts as residual echo only once an echo path has been
        # found (delay locked); with no echo path it would suppress near-end noise.
        kres = KAL_RES * self.wscale * 0.5 if self.lag >= 0 else 0.0
        Rlin = np.maximum(self.leak * syy, kres * self.PX) + self.Rrev
        # nonlinear echo: the per-bin coupling of the error beyond the linear residual echo
        # to the spread replica power, learnt while no near-end talker is present
        z = float(np.sum(syy)) / k
        self.zbar = NL_SMOOTH * self.zbar + (1.0 - NL_SMOOTH) * z
        dz = z - self.zbar
        t = np.maximum(see - Rlin, 0.0)
        self.NLe = NL_SMOOTH * self.NLe + (1.0 - NL_SMOOTH) * t + TINY
        if self.near < NL_GATE:
            self.pzz = (1.0 - NL_BETA) * self.pzz + NL_BETA * dz * dz
            self.NLc = (1.0 - NL_BETA) * self.NLc + NL_BETA * (t - self.NLe) * dz
        nlc = NL_WEIGHT * z / self.pzz if self.pzz > 1e-30 else 0.0
        Rnl = nlc * np.maximum(self.NLc, 0.0)
        R = np.maximum(Rlin, Rnl)
        # where the filter models little (saturation harmonics, a drifting path at high
        # frequencies) the error/echo ratio learnt in echo-only frames bounds the echo
        if kres > 0.0 and self.nlearn > ERLE_FRAMES:
            ratio = np.clip(self.Aee / (self.Ayy + 1e-30), ERLE_MIN, ERLE_CAP)
            R = np.maximum(R, ERLE_OVER * ratio * syy + self.Rrev)
        self.See = 0.5 * self.See + 0.5 * see + TINY
        self.Rs = 0.5 * self.Rs + 0.5 * R + TINY
        self.Ls = 0.5 * self.Ls + 0.5 * self.leak * syy + TINY
        # echo only -> near-end talker: the over-subtraction
        s_s, s_r = float(np.sum(self.See)), float(np.sum(self.Rs))
        if s_r > 0.0 and s_s > 0.0:
            x = min(max((10.0 * math.log10(s_s / s_r) - ECHO_DB) / (NEAR_DB - ECHO_DB), 0.0), 1.0)
        else:
            x = 1.0
        self.near_now = x
        x = max(x, NEAR_HOLD * self.near)
        self.near = x
        # behind a talker: the residual echo from the per-bin linear ERLE (error/echo power
        # ratio), learnt in echo-only frames once an echo path is locked
        if kres > 0.0 and x < ERLE_GATE and float(np.sum(syy)) > 0.0:
            self.nlearn += 1
            self.Aee = (1.0 - ERLE_RATE) * self.Aee + ERLE_RATE * see
            self.Ayy = (1.0 - ERLE_RATE) * self.Ayy + ERLE_RATE * syy
        # frames since the error was louder than the mic (the filter adds echo: the path moved)
        if float(np.sum(see)) > JUMP_LOUDER * float(np.sum(_power(D))):
            self.since_louder = 0
        elif self.since_louder < (1 << 30):
            self.since_louder += 1
        if self.lag != self.last_lag:  # a lag change: the ERLE is stale for ERLE_HOLD frames
            # after the path moved (not back to the lag held before): echo-only setting
            self.hold_jump = self.since_louder < JUMP_FRAMES and self.lag != self.lag_before
            self.lag_before = self.last_lag
            self.last_lag = self.lag
            self.hold = ERLE_HOLD
        self.hold = max(self.hold - 1, 0)
        lk = min(self.leak / NEAR_LEAK, 1.0)
        if self.hold > 0:
            w = 0.0
            lo = OVER_JUMP if self.hold_jump else OVER_NEAR + (1.0 - OVER_NEAR) * lk
            self.keep_ctx = 0.0
        else:  # a talker above the error's noise floor, not the near end's noise
            s_n = float(np.sum(self.nf))
            if s_s > 0.0:
                xn = (10.0 * math.log10(s_s / (s_r + s_n)) - ECHO_DB) / (NEAR_DB - ECHO_DB)
                xn = min(max(xn, 0.0), x)
            else:
                xn = 0.0
            w = xn * (1.0 - lk * lk)
            lo = OVER_ERLE
            self.keep_ctx = 1.0 if xn > KEEP_NEAR else KEEP_DECAY * self.keep_ctx
        ratio = np.ones(k)
        if self.nlearn > ERLE_FRAMES:
            ratio = np.clip(self.Aee / (self.Ayy + 1e-30), ERLE_MIN, 1.0)
        self.Res = 0.5 * self.Res + 0.5 * np.maximum(ratio * syy + self.Rrev, Rnl) + TINY
        Ruse = self.Rs * (self.Res / self.Rs) ** w
        over = self.suppression * math.exp((1.0 - x) * math.log(OVER_ECHO) + x * math.log(lo))
        G = np.maximum(over * Ruse, (1.0 - x) * self.Ls)
        G = np.clip(1.0 - G / (self.See + 1e-20), self.gmin, 1.0)
        # the talker's floor in the bins whose error exceeds the calibrated estimate and
        # whose mic the echo estimate does not explain (coherence)
        kept = np.clip((self.See / (self.Res + 1e-30) - 1.0) / (KEEP_RATIO - 1.0), 0.0, 1.0)
        kept *= np.clip((KEEP_COH_HI - coh_last) / (KEEP_COH_HI - KEEP_COH_LO), 0.0, 1.0)
        G = np.maximum(G, KEEP_FLOOR * self.keep_ctx * kept)
        self.G = G
        up = see > self.nf
        self.nf = np.where(up, self.nf * 1.002, 0.8 * self.nf + 0.2 * see) + TINY
        spec = G * Et
        if self.comfort_noise:
            amp = np.sqrt(self.nf * (1.0 - G * G) * 0.5)
            sr = np.empty(k)
            si = np.empty(k)
            s = self.rng
            for i in range(k):  # xorshift32 (Marsaglia 2003), two sign bits per bin
                s ^= (s << 13) & MASK32
                s ^= s >> 17
                s ^= (s << 5) & MASK32
                sr[i] = 1.0 if s & 1 else -1.0
                si[i] = 1.0 if s & 2 else -1.0
            self.rng = s
            spec = spec + amp * (sr + 1j * si)
        o = np.fft.irfft(spec, 2 * n) * self.ws
        o[:n] += self.ola[n:]  # the previous frame's second half overlaps our first
        self.ola = o
        out: F64 = o[n - self.latency_samples : 2 * n - self.latency_samples]
        fa = float(self.fe2[self._slot(self.d + HEADROOM)])
        if fa > FAR_ACTIVE:
            a = STAT_ALPHA
            self.nact += 1
            self.p_far = a * self.p_far + (1.0 - a) * fa
            self.p_y = a * self.p_y + (1.0 - a) * float(np.mean(y * y))
            self.p_mic = a * self.p_mic + (1.0 - a) * float(np.mean(mic * mic))
            self.p_e = a * self.p_e + (1.0 - a) * float(np.mean(e * e))
            self.p_out = a * self.p_out + (1.0 - a) * float(np.mean(out * out))
            self.conv_lin = 10.0 * math.log10((self.p_mic + 1e-20) / (self.p_e + 1e-20))
            if self.lag >= 0 and self.nact >= 20 and self.conv_lin >= DE_JUMP_ERLE:
                self.g_echo = self.p_y / (self.p_far + 1e-20)
                self.provisional = False
        return out

    # ------------------------------------------------------------------ stats
    @property
    def erl_db(self) -> float:
        """``10 log10(P_far / P_echo_estimate)`` over far-active frames (NaN until known)."""
        if self.nact < 20 or self.p_y <= 0.0 or self.p_far <= 0.0:
            return math.nan
        return 10.0 * math.log10(self.p_far / self.p_y)

    @property
    def erle_db(self) -> float:
        """``10 log10(P_mic / P_out)`` over far-active frames (NaN until known)."""
        if self.nact < 20 or self.p_out <= 0.0:
            return math.nan
        return 10.0 * math.log10((self.p_mic + 1e-20) / (self.p_out + 1e-20))

    @property
    def linear_erle_db(self) -> float:
        """``10 log10(P_mic / P_error)`` over far-active frames (NaN until known)."""
        return math.nan if self.nact < 20 else self.conv_lin

    @property
    def converged(self) -> bool:
        """Delay locked and linear ERLE >= ANCHOR_ERLE."""
        return self.lag >= 0 and self.nact >= 20 and self.conv_lin >= ANCHOR_ERLE

    @property
    def delay_ms(self) -> float:
        """Largest filter tap near the coarse lag (ms); the coarse lag before."""
        if self.lag < 0:
            return math.nan
        near = [p for p in range(self.P) if abs(self.d + p - self.lag) <= HEADROOM + 1]
        if near:
            pk = max(near, key=lambda q: (self.peak[q], -q))  # the largest, earliest on ties
            if self.peak[pk] > 0:
                return float((self.d + pk) * self.n + self.peak_i[pk]) * 1000.0 / self.sample_rate
        return self.lag * 10.0
