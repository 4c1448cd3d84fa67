# cython: language_level=3
"""The echo canceller's bulk-delay estimator (composed by ``aec.EchoCanceller``).

Knapp & Carter 1976 (generalised cross-correlation), on 10 ms log band-energy envelopes:
per frame NB log band energies (bins 4..84 = 200..4200 Hz) of far and mic, running means
removed; for every lag l in 0 .. L-1 frames a recursively averaged (DE_TAU frames)
normalised correlation rho_l. The first lag with rho > DE_RHO_MIN for DE_CONFIRM frames
locks; a jump needs DE_CONFIRM_CHANGE frames, rho >= DE_RHO_JUMP, a DE_MARGIN margin and a
filter that is not cancelling (linear ERLE < DE_JUMP_ERLE dB). While the lag is provisional
(no filter has cancelled at it yet, e.g. a chance lock on noise before the first echo) a
lag DE_MARGIN better than it, with rho >= DE_RHO_JUMP, replaces it after DE_CONFIRM frames,
once it was held DE_PROVE_FRAMES (at once when DE_MARGIN_FAST better). After a confirmed
echo-path change the canceller scales the correlation memory by DE_FORGET (0.1 after a
route change), so the new delay is found on new evidence.

Units: frames of 10 ms; bins of 50 Hz. Constants: ``aec_constants.h``.
"""

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport exp, log
from libc.string cimport memset

import numpy as np

from callaudio._dsp._typedefs cimport f32, f64
from callaudio._dsp.aec_constants cimport (
    DE_CONFIRM, DE_CONFIRM_CHANGE, DE_JUMP_ERLE, DE_MARGIN, DE_MARGIN_FAST, DE_RHO_JUMP,
    DE_RHO_MIN, DE_TAU,
    DE_WEAK_FRAMES, HEADROOM, NB, TINY,
)


cdef extern from "aec_impl.h":
    int ca_aec_delay_corr(int L, int H, int slot, int nb, const f32* ffr, const f64* ffe,
                          const f64* fm, double a, double M, f64* C, f64* F, int valid,
                          int lag, double tiny, double* rbest_out,
                          double* rlag_out) noexcept nogil


def band_edges(n=160):
    """Delay-estimator band edges (bins of 50 Hz), log-spaced from bin 4 to bin 84, or to
    the Nyquist bin ``n`` when that is lower (8 kHz: n = 80, 4000 Hz)."""
    cdef int top = min(84, n)
    return np.round(4 * (top / 4.0) ** (np.arange(NB + 1) / NB)).astype(np.int64)


cdef class DelayEstimator:
    """Bulk delay of the echo, in 10 ms frames (``lag``; -1 until one is locked)."""

    def __cinit__(self, int n, int L, int H):
        self.n = n
        self.L = L
        self.H = H
        self.de_a = exp(-1.0 / DE_TAU)
        self.edges = <int*>PyMem_Malloc((NB + 1) * sizeof(int))
        self.ffr = <f32*>PyMem_Malloc(<Py_ssize_t>H * NB * sizeof(f32))
        self._f64 = <f64*>PyMem_Malloc((H + 3 * NB + 2 * L) * sizeof(f64))
        if self.edges == NULL or self.ffr == NULL or self._f64 == NULL:
            raise MemoryError()
        memset(self._f64, 0, (H + 3 * NB + 2 * L) * sizeof(f64))
        self.ffe = self._f64
        self.mu_f = self.ffe + H
        self.mu_m = self.mu_f + NB
        self.fm = self.mu_m + NB
        self.C = self.fm + NB
        self.F = self.C + L
        cdef int i
        edges = band_edges(n)
        for i in range(NB + 1):
            self.edges[i] = edges[i]
        self.reset()

    def __dealloc__(self):
        PyMem_Free(self.edges)
        PyMem_Free(self.ffr)
        PyMem_Free(self._f64)

    cdef void reset(self) noexcept nogil:
        """No delay, no correlation memory: as constructed."""
        cdef int i
        memset(self.ffr, 0, self.H * NB * sizeof(f32))
        memset(self.ffe, 0, self.H * sizeof(f64))
        for i in range(NB):
            self.mu_f[i] = 0.0
            self.mu_m[i] = 0.0
        for i in range(self.L):
            self.C[i] = 0.0
            self.F[i] = 0.0
        self.M = 0.0
        self.nfeat = 0
        self.nde = 0
        self.lag = -1
        self.cand = -1
        self.cand_n = 0

    cdef void accept(self, int lag) noexcept nogil:
        """The canceller took ``lag``: candidates start over."""
        self.lag = lag
        self.cand = -1
        self.cand_n = 0

    cdef void weaken_prior(self, double factor) noexcept nogil:
        """Scale the correlation memory by ``factor`` (0.1 after a route change, DE_FORGET
        after a confirmed echo-path change): the delay found for the old echo path is only
        a weak prior, a new one is confirmed within a second. A memory already shorter
        than DE_WEAK_FRAMES is kept: weakening it again on every frame of an echo-path
        change would leave a correlation too noisy to confirm any lag."""
        cdef int i
        if self.nde <= DE_WEAK_FRAMES:
            return
        for i in range(self.L):
            self.C[i] *= factor
            self.F[i] *= factor
        self.M *= factor
        if self.nde > 10:
            self.nde = 10

    @cython.boundscheck(False)   # raw pointer loops
    @cython.wraparound(False)
    cdef int update(self, int slot, long long t, const f32* X2, const f32* D2,
                    double conv_lin, bint provisional, bint aged, bint hold) noexcept nogil:
        """One frame: far power spectrum ``X2`` (stored in ring slot ``slot``), mic power
        spectrum ``D2``, the filter's linear ERLE; ``provisional``: no filter has cancelled
        at the current lag yet; ``aged``: it was held DE_PROVE_FRAMES (before that only a
        lag DE_MARGIN_FAST better replaces it); ``hold``: the canceller's double-talk
        control judged the last frame near-end dominated (``aec.pyx`` ``_random_walk``):
        the correlation is updated, but a locked lag is not moved and no candidate counts
        (a change needs its confirmation frames outside such frames). Returns the lag to
        take, or -1."""
        cdef int b, i, lo, hi, valid, best, L = self.L
        cdef double sf, sm, fl, am, a, xm, rbest, rlag
        cdef f32* ff = self.ffr + <Py_ssize_t>slot * NB
        self.nfeat += 1
        am = 1.0 / self.nfeat
        if am < 1.0 / DE_TAU:
            am = 1.0 / DE_TAU
        sm = 0.0
        for b in range(NB):
            lo = self.edges[b]
            hi = self.edges[b + 1]
            fl = (hi - lo) * 2.0 * self.n * 1e-7
            sf = 0.0
            xm = 0.0
            for i in range(lo, hi):
                sf += X2[i]
                xm += D2[i]
            sf = log(sf + fl)
            xm = log(xm + fl)
            self.mu_f[b] += am * (sf - self.mu_f[b])
            self.mu_m[b] += am * (xm - self.mu_m[b])
            ff[b] = <f32>(sf - self.mu_f[b])
            self.fm[b] = xm - self.mu_m[b]
            sm += self.fm[b] * self.fm[b]
        fl = 0.0
        for b in range(NB):
            fl += ff[b] * ff[b]
        self.ffe[slot] = fl          # energy of this frame's far features (F's increment)
        self.nde += 1
        a = 1.0 - 1.0 / self.nde
        if a < self.de_a:
            a = self.de_a
        self.M = a * self.M + sm
        valid = <int>(t + 1) if t + 1 < L else L
        # correlation of the mic features with the far features of every lag (ring slots)
        best = ca_aec_delay_corr(L, self.H, slot, NB, self.ffr, self.ffe, self.fm, a, self.M,
                                 self.C, self.F, valid, self.lag, TINY, &rbest, &rlag)
        if rbest < DE_RHO_MIN:
            return -1
        if self.lag >= 0 and (hold or abs(best - self.lag) <= HEADROOM):
            # within the filter's headroom (_anchor follows it), or near speech: its chance
            # correlation with some far lag reached DE_RHO_JUMP in loud double talk, and a
            # lag made provisional by a divergence or an anchor move there jumped to it
            # (long loud double talk at 48 kHz: 120 -> 380 ms; soak dt#113@48k)
            self.cand_n = 0
            return -1
        # A candidate that moves by one lag (10 ms) between frames is the same echo: the
        # band-energy correlation peak of speech is broad, so it flickers between
        # neighbours, and an exact-equality count would never confirm a change.
        if self.cand >= 0 and abs(best - self.cand) <= 1:
            self.cand_n += 1
        else:
            self.cand_n = 1
        self.cand = best
        if self.lag < 0:
            if self.cand_n >= DE_CONFIRM:
                return best
        elif provisional and (aged or rbest > rlag + DE_MARGIN_FAST):
            # No filter has cancelled at the current lag: it may be a chance lock (noise
            # before the first echo). A clearly better lag with a strong correlation replaces
            # it as a first lock does (near speech in undetected double talk correlates
            # weakly, 0.25-0.4: it must not move the lag).
            if (self.cand_n >= DE_CONFIRM and rbest >= DE_RHO_JUMP
                    and rbest > rlag + DE_MARGIN):
                return best
        elif (self.cand_n >= DE_CONFIRM_CHANGE and rbest >= DE_RHO_JUMP
              and rbest > rlag + DE_MARGIN and conv_lin < DE_JUMP_ERLE):
            # A change needs a strong correlation: in long double talk the linear ERLE
            # falls below DE_JUMP_ERLE while the mic features hold near speech, whose
            # chance correlation with some far lag reaches 0.25-0.4 (a true new delay of
            # far speech gives 0.7-1.0).
            return best
        return -1
