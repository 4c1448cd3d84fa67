"""Acoustic echo canceller: bulk-delay estimator, partitioned Kalman filter, suppressor.

Papers
------
- G. Enzner, P. Vary, "Frequency-domain adaptive Kalman filter for acoustic echo control
  in hands-free telephones", Signal Processing 86(6), 2006: the diagonal frequency-domain
  Kalman filter (state-error PSD ``Psi``, observation-noise PSD ``Phi``, gain
  ``Psi / (R/M sum Psi |X|^2 + Phi)`` with R/M = 1/2, random-walk process noise
  ``(1 - A^2) |W|^2``) and its postfilter, which takes the residual-echo PSD from the
  Kalman state error.
- F. Kuech, E. Mabande, G. Enzner, "State-space architecture of the partitioned-block-
  based acoustic echo controller", ICASSP 2014: the partitioned (multi-delay) form used
  here, one state per partition and bin, coupled through the common gain denominator.
- J.-S. Soo, K. K. Pang, "Multidelay block frequency domain adaptive filter", IEEE Trans.
  ASSP 38(2), 1990: overlap-save partitioned convolution and its gradient constraint.
- J.-M. Valin, "On adjusting the learning rate in frequency domain echo cancellation with
  double-talk", IEEE Trans. ASLP 15(3), 2007: the leakage estimate (regression of the
  error power on the echo-estimate power over time) that scales the residual echo.
- C. H. Knapp, G. C. Carter, "The generalized correlation method for estimation of time
  delay", IEEE Trans. ASSP 24(4), 1976: delay = the lag maximising a (normalised)
  cross-correlation; here of 10 ms log band-energy envelopes, which survive reverberation
  and need only 16 bands x ~100 lags per frame.
- D. L. Duttweiler, "A twelve-channel digital echo canceler", IEEE Trans. Commun. 26(5),
  1978 (Geigel's double-talk detector): a near-end talker is declared when the mic exceeds
  what the far signal over the echo span can produce; here in power form with the echo
  gain measured by the filter instead of an assumed ERL.
- J. Benesty, D. R. Morgan, J. H. Cho, "A new class of doubletalk detectors based on
  cross-correlation", IEEE Trans. SAP 8(2), 2000: a talker decorrelates the microphone
  (here: the error) from the far end's echo; with the suppressor's near-end presence it
  stops the Kalman random walk for talkers Geigel's level test misses.
- T. Gaensler, M. Hansson, C.-J. Ivarsson, G. Salomonsson, "A double-talk detector based
  on coherence", IEEE Trans. Commun. 44(11), 1996: the magnitude-squared coherence of the
  far end's echo estimate and the microphone falls where a near-end talker adds to the
  echo; here per bin, it scales the Kalman random walk (``_random_walk``).
- A. Mader, H. Puder, G. U. Schmidt, "Step-size control for acoustic echo cancellation
  filters - an overview", Signal Processing 80(9), 2000: the adaptive filter's step
  reduced by a double-talk measure, here the suppressor's soft near-end presence.
- D. Mauler, R. Martin, "A low delay, variable resolution, perfect reconstruction spectral
  analysis-synthesis system for speech enhancement", EUSIPCO 2007: the asymmetric
  analysis/synthesis window pair that keeps the suppressor's latency below a frame.
- K. Ochiai, T. Araseki, T. Ogihara, "Echo canceler with two echo path models", IEEE
  Trans. Commun. 25(6), 1977: an adaptive (background) path model and a fixed
  (foreground) copy of it, taken while the adaptive one is the better; here the copy
  guards the adaptive filter, which is restored from it when it diverged in double talk
  the detector missed, or took a wrong lag. The decision is the significance test of
  SpeexDSP's MDF (J.-M. Valin; ideas only, no code): the difference of the two error
  energies against the energy of the difference of the two echo estimates, per frame
  and smoothed over two time scales. As in WebRTC AEC3's refined/coarse filter pair, the
  copy also tells an echo-path change (both models add echo) from a drifted filter.
- WebRTC AEC3's design (ideas only, no code): a render FIFO between render and capture
  calls, bulk-delay alignment in front of a short adaptive filter, a reverberation model
  beyond the filter tail.

Per capture frame (units: n = sample_rate // 100 samples = 10 ms)
------------------------------------------------------------------
1. Pop the far frame queued by ``render_c`` (silence when none; at most 50 queued, the
   oldest dropped beyond).  Non-finite samples become 0, values are clamped to +-16
   (``CA_INPUT_CLAMP``).
2. Far spectrum ``X_t = FFT([far_{t-1}, far_t])`` (2n points, 50 Hz bins) into a ring of
   ``H = L + P + 1`` frames; microphone spectrum through the low-delay analysis window.
3. Delay: per frame 16 log band energies (200-4200 Hz) of far and mic, running means
   removed; for every lag ``l`` in ``0 .. L-1`` (``L - 1 = ceil(max_delay_ms / 10)``) a
   recursively averaged (1.5 s) normalised correlation ``rho_l``.  The first lag with
   ``rho > 0.25`` for 4 frames locks; a jump needs 25 frames, ``rho >= 0.5``, a 0.1
   margin and a filter that is not cancelling (linear ERLE < 6 dB). Until a filter has
   cancelled >= 6 dB at the locked lag, and again after an echo-path change, the lag is
   provisional: once held 40 frames, a lag 0.1 better replaces it after 4 frames
   (a lag 0.3 better at once).
   Within 1 s of an echo-path change the kept filter copy confirmed (step 5: the copy
   adds echo) the 0.1 rule holds at once (a first re-lock on the weakened correlation
   is often wrong in reverberant rooms), and such a change raises the state error to
   the prior at once, as a provisional lag does (below).
   Within +-2 frames the filter re-anchors itself on its own dominant peak (clock
   drift).  The filter starts 2 frames (20 ms) before the locked lag; the first lag
   taken (no lag before it) raises the state error ``Psi`` to at least each partition's
   prior ``Psi_0`` (the partitions moved to the head carried a tail partition's smaller
   prior, and every partition's state error shrank while the far end played before its
   echo reached the mic: the filter, and the suppressor reading ``Psi``, took the path
   as known and the first 0.2-0.3 s cancelled 3-5 dB). Not at a provisional re-take
   after it: raised there too, the filter of tests/reliability/test_regressions.py's
   long loud double talk (seed 104, 16 kHz) misadjusted later in a gap of the
   double-talk detector, the divergence test fired and the lag left the echo's delay
   for 540-675 ms during 0.33 s (acquisition worst unchanged, 0.04 s).
4. Echo estimate ``Y = sum_p W_p X_{t-d-p}`` over ``P = 2 + ceil(tail_ms / 10)``
   partitions, ``y`` = last n samples of ``IFFT(Y)``, error ``e = mic - y``.
   Two-path test against the kept copy ``W_f`` (its own start ``d_f`` and lag): with
   ``Sff``, ``See`` the energies of the copy's and the filter's errors and ``Dbf`` that
   of ``y - y_f``, the filter is copied after its update when ``(Sff - See)|Sff - See| >
   Sff Dbf`` (or the 0.6 / 0.85 smoothed differences exceed 0.5 / 0.25 times their
   smoothed variances), but only in a frame it removes >= 6 dB of the mic and no
   near-end talker is evident; it is restored from the copy (delay state included) when
   ``-(Sff - See)|Sff - See| > 4 Sff Dbf`` (or likewise smoothed).
5. Kalman update per partition and bin: ``Phi`` = smoothed ``|E|^2`` (E = FFT([0, e])),
   ``mu = Psi / (0.5 sum_p Psi |X_p|^2 + Phi + delta)`` (``delta``: -100 dBFS plus 1e-3 x
   the far power per bin, so bins the far end hardly excites do not adapt on noise),
   ``W += mu conj(X) E``, ``Psi *= max(1 - 0.5 mu |X|^2, 0.7)``, then the time update
   ``Psi = (1 - q) Psi + q (|W_p|^2 + |W_{p-1}|^2 + |W_{p+1}|^2 + 0.1 Psi_0)`` with
   ``q = 0.03`` (the neighbours' power lets a drifting path move between partitions, the
   floor keeps the filter able to learn after long silence).  Gradient constraint (zero
   the second half of the impulse response) on the peak partition and two round-robin
   ones per frame.  Echo-path change: when the error is louder than the microphone for
   two far-active frames, or the kept copy's error louder than twice the microphone
   (the copy adds echo) behind a filter removing < 3 dB for four far-active frames with
   no near-end talker evident (the copy shows a change 0.1-0.2 s before the adapting
   filter's error does; WebRTC AEC3's refined/coarse filter pair, ideas only), ``Psi``
   is raised to ``|W|^2`` and, unless a near-end talker
   is evident, the delay estimator's memory is scaled by 0.01 (0.1 before a copy exists)
   and the lag becomes provisional; not when the kept copy's error stays below 0.8 x the
   mic's (then the filter drifted, the path did not move, and the two-path test
   restores it).
   Double talk (Geigel, power form): once the filter removes >= 6 dB, its echo gain
   ``g = P_y / P_far`` is kept; a mic louder than ``4 g`` times the loudest far frame of
   the filter's span, with an error that does not correlate with the echo estimate
   (< 0.5), is a near-end talker (held 100 ms).  Meanwhile ``q = 0``: the path
   is not expected to move, so near speech cannot make the state error and the gain grow.
   Also ``q = 0`` once, for 6 far-active frames in a row, the suppressor's near-end
   presence (step 6, last frame) was above 0.5 behind a filter leaking < 0.03 with an
   error uncorrelated with the echo estimate (|rho| < 0.2; Benesty, Morgan & Cho's
   cross-correlation test): a talker no louder than the echo, which the level test
   misses (``_talker``).
   Otherwise q per bin: ``q = 0.03 (1 - x + x clip((C - 0.6) / 0.35, 0, 1))`` with ``x``
   the suppressor's near-end presence (last frame) and ``C`` the magnitude-squared
   coherence of the smoothed mic and echo-estimate spectra (Gaensler et al.'s coherence
   double-talk detector, soft and per bin; behind a filter leaking < 0.02, once it
   measured the echo path: ``_random_walk``).
   Behind such a filter the suppressor's near-end presence also shrinks the step: with
   ``x'`` = this frame's presence before the suppressor's hold, held by 0.7 per frame, and
   ``s = clip(x' / 0.3, 0, 1)``, the Kalman gain is scaled by ``1 - 0.5 s`` and ``q`` by
   ``1 - s`` (0, a talker, at ``s = 1``): a step-size control by a soft double-talk
   measure (Mader, Puder & Schmidt 2000), ``_random_walk``; not while the error is, or
   within 10 frames was, louder than the mic, nor after a lag change (the path moved).
   Clock drift: the filter and the kept copy are rotated every frame by the delay change
   per frame measured on the filter (its remaining rotation over the frames it adapts
   freely, fitted as a delay every 16 frames, half of it taken), so that neither loses the
   path to drift while a talker stops the adaptation (``_drift``).
6. Residual echo per bin ``R = max(leak |Y~|^2, 0.5 sum_p Psi |X_p|^2) + reverb``
   (Valin's leakage; Enzner's state-error term; an exponential tail beyond the filter with
   the decay of its last two partitions); gain ``G = clip(1 - suppression R / |E~|^2,
   10^(-max_attenuation_db / 20), 1)`` on the windowed error ``E~ = D~ - Y~``; comfort
   noise ``sqrt(N (1 - G^2) / 2)`` with random signs at the error's noise floor ``N``;
   overlap-add synthesis with ``latency_samples = n // 4`` (2.5 ms); with a noise
   suppressor sharing it (``capture_post_c``), the error is synthesised in that stage's
   5 ms hops and windows instead, with its delay (aec_suppressor.pyx, step 5).

Composition: ``EchoCanceller`` (this file) owns the render queue, the far-spectrum ring,
the partitioned Kalman filter and the statistics, and composes a ``DelayEstimator``
(step 3, ``aec_delay.pyx``) and a ``ResidualEchoSuppressor`` (step 6,
``aec_suppressor.pyx``), each with its own state; the design constants are in
``aec_constants.h``. Linked capture channels (``pipeline.Chain.link``) run steps 1-5 in
parts: each channel's ``analyse_c`` (the far spectrum transformed by the first channel's
canceller only, the others copy it), one ``delay_linked_c`` (step 3 on the channels' mean
mic power, the first channel's estimator), each channel's ``adapt_c``; step 6 once on their
mean powers (``suppress_linked_c``).

Layers: ``capture_c`` / ``render_c`` are the ``nogil`` per-frame kernels the pipeline
cimports (no checks, no allocation; the hot loops are plain C in ``aec_impl.c``);
``capture`` / ``render`` are validating wrappers for tests and offline use.  The slow NumPy
model ``tests/_reference/aec_ref.py`` mirrors every step; the tests compare the two.
"""

cimport cython
cimport numpy as cnp
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport fabs, isfinite, log10, sqrt
from libc.string cimport memcpy, memset

import math

import numpy as np

from callaudio._dsp.aec_suppressor import analysis_windows
from callaudio.config import validate_stage
from callaudio.errors import ConfigError, FrameError

from callaudio._dsp._typedefs cimport CA_INPUT_CLAMP, ERR_NONFINITE, OK, f32
from callaudio._dsp.fft cimport RealFFT

cnp.import_array()


cdef extern from "aec_window.h":
    void ca_aec_window(int n, f32* out, const f32* wa, const f32* prev,
                       const f32* cur) noexcept nogil

cdef extern from "ca_rt.h" nogil:
    long long CA_LOAD_LL "CA_LOAD"(long long* p)
    void CA_STORE_LL "CA_STORE"(long long* p, long long v)
    bint CA_CAS_LL "CA_CAS"(long long* p, long long* expected, long long desired)

cdef extern from "aec_impl.h":
    int ca_aec_sanitize(int n, f32* far, const f32* mic, f32* mic_out, f32 clamp) noexcept nogil
    void ca_aec_power(int k, f32* x2, const f32* x) noexcept nogil
    double ca_aec_sumsq(int n, const f32* x) noexcept nogil
    void ca_aec_link_acc(int k, int mode, f32 inv, f32* lpx, f32* lwl, f32* lwm, f32* see,
                         f32* syy, const f32* px, const f32* wl, const f32* wm,
                         const f32* ose, const f32* osy) noexcept nogil
    void ca_aec_link_mean(int k, f32 inv, f32* see, f32* syy, f32* lpx, f32* lwl,
                          f32* lwm) noexcept nogil
    void ca_aec_coherence_acc(int k, f32 a, f32* cdy, f32* cyy, f32* cdd, const f32* d,
                              const f32* y) noexcept nogil
    void ca_aec_coherence_q(int k, f32* q, const f32* cdy, const f32* cyy, const f32* cdd,
                            f32 q0, f32 lo, f32 hi, f32 x) noexcept nogil
    void ca_aec_drift_acc(int k, f32* c, const f32* w, const f32* wold, const f32* cdy,
                          const f32* cyy, const f32* cdd) noexcept nogil
    double ca_aec_drift_delta(int k, int n, const f32* c) noexcept nogil
    void ca_aec_phasor(int k, f32* ph, int n, double theta) noexcept nogil
    void ca_aec_rotate(int k, int P, f32* w, const f32* ph) noexcept nogil

from callaudio._dsp.aec_constants cimport (
    HEADROOM,
    FIFO_FRAMES,
    DE_JUMP_ERLE,
    DT_RATIO,
    DT_HANG,
    DT_RHO,
    DT_NEAR,
    DT_LEAK,
    DT_RHO_FREEZE,
    DT_PERSIST,
    COH_SMOOTH,
    COH_LO,
    COH_HI,
    COH_LEAK,
    DT_MU_LO,
    DT_MU_HI,
    DT_MU_CUT,
    DT_MU_HOLD,
    DT_MU_CALM,
    DT_MU_QUIET,
    DT_MU_LEAK,
    DT_MU_AGE,
    ANCHOR_ERLE,
    ANCHOR_DOM,
    ANCHOR_FRAMES,
    DE_PROVE_FRAMES,
    DE_FORGET,
    DE_RELOCK_FRAMES,
    KF_Q,
    KAL_RES,
    DIV_ALPHA,
    DIV_RATIO,
    DIV_FRAMES,
    DIV_FG,
    DIV_FG_ADD,
    DIV_SE,
    DIV_FG_FRAMES,
    TP_SMOOTH1,
    TP_SMOOTH2,
    TP_UPDATE1,
    TP_UPDATE2,
    TP_BACK,
    TP_KEEP,
    TP_FLOOR,
    STAT_ALPHA,
    FAR_ACTIVE,
    ECHO_ONLY_RATIO,
    ECHO_HANG,
    DR_GAIN,
    DR_EVAL,
    DR_MAX,
    DR_STEP,
    DR_SD_PRIOR,
    DR_SD_MEAS,
    DR_SD_WALK,
    DR_GATE,
)


cdef inline double _ms(const f32* x, int n) noexcept nogil:
    return ca_aec_sumsq(n, x) / n


cdef class EchoCanceller:
    """Acoustic echo canceller for one mono 10 ms stream pair (see the module docstring).

    Parameters
    ----------
    sample_rate : int
        8000, 16000, 32000 or 48000 Hz.
    tail_ms : float
        Echo tail the adaptive filter models after the bulk delay, ms (32 .. 512).
    max_delay_ms : float
        Largest bulk delay the estimator searches, ms (0 .. 2000).
    suppression : float
        Residual-echo over-estimation factor of the suppressor (0 = linear filter only,
        1 = nominal, up to 4 = aggressive).
    max_attenuation_db : float
        Largest attenuation the suppressor applies per bin, dB (0 .. 120).
    comfort_noise : bool
        Fill suppressed bins with noise at the estimated background level.

    The ranges are :data:`callaudio.config.RANGES` (validated there, ConfigError).
    """

    def __cinit__(self, int sample_rate, double tail_ms=128.0, double max_delay_ms=1000.0,
                  double suppression=1.0, double max_attenuation_db=50.0,
                  bint comfort_noise=True):
        validate_stage("echo_canceller", sample_rate, tail_ms=tail_ms,
                       max_delay_ms=max_delay_ms, suppression=suppression,
                       max_attenuation_db=max_attenuation_db, comfort_noise=comfort_noise)
        self.sample_rate = sample_rate
        self.tail_ms = tail_ms
        self.max_delay_ms = max_delay_ms
        self.suppression = suppression
        self.max_attenuation_db = max_attenuation_db
        self.comfort_noise = comfort_noise
        cdef int n = sample_rate // 100
        self.n = n
        self.frame_size = n
        self.k = n + 1
        self.P = HEADROOM + int(math.ceil(tail_ms / 10.0 - 1e-9))
        self.L = int(math.ceil(max_delay_ms / 10.0 - 1e-9)) + 1
        self.H = self.L + self.P + 1
        self.lat = n // 4
        self.gmin = 10.0 ** (-max_attenuation_db / 20.0)
        self.fft = RealFFT(2 * n)
        cdef int k = self.k, P = self.P, L = self.L, H = self.H
        cdef int k2 = 2 * k
        # one float arena for every array
        sizes = [
            ("fifo", (FIFO_FRAMES + 1) * n), ("far", n), ("far_prev", n), ("mic", n),
            ("mic_prev", n), ("y", n), ("e", n), ("yf", n), ("ef", n), ("tmp", 2 * n),
            ("wa", 2 * n),
            ("Xr", H * k2), ("X2r", H * k), ("fe2r", H), ("Dspec", k2), ("D2", k),
            ("lpx", k), ("lwl", k2), ("lwm", k2), ("lacc", k), ("lamp", k), ("ld2", k),
            ("cdy", k2), ("cyy", k), ("cdd", k), ("qv", k), ("qfull", k), ("qzero", k),
            ("drc", k2), ("wold", k2), ("drph", k2),
        ]
        cdef Py_ssize_t total = 0
        offs = {}
        for name, size in sizes:
            offs[name] = total
            total += size + (size & 1)      # keep every array 8-byte aligned
        self._arena = <f32*>PyMem_Malloc(total * sizeof(f32))
        if self._arena == NULL:
            raise MemoryError()
        memset(self._arena, 0, total * sizeof(f32))
        cdef f32* a = self._arena
        self.fifo = a + <Py_ssize_t>offs["fifo"]
        self.far = a + <Py_ssize_t>offs["far"]
        self.far_prev = a + <Py_ssize_t>offs["far_prev"]
        self.mic = a + <Py_ssize_t>offs["mic"]
        self.mic_prev = a + <Py_ssize_t>offs["mic_prev"]
        self.y = a + <Py_ssize_t>offs["y"]
        self.e = a + <Py_ssize_t>offs["e"]
        self.yf = a + <Py_ssize_t>offs["yf"]
        self.ef = a + <Py_ssize_t>offs["ef"]
        self.tmp = a + <Py_ssize_t>offs["tmp"]
        self.wa = a + <Py_ssize_t>offs["wa"]
        self.Xr = a + <Py_ssize_t>offs["Xr"]
        self.X2r = a + <Py_ssize_t>offs["X2r"]
        self.fe2r = a + <Py_ssize_t>offs["fe2r"]
        self.Dspec = a + <Py_ssize_t>offs["Dspec"]
        self.D2 = a + <Py_ssize_t>offs["D2"]
        self.lpx = a + <Py_ssize_t>offs["lpx"]
        self.lwl = a + <Py_ssize_t>offs["lwl"]
        self.lwm = a + <Py_ssize_t>offs["lwm"]
        self.lacc = a + <Py_ssize_t>offs["lacc"]
        self.lamp = a + <Py_ssize_t>offs["lamp"]
        self.ld2 = a + <Py_ssize_t>offs["ld2"]
        self.cdy = a + <Py_ssize_t>offs["cdy"]
        self.cyy = a + <Py_ssize_t>offs["cyy"]
        self.cdd = a + <Py_ssize_t>offs["cdd"]
        self.qv = a + <Py_ssize_t>offs["qv"]
        self.qfull = a + <Py_ssize_t>offs["qfull"]
        self.qzero = a + <Py_ssize_t>offs["qzero"]
        self.drc = a + <Py_ssize_t>offs["drc"]
        self.wold = a + <Py_ssize_t>offs["wold"]
        self.drph = a + <Py_ssize_t>offs["drph"]
        cdef int i
        for i in range(k):
            self.qfull[i] = <f32>KF_Q
        wa = analysis_windows(n, self.lat)[0]
        for i in range(2 * n):
            self.wa[i] = wa[i]
        self.wscale = float(np.sum(np.asarray(wa, np.float32).astype(np.float64) ** 2)) / n
        self.filter = PartitionedKalmanFilter(n, P, H, self.fft)
        self.fg = PartitionedKalmanFilter(n, P, H, self.fft)
        self.delay = DelayEstimator(n, L, H)
        self.prior = self.delay
        self.suppressor = ResidualEchoSuppressor(n, self.lat, self.fft, suppression,
                                                 self.gmin, comfort_noise)
        self.suppressor.set_coherence(self.cdy, self.cyy, self.cdd)
        self.hint = -1
        self.reset_all_c()

    def __dealloc__(self):
        PyMem_Free(self._arena)

    # ------------------------------------------------------------------ state
    cdef void reset_all_c(self) noexcept nogil:
        """Everything as after construction, in place (no allocation)."""
        cdef int n = self.n
        cdef long long w = CA_LOAD_LL(&self.fifo_w), r = CA_LOAD_LL(&self.fifo_r)
        while r < w and not CA_CAS_LL(&self.fifo_r, &r, w):
            pass                            # the queue empties (r: the value now)
        self.overruns = 0
        self.underruns = 0
        self.nonfinite = 0
        self.echo_only = False
        self.ms_out = 0.0
        self.far_hang = 0
        self.t = 0
        memset(self.far_prev, 0, n * sizeof(f32))
        memset(self.mic_prev, 0, n * sizeof(f32))
        memset(self.Xr, 0, self.H * 2 * self.k * sizeof(f32))
        memset(self.X2r, 0, self.H * self.k * sizeof(f32))
        memset(self.fe2r, 0, self.H * sizeof(f32))
        self.delay.reset()
        self.lag_age = 0
        self.relock_n = 0
        self.filter.d = 0
        self.n_copy = 0
        self.n_restore = 0
        self.n_far = 0
        self.suppressor.reset_all()
        self._reset_path()

    cdef void _reset_path(self) noexcept nogil:
        self.filter.reset()
        self._reset_estimates()

    cdef void _reset_estimates(self) noexcept nogil:
        """What depends on the filter: the anchor count, the suppressor, the statistics."""
        self.anchor_n = 0
        self.suppressor.reset_path()
        self.p_far = 0.0
        self.p_y = 0.0
        self.p_mic = 0.0
        self.p_e = 0.0
        self.p_out = 0.0
        self.conv_lin = 0.0
        self.sm_s = 0.0
        self.se_s = 0.0
        self.div_n = 0
        self.cp_n = 0
        self.nact = 0
        self.g_echo = 0.0
        self.provisional = True
        self.dt_hang = 0
        self.talk_n = 0
        self.dt_x = 0.0
        self.dt_calm = 0
        self.leak_q = 1.0
        self.leak_n = 0
        self.dt_hold = False
        memset(self.cdy, 0, 2 * self.k * sizeof(f32))
        memset(self.cyy, 0, self.k * sizeof(f32))
        memset(self.cdd, 0, self.k * sizeof(f32))
        self.s_ee = 0.0
        self.s_yy = 0.0
        self.s_ey = 0.0
        # the copy forgets the echo path with the filter
        self.fg.reset()
        self.fg.d = self.filter.d
        self.sync_f = -1
        self.sync_g = -1
        self.fg_lag = -1
        self.fg_prov = True
        self.fg_g = 0.0
        self.tp_d1 = 0.0
        self.tp_d2 = 0.0
        self.tp_v1 = 0.0
        self.tp_v2 = 0.0
        self.sf_s = 0.0
        memset(self.drc, 0, 2 * self.k * sizeof(f32))
        self.dr_n = 0
        self.dr_pk = HEADROOM
        self.dr_delta = 0.0
        self.dr_p = DR_SD_PRIOR * DR_SD_PRIOR
        self.w_ph = 0.0
        self.fg_ph = 0.0

    cdef void reset_path_c(self) noexcept nogil:
        self._reset_path()
        self.prior.weaken_prior(0.1)
        # The lag stays, provisional: it must be held DE_PROVE_FRAMES again before a
        # "better" one replaces it (the weakened correlation is noisy for a while).
        self.lag_age = 0

    def reset(self):
        """Forget the echo path (route change); keep the delay estimate as a prior.

        The filter, its Kalman state and the suppressor restart; the delay estimator's
        correlation memory is shortened ten-fold so a new delay is found quickly.
        """
        with nogil:
            self.reset_path_c()

    def reset_all(self):
        """Forget everything, the delay estimate and the render queue too: as constructed."""
        with nogil:
            self.reset_all_c()

    # ------------------------------------------------------------------ kernels
    cdef void render_c(self, const f32* far, Py_ssize_t n) noexcept nogil:
        # Single producer (render_c) / single consumer (capture_c), lock-free: frame w goes
        # to slot w % (FIFO_FRAMES + 1), published by the release store of fifo_w. A full
        # queue drops its oldest frame by advancing fifo_r with a compare-and-swap, the
        # same swap capture_c takes a frame with, so each frame goes to exactly one of
        # them; a capture_c whose frame was dropped (or whose slot is being rewritten)
        # sees its swap fail and copies again.
        cdef long long w = self.fifo_w
        cdef long long r = CA_LOAD_LL(&self.fifo_r)
        while w - r >= FIFO_FRAMES:         # overrun: drop the oldest frame
            if CA_CAS_LL(&self.fifo_r, &r, r + 1):
                self.overruns += 1
                break
        memcpy(self.fifo + <Py_ssize_t>(w % (FIFO_FRAMES + 1)) * self.n, far,
               self.n * sizeof(f32))
        CA_STORE_LL(&self.fifo_w, w + 1)

    @cython.boundscheck(False)   # raw pointer loops, sizes fixed at construction
    @cython.wraparound(False)
    cdef int capture_c(self, f32* mic, Py_ssize_t nn) noexcept nogil:
        return self.capture_post_c(mic, nn, None)

    cdef int capture_post_c(self, f32* mic, Py_ssize_t nn, NoiseSuppressor post) noexcept nogil:
        cdef int code = self.capture_filter_c(mic, nn)
        self._suppress(mic, post)
        return self.capture_finish_c(mic, code, post)

    cdef int capture_filter_c(self, f32* mic, Py_ssize_t nn) noexcept nogil:
        """Steps 0-5 (far FIFO, spectra, delay, echo estimate, filter update) on ``mic``;
        returns OK or ERR_NONFINITE (non-finite input)."""
        cdef int code = self.analyse_c(mic, None)
        cdef int slot = <int>(self.t % self.H)
        self.adapt_c(self.delay.update(slot, self.t, self.X2r + <Py_ssize_t>slot * self.k,
                                       self.D2, self.conv_lin, self.provisional,
                                       self._aged(), self.dt_hold))
        return code

    @cython.boundscheck(False)   # raw pointer loops
    @cython.wraparound(False)
    cdef int analyse_c(self, f32* mic, EchoCanceller far_src) noexcept nogil:
        """Steps 0-2: the far frame from the FIFO, the input sanitation, the far spectrum
        into the ring (taken from ``far_src``'s ring, which analysed this frame's far end
        already, when not None: linked channels) and the microphone's analysis spectrum.
        Returns OK or ERR_NONFINITE (non-finite input)."""
        cdef int n = self.n, k = self.k, H = self.H
        cdef int slot, code = OK, src
        cdef f32* X
        cdef f32* X2
        cdef f32* far = self.far
        # 0. render FIFO (missing far = silence) and input sanitation
        cdef long long r = CA_LOAD_LL(&self.fifo_r)
        while True:
            if CA_LOAD_LL(&self.fifo_w) <= r:
                memset(far, 0, n * sizeof(f32))
                self.underruns += 1
                break
            memcpy(far, self.fifo + <Py_ssize_t>(r % (FIFO_FRAMES + 1)) * n, n * sizeof(f32))
            if CA_CAS_LL(&self.fifo_r, &r, r + 1):
                break                       # else render_c dropped it: r is the next one
        if ca_aec_sanitize(n, far, mic, self.mic, <f32>CA_INPUT_CLAMP):
            code = ERR_NONFINITE
        if code != OK:
            self.nonfinite += 1
        slot = <int>(self.t % H)
        # 1. far spectrum of [prev, cur] (overlap-save block), power, frame energy
        X = self.Xr + <Py_ssize_t>slot * 2 * k
        X2 = self.X2r + <Py_ssize_t>slot * k
        if far_src is None:
            memcpy(self.tmp, self.far_prev, n * sizeof(f32))
            memcpy(self.tmp + n, far, n * sizeof(f32))
            self.fft.forward_c(self.tmp, X)
            ca_aec_power(k, X2, X)
            self.fe2r[slot] = <f32>_ms(far, n)
            self.n_far += 1
        else:
            src = <int>(far_src.t % far_src.H)
            memcpy(X, far_src.Xr + <Py_ssize_t>src * 2 * k, 2 * k * sizeof(f32))
            memcpy(X2, far_src.X2r + <Py_ssize_t>src * k, k * sizeof(f32))
            self.fe2r[slot] = far_src.fe2r[src]
        memcpy(self.far_prev, far, n * sizeof(f32))
        # 2. microphone analysis spectrum (low-delay window)
        ca_aec_window(n, self.tmp, self.wa, self.mic_prev, self.mic)
        self.fft.forward_c(self.tmp, self.Dspec)
        memcpy(self.mic_prev, self.mic, n * sizeof(f32))
        ca_aec_power(k, self.D2, self.Dspec)
        return code

    cdef int delay_linked_c(self, void** ecs, int nch) noexcept nogil:
        """Step 3 once for ``nch`` linked channels (``ecs``: their cancellers, this one
        first, each after its ``analyse_c``; they share this one's estimator, see
        ``share_delay``): the estimator runs on the channels' mean microphone power
        spectrum; the lag counts as proven once any channel's filter cancelled at it,
        and may jump only while none cancels. Returns the lag to take, or -1."""
        cdef int c, i, k = self.k, slot = <int>(self.t % self.H)
        cdef f32* d2 = self.ld2
        cdef f32* o
        cdef f32 inv = <f32>1.0 / nch
        cdef double conv = self.conv_lin
        cdef bint prov = self.provisional, aged = self._aged()
        memcpy(d2, self.D2, k * sizeof(f32))
        for c in range(1, nch):
            o = (<EchoCanceller>ecs[c]).D2
            for i in range(k):
                d2[i] += o[i]
            conv = max(conv, (<EchoCanceller>ecs[c]).conv_lin)
            prov = prov and (<EchoCanceller>ecs[c]).provisional
            aged = aged and (<EchoCanceller>ecs[c])._aged()
        for i in range(k):
            d2[i] *= inv
        return self.delay.update(slot, self.t, self.X2r + <Py_ssize_t>slot * k, d2, conv,
                                 prov, aged, self.dt_hold)

    cdef bint _aged(self) noexcept nogil:
        """The provisional lag may be replaced by one DE_MARGIN better (not only
        DE_MARGIN_FAST better): it was held DE_PROVE_FRAMES, or an echo-path change that
        the kept copy confirmed (it adds echo, ``_divergence``) is less than
        DE_RELOCK_FRAMES old. After the change the weakened correlation, a few frames of
        new evidence, first peaks at a wrong lag in reverberant rooms (the envelope
        correlation is broad there; soak change#110: 0.24 -> 0.14 s); the wrong lag held
        until it aged. Not after the error-louder-than-mic test alone: double talk the
        detector missed fires it too, and near speech then moved the lag (soak dt#113
        at 48 kHz: PESQ 1.99 -> 1.56), nor with the copy's error merely above the mic's
        (it is in missed double talk too: soak dt#110 loss 0.87 -> 1.15 dB, dt#113 at
        48 kHz PESQ 1.99 -> 1.68; it would have helped change#1, #6 at 16 kHz, 0.17 ->
        0.07 s and 0.16 -> 0.11 s). Before the first echo the DE_MARGIN_FAST rule
        stays (a chance lock is replaced only by a clearly better lag)."""
        return self.lag_age >= DE_PROVE_FRAMES or self.relock_n > 0

    cdef bint share_delay(self, EchoCanceller leader):
        """Linked channels: ``leader``'s delay estimator serves this channel too (None:
        this canceller's own again). Its correlation runs once per frame for all
        (``delay_linked_c``), and this channel's echo-path changes weaken its memory;
        this channel keeps its own lag, taking the common one when it changes.

        The assumption: one bulk delay for a device's microphones. They hear one
        loudspeaker through one playout path; what differs, the acoustic paths (a few
        ms between the mics of one device), each channel's filter models (its HEADROOM
        partitions before the lag, its tail after it) and follows by re-anchoring on its
        own peak (``_anchor``). Bulk delays further apart than the filter's tail (mics on
        separate devices, separate playout paths) need independent channels. False when
        the estimators' sizes differ (then nothing is shared).

        The random walk's coherence (``_random_walk``) is the leader's too: a near-end
        talker is common to a device's microphones."""
        if leader is None or leader is self:
            self.prior = self.delay
            self.coh_src = None
            return True
        if leader.n != self.n or leader.L != self.L or leader.H != self.H:
            return False
        self.prior = leader.delay
        self.coh_src = leader
        return True

    @property
    def far_analyses(self):
        """Frames whose far-end spectrum this canceller computed itself (a linked
        channel's follower takes its leader's: 0 there)."""
        return self.n_far

    @cython.boundscheck(False)   # raw pointer loops
    @cython.wraparound(False)
    cdef void adapt_c(self, int lag) noexcept nogil:
        """Steps 3 (taking ``lag``, -1: none) to 5 after ``analyse_c``: echo estimate,
        two-path test, near-talk and divergence tests, Kalman update, re-anchoring."""
        cdef int n = self.n
        cdef double fsum
        cdef int tp, pk
        cdef const f32* q
        if lag >= 0:
            self._set_lag(lag)
        # 4. echo estimate Y = sum_p W_p X_{t-d-p}, e = mic - y
        fsum = self.filter.estimate(self.Xr, self.X2r, self.fe2r, self.t, self.mic, self.y,
                                    self.e)
        # two-path test against the kept copy: restore the filter from it (then redo the
        # estimate), or take a new copy after this frame's update
        self.ss_mic = ca_aec_sumsq(n, self.mic)
        tp = self._two_path(fsum)
        if tp < 0:
            fsum = self.filter.estimate(self.Xr, self.X2r, self.fe2r, self.t, self.mic,
                                        self.y, self.e)
            self.has_see = False
        self.ms_mic = self.ss_mic / n
        self.ms_e = (self.tp_see if self.has_see else ca_aec_sumsq(n, self.e)) / n
        self.ms_y = _ms(self.y, n)
        self._near_talk()
        self._divergence()
        # 5. Kalman update and gradient constraint. While a near-end talker is evident the
        # echo path is not expected to move: no random walk, so the state error and with
        # it the gain cannot grow in the double talk (a path that did move shows in the
        # divergence test, which restores it).
        q = self._random_walk()
        pk = self.dr_pk
        memcpy(self.wold, self.filter.W + <Py_ssize_t>pk * 2 * self.k, 2 * self.k * sizeof(f32))
        if self.filter.update(self.Xr, self.X2r, self.t, self.e, fsum, q,
                              <f32>(1.0 - DT_MU_CUT * self.dt_s)):
            self._reset_estimates()     # a partition went non-finite: the filter restarted
        else:
            if tp > 0:
                self._keep()
            self._drift(q != self.qzero and fsum > FAR_ACTIVE and self.g_echo > 0.0
                        and self.conv_lin >= ANCHOR_ERLE, pk)
        self._anchor()

    cdef int capture_finish_c(self, f32* mic, int code, NoiseSuppressor post) noexcept nogil:
        """After step 6 (the suppressor, its synthesis and statistics) wrote ``mic``: the
        NaN safety (a non-finite output restarts the echo path and outputs silence)."""
        cdef int n = self.n
        cdef double s = self.s_out     # sum of squares of mic (_statistics just took it)
        if not isfinite(s):
            self._reset_path()
            self.suppressor.clear_output()
            if post is not None:
                post.clear_output_c()
            memset(mic, 0, n * sizeof(f32))
            self.ms_out = 0.0
            code = ERR_NONFINITE
        if self.lag_age < DE_PROVE_FRAMES:
            self.lag_age += 1
        if self.relock_n > 0:
            self.relock_n -= 1
        self.t += 1
        return code

    @cython.boundscheck(False)   # raw pointer loops
    @cython.wraparound(False)
    cdef void _divergence(self) noexcept nogil:
        """Echo-path change: the error louder than the microphone over DIV_FRAMES far-active
        frames means the filter adds echo, the kept copy's error louder than DIV_FG_ADD x
        the microphone over DIV_FG_FRAMES that the copy does; the state error is raised to
        the coefficient power."""
        cdef int idx
        idx = <int>((self.t - self.filter.d - HEADROOM) % self.H)
        if idx < 0:
            idx += self.H
        if self.fe2r[idx] <= FAR_ACTIVE:
            return
        self.sm_s = DIV_ALPHA * self.sm_s + (1.0 - DIV_ALPHA) * self.ms_mic
        self.se_s = DIV_ALPHA * self.se_s + (1.0 - DIV_ALPHA) * self.ms_e
        self.sf_s = DIV_ALPHA * self.sf_s + (1.0 - DIV_ALPHA) * (
            (self.tp_sff if self.has_sff else ca_aec_sumsq(self.n, self.ef)) / self.n)
        if self.se_s > DIV_RATIO * self.sm_s:
            self.div_n += 1
        else:
            self.div_n = 0
        # Or the kept copy's error above twice the mic's (the copy adds echo; near speech
        # adds to mic and error alike) behind a filter that removes < 3 dB, for
        # DIV_FG_FRAMES frames with no near-end talker evident (a saturating loudspeaker's
        # burst makes the copy add echo for a frame or two). The adapting filter shrinks
        # its output after a change: its error alone reaches the mic's 0.1-0.2 s later.
        if (self.fg_lag >= 0 and self.dt_hang == 0 and self.sf_s > DIV_FG_ADD * self.sm_s
                and self.se_s > DIV_SE * self.sm_s):
            self.cp_n += 1
        else:
            self.cp_n = 0
        if self.div_n >= DIV_FRAMES and self.fg_lag >= 0 and self.sf_s < DIV_FG * self.sm_s:
            # the kept copy still cancels: the filter drifted (double talk the detector
            # missed), the echo path did not change; the two-path test restores it
            self.div_n = 0
        elif self.div_n >= DIV_FRAMES or self.cp_n >= DIV_FG_FRAMES:
            self.filter.raise_uncertainty()
            # The echo path changed: weaken the delay prior (as reset() does), unless no
            # delay is locked (nothing to weaken; the estimator would lock onto noise) or
            # a near-end talker is evident (then the filter drifted, the path did not move).
            # The lag becomes provisional (as if no filter had cancelled at it): a clearly
            # better one replaces it within DE_CONFIRM frames.
            if self.delay.lag >= 0 and self.dt_hang == 0:
                self.prior.weaken_prior(DE_FORGET if self.fg_lag >= 0 else 0.1)
                self.provisional = True
                if self.cp_n >= DIV_FG_FRAMES:
                    # the copy adds echo: the path moved (near speech cannot do that);
                    # the re-lock window opens and the state error is at least the prior
                    # at once (the suppressor reads it before any re-lock)
                    self.relock_n = DE_RELOCK_FRAMES
                    self.filter.raise_prior()
            self.div_n = 0
            self.cp_n = 0
            self.dt_calm = DT_MU_CALM

    @cython.boundscheck(False)   # raw pointer loops
    @cython.wraparound(False)
    cdef int _two_path(self, double fsum) noexcept nogil:
        """Ochiai's two echo-path models with Valin's (SpeexDSP MDF) significance test.

        The copy's error ``ef`` against the filter's ``e`` over this frame: ``Sff``, ``See``
        their energies, ``Dbf`` the energy of their difference (``y - yf``). The filter is
        better when ``(Sff - See) |Sff - See| > Sff Dbf`` (or a smoothed difference is
        significant against its smoothed variance): returns 1, the caller copies it after
        its update. The copy is better when ``-(Sff - See) |Sff - See| > TP_BACK Sff Dbf``
        (likewise smoothed): the filter diverged or took a wrong lag; it is restored from
        the copy (delay state included) and -1 returned. Near speech adds the same energy
        to both errors, so it only dilutes the test. 0: no decision.
        """
        cdef int n = self.n, i, r = 0
        cdef double sff, see, dbf = 0.0, dd, v, z
        self.has_see = False
        self.has_sff = False
        if fsum <= FAR_ACTIVE:
            # no decision; yf and ef are not read this frame (_divergence reads ef only
            # when a frame of the span is far-active, which makes fsum so too)
            return 0
        if self.filter.version == self.sync_f and self.fg.version == self.sync_g:
            # neither changed since the copy was taken: its estimate is the filter's
            memcpy(self.yf, self.y, n * sizeof(f32))
            memcpy(self.ef, self.e, n * sizeof(f32))
        else:
            self.fg.estimate_echo(self.Xr, self.t, self.mic, self.yf, self.ef)
        for i in range(n):
            z = <double>self.y[i] - <double>self.yf[i]
            dbf += z * z
        dbf += n * TP_FLOOR
        sff = ca_aec_sumsq(n, self.ef)
        see = ca_aec_sumsq(n, self.e)
        self.tp_sff = sff       # the caller's energies of ef and (unless restored) e
        self.tp_see = see
        self.has_sff = True
        self.has_see = True
        dd = sff - see
        v = sff * dbf
        if dd > 0.0 and (see > TP_KEEP * self.ss_mic or self.dt_hang > 0):
            # not cancelling in this frame, or a near-end talker is evident: an error made
            # smaller by fitting near speech must not make the filter the kept one
            dd = 0.0
        self.tp_d1 = TP_SMOOTH1 * self.tp_d1 + (1.0 - TP_SMOOTH1) * dd
        self.tp_d2 = TP_SMOOTH2 * self.tp_d2 + (1.0 - TP_SMOOTH2) * dd
        self.tp_v1 = TP_SMOOTH1 * TP_SMOOTH1 * self.tp_v1 + (1.0 - TP_SMOOTH1) ** 2 * v
        self.tp_v2 = TP_SMOOTH2 * TP_SMOOTH2 * self.tp_v2 + (1.0 - TP_SMOOTH2) ** 2 * v
        if (dd * fabs(dd) > v or self.tp_d1 * fabs(self.tp_d1) > TP_UPDATE1 * self.tp_v1
                or self.tp_d2 * fabs(self.tp_d2) > TP_UPDATE2 * self.tp_v2):
            r = 1
        elif self.fg_lag >= 0 and (
                -dd * fabs(dd) > TP_BACK * v
                or -self.tp_d1 * fabs(self.tp_d1) > TP_BACK * self.tp_v1
                or -self.tp_d2 * fabs(self.tp_d2) > TP_BACK * self.tp_v2):
            self._restore()
            r = -1
        if r != 0:
            self.tp_d1 = 0.0
            self.tp_d2 = 0.0
            self.tp_v1 = 0.0
            self.tp_v2 = 0.0
        return r

    cdef void _keep(self) noexcept nogil:
        """Copy the filter (and the delay state it works with) into the kept copy."""
        self.fg.copy_from(self.filter)
        self.sync_f = self.filter.version
        self.sync_g = self.fg.version
        self.fg_lag = self.delay.lag
        self.fg_prov = self.provisional
        self.fg_g = self.g_echo
        self.fg_ph = self.w_ph
        self.n_copy += 1

    cdef void _drift(self, bint free, int pk) noexcept nogil:
        """Clock drift: the echo path's delay moves by ``dr_delta`` samples per frame
        (+-100 ppm: up to 0.016 samples per 10 ms at 16 kHz), which a filter that stops
        adapting in double talk cannot follow, and the kept copy never follows.  The
        filter and the kept copy are rotated by it every frame, ``W *= exp(-j pi i delta /
        n)`` per bin i (a known delay ramp as the state transition of the Kalman model,
        Enzner & Vary 2006), in steps of DR_STEP samples.  What drift remains shows as the
        filter's own rotation over the frames it adapts freely (converged, no talker):
        ``c += W_pk conj(W_pk before the update)`` on its most energetic partition (chosen
        every DR_EVAL frames; the largest tap misled it: at dt#6@48k, once the state error
        was raised to the prior at the first lag, a spike on the first tap of the partition
        after the direct path's outgrew the direct path's peak, and the rotation measured
        there kept the estimate near 0 ppm at +60: post-DT ERLE 12.4 dB, 34.7 with the
        energy, lead-in 36.3 -> 39.0, DT PESQ 1.43 -> 1.71); every DR_EVAL
        frames its rotation per bin, fitted as a delay (least squares over bins, weighted
        by |c|), is the drift that remains, ``x``.  Each frame's product is weighted per
        bin by the mic/echo-estimate coherence (the random walk's spectra, last frame; a
        linked follower its leader's), so that bins the far end does not excite, whose taps
        wander without rotating, do not pull the fit to 0.  ``x`` corrects ``dr_delta`` by
        a scalar Kalman gain ``g = min(P / (P + DR_SD_MEAS^2), DR_GAIN)`` (``P``: the
        estimate's error variance, DR_SD_PRIOR^2 at a reset, ``P (1 - g)`` after an
        estimate, + DR_SD_WALK^2 per estimate): large while unsettled, ~0.1 once settled,
        so that the rotation of a filter re-converging after a burst moves a settled
        estimate little; an ``x`` beyond DR_GATE standard deviations of ``P + DR_SD_MEAS^2``,
        or one that would take the drift beyond DR_MAX ppm, is skipped (the filter
        re-fitting the path, not a drift).
        Measured (soak dt draws at 48 kHz, seeds 100 / 105 / 113 / 119, +41 / +58 / +81 /
        +99 ppm; 16 kHz 105 / 113): the estimate at the first burst was 58 / 77 / 75 / 37 %
        of the drift (16 kHz 89 / 115 %) with the unweighted fit and gain 0.5, 97 / 98 /
        109 / 119 % (95 / 112 %) weighted, 90 / 102 / 98 / 96 % (94 / 113 %) with the
        Kalman gain; at the end 72 / 97 / 93 / 105 % (102 / 102 %) -> 99 / 98 / 99 / 100 %
        (97 / 101 %).  Weighted with the fixed gain, seed 111 at 48 kHz (+38 ppm) swung
        from 101 % to -526 % as the filter re-converged after its first burst (post-DT
        ERLE 43.9 -> 28.4 dB; with the Kalman gain 35.3).  Not kept: adding the change of
        the misalignment read from the phase of the mic/echo-estimate cross-spectrum (a
        delay-locked loop's proportional term) between estimates: first burst 68 / 74 /
        62 / 31 %, overshoot to 164 %, 105@48k post-DT ERLE 18.0 dB.
        Measured (reference model, true echo, dt seed 2 at 16 kHz, -39 ppm): a copy frozen
        at a burst's start cancels 8.3-8.9 dB over the burst, 13.1-15.0 without drift,
        11.7-13.1 rotated; the estimate settles within 2 % of the drift."""
        cdef double lim, e, ep, u, x, g
        cdef int p
        cdef f32* cdy = self.cdy
        cdef f32* cyy = self.cyy
        cdef f32* cdd = self.cdd
        if free:
            if self.coh_src is not None:    # a linked follower: the leader's spectra
                cdy = self.coh_src.cdy
                cyy = self.coh_src.cyy
                cdd = self.coh_src.cdd
            ca_aec_drift_acc(self.k, self.drc, self.filter.W + <Py_ssize_t>pk * 2 * self.k,
                             self.wold, cdy, cyy, cdd)
            self.dr_n += 1
        if self.t % DR_EVAL == 0 and self.dr_n >= DR_EVAL // 2:
            lim = DR_MAX * 1e-6 * self.n
            u = 1e-6 * self.n                           # samples per frame per ppm
            x = ca_aec_drift_delta(self.k, self.n, self.drc) / u   # the remaining drift, ppm
            g = self.dr_p / (self.dr_p + DR_SD_MEAS * DR_SD_MEAS)
            if g > DR_GAIN:
                g = DR_GAIN
            if x * x <= DR_GATE * DR_GATE * (self.dr_p + DR_SD_MEAS * DR_SD_MEAS):
                e = self.dr_delta + g * x * u
                if fabs(e) <= lim:      # else not a drift: the filter re-fitting the path
                    self.dr_delta = e
                    self.dr_p *= 1.0 - g
            self.dr_p += DR_SD_WALK * DR_SD_WALK
            memset(self.drc, 0, 2 * self.k * sizeof(f32))
            self.dr_n = 0
        if self.t % DR_EVAL == 0:       # the next window's partition: the most energetic
            e = -1.0
            for p in range(self.P):
                ep = ca_aec_sumsq(2 * self.k, self.filter.W + <Py_ssize_t>p * 2 * self.k)
                if ep > e:
                    e = ep
                    self.dr_pk = p
        self.w_ph += self.dr_delta
        if self.fg_lag >= 0:
            self.fg_ph += self.dr_delta
        if fabs(self.w_ph) >= DR_STEP:
            ca_aec_phasor(self.k, self.drph, self.n, self.w_ph)
            ca_aec_rotate(self.k, self.P, self.filter.W, self.drph)
            self.filter.version += 1
            if self.fg_ph == self.w_ph:     # the same phasors (the usual case)
                ca_aec_rotate(self.k, self.P, self.fg.W, self.drph)
                self.fg.version += 1
                self.fg_ph = 0.0
            self.w_ph = 0.0
        if fabs(self.fg_ph) >= DR_STEP:
            ca_aec_phasor(self.k, self.drph, self.n, self.fg_ph)
            ca_aec_rotate(self.k, self.P, self.fg.W, self.drph)
            self.fg.version += 1
            self.fg_ph = 0.0

    cdef void _restore(self) noexcept nogil:
        """The filter diverged or took a wrong lag: back to the kept copy."""
        self.filter.copy_from(self.fg)
        self.sync_f = self.filter.version
        self.sync_g = self.fg.version
        if self.delay.lag != self.fg_lag:
            self.delay.accept(self.fg_lag)
        self.provisional = self.fg_prov
        self.g_echo = self.fg_g
        self.anchor_n = 0
        self.div_n = 0
        self.cp_n = 0
        self.se_s = self.sf_s
        self.w_ph = self.fg_ph
        self.n_restore += 1

    cdef bint _talker(self) noexcept nogil:
        """A near-end talker for the Kalman filter's random walk: Geigel's test
        (``_near_talk``), or, for DT_PERSIST far-active frames in a row, the suppressor's
        near-end presence (last frame) above DT_NEAR behind a filter that measured the echo
        path and leaks < DT_LEAK, with an error that does not correlate with the echo
        estimate (|rho| < DT_RHO_FREEZE: the cross-correlation double-talk test of
        Benesty, Morgan & Cho, IEEE Trans. SAP 8(2), 2000, on the error).  Geigel's level
        test misses a talker no louder than the echo (9-54 % of the burst frames of the
        dt sweep); the random walk then raised the state error and the filter fitted the
        talker (tests/aec_dt_diagnosis.py).  The leakage keeps a saturating loudspeaker
        (whose error the suppressor also takes for a talker) adapting, the persistence a
        converged filter's far-end single talk (its error is uncorrelated too)."""
        cdef int idx = <int>((self.t - self.filter.d - HEADROOM) % self.H)
        if idx < 0:
            idx += self.H
        if self.dt_hang > 0:
            return True
        if (self.g_echo > 0.0 and self.fe2r[idx] > FAR_ACTIVE
                and self.suppressor.near > DT_NEAR and self.suppressor.leak < DT_LEAK
                and fabs(self.s_ey) < DT_RHO_FREEZE * sqrt(self.s_ee * self.s_yy)):
            self.talk_n += 1
        else:
            self.talk_n = 0
        return self.talk_n >= DT_PERSIST

    cdef const f32* _random_walk(self) noexcept nogil:
        """The Kalman random-walk factor per bin (``qv``): 0 for a talker (``_talker``);
        else KF_Q scaled per bin, by the suppressor's near-end presence x (last frame), down
        to the bin's mic/echo-estimate coherence mapped from COH_LO (0) to COH_HI (1):
        ``q = KF_Q (1 - x + x clip((C - lo) / (hi - lo), 0, 1))``, ``C = |S_dy|^2 /
        (S_dd S_yy)`` of the smoothed (COH_SMOOTH) spectra of the low-delay windowed mic and
        echo estimate (``_statistics``, last frame).  The magnitude-squared coherence
        between the echo estimate and the mic is near 1 where the echo dominates and falls
        with the share of a talker (Gaensler et al. 1996, module docstring; WebRTC's
        legacy AEC gates its suppressor on the same coherence, ideas only): a soft, per-bin
        double-talk measure on every frame, where the persistent frame-level test misses
        most of a talker's frames.  Without the random walk the state error cannot grow
        in those bins, so the filter's gain stays low there and it keeps cancelling
        instead of fitting the talker (Enzner & Vary 2006: the state error sets the step).
        Weighted by x, and only behind a filter leaking < COH_LEAK, so that a saturating
        loudspeaker, whose harmonics lower the coherence too, keeps adapting (sat3 seed 3
        at 48 kHz: 30.8 dB, 28.8 without the leakage condition; soak seed 113 at 16 kHz:
        28.4 dB, 26.5 with the condition at 0.025). A talker raises Valin's estimate too
        (dt seed 2: 0.018 in the far-only frames, 0.036 in the bursts), so this keeps the
        random walk in part of the bursts; holding the leakage seen without a talker
        instead kept a filter that lost the path in a burst from re-converging (soak dt
        seed 113 at 48 kHz: ERLE after the burst 23.6 -> 9.1 dB).
        Unknown echo path (``g_echo`` 0: no filter cancelled at this lag): KF_Q everywhere.

        Behind a filter that measured the path and leaks < COH_LEAK, the presence also
        sets ``dt_s`` (the Kalman gain is scaled by ``1 - DT_MU_CUT dt_s`` in
        ``filter.update``) and scales this ``q`` by ``1 - dt_s`` (``qzero`` at 1):
        ``dt_s = clip((x' - DT_MU_LO) / (DT_MU_HI - DT_MU_LO), 0, 1)`` with ``x'`` the
        suppressor's presence of the last frame before its hold (``near_now``; 0 while
        the divergence test's smoothed error is louder than the mic, within DT_MU_CALM
        frames of an error louder than 1.25 x the mic (the suppressor's test) or of an
        echo-path change the divergence test declared, and in the suppressor's ERLE_HOLD
        frames after a lag change: a talker does neither, and without this change#7 at
        16 kHz re-converged in 0.39 s instead of 0.04), held by DT_MU_HOLD per frame here
        (Mader, Puder & Schmidt 2000: step-size control by a double-talk measure).
        Measured on the dt sweep (tests/aec_dt_diagnosis.py and the reference model,
        seeds 0, 2, 3 at 16 kHz): over the bursts the linear filter
        removed 13.6 / 9.1 / 7.7 dB of echo against 25.7 / 18.7 / 16.8 dB with the near end
        removed from the mic; a suppressor of this form given the TRUE residual echo
        reached DT PESQ only 2.20 / 1.99 / 1.91 at 0.6-1.3 dB of near-end loss, so the
        residual estimate alone cannot reach 2.0.  An oracle that knew the bursts and
        scaled the step by 0.3 with no random walk there: 22.5 / 16.8 / 14.2 dB, the
        shipped suppressor 1.74 / 1.82 / 2.56 (from 1.33 / 1.33 / 1.70), the true-residual
        suppressor 3.7 / 3.6 / 3.2.  This measure (the presence, which covers > 99 % of the
        near end's energy in the bursts) gets part of it: worst DT PESQ of seeds 0-5
        1.33 -> 1.38 / 1.34 -> 1.41 at 16 / 48 kHz, median of seeds 0-7 1.66 -> 1.92 /
        1.70 -> 1.94.  The held presence (NEAR_HOLD 0.9) instead reached 1.49 / 1.51 but
        slowed the re-convergence after a burst (soak dt seed 107 at 48 kHz: ERLE after
        the burst 12 dB); with the 0.7 hold two of the soak's six known misses of 30 dB
        pass, none is added.
        The leakage the guard reads is latched in frames where the suppressor's presence is
        < DT_MU_QUIET (``leak_q``), for DT_MU_AGE frames of presence (then the current one),
        and the control is off above DT_MU_LEAK whatever the latched one (a leakage that
        high also re-latches).  It was not shipped at first (measured, dt sweep and soak
        draw 100-123, presence < 0.1, off above 0.2, no age):  DT PESQ worst (seeds 0-5)
        1.378 -> 1.384 / 1.407 -> 1.422 at 16 / 48 kHz, median (0-7) 1.92 -> 2.00 / 1.94 ->
        2.02, loss worst 0.88 -> 0.63 / 0.79 -> 0.57 dB, seed 7 1.17 -> 0.94 / 1.24 -> 1.00
        dB; soak 16 kHz: seed 102 passes (29.96 -> 32.0 dB), none added; 48 kHz: three new
        misses of post-DT ERLE, seeds 100 (44.6 -> 8.9 dB), 113 (31.8 -> 26.7), 119 (34.5 ->
        14.8).  The clock drift: with the
        same draws at 0 ppm (they have +41 / +81 / +99) every burst keeps >= 33 dB (100:
        54.0 / 51.1 / 49.8, 119: 52.5 / 59.0 / 60.0), as without the latch.  The drift
        tracker (``_drift``) measures only where the random walk runs: at dt#119@48k it had
        reached 35 % of the drift (0.017 of 0.048 samples per frame) at the first burst,
        and a filter the control holds for a burst is then misaligned by ~3 samples at
        48 kHz (16 kHz: the same time, a third of the samples, and no miss).  Guards that
        did not remove the misses: the latch trusted 100 frames (48 kHz misses 105 22.3,
        113 26.4, 119 24.1 dB); the control off where the mic is explained by the far end
        (Geigel's test off, mic < 0.5 or 2 x the echo the loudest far frame explains) and
        the smoothed mic/error ratio fell 6 dB under the latched one (it fires in bursts:
        loss worst 1.06-1.38 dB; 113 21.0 dB), and adding there the random walk the control
        held back (seed 7 loss 2.1 dB); the full random walk in the frames only the latch
        keeps the control on (seed 7 1.32 / 1.25 dB; 105, 113 miss), or the control share
        capped at 0.7 there (seed 7 1.24 / 1.22 dB; 100, 113, 119 miss); the latch only
        while the drift estimate is under 20 ppm (seeds 0-7 back to as shipped, seed 100
        8.9 dB); DR_GAIN 1.0 (the tracker overshoots: 16 kHz seeds 105, 113 at 11.5, 8.1
        dB).  A drift estimate that does not need the walk (or converges within the
        lead-in) comes first.  With the tracker's coherence weighting and Kalman gain
        (``_drift``: at the first burst 37 -> 96 % of the drift on seed 119) the latch
        leaves seed 119 at 54.3 dB, but 100 and 113 still miss, not for the drift: 100
        (15.7 dB) has hum, which the suppressor reads as presence (~1) in the far-only
        lead-in, so the latched leakage keeps the control on there (``dt_s`` 1 from 2.0 s:
        lead-in ERLE 51.5 -> 28.1 dB, the tracker not free, 31 % of the drift at the
        first burst); 113 (24.2 dB) holds 97-100 % of the drift throughout and its filter
        re-converges slowly after each burst (ERLE ~25 dB only 2 s after it).
        With DT_MU_AGE 100 the last misses (soak dt#113@48k 31.45 -> 27.97 dB; and long
        loud double talk at 48 kHz, tests/reliability/test_regressions.py, whose delay went
        to 320-380 ms for 0.4 s) were lag moves inside a burst: the divergence test fired
        on an error as loud as a mic the talker fills (113, burst 2: smoothed error 1.01 x
        the mic, the kept copy's 0.92 x), made the lag provisional, and the estimator,
        aged, took a lag near speech correlated with (64 for 51, 0.24 s later); an anchor
        move (``_anchor``) reset the path's gain, so the control went off and the filter
        fitted the talker at full step.  Each lag change also holds the suppressor's ERLE
        estimate (ERLE_HOLD) and with it this control (``calm``) for 1 s: 113 re-fitted the
        talker for the rest of the burst after the kept copy restored the lag.  Shipped
        with two guards on the lag: ``dt_hold`` (set here, read by the estimator's next
        frame, ``aec_delay.pyx`` ``update``): the presence >= DT_MU_QUIET behind a kept
        copy whose leakage, latched or current, is < COH_LEAK, with no error louder than
        the mic within DT_MU_CALM frames and no echo-path change declared (``dt_calm``),
        outside a re-lock window (``relock_n``: the copy confirmed a path change) holds a
        locked lag and resets its candidates (without the two middle conditions it held
        change#3, #4 at their old lag: 20 dB 0.89 / 1.01 s after the change at 16 kHz); and
        an anchor move keeps the path's gain, proof and Geigel decision.
        Soak dt (100-123) post-DT ERLE: 113@48k 27.97 -> 31.40 dB, 102@48k (known) 29.24 ->
        28.21, 112@16k (known) 29.08, no other < 30; long loud double talk passes at both
        rates.  Dt sweep at 16 / 48 kHz: DT PESQ median (seeds 0-7) 1.93 -> 2.03 / 1.88 ->
        2.00, worst (0-5) 1.383 -> 1.389 / 1.409 -> 1.425; near-end loss worst (0-5) 0.88 ->
        0.60 / 0.79 -> 0.57 dB, seed 7 1.18 -> 0.96 / 1.23 -> 1.04 dB."""
        cdef f32 x
        cdef double s, lq
        cdef f32* cdy = self.cdy
        cdef f32* cyy = self.cyy
        cdef f32* cdd = self.cdd
        cdef bint talker = self._talker()
        cdef bint calm = (self.dt_calm == 0 and self.div_n == 0 and self.suppressor.hold == 0
                          and self.suppressor.since_louder >= DT_MU_CALM)
        cdef double xn = self.suppressor.near_now
        if self.dt_calm > 0:
            self.dt_calm -= 1
        self.dt_s = 0.0
        if xn < DT_MU_QUIET or self.suppressor.leak >= DT_MU_LEAK:
            self.leak_q = self.suppressor.leak
            self.leak_n = 0
        elif self.leak_n < DT_MU_AGE:
            self.leak_n += 1
        lq = self.leak_q if self.leak_n < DT_MU_AGE else self.suppressor.leak
        # near-end dominated for the delay estimator (next frame): the presence behind a
        # kept copy (a filter that measured the path) whose leakage, latched or current,
        # is low (not a saturating loudspeaker), with no error louder than the mic within
        # DT_MU_CALM frames nor an echo-path change declared (a talker does neither; an
        # echo path that moved does both: change#3, #4 re-locked 0.26-1.01 s after it
        # without these), outside the re-lock window of a change the kept copy confirmed
        self.dt_hold = (xn >= DT_MU_QUIET and (lq < COH_LEAK or self.suppressor.leak < COH_LEAK)
                        and self.fg_lag >= 0 and self.relock_n == 0 and self.dt_calm == 0
                        and self.suppressor.since_louder >= DT_MU_CALM)
        if self.g_echo <= 0.0 or self.suppressor.leak >= DT_MU_LEAK or lq >= COH_LEAK:
            return self.qzero if talker else self.qfull
        # the smoothed error louder than the mic (div_n), an echo-path change declared
        # within DT_MU_CALM frames, or a lag change within the suppressor's ERLE_HOLD: the
        # filter must re-converge at its own step (a talker does not make the error louder
        # than the mic, nor move the lag)
        s = xn if calm else 0.0
        if s < DT_MU_HOLD * self.dt_x:
            s = DT_MU_HOLD * self.dt_x
        self.dt_x = s
        s = (s if s < 1.0 else 1.0) - DT_MU_LO
        s /= DT_MU_HI - DT_MU_LO
        self.dt_s = 0.0 if s < 0.0 else (1.0 if s > 1.0 else s)
        if talker or self.dt_s >= 1.0:
            return self.qzero
        if self.coh_src is not None:    # a linked follower: the leader's spectra
            cdy = self.coh_src.cdy
            cyy = self.coh_src.cyy
            cdd = self.coh_src.cdd
        x = <f32>self.suppressor.near
        if x > 1.0:
            x = 1.0
        ca_aec_coherence_q(self.k, self.qv, cdy, cyy, cdd, <f32>(KF_Q * (1.0 - self.dt_s)),
                           <f32>COH_LO, <f32>COH_HI, x)
        return self.qv

    cdef bint _near_talk(self) noexcept nogil:
        """Geigel's double-talk test in power form, with the echo path's gain measured.

        Once a filter that removes >= DE_JUMP_ERLE of the echo has measured the echo power
        per far power (g_echo), a mic louder than DT_RATIO times the echo that the loudest
        far frame across the filter's span can explain is a near-end talker, provided the
        error does not correlate with the echo estimate (smoothed correlation < DT_RHO:
        an echo that became louder, a volume step, does); the decision holds DT_HANG
        frames. Unknown gain (no such filter since the last lag change or reset): False.
        """
        cdef int p, idx
        cdef double pf = 0.0
        if self.g_echo <= 0.0:
            self.dt_hang = 0
            return False
        for p in range(self.P):
            idx = <int>((self.t - self.filter.d - p) % self.H)
            if idx < 0:
                idx += self.H
            if self.fe2r[idx] > pf:
                pf = self.fe2r[idx]
        # error/echo-estimate correlation (e = mic - y): near speech is uncorrelated with
        # the echo estimate, an echo that grew louder (volume step) is not
        self.s_ee = 0.8 * self.s_ee + 0.2 * self.ms_e
        self.s_yy = 0.8 * self.s_yy + 0.2 * self.ms_y
        self.s_ey = 0.8 * self.s_ey + 0.1 * (self.ms_mic - self.ms_y - self.ms_e)
        if (self.ms_mic > DT_RATIO * self.g_echo * pf
                and self.s_ey < DT_RHO * sqrt(self.s_ee * self.s_yy)):
            self.dt_hang = DT_HANG
        elif self.dt_hang > 0:
            self.dt_hang -= 1
        return self.dt_hang > 0

    cdef bint _converged(self) noexcept nogil:
        """Delay locked, enough far-active frames, linear ERLE >= ANCHOR_ERLE."""
        return self.delay.lag >= 0 and self.nact >= 20 and self.conv_lin >= ANCHOR_ERLE

    cdef void _set_lag(self, int lag) noexcept nogil:
        """Take a new coarse lag; shift the filter partitions so the echo path is kept."""
        cdef int newd = lag - HEADROOM
        cdef bint unproven = self.provisional and self.delay.lag < 0
        if newd < 0:
            newd = 0
        self.delay.accept(lag)
        self.anchor_n = 0
        self.lag_age = 0
        self.g_echo = 0.0
        self.provisional = True
        self.dt_hang = 0
        self.filter.move_to(newd)
        if unproven:
            self.filter.raise_prior()

    cdef void _anchor(self) noexcept nogil:
        """Keep the filter's main peak HEADROOM partitions after its start (drift).

        Acts only on a dominant peak (ANCHOR_DOM times any partition not next to it) that
        stayed outside partitions HEADROOM-1 .. HEADROOM+1 for ANCHOR_FRAMES frames.
        The filter moves with its partitions: the echo path stays measured (its gain
        ``g_echo``, the lag proven, Geigel's decision), unlike a lag the estimator takes.
        Reset there, a move inside long loud double talk (at 48 kHz, 2.9 s into it) turned
        the double-talk control off (unknown path), the filter fitted the talker at full
        step, its leakage rose to 0.7 and the lag, provisional, jumped to 10-50 ms.
        """
        cdef int p, pk = 0, newd, hang
        cdef bint prov
        cdef double g
        cdef f32 second = 0.0
        if self.delay.lag < 0 or self.conv_lin < ANCHOR_ERLE:
            self.anchor_n = 0
            return
        for p in range(1, self.P):
            if self.filter.peak[p] > self.filter.peak[pk]:
                pk = p
        for p in range(self.P):
            if (p < pk - 1 or p > pk + 1) and self.filter.peak[p] > second:
                second = self.filter.peak[p]
        if (self.filter.peak[pk] <= 0.0 or self.filter.peak[pk] < ANCHOR_DOM * second
                or (HEADROOM - 1 <= pk <= HEADROOM + 1)):
            self.anchor_n = 0
            return
        newd = self.filter.d + pk - HEADROOM
        if newd < 0:
            newd = 0
        if newd == self.filter.d:
            self.anchor_n = 0
            return
        self.anchor_n += 1
        if self.anchor_n >= ANCHOR_FRAMES:
            g = self.g_echo
            prov = self.provisional
            hang = self.dt_hang
            self._set_lag(newd + HEADROOM)
            self.g_echo = g
            self.provisional = prov
            self.dt_hang = hang

    @cython.boundscheck(False)   # raw pointer loops
    @cython.wraparound(False)
    cdef void _suppress(self, f32* out, NoiseSuppressor post) noexcept nogil:
        cdef int k = self.k, P = self.P, idx
        cdef f32 kres
        cdef f32* X2b
        idx = <int>((self.t - self.filter.d - P) % self.H)
        if idx < 0:
            idx += self.H
        X2b = self.X2r + <Py_ssize_t>idx * k
        # The filter's uncertainty counts as residual echo only once an echo path has
        # been found (delay locked): with no echo path it would suppress, and so
        # modulate, near-end noise.
        kres = <f32>(KAL_RES * self.wscale * 0.5) if self.delay.lag >= 0 else 0.0
        self.suppressor.process(out, self.y, self.e, self.Dspec,
                                self.filter.W + <Py_ssize_t>(P - 1) * 2 * k,
                                self.filter.W + <Py_ssize_t>(P - 2) * 2 * k, X2b,
                                self.filter.PX, kres, self.delay.lag, post)
        self._statistics(out)

    cdef const f32* _beyond_tail(self) noexcept nogil:
        """The far power spectrum just beyond the filter's tail."""
        cdef int idx = <int>((self.t - self.filter.d - self.P) % self.H)
        if idx < 0:
            idx += self.H
        return self.X2r + <Py_ssize_t>idx * self.k

    @cython.boundscheck(False)   # raw pointer loops
    @cython.wraparound(False)
    @cython.cdivision(True)
    cdef void suppress_linked_c(self, void** ecs, f32** outs, void** posts,
                                int nch) noexcept nogil:
        """Step 6 for ``nch`` linked capture channels (``ecs``: their cancellers, this
        one first, each after its ``capture_filter_c``; ``outs``: their frames; ``posts``:
        their noise suppressors sharing the synthesis, or NULL).

        The adaptive filters stay per channel (each microphone has its own echo path);
        the residual-echo estimate and gain run once, on per-bin means over the channels:
        error and echo-estimate powers, the filters' uncertainty and tail partitions'
        powers, and the pooled leakage sums (the regression of all channels' error on
        their echo estimates). One real gain for all channels (as WebRTC AEC3 computes one
        suppression gain for all capture channels) keeps the near end's level and phase
        differences; an echo on one channel raises the mean residual echo, so that
        channel's bins are suppressed on all channels (comfort noise fills them). With
        the noise suppressors, one noise model runs on the channels' mean power per hop
        (``NoiseSuppressor.process_power_c``; the leader's) and its gain too is common;
        each channel keeps its own analysis, synthesis and comfort-noise generator."""
        cdef int c, i, k = self.k, P = self.P, h, R = 0, hops = 0, cnt, lag = -1
        cdef double sums[5]
        cdef double tot[5]
        cdef double ps[2]
        cdef double after[32]
        cdef double before[32]
        cdef bint ok[32]
        cdef bint shared
        cdef f32 kres = 0.0, inv = <f32>1.0 / nch
        cdef f32* see = self.suppressor.see
        cdef f32* syy = self.suppressor.syy
        cdef const f32* wl
        cdef const f32* wm
        cdef f32* amp = self.lamp
        tot[0] = tot[1] = tot[2] = tot[3] = tot[4] = 0.0
        for c in range(nch):
            (<EchoCanceller>ecs[c]).suppressor.spectra_c(
                (<EchoCanceller>ecs[c]).y, (<EchoCanceller>ecs[c]).Dspec, sums)
            for i in range(5):
                tot[i] += sums[i]
            if (<EchoCanceller>ecs[c]).delay.lag >= 0:
                if lag < 0:
                    lag = (<EchoCanceller>ecs[c]).delay.lag
                kres = <f32>(KAL_RES * self.wscale * 0.5)
            wl = (<EchoCanceller>ecs[c]).filter.W + <Py_ssize_t>(P - 1) * 2 * k
            wm = (<EchoCanceller>ecs[c]).filter.W + <Py_ssize_t>(P - 2) * 2 * k
            ca_aec_link_acc(k, 0 if c == 0 else (2 if c == nch - 1 else 1), inv,
                            self.lpx, self.lwl, self.lwm, see, syy,
                            (<EchoCanceller>ecs[c]).filter.PX, wl, wm,
                            (<EchoCanceller>ecs[c]).suppressor.see,
                            (<EchoCanceller>ecs[c]).suppressor.syy)
        # means (the last channel's pass took them); the tail partitions as magnitudes of
        # mean power
        if nch == 1:
            ca_aec_link_mean(k, inv, see, syy, self.lpx, self.lwl, self.lwm)
        for i in range(5):
            tot[i] *= inv
        shared = not (posts == NULL or posts[0] == NULL)
        # (with the noise suppressors each hop gets its comfort noise in hop_in_c)
        self.suppressor.estimate_c(tot, self.lwl, self.lwm, self._beyond_tail(), self.lpx,
                                   kres, lag, not shared)
        for c in range(1, nch):
            (<EchoCanceller>ecs[c]).suppressor.follow_c(self.suppressor, not shared)
        if shared:      # the comfort noise's amplitude per bin, once for every hop and channel
            self.suppressor.comfort_amp_c(amp)
        if not shared:
            for c in range(nch):
                (<EchoCanceller>ecs[c]).suppressor.synthesis_c(outs[c])
        else:
            R = (<NoiseSuppressor>posts[0]).hop_size
            hops = (<NoiseSuppressor>posts[0]).hops_per_frame
            for c in range(nch):
                after[c] = 0.0
                before[c] = 0.0
            for h in range(hops):
                cnt = 0
                for c in range(nch):
                    (<EchoCanceller>ecs[c]).suppressor.hop_in_c(
                        (<EchoCanceller>ecs[c]).e + h * R, <NoiseSuppressor>posts[c], amp)
                    ok[c] = (<NoiseSuppressor>posts[0]).power_acc_c(
                        (<EchoCanceller>ecs[c]).suppressor.Tspec, self.lacc, cnt == 0)
                    if ok[c]:
                        cnt += 1
                (<NoiseSuppressor>posts[0]).process_power_c(self.lacc, cnt, h)
                for c in range(nch):
                    if ok[c]:
                        (<NoiseSuppressor>posts[0]).apply_c(
                            (<EchoCanceller>ecs[c]).suppressor.Tspec,
                            (<NoiseSuppressor>posts[0]).gain_c(), ps)
                        after[c] += ps[0]
                        before[c] += ps[1]
                    (<NoiseSuppressor>posts[c]).synthesise_c(
                        (<EchoCanceller>ecs[c]).suppressor.Tspec, outs[c] + h * R)
            for c in range(nch):
                (<EchoCanceller>ecs[c]).suppressor.post_ratio = (
                    after[c] / before[c] if before[c] > 0.0 else 1.0)
                if c > 0:
                    (<NoiseSuppressor>posts[c]).follow_c(<NoiseSuppressor>posts[0])
        for c in range(nch):
            (<EchoCanceller>ecs[c])._statistics(outs[c])

    @cython.boundscheck(False)   # raw pointer loops
    @cython.wraparound(False)
    cdef void _statistics(self, f32* out) noexcept nogil:
        """After the suppressor wrote ``out``: the canceller's output level and its
        far-active statistics (echo only, ERLE, the echo-path gain)."""
        cdef int n = self.n, idx
        cdef double fa, a
        # the canceller's own output level: the noise suppressor's share taken out
        a = self.suppressor.post_ratio
        self.s_out = ca_aec_sumsq(n, out)
        self.ms_out = (self.s_out / n) / (a if a > 1e-6 else 1e-6)
        # mic/echo-estimate coherence spectra (the random walk's, _random_walk; a linked
        # follower uses its leader's)
        if self.coh_src is None:
            ca_aec_coherence_acc(self.k, <f32>COH_SMOOTH, self.cdy, self.cyy, self.cdd,
                                 self.Dspec, self.suppressor.Yspec)
        # statistics over far-active frames
        idx = <int>((self.t - self.filter.d - HEADROOM) % self.H)
        if idx < 0:
            idx += self.H
        fa = self.fe2r[idx]
        # Echo only: the far end talks (or talked within ECHO_HANG frames: the echo tail,
        # and the suppressor releasing in its pauses, which modulates the near-end noise
        # with the far envelope) and no near-end talker is evident. A talker is evident
        # only in a far-active frame of a converged filter that removed < 15 dB, and whose
        # microphone is louder (by 3 dB) than the echo the far end can explain through the
        # measured echo-path gain (Geigel's test in power form): a dip of the filter alone
        # is not a talker.
        if fa > FAR_ACTIVE:
            self.far_hang = ECHO_HANG
        elif self.far_hang > 0:
            self.far_hang -= 1
        self.echo_only = self.far_hang > 0 and not (
            fa > FAR_ACTIVE
            and self._converged()
            and self.ms_e >= ECHO_ONLY_RATIO * self.ms_mic
            and self.ms_mic > 2.0 * fa * (self.p_mic / (self.p_far + 1e-20)))
        if fa > FAR_ACTIVE:
            a = STAT_ALPHA
            self.nact += 1
            self.p_far = a * self.p_far + (1.0 - a) * fa
            self.p_y = a * self.p_y + (1.0 - a) * self.ms_y   # _ms(self.y, n)
            self.p_mic = a * self.p_mic + (1.0 - a) * self.ms_mic
            self.p_e = a * self.p_e + (1.0 - a) * self.ms_e
            self.p_out = a * self.p_out + (1.0 - a) * self.ms_out
            self.conv_lin = 10.0 * log10((self.p_mic + 1e-20) / (self.p_e + 1e-20))
            # the filter explains >= 3/4 of the mic: its echo gain is the near-talk yardstick
            if self.delay.lag >= 0 and self.nact >= 20 and self.conv_lin >= DE_JUMP_ERLE:
                self.g_echo = self.p_y / (self.p_far + 1e-20)
                self.provisional = False

    # ------------------------------------------------------------------ Python API
    def _frame(self, x, name):
        # np.require also copies a misaligned view: the kernels assume float alignment.
        a = np.require(x, dtype=np.float32, requirements=("C", "A"))
        if a.ndim != 1 or a.shape[0] != self.n:
            raise FrameError(
                f"{name} must be a 1-D frame of {self.n} samples (10 ms at "
                f"{self.sample_rate} Hz), got shape {np.shape(x)}")
        return a

    def render(self, far):
        """Queue one 10 ms far-end frame (what the loudspeaker plays).

        Parameters
        ----------
        far : array_like of float32, shape (frame_size,)
        """
        cdef const f32[::1] v = self._frame(far, "far")   # read-only frames are fine
        with nogil:
            self.render_c(&v[0], v.shape[0])

    def capture(self, mic):
        """Cancel the echo in one 10 ms microphone frame; returns a new float32 array.

        Non-finite samples in either stream are replaced by zero (the frame is counted in
        ``nonfinite_frames``); the filter never keeps a non-finite state.
        """
        out = np.array(self._frame(mic, "mic"), dtype=np.float32, copy=True)
        cdef f32[::1] v = out
        with nogil:
            self.capture_c(&v[0], v.shape[0])
        return out

    def set_delay_hint(self, double delay_ms):
        """Optional application hint of the bulk delay (ms), used until the estimator locks.

        The estimator keeps running and replaces the hint when the signals disagree.
        """
        if not (isfinite(delay_ms) and 0.0 <= delay_ms <= self.max_delay_ms):
            raise ConfigError(
                "delay_ms", f"must be in [0, {self.max_delay_ms}], got {delay_ms}")
        cdef int lag = <int>(delay_ms / 10.0 + 0.5)
        if lag > self.L - 1:
            lag = self.L - 1
        self.hint = lag
        if self.delay.lag < 0:
            with nogil:
                self._set_lag(lag)

    @property
    def latency_samples(self):
        """Output delay added by the canceller (samples): ``frame_size // 4``."""
        return self.lat

    @property
    def erl_db(self):
        """Echo return loss, dB: ``10 log10(P_far / P_echo)``.

        ``P_far`` is the mean square of the far frame at the estimated bulk delay and
        ``P_echo`` that of the linear echo estimate, each averaged recursively (0.95 per
        frame, ~0.2 s) over far-active frames (far mean square > -70 dBFS).  NaN until
        20 far-active frames were seen or while the echo estimate is zero.
        """
        if self.nact < 20 or self.p_y <= 0.0 or self.p_far <= 0.0:
            return math.nan
        return 10.0 * math.log10(self.p_far / self.p_y)

    @property
    def erle_db(self):
        """Echo return loss enhancement, dB: ``10 log10(P_mic / P_out)``.

        ``P_mic`` and ``P_out`` are the mean squares of the microphone frame and of the
        canceller's output frame, averaged recursively (0.95 per frame) over far-active
        frames only.  Near-end speech during those frames lowers it.  NaN until 20
        far-active frames were seen.
        """
        if self.nact < 20 or self.p_out <= 0.0:
            return math.nan
        return 10.0 * math.log10((self.p_mic + 1e-20) / (self.p_out + 1e-20))

    @property
    def linear_erle_db(self):
        """ERLE of the adaptive filter alone, dB: ``10 log10(P_mic / P_error)`` (as above)."""
        if self.nact < 20:
            return math.nan
        return self.conv_lin

    @property
    def delay_ms(self):
        """Estimated bulk delay of the echo, ms; NaN until found.

        The adaptive filter's largest tap (sample resolution) among the partitions within
        30 ms of the coarse estimate; the coarse estimate itself (10 ms resolution) until
        the filter has taps there.
        """
        cdef int p, pk = -1
        if self.delay.lag < 0:
            return math.nan
        for p in range(self.P):
            if abs(self.filter.d + p - self.delay.lag) <= HEADROOM + 1 and (
                    pk < 0 or self.filter.peak[p] > self.filter.peak[pk]):
                pk = p
        if pk >= 0 and self.filter.peak[pk] > 0.0:
            return ((self.filter.d + pk) * self.n + self.filter.peak_i[pk]) * 1000.0 / \
                self.sample_rate
        return self.delay.lag * 10.0

    @property
    def near_talk(self):
        """True while a near-end talker is evident over the echo (double talk): the mic is
        louder than 4x the echo the measured echo path explains and the excess does not
        correlate with the echo estimate, now or within the last 100 ms. Always False
        until the filter has measured the echo path."""
        return self.dt_hang > 0

    @property
    def converged(self):
        """True once the delay is locked and the filter's linear ERLE is >= 10 dB."""
        return bool(self._converged())

    @property
    def filter_copies(self):
        """Frames in which the adaptive filter, being the better one, was copied (two-path)."""
        return self.n_copy

    @property
    def filter_restores(self):
        """Times the adaptive filter was restored from its kept copy (it had diverged in
        double talk or taken a wrong lag)."""
        return self.n_restore

    @property
    def nonfinite_frames(self):
        """Number of capture frames in which NaN/Inf input samples were replaced by 0."""
        return self.nonfinite

    @property
    def render_underruns(self):
        """Capture frames processed with no queued far frame (far treated as silence)."""
        return self.underruns

    @property
    def render_overruns(self):
        """Far frames dropped because more than 50 were queued ahead of capture."""
        return self.overruns
