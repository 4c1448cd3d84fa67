# cython: language_level=3
"""The echo canceller's residual-echo suppressor and synthesis (composed by
``aec.EchoCanceller``).

Papers
------
- J.-M. Valin, "On adjusting the learning rate in frequency domain echo cancellation with
  double-talk", IEEE Trans. ASLP 15(3), 2007: the leakage estimate (regression of the
  error power on the echo-estimate power over time).
- G. Enzner, P. Vary, "Frequency-domain adaptive Kalman filter for acoustic echo control
  in hands-free telephones", Signal Processing 86(6), 2006: the residual echo from the
  Kalman state error.
- O. Hoshuyama, A. Sugiyama, "An acoustic echo suppressor based on a frequency-domain
  model of highly nonlinear residual echo", ICASSP 2006: nonlinear (loudspeaker
  saturation) echo modelled per bin as a coupling times a spectrally spread echo replica,
  the coupling estimated by correlating the residual with the replica.
- WebRTC AEC3's suppression gain and ERLE estimator (ideas only, no code): separate gain
  tunings for echo-only frames and frames with a near-end talker; the residual echo as the
  linear echo estimate over a per-band ERLE learnt while only the far end talks.
- E. Haensler, G. Schmidt, "Acoustic Echo and Noise Control", Wiley 2004: the
  residual-echo power as the echo estimate's power times the filter's (smoothed) echo
  attenuation, frozen in double talk.
- D. Mauler, R. Martin, EUSIPCO 2007: the low-delay analysis/synthesis windows.
- T. Gaensler, M. Hansson, C.-J. Ivarsson, G. Salomonsson, "A double-talk detector based
  on coherence", IEEE Trans. Commun. 44(11), 1996: the mic/echo-estimate coherence per
  bin, near 1 where the echo dominates (the talker's floor, step 5b).
- WebRTC AEC3's near-end suppressor tuning (ideas only, no code): in its near-end state
  the gain is transparent in bands whose echo-to-near-end ratio is low, rather than
  suppressing them on the echo-only setting.

Per frame, per bin, on the low-delay windowed error E~ = D~ - Y~ (powers |.|^2 of the
2n-point spectra, so per 50 Hz bin):

1. Linear residual echo R_lin = max(leak |Y~|^2, kres sum_p Psi |X_p|^2) + reverb
   (Valin's leakage, Enzner's state-error term, an exponential tail beyond the filter with
   the decay of its last two partitions).
2. Nonlinear residual echo R_nl = w c z: ``z`` is the echo replica's power spread over the
   whole band (its mean over the bins: a saturating loudspeaker's harmonics and
   intermodulation land far from the bins that carry the echo), ``c`` the per-bin coupling,
   the regression over time (rate NL_BETA, ~0.5 s) of the error the linear model leaves
   unexplained, ``max(|E~|^2 - R_lin, 0)``, on ``z`` (deviations from running means).  It
   learns only while no near-end talker is present (presence below NL_GATE, step 3), and a
   talker would not correlate with the far end's envelope anyway; a linear loudspeaker
   leaves ``c`` near 0.  R = max(R_lin, R_nl, R_b).
2b. The learnt-ratio bound R_b = ERLE_OVER clip(A_ee / A_yy, ERLE_MIN, ERLE_CAP) |Y~|^2 +
   reverb, with the per-bin error/echo-estimate ratio of step 4 (once ERLE_FRAMES echo-only
   frames were learnt with an echo path locked).  Where the filter models little of the
   echo -- a saturating loudspeaker's harmonics, a drifting path above 4 kHz -- the error
   sits at or above the echo estimate (ratio > 1, up to ERLE_CAP: -6 dB "ERLE"), while the
   broadband leakage, set by the well-cancelled low bins, and the spread replica both sit
   5-10 dB below it; the error then exceeded R as a talker would (step 3), and the gentle
   talker setting let the echo through (sat3 at 3 cm, 48 kHz: the frames called "talker"
   kept a median 13 dB ERLE).  This is AEC3's residual echo as the echo estimate over a
   per-band ERLE (ideas only), with the ERLE allowed below 0 dB, as Hoshuyama & Sugiyama's
   nonlinear residual exceeds the linear replica; the ratio is a ratio of means, so the
   loud, most distorted frames weigh most.
3. Echo-only vs near-end presence x: ``p = sum |E~|^2 / sum R`` (both smoothed by 1/2 per
   frame), in dB, mapped from ECHO_DB (x = 0, echo only) to NEAR_DB (x = 1, a near-end
   talker); x decays by NEAR_HOLD per frame, so a talker's weak frames keep it.
4. Residual echo behind a talker.  R (steps 1-2) bounds the echo for the worst frame of a
   filter in flux and sits 10-16 dB above the true residual echo in double talk, which
   suppressed the talker.  So per bin the error/echo-estimate power
   ratio ``A_ee / A_yy`` (the inverse linear ERLE, means at rate ERLE_RATE, clipped to
   [ERLE_MIN, 1]) is learnt only in echo-only frames (x < ERLE_GATE, echo path locked) and
   frozen while a talker is present; ``R_near = max(A_ee / A_yy |Y~|^2 + reverb, R_nl)``
   (ratio 1 until ERLE_FRAMES frames were learnt).  The estimate used is
   ``R^(1-w) R_near^w``, ``w = x_n (1 - min(leak / NEAR_LEAK, 1)^2)`` (less of it behind
   a filter that cancels little, whose error exceeds any estimate as a talker would:
   reverberant tails, saturation).  In double talk (tests/aec_dt_diagnosis.py, the dt
   sweep) R sits 6-12 dB above the true residual echo and R_near within +-4 dB of it, and
   the filters there leak 0.007-0.03 (a saturating loudspeaker at 3 cm: 0.06-0.07): so
   the weight is linear in the presence (was ``x_n^2``) and the leakage enters squared
   (was linear), which moves the talker's frames to the calibrated estimate and keeps
   the safe one behind saturation; ``x_n <= x`` is the presence of step 3 with the
   error's noise floor added to R (the near end's noise is no talker: with it alone the
   gentle estimate let residual echo lift the output above the noise); the
   over-subtraction moves log-linearly from OVER_ECHO to OVER_ERLE with x (x
   ``suppression``).  For ERLE_HOLD frames after the
   delay estimator's lag changes (the filter re-converges; the learnt ERLE is stale) R
   alone is used, its talker setting OVER_NEAR behind a filter that cancels and rising to
   1 as the leakage reaches NEAR_LEAK (a filter cancelling < 10 dB leaves echo that
   exceeds the estimate as a talker would).  A lag change within JUMP_FRAMES frames of a
   frame whose error was louder than the mic (the filter adds echo: the path moved), to
   a lag other than the one held before it (not a transient jump and back), holds
   OVER_JUMP instead: the re-converging filter's error is echo, not a talker (the Valin
   leakage, learnt on the old path, is stale-low: a bulk-delay change kept ~10 dB ERLE
   for a second behind the talker setting).  As AEC3 uses its conservative initial
   suppression after an echo-path change (ideas only).
5. Gain G = clip(1 - max(over R_used, (1 - x) leak |Y~|^2) / |E~|^2, gmin, 1) (smoothed
   powers: echo-only frames never keep more than the leakage, e.g. what a filter adapting
   on uncorrelated noise adds); comfort noise sqrt(N (1 - G^2) / 2)
   with random signs at the error's noise floor N (only where the gain is low);
   overlap-add synthesis, ``lat`` samples late.
5b. The talker's floor: G = max(G, KEEP_FLOOR c a v) per bin, where ``c`` is 1 while the
   presence x_n > KEEP_NEAR and decays by KEEP_DECAY per frame (~0.3 s) after (0 during
   ERLE_HOLD), ``a = clip((|E~|^2 / R_near - 1) / (KEEP_RATIO - 1), 0, 1)`` (the error
   exceeds the calibrated estimate of step 4: the near end holds the bin) and ``v =
   clip((KEEP_COH_HI - C) / (KEEP_COH_HI - KEEP_COH_LO), 0, 1)`` with C the canceller's
   smoothed mic/echo-estimate coherence up to the last frame (Gaensler et al. 1996: an
   echo-dominated bin, or a filter that lost the path after a burst, keeps C near 1).
   Measured per bin on the double-talk sweep (seeds 0-5, tests/aec_dt_diagnosis.py with
   the true residual echo): the suppressor's estimate in double talk is right on median
   (-0.2 dB) but spreads -6..+1 dB per bin and frame; an oracle gain smoothed over time
   (1/0.15 frames) or with 3 dB of error per bin already falls from PESQ 2.0 to 1.45-1.66,
   so no estimate of this form reaches the oracle.  What the real gain loses most is the
   burst frames the presence calls echo only (x <= 0.5: the talker's pauses and weak
   phonemes, suppressed to gmin on the over-subtracted R; the oracle there alone: PESQ
   1.25 -> 1.67 on seed 0).  A floor of -16.5 dB in the near end's bins keeps them: DT
   PESQ worst 1.26 -> 1.32-1.34; without the coherence term the post-burst ERLE fell up
   to 9 dB at 48 kHz (seed 5: 48.7 -> 39.7) and the lead-in of seed 6 by 7 dB.
5c. Shared synthesis: in a chain with the noise suppressor, the error is framed in the
   noise suppressor's hops and windows instead (two 5 ms hops per frame, its low-delay
   pair, ``NoiseSuppressor.analyse_c``); each hop gets this frame's gain and comfort noise
   of step 4, then ``NoiseSuppressor.process_spectrum_c`` multiplies in its own gain, and
   one synthesis (``synthesise_c``) outputs both stages (ns.pyx, item 1).  Steps 1-4 are
   unchanged: the estimate and the gain stay per frame, on this stage's own window.

Constants: ``aec_suppressor.h`` (this stage) and ``aec_constants.h`` (the canceller).
"""

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport exp, log, log10
from libc.string cimport memcpy, memset

from callaudio._dsp._typedefs cimport f32
from callaudio._dsp.aec_constants cimport LEAK_BETA0, TINY
from callaudio._dsp.fft cimport RealFFT
from callaudio._dsp.ns cimport NoiseSuppressor

from callaudio._dsp.ns import lowdelay_windows


cdef extern from "aec_window.h":
    void ca_aec_window(int n, f32* out, const f32* wa, const f32* prev,
                       const f32* cur) noexcept nogil
    void ca_aec_scale_spectrum(int k, f32* t, const f32* g) noexcept nogil

cdef extern from "aec_suppressor.h":
    double NL_BETA "AEC_SUP_NL_BETA"
    double NL_SMOOTH "AEC_SUP_NL_SMOOTH"
    double NL_WEIGHT "AEC_SUP_NL_WEIGHT"
    double NL_GATE "AEC_SUP_NL_GATE"
    double ECHO_DB "AEC_SUP_ECHO_DB"
    double NEAR_DB "AEC_SUP_NEAR_DB"
    double OVER_ECHO "AEC_SUP_OVER_ECHO"
    double OVER_NEAR "AEC_SUP_OVER_NEAR"
    double NEAR_HOLD "AEC_SUP_NEAR_HOLD"
    double NEAR_LEAK "AEC_SUP_NEAR_LEAK"
    double OVER_ERLE "AEC_SUP_OVER_ERLE"
    int ERLE_HOLD "AEC_SUP_ERLE_HOLD"
    double ERLE_RATE "AEC_SUP_ERLE_RATE"
    double ERLE_GATE "AEC_SUP_ERLE_GATE"
    double ERLE_MIN "AEC_SUP_ERLE_MIN"
    int ERLE_FRAMES "AEC_SUP_ERLE_FRAMES"
    double ERLE_OVER "AEC_SUP_ERLE_OVER"
    double ERLE_CAP "AEC_SUP_ERLE_CAP"
    int JUMP_FRAMES "AEC_SUP_JUMP_FRAMES"
    double JUMP_LOUDER "AEC_SUP_JUMP_LOUDER"
    double OVER_JUMP "AEC_SUP_OVER_JUMP"
    double KEEP_FLOOR "AEC_SUP_KEEP_FLOOR"
    double KEEP_NEAR "AEC_SUP_KEEP_NEAR"
    double KEEP_DECAY "AEC_SUP_KEEP_DECAY"
    double KEEP_RATIO "AEC_SUP_KEEP_RATIO"
    double KEEP_COH_LO "AEC_SUP_KEEP_COH_LO"
    double KEEP_COH_HI "AEC_SUP_KEEP_COH_HI"
    void ca_aec_residual_lin(int k, f32* rrev, f32* rlin, const f32* wl, const f32* x2b,
                             const f32* syy, const f32* px, f32 gamma, f32 leak, f32 kres,
                             f32 tiny) noexcept nogil
    void ca_aec_nl_regress(int k, f32* eb, f32* pez, const f32* see, const f32* rlin, f32 dz,
                           f32 s, f32 b, int learn, f32 tiny) noexcept nogil
    void ca_aec_residual_bound(int k, f32* rlin, const f32* aee, const f32* ayy,
                               const f32* syy, const f32* rrev, f32 over, f32 lmin,
                               f32 cap) noexcept nogil
    void ca_aec_residual(int k, f32* see_s, f32* rs, f32* ls, const f32* rlin, const f32* see,
                         const f32* syy, const f32* pez, f32 leak, f32 nlc, f32 tiny,
                         double* sums) noexcept nogil
    void ca_aec_residual_near(int k, f32* aee, f32* ayy, f32* res, f32* ruse, const f32* see,
                              const f32* syy, const f32* rrev, const f32* pez, const f32* rs,
                              f32 a, int learn, int use, f32 nlc, f32 x, f32 lmin,
                              f32 tiny) noexcept nogil
    void ca_aec_apply_gain(int k, f32* g, f32* nf, f32* out, const f32* see_s, const f32* r,
                           const f32* ls, const f32* see, const f32* e, const f32* kf,
                           f32 supp, f32 lsw, f32 gmin, f32 tiny) noexcept nogil
    void ca_aec_gain_floor(int k, f32* g, f32* nf, const f32* see_s, const f32* r,
                           const f32* ls, const f32* see, const f32* kf, f32 supp, f32 lsw,
                           f32 gmin, f32 tiny) noexcept nogil
    void ca_aec_keep_floor(int k, f32* kf, const f32* see_s, const f32* res, const f32* cdy,
                           const f32* cyy, const f32* cdd, f32 keep, f32 kslope, f32 clo,
                           f32 chi) noexcept nogil

cdef extern from "aec_impl.h":
    void ca_aec_comfort_amp(int k, f32* amp, const f32* nf, const f32* g) noexcept nogil
    void ca_aec_comfort_jump_table(int k, unsigned int* col) noexcept nogil
    unsigned int ca_aec_comfort_jump(const unsigned int* col, unsigned int state) noexcept nogil
    unsigned int ca_aec_comfort_noise(int k, f32* out, const f32* nf, const f32* g, f32* amp,
                                      unsigned int state) noexcept nogil
    unsigned int ca_aec_comfort_signs(int k, f32* out, const f32* amp,
                                      unsigned int state) noexcept nogil
    unsigned int ca_aec_scale_signs16(int k, f32* out, const f32* g, const f32* amp,
                                      unsigned int state) noexcept nogil
    double ca_aec_cpower_sum(int k, const f32* w) noexcept nogil
    void ca_aec_residual_spectra(int k, f32* espec, f32* ebar, f32* ybar, f32* syy_out,
                                 f32* see_out, const f32* yspec, const f32* dspec,
                                 double tiny, double* sums) noexcept nogil
    void ca_aec_synthesis(int n, int lat, f32* out, f32* t, f32* ola,
                          const f32* ws) noexcept nogil


def analysis_windows(int n, int d):
    """Low-delay analysis/synthesis pair over ``2n`` samples with output latency ``d``
    (Mauler & Martin 2007), float64.

    The product ``wa * ws`` is zero on ``[0, n-d)``, a sin^2 rise on ``[n-d, n)``, one on
    ``[n, 2n-d)`` and the complementary fall on ``[2n-d, 2n)``, so overlap-add at hop
    ``n`` reconstructs exactly, ``d`` samples late.
    """
    return lowdelay_windows(2 * n, n, d)


cdef class ResidualEchoSuppressor:
    """The postfilter after the adaptive filter, and the canceller's synthesis."""

    def __cinit__(self, int n, int lat, RealFFT fft not None, double suppression,
                  double gmin, bint comfort_noise):
        self.n = n
        self.k = n + 1
        self.lat = lat
        self.fft = fft
        self.suppression = suppression
        self.gmin = gmin
        self.comfort_noise = comfort_noise
        cdef int k = self.k
        ca_aec_comfort_jump_table(k, self.rng_jump)
        # wa, ws, tmp, ola: 2n each; y_prev: n; Yspec, Espec, Tspec: 2k; 16 per-bin arrays
        self._arena = <f32*>PyMem_Malloc((9 * n + 6 * k + 16 * k) * sizeof(f32))
        if self._arena == NULL:
            raise MemoryError()
        memset(self._arena, 0, (9 * n + 6 * k + 16 * k) * sizeof(f32))
        cdef f32* a = self._arena
        self.wa = a
        self.ws = self.wa + 2 * n
        self.tmp = self.ws + 2 * n
        self.ola = self.tmp + 2 * n
        self.y_prev = self.ola + 2 * n
        self.Yspec = self.y_prev + n
        self.Espec = self.Yspec + 2 * k
        self.Tspec = self.Espec + 2 * k
        self.Rrev = self.Tspec + 2 * k
        self.Ebar = self.Rrev + k
        self.Ybar = self.Ebar + k
        self.nf = self.Ybar + k
        self.See = self.nf + k
        self.Rs = self.See + k
        self.G = self.Rs + k
        self.syy = self.G + k
        self.see = self.syy + k
        self.NLe = self.see + k
        self.NLc = self.NLe + k
        self.Ls = self.NLc + k
        self.Aee = self.Ls + k
        self.Ayy = self.Aee + k
        self.Res = self.Ayy + k
        self.Kf = self.Res + k
        self.coh_dy = NULL
        self.coh_yy = NULL
        self.coh_dd = NULL
        cdef int i
        wa, ws = analysis_windows(n, lat)
        for i in range(2 * n):
            self.wa[i] = wa[i]
            self.ws[i] = ws[i]
        self.reset_all()

    def __dealloc__(self):
        PyMem_Free(self._arena)

    cdef void reset_path(self) noexcept nogil:
        """Forget the residual-echo and leakage estimates (the echo path changed)."""
        cdef int k = self.k, i
        memset(self.Rrev, 0, k * sizeof(f32))
        memset(self.Ebar, 0, k * sizeof(f32))
        memset(self.Ybar, 0, k * sizeof(f32))
        memset(self.See, 0, k * sizeof(f32))
        memset(self.Rs, 0, k * sizeof(f32))
        memset(self.NLe, 0, k * sizeof(f32))
        memset(self.NLc, 0, k * sizeof(f32))
        memset(self.Ls, 0, k * sizeof(f32))
        memset(self.Aee, 0, k * sizeof(f32))
        memset(self.Ayy, 0, k * sizeof(f32))
        memset(self.Res, 0, k * sizeof(f32))
        memset(self.Kf, 0, k * sizeof(f32))
        self.kf_set = False
        self.nlearn = 0
        for i in range(k):
            self.nf[i] = 1e-6
            self.G[i] = 1.0
        self.gamma = 0.0
        self.Pey = 0.0
        self.Pyy = 0.0
        self.leak = 1.0
        self.zbar = 0.0
        self.pzz = 0.0
        self.near = 0.0
        self.near_now = 0.0
        self.keep_ctx = 0.0

    cdef void set_coherence(self, const f32* cdy, const f32* cyy, const f32* cdd) noexcept nogil:
        """The smoothed mic/echo-estimate cross- (2k) and auto-spectra (k each) the
        talker's floor reads (step 5): the canceller's, accumulated after each frame."""
        self.coh_dy = cdy
        self.coh_yy = cyy
        self.coh_dd = cdd

    cdef void clear_output(self) noexcept nogil:
        """Drop the overlap-add tail (after a frame that had to be discarded)."""
        memset(self.ola, 0, 2 * self.n * sizeof(f32))

    cdef void reset_all(self) noexcept nogil:
        """As constructed."""
        memset(self.y_prev, 0, self.n * sizeof(f32))
        self.clear_output()
        self.rng = 0x12345678
        self.post_ratio = 1.0
        self.reset_path()
        self.last_lag = -2
        self.hold = 0
        self.lag_before = -3
        self.since_louder = 1 << 30
        self.hold_jump = False

    cdef f32 upper_band_gain(self) noexcept nogil:
        """The gain a band-split chain applies to the bands above this one (no linear
        filter there): over the upper half of this band (4-8 kHz at 16 kHz), the smaller
        of the last frame's smallest gain and 1 - suppression x the echo estimate's share
        of the mic power, within [gmin, 1]."""
        cdef int i
        cdef double g = 1.0, py = 0.0, pd = 0.0, yr, yi, dr, di
        for i in range(self.k // 2, self.k):
            if self.G[i] < g:
                g = self.G[i]
            yr = self.Yspec[2 * i]
            yi = self.Yspec[2 * i + 1]
            dr = self.Espec[2 * i] + yr
            di = self.Espec[2 * i + 1] + yi
            py += yr * yr + yi * yi
            pd += dr * dr + di * di
        if pd > 0.0 and 1.0 - self.suppression * py / pd < g:
            g = 1.0 - self.suppression * py / pd
        return <f32>(g if g > self.gmin else self.gmin)

    @cython.boundscheck(False)   # raw pointer loops
    @cython.wraparound(False)
    cdef f32 upper_band_gain_mean(self, const f32* d2) noexcept nogil:
        """``upper_band_gain`` for linked channels: the echo estimate's and the mic's
        powers over the upper half are the channels' means (``syy`` after their
        averaging; ``d2``: the mean |D~|^2, as |E~ + Y~|^2 there)."""
        cdef int i
        cdef double g = 1.0, py = 0.0, pd = 0.0
        for i in range(self.k // 2, self.k):
            if self.G[i] < g:
                g = self.G[i]
            py += self.syy[i]
            pd += d2[i]
        if pd > 0.0 and 1.0 - self.suppression * py / pd < g:
            g = 1.0 - self.suppression * py / pd
        return <f32>(g if g > self.gmin else self.gmin)

    @cython.boundscheck(False)   # raw pointer loops
    @cython.wraparound(False)
    cdef void process(self, f32* out, const f32* y, const f32* e, const f32* Dspec,
                      const f32* Wl, const f32* Wm, const f32* X2b, const f32* PX, f32 kres,
                      int lag, NoiseSuppressor post) noexcept nogil:
        """``out`` (n samples) <- the suppressed error, ``lat`` samples late (with
        ``post``: ``post.latency_samples`` late).

        ``y``: this frame's echo estimate; ``e``: the filter's error (mic - y);
        ``Dspec``: the mic's windowed spectrum; ``Wl``,
        ``Wm``: the filter's last two partitions; ``X2b``: the far power spectrum just
        beyond the filter's tail; ``PX``: sum_p Psi |X_p|^2; ``kres``: its weight; ``lag``:
        the delay estimator's lag (a change holds the ERLE-based estimate off ERLE_HOLD
        frames); ``post``: the noise suppressor sharing this analysis (None: this stage
        alone).
        """
        cdef double sums[5]
        self.spectra_c(y, Dspec, sums)
        self._estimate(sums, Wl, Wm, X2b, PX, kres, lag, post is None, True)
        if post is None:
            self.post_ratio = 1.0
            self.fft.inverse_c(self.Tspec, self.tmp)
            ca_aec_synthesis(self.n, self.lat, out, self.tmp, self.ola, self.ws)
        else:
            self._shared_synthesis(out, e, post)

    cdef void spectra_c(self, const f32* y, const f32* Dspec, double* sums) noexcept nogil:
        """Steps 0: the windowed echo estimate's spectrum, the error's by linearity
        E~ = D~ - Y~, their powers (``see``, ``syy``) and sums (``sums[0:4]``: sy, se,
        and the deviations' cross and square sums for the leakage; ``sums[4]``: the
        mic's power, sum |D~|^2)."""
        cdef int n = self.n, k = self.k, i
        cdef double sd = 0.0
        ca_aec_window(n, self.tmp, self.wa, self.y_prev, y)
        self.fft.forward_c(self.tmp, self.Yspec)
        memcpy(self.y_prev, y, n * sizeof(f32))
        ca_aec_residual_spectra(k, self.Espec, self.Ebar, self.Ybar, self.syy, self.see,
                                self.Yspec, Dspec, TINY, sums)
        for i in range(2 * k):
            sd += <double>Dspec[i] * Dspec[i]
        sums[4] = sd

    @cython.boundscheck(False)   # raw pointer loops
    @cython.wraparound(False)
    cdef void estimate_c(self, double* sums, const f32* Wl, const f32* Wm,
                         const f32* X2b, const f32* PX, f32 kres, int lag,
                         bint comfort) noexcept nogil:
        """Steps 1-5 on ``see``/``syy`` and ``sums`` (``spectra_c``, or their means over
        linked channels; ``sums`` is used as scratch): the gain ``G``, the noise floor
        ``nf``, and (with ``comfort``) ``G E~`` plus comfort noise in ``Tspec``; without,
        the gain and floor only, the generator untouched (each hop draws its own)."""
        self._estimate(sums, Wl, Wm, X2b, PX, kres, lag, comfort, comfort)

    @cython.boundscheck(False)   # raw pointer loops
    @cython.wraparound(False)
    cdef void _estimate(self, double* sums, const f32* Wl, const f32* Wm, const f32* X2b,
                        const f32* PX, f32 kres, int lag, bint spectrum,
                        bint comfort) noexcept nogil:
        """``estimate_c``; without ``spectrum`` (a shared synthesis analyses the error
        itself) ``Tspec`` is not written and, with ``comfort``, the generator skips the
        comfort noise's signs (k steps)."""
        cdef int k = self.k
        cdef double sy, se, sey, syy2
        cdef double beta, e1, e2
        cdef double z, dz, nlc, x, over, lo, w, lk, s_n, xn, sd, keep
        cdef int i
        cdef bint learn
        sy = sums[0]
        se = sums[1]
        sey = sums[2]
        syy2 = sums[3]
        sd = sums[4]
        # leakage (Valin 2007)
        beta = sy / (se + 1e-12)
        if beta > 1.0:
            beta = 1.0
        beta *= LEAK_BETA0
        self.Pey = (1.0 - beta) * self.Pey + beta * sey
        self.Pyy = (1.0 - beta) * self.Pyy + beta * syy2
        if self.Pyy > 1e-12:
            self.leak = self.Pey / self.Pyy
            if self.leak < 0.005:
                self.leak = 0.005
            if self.leak > 1.0:
                self.leak = 1.0
        # reverberation beyond the filter tail
        e1 = ca_aec_cpower_sum(k, Wl)
        e2 = ca_aec_cpower_sum(k, Wm)
        if e2 > 0.0:
            self.gamma = e1 / (e2 + 1e-20)
            if self.gamma > 0.9:
                self.gamma = 0.9
        else:
            self.gamma = 0.0
        # linear residual echo (into tmp), then the nonlinear echo: the per-bin coupling of
        # the error beyond it to the spread replica power, learnt while no talker is present
        ca_aec_residual_lin(k, self.Rrev, self.tmp, Wl, X2b, self.syy, PX, <f32>self.gamma,
                            <f32>self.leak, kres, <f32>TINY)
        z = sy / k
        self.zbar = NL_SMOOTH * self.zbar + (1.0 - NL_SMOOTH) * z
        dz = z - self.zbar
        learn = self.near < NL_GATE
        if learn:
            self.pzz = (1.0 - NL_BETA) * self.pzz + NL_BETA * dz * dz
        ca_aec_nl_regress(k, self.NLe, self.NLc, self.see, self.tmp, <f32>dz,
                          <f32>NL_SMOOTH, <f32>NL_BETA, learn, <f32>TINY)
        nlc = NL_WEIGHT * z / self.pzz if self.pzz > 1e-30 else 0.0
        if kres > 0.0 and self.nlearn > ERLE_FRAMES:  # step 2b: the learnt-ratio bound
            ca_aec_residual_bound(k, self.tmp, self.Aee, self.Ayy, self.syy, self.Rrev,
                                  <f32>ERLE_OVER, <f32>ERLE_MIN, <f32>ERLE_CAP)
        ca_aec_residual(k, self.See, self.Rs, self.Ls, self.tmp, self.see, self.syy, self.NLc,
                        <f32>self.leak, <f32>nlc, <f32>TINY, sums)
        # echo only -> near-end talker: the over-subtraction
        if sums[1] > 0.0 and sums[0] > 0.0:
            x = (10.0 * log10(sums[0] / sums[1]) - ECHO_DB) / (NEAR_DB - ECHO_DB)
            x = 0.0 if x < 0.0 else (1.0 if x > 1.0 else x)
        else:
            x = 1.0
        self.near_now = x
        if x < NEAR_HOLD * self.near:
            x = NEAR_HOLD * self.near
        self.near = x
        # behind a talker: the residual echo from the per-bin linear ERLE, learnt in
        # echo-only frames once an echo path is locked (kres > 0), into tmp; not for
        # ERLE_HOLD frames after a lag change (the filter re-converges, the ERLE is stale):
        # then R with the gentle setting only behind a filter that cancels
        if se > JUMP_LOUDER * sd:
            self.since_louder = 0
        elif self.since_louder < (1 << 30):
            self.since_louder += 1
        if lag != self.last_lag:
            self.hold_jump = self.since_louder < JUMP_FRAMES and lag != self.lag_before
            self.lag_before = self.last_lag
            self.last_lag = lag
            self.hold = ERLE_HOLD
        if self.hold > 0:
            self.hold -= 1
        learn = kres > 0.0 and x < ERLE_GATE and sy > 0.0
        if learn:
            self.nlearn += 1
        lk = self.leak / NEAR_LEAK
        lk = 1.0 if lk > 1.0 else lk
        if self.hold > 0:
            w = 0.0
            lo = OVER_JUMP if self.hold_jump else OVER_NEAR + (1.0 - OVER_NEAR) * lk
            self.keep_ctx = 0.0
        else:  # a talker above the error's noise floor, not the near end's noise
            s_n = 0.0
            for i in range(k):
                s_n += self.nf[i]
            if sums[0] > 0.0:
                xn = (10.0 * log10(sums[0] / (sums[1] + s_n)) - ECHO_DB) / (NEAR_DB - ECHO_DB)
                xn = 0.0 if xn < 0.0 else (x if xn > x else xn)
            else:
                xn = 0.0
            w = xn * (1.0 - lk * lk)
            lo = OVER_ERLE
            self.keep_ctx = 1.0 if xn > KEEP_NEAR else KEEP_DECAY * self.keep_ctx
        ca_aec_residual_near(k, self.Aee, self.Ayy, self.Res, self.tmp, self.see, self.syy,
                             self.Rrev, self.NLc, self.Rs, <f32>ERLE_RATE, learn,
                             self.nlearn > ERLE_FRAMES, <f32>nlc, <f32>w, <f32>ERLE_MIN,
                             <f32>TINY)
        over = self.suppression * exp((1.0 - x) * log(OVER_ECHO) + x * log(lo))
        keep = KEEP_FLOOR * self.keep_ctx
        if keep > self.gmin and self.coh_dy != NULL:
            ca_aec_keep_floor(k, self.Kf, self.See, self.Res, self.coh_dy, self.coh_yy,
                              self.coh_dd, <f32>keep, <f32>(1.0 / (KEEP_RATIO - 1.0)),
                              <f32>KEEP_COH_LO, <f32>KEEP_COH_HI)
            self.kf_set = True
        elif self.kf_set:
            memset(self.Kf, 0, k * sizeof(f32))
            self.kf_set = False
        if not spectrum:
            ca_aec_gain_floor(k, self.G, self.nf, self.See, self.tmp, self.Ls, self.see,
                              self.Kf, <f32>over, <f32>(1.0 - x), <f32>self.gmin, <f32>TINY)
            if self.comfort_noise and comfort:
                self.rng = ca_aec_comfort_jump(self.rng_jump, self.rng)
            return
        ca_aec_apply_gain(k, self.G, self.nf, self.Tspec, self.See, self.tmp, self.Ls, self.see,
                          self.Espec, self.Kf, <f32>over, <f32>(1.0 - x), <f32>self.gmin,
                          <f32>TINY)
        if self.comfort_noise and comfort:
            self.rng = ca_aec_comfort_noise(k, self.Tspec, self.nf, self.G, self.tmp, self.rng)

    cdef void follow_c(self, ResidualEchoSuppressor leader, bint spectrum) noexcept nogil:
        """Linked channels: take the leader's gain and noise floor (``estimate_c`` ran
        once, on the channels' mean powers), its near-end presence and pooled leakage
        (what the canceller's double-talk test reads); with ``spectrum``, ``Tspec`` <- G E~
        plus comfort noise (for ``synthesis_c``)."""
        cdef int k = self.k, i
        memcpy(self.G, leader.G, k * sizeof(f32))
        memcpy(self.nf, leader.nf, k * sizeof(f32))
        self.near = leader.near
        self.near_now = leader.near_now
        self.leak = leader.leak
        if not spectrum:
            return
        for i in range(2 * k):
            self.Tspec[i] = self.Espec[i]
        ca_aec_scale_spectrum(k, self.Tspec, self.G)
        if self.comfort_noise:
            self.rng = ca_aec_comfort_noise(k, self.Tspec, self.nf, self.G, self.tmp, self.rng)

    cdef void synthesis_c(self, f32* out) noexcept nogil:
        """Step 5 without a noise suppressor: ``Tspec`` out, ``lat`` samples late."""
        self.post_ratio = 1.0
        self.fft.inverse_c(self.Tspec, self.tmp)
        ca_aec_synthesis(self.n, self.lat, out, self.tmp, self.ola, self.ws)

    @cython.boundscheck(False)   # raw pointer loops
    @cython.wraparound(False)
    cdef void comfort_amp_c(self, f32* amp) noexcept nogil:
        """The comfort noise's amplitude per bin, sqrt(N (1 - G^2) / 2) (zero without
        comfort noise)."""
        if self.comfort_noise:
            ca_aec_comfort_amp(self.k, amp, self.nf, self.G)
        else:
            memset(amp, 0, self.k * sizeof(f32))

    @cython.boundscheck(False)   # raw pointer loops
    @cython.wraparound(False)
    cdef void hop_in_c(self, const f32* e, NoiseSuppressor post, const f32* amp) noexcept nogil:
        """Linked shared synthesis, one hop of ``post`` (its hop_size samples of the error
        ``e``): its analysis spectrum into ``Tspec``, with this frame's gain, and comfort
        noise of amplitude ``amp`` (``comfort_amp_c``) with this channel's random signs."""
        post.analyse_c(e, self.Tspec)
        if self.comfort_noise:
            self.rng = ca_aec_scale_signs16(self.k, self.Tspec, self.G, amp, self.rng)
        else:
            ca_aec_scale_spectrum(self.k, self.Tspec, self.G)

    @cython.boundscheck(False)   # raw pointer loops
    @cython.wraparound(False)
    cdef void _shared_synthesis(self, f32* out, const f32* e, NoiseSuppressor post) noexcept nogil:
        """Step 5: the error ``e`` in ``post``'s hops and windows; each hop gets this
        frame's echo-suppression gain and comfort noise, then the noise suppressor's gain,
        and ``post``'s synthesis outputs it (``post.latency_samples`` late)."""
        cdef int h, k = self.k, R = post.hop_size
        cdef double sums[2]
        cdef double after = 0.0, before = 0.0
        cdef f32* T = self.Tspec
        if self.comfort_noise:      # the amplitudes once, in tmp (free until the next frame)
            ca_aec_comfort_amp(k, self.tmp, self.nf, self.G)
        for h in range(post.hops_per_frame):
            post.analyse_c(e + h * R, T)
            ca_aec_scale_spectrum(k, T, self.G)
            if self.comfort_noise:
                self.rng = ca_aec_comfort_signs(k, T, self.tmp, self.rng)
            if post.process_spectrum_c(T, h, sums):
                after += sums[0]
                before += sums[1]
            post.synthesise_c(T, out + h * R)
        self.post_ratio = after / before if before > 0.0 else 1.0
