# cython: language_level=3
"""Automatic gain control: VAD-gated speech level, slew-limited gain, zero-latency limiter.

References
----------
- ITU-T Rec. P.56 (12/2011), "Objective measurement of active speech level": the active
  level is the mean power over the active part, activity being the part within a margin
  M = 15.9 dB of that level.  Here it is evaluated on 10 ms frame powers.
- R. Martin, "Noise power spectral density estimation based on optimal smoothing and
  minimum statistics", IEEE Trans. Speech Audio Process. 9(5), 2001: the noise floor is
  the minimum of the smoothed power over a window of sub-windows, times a bias factor.
- WebRTC AGC2 (adaptive digital controller, design only): speech level estimated in speech
  frames only, gain = target - level limited in rate (dB/s), gain capped so the noise floor
  is not lifted above a maximum output noise level, then a limiter.
- A. Bifet, R. Gavalda, "Learning from time-changing data with adaptive windowing",
  Proc. SIAM Int. Conf. Data Mining, 2007 (ADWIN): a window drops its older part when the
  older and newer parts differ beyond a bound (here: the trend test of step 4, which
  shortens the level window while the level falls steadily).
- P. J. Huber, "Robust estimation of a location parameter", Ann. Math. Statist. 35(1),
  1964: outliers enter an estimate clipped, not at full weight (here: the shout guard of
  step 4 counts a shouted entry as the level, a loud one as at most SHOUT_CLIP_DB above).
- J. Sohn, N. S. Kim, W. Sung, "A statistical model-based voice activity detector", IEEE
  Signal Process. Lett. 6(1), 1999, and ITU-T G.729 Annex B: a frame is only taken for
  speech well above the tracked noise floor (here: the level learns only from frames
  LEARN_SNR_DB over the minimum-statistics floor, whatever an upstream VAD says).
- D. Giannoulis, M. Massberg, J. D. Reiss, "Digital dynamic range compressor design - a
  tutorial and analysis", J. Audio Eng. Soc. 60(6), 2012: level detection with a slow
  attack leaves short peaks to the limiter (here: the shout guard and the persistence test
  of step 4).

Per 10 ms frame of n = sample_rate / 100 samples (all levels relative to full scale 1.0,
powers are mean squares, dBFS = 10 log10(power)):

1. Frame power ``e = mean(x^2) + 1e-12`` (the floor, -120 dBFS, keeps logs finite and
   states away from denormals).  A non-finite frame is zeroed and changes no state.
2. Noise floor (Martin 2001, broadband): ``p = a p + (1 - a) e`` with a 10 ms time
   constant; the minimum of ``p`` over NOISE_SUBWINDOWS sub-windows of NOISE_SUBWINDOW
   frames (2.4 s) plus the running sub-window, times NOISE_BIAS, is the noise power.
   Stationarity shortcut: when ``p`` stayed within STATIONARY_DB over the running and the
   last STATIONARY_SUBWINDOWS sub-windows (0.8..1.0 s) the signal is noise however loud it
   is, and the floor follows the minimum of that stretch at once (so a new, louder noise
   stops being taken for speech within a second instead of after the whole window).
   A frame flagged ``echo_only`` (an upstream echo suppressor's output in far-end single
   talk, whose level that suppressor set) is no noise observation: step 2 skips it; so is
   a frame flagged ``echo_shaped`` (the echo canceller removed more than half of its
   power, whatever it decided about a near-end talker: its echo-only decision flickers
   within the far end's talk and its suppressor keeps working in the far end's pauses,
   and a floor learnt from such frames lies far below the near end's noise, which then
   passes the learning gate of step 3 as a talker).  While no speech level has been
   learnt, the first observation after RESTART_FRAMES frames without one restarts the
   floor: what the upstream stages made of the noise before the echo (a noise suppressor
   attenuating it) need not hold after it (that suppressor may have lost its noise
   estimate to the echo suppressor's output), and a stale floor would let that noise be
   learnt as the first talker; once a level is known the floor is kept (a talker
   answering the far end must not restart it).  The floor is unknown until the first
   observation.
3. Voice activity: an ``echo_only`` frame is never speech; otherwise
   ``speech_prob >= 0.5 and e > 10^(VAD_FLOOR_DBFS / 10)`` when given,
   else the frame is speech when the floor is known,
   ``e > noise * 10^(VAD_SNR_DB / 10)`` and ``e > 10^(VAD_FLOOR_DBFS / 10)``, held for
   HANGOVER frames after the last such frame.
   Learning (the frames that teach the level and may raise the gain): a speech frame with
   the floor known and ``e > noise * 10^(LEARN_SNR_DB / 10)``, held for HANGOVER speech
   frames after the last such frame (so the level keeps the hangover frames P.56 counts).
   A candidate less than MOD_SNR_DB over the floor must also be modulated: among the last
   MOD_FRAMES candidates at least MOD_MIN lie MOD_DB above the quietest and MOD_MIN MOD_DB
   below the loudest (the echo suppressor pushes the floor down, and what an upstream VAD
   passes as speech in the far end's pauses may be steady noise; a lone residual-echo burst
   is no modulation either; nor is the room's noise lifted 20 dB for half a second while
   the talker pauses, a burst an upstream VAD passes as speech whatever came before it,
   and which, learnt, moved the level by up to 2 dB for seconds -- so the test holds
   everywhere, not only after echo, and MOD_SNR_DB is above such a burst's 30-35 dB).
   Residual echo, comfort noise and background noise an upstream VAD takes for speech so
   teach nothing.
4. Speech level: each learning frame's power enters a ring of LEVEL_FRAMES (2 s of speech).
   The level is the P.56 active power of the ring, computed on frames: an entry is active
   when it is within 15.9 dB of the current estimate or among the P56_HANG entries after
   such an entry (P.56's 0.2 s hangover), and the estimate is the mean power of the active
   entries, iterated P56_ITERATIONS times from the plain mean.  The level is the lower of
   that and the mean of the same active entries weighting the i-th oldest entry by i (a
   linearly weighted moving average, its centroid a third of the window back instead of
   half): a power mean lags a fall more than a rise, the old loud entries dominating it, and
   the weighted one follows a fall with two thirds of the lag, while a rise (which the plain
   mean already follows quickly) is taken up as before.  On speech_like() signals this is
   within 0.3 dB of P.56 method B.  Shout guard: once the window holds GUARD_FRAMES entries,
   an entry is judged once, against the level when it arrives: more than SHOUT_SKIP_DB above
   it, it is left out: it counts as that level; more than SHOUT_CLIP_DB above it, it counts
   as SHOUT_CLIP_DB above it; a left-out entry takes with it the SHOUT_SPAN entries after
   it, whatever their power (the shout's quieter frames and its tail: leaving in those still
   under the level, the shout's pauses, and only capping the others at it biased the level
   low, by up to 2 dB a second after the shout), and the clipped entries within SHOUT_SPAN
   before it (the shout's onset).  So a short shout moves the level little (the limiter
   takes its peaks), its entries cannot ratchet the level up later, and the window keeps its
   span (dropping the entries would make it reach further back than without the shout and
   differ from the no-shout level by a dB or more for seconds; leaving them out of the mean
   in place did, too).  A lasting change needs a change detector.  It uses the same measure
   without the hangover over CHANGE_PARTS equal parts of the last r learning frames (raw
   entries, without the guard: a lasting rise must show) and over the guarded entries before
   them ("past": a shout there is no level to fall from).  When every part differs from the
   past the same way by more than the threshold and the newest part spans more than
   SPREAD_DB between its active frames (speech is modulated; stationary noise is not), the
   long window restarts from the newer half of the r frames.  Tried in order: a rise of
   BIG_RISE_DB (beyond a voice's range: an input gain change) over r = BIG_RISE_FRAMES; a
   rise of RESET_DB over r = RECENT_UP_FRAMES (longer than a 0.5 s shout); a fall of
   RESET_DB over r = RECENT_FRAMES (longer than a 0.5 s burst and its hangover: a shout in a
   pause lifts the room's noise 20 dB over its floor, where it passes as speech), only
   accepted when every part, not only the newest, spans more than SPREAD_DB (the stages
   before may hand such a burst on as a steady stretch, which then fills the older parts)
   and to a level at least RESET_MIN_SNR_DB above the noise floor of step 5.  Last, the
   trend test (an adaptive window, shortened while the level falls steadily, as a talker
   walking away): a fall of TREND_DB over r = TREND_FRAMES, with a past of at least
   TREND_PAST entries, shortens the window to its last TREND_KEEP entries, as they are
   (guarded), and the level is their P.56 power (with the hangover), under the same noise
   and modulation conditions (every part spanning more than SPREAD_DB: after a shout the
   stages before may hand on a second of its quiet, steady tail as speech 25 dB under the
   talker; taken as a fall, the level dropped there and the shout guard then left the
   talker's own next frames out as shouts, holding the gain 20 dB high for 0.8 s).  The
   window then grows back to LEVEL_FRAMES unless the fall goes on.  A 2 s
   window lags a level falling 3.3 dB/s by about 3-4 dB (about 5 dB unweighted); a shortened
   one by about half that.  Unknown (NaN) until MIN_LEVEL_FRAMES learning frames have been
   seen.
5. Desired gain in learning frames: ``target - level`` clamped to [min_gain, max_gain].
   Otherwise it is kept (frozen); after IDLE_HOLD_FRAMES of non-speech (echo-only frames
   do not count: the near end may talk under the echo) a positive desired gain decays to
   0 dB at ``idle_gain_decay_db_per_s``.  Always capped at
   ``max(noise_ceiling - noise_level, 0)`` dB so idle noise is not lifted above the ceiling;
   noise_level here is the floor of step 2 followed upwards only in observed non-speech
   frames (in a long talk spurt without pauses the minimum would climb onto the speech).
6. Applied gain moves towards the desired gain by at most
   ``max_gain_change_db_per_s / 100`` dB per frame, interpolated linearly (in amplitude)
   sample by sample across the frame, so there is no zipper noise.  It only rises in
   learning frames.
7. Limiter (no added latency, it sees the whole frame): with ``pk`` the frame's peak after
   the gain and ``c`` the ceiling (threshold x LIMIT_MARGIN), the limiter gain needed is
   ``t = min(1, c / pk)``.  If t is below the previous limiter gain it ramps linearly from
   the previous gain to t, reaching t at the first sample that needs it and holding t after;
   otherwise it releases towards t with a LIMITER_RELEASE_S time constant, ramped across
   the frame.  Every sample then satisfies ``|y| <= c``; a final clamp to +-c makes that a
   hard guarantee (c < 1, so nothing reaches full scale).

Units of the parameters: levels in dBFS, gains in dB, rates in dB per second.
Latency: 0 samples.
"""

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport exp, isfinite, log10, pow

from dataclasses import fields

import numpy as np

from callaudio.config import RANGES as _CONFIG_RANGES
from callaudio.config import GainControlConfig, validate_stage

from callaudio._dsp._typedefs cimport f32, f64

cdef extern from "ca_guard.h":
    double ca_peak_ramp(const f32* x, int n, double g0, double dg) noexcept nogil
    int ca_first_over(const f32* x, int n, double g0, double dg, double lim,
                      double clip) noexcept nogil
    void ca_apply_ramps(f32* x, int n, double g0, double dg, double l0, double dl,
                        double clip) noexcept nogil
    f32 ca_peak_ramp_f32(const f32* x, int n, f32 g0, f32 dg) noexcept nogil
    void ca_ramp_clamp_f32(f32* x, int n, f32 g0, f32 dg, f32 hi) noexcept nogil

# -- tuning constants of the algorithm (see the module docstring) ------------------------
cdef f64 FRAME_S = 0.01              # frame length, s
cdef f64 ENERGY_FLOOR = 1e-12        # added to the frame power (-120 dBFS)
cdef f64 NOISE_SMOOTH_S = 0.01       # time constant of the smoothed power, s
cdef int NOISE_SUBWINDOW = 20        # frames per minimum sub-window (0.2 s)
cdef int NOISE_SUBWINDOWS = 12       # sub-windows kept (2.4 s)
cdef int STATIONARY_SUBWINDOWS = 4   # completed sub-windows in the stationarity test
cdef f64 STATIONARY_DB = 5.0         # max/min of a stationary stretch, dB
cdef f64 NOISE_BIAS = 1.1            # minimum-to-mean correction of the noise floor
cdef f64 VAD_SNR_DB = 9.0            # frame power above the noise floor for speech, dB
cdef f64 VAD_FLOOR_DBFS = -80.0      # frames below this are never speech
cdef int HANGOVER = 15               # frames of speech kept after the last detection
cdef f64 SPEECH_PROB_THRESHOLD = 0.5
cdef int LEVEL_FRAMES = 200          # long speech-level window, speech frames (2 s)
cdef int RECENT_FRAMES = 80          # recent window for a fall (outlasts a 0.5 s burst)
cdef int TREND_FRAMES = 100          # recent window of the trend test (a steady fall)
cdef f64 TREND_DB = 3.0              # fall of every part below the past in that test, dB
cdef int TREND_PAST = 100            # entries the past needs in the trend test, speech frames
cdef int TREND_KEEP = 80             # entries the window keeps when it passes, speech frames
cdef int MIN_LEVEL_FRAMES = 10       # speech frames before the level is known
cdef int P56_ITERATIONS = 3           # fixed-point iterations of the P.56 level
cdef int P56_HANG = 20               # P.56 hangover (0.2 s), speech frames
cdef f64 P56_MARGIN = 0.025703957827688632   # 10^(-15.9/10)
cdef f64 RESET_DB = 12.0             # level change that restarts the long window, dB
cdef f64 SPREAD_DB = 6.0             # min. max/min power ratio of the recent frames, dB
cdef f64 RESET_MIN_SNR_DB = 15.0     # a level drop must stay this far above the noise, dB
cdef int RECENT_UP_FRAMES = 100      # recent window for a rise (outlasts a 0.5 s shout)
cdef f64 BIG_RISE_DB = 30.0          # a rise beyond a voice's range (input gain change), dB
cdef int BIG_RISE_FRAMES = 32        # recent window for such a rise
cdef int CHANGE_PARTS = 4            # parts of the window a change must hold in
cdef f64 LEARN_SNR_DB = 20.0         # frame power above the noise floor to learn from, dB
cdef f64 SHOUT_CLIP_DB = 10.0        # entries above the level by this count as this, dB
cdef f64 SHOUT_SKIP_DB = 14.0        # above the level by this: counts as it, dB (not +12)
cdef int MOD_FRAMES = 30             # learning candidates the modulation test spans
cdef f64 MOD_DB = 6.0                # their minimum max/min ratio, dB
cdef int MOD_MIN = 2                 # candidates needed on each side of that ratio
cdef f64 MOD_SNR_DB = 40.0           # candidates this far over the floor need no test, dB
cdef int RESTART_FRAMES = 100       # frames without observation that make a floor stale
cdef int SHOUT_SPAN = 20             # entries around a left-out one also left out
cdef int GUARD_FRAMES = 50           # speech frames in the window before the shout guard
cdef int IDLE_HOLD_FRAMES = 100      # non-speech frames before the idle decay starts
cdef f64 LIMIT_MARGIN = 0.999        # limiter ceiling below the threshold (-0.009 dB)
cdef f64 LIMITER_RELEASE_S = 0.1     # limiter release time constant, s
cdef f64 INITIAL_GAIN_DB = 0.0
# Derived once at import (linear forms of the constants above).
cdef f64 NOISE_SMOOTH = exp(-FRAME_S / NOISE_SMOOTH_S)
cdef f64 STATIONARY_RATIO = pow(10.0, STATIONARY_DB / 10.0)
cdef f64 VAD_SNR = pow(10.0, VAD_SNR_DB / 10.0)
cdef f64 VAD_FLOOR = pow(10.0, VAD_FLOOR_DBFS / 10.0)
cdef f64 RESET_MIN_SNR = pow(10.0, RESET_MIN_SNR_DB / 10.0)
cdef f64 LEARN_SNR = pow(10.0, LEARN_SNR_DB / 10.0)
cdef f64 SHOUT_CLIP = pow(10.0, SHOUT_CLIP_DB / 10.0)
cdef f64 SHOUT_SKIP = pow(10.0, SHOUT_SKIP_DB / 10.0)
cdef f64 MOD_RATIO = pow(10.0, MOD_DB / 10.0)
cdef f64 MOD_SNR = pow(10.0, MOD_SNR_DB / 10.0)
cdef f64 UNKNOWN = 1e300             # an empty minimum (no observation in its sub-window)
cdef f64 LIMITER_RELEASE = exp(-FRAME_S / LIMITER_RELEASE_S)

# Exposed for the reference implementation and the documentation.
CONSTANTS = {
    "FRAME_S": FRAME_S, "ENERGY_FLOOR": ENERGY_FLOOR, "NOISE_SMOOTH_S": NOISE_SMOOTH_S,
    "NOISE_SUBWINDOW": NOISE_SUBWINDOW, "NOISE_SUBWINDOWS": NOISE_SUBWINDOWS,
    "NOISE_BIAS": NOISE_BIAS, "STATIONARY_SUBWINDOWS": STATIONARY_SUBWINDOWS,
    "STATIONARY_DB": STATIONARY_DB, "VAD_SNR_DB": VAD_SNR_DB, "VAD_FLOOR_DBFS": VAD_FLOOR_DBFS,
    "HANGOVER": HANGOVER, "SPEECH_PROB_THRESHOLD": SPEECH_PROB_THRESHOLD,
    "LEVEL_FRAMES": LEVEL_FRAMES, "RECENT_FRAMES": RECENT_FRAMES,
    "MIN_LEVEL_FRAMES": MIN_LEVEL_FRAMES, "P56_ITERATIONS": P56_ITERATIONS, "P56_HANG": P56_HANG,
    "P56_MARGIN": P56_MARGIN, "RESET_DB": RESET_DB, "SPREAD_DB": SPREAD_DB,
    "RESET_MIN_SNR_DB": RESET_MIN_SNR_DB, "RECENT_UP_FRAMES": RECENT_UP_FRAMES,
    "BIG_RISE_DB": BIG_RISE_DB, "BIG_RISE_FRAMES": BIG_RISE_FRAMES, "CHANGE_PARTS": CHANGE_PARTS,
    "TREND_FRAMES": TREND_FRAMES, "TREND_DB": TREND_DB, "TREND_KEEP": TREND_KEEP,
    "TREND_PAST": TREND_PAST,
    "LEARN_SNR_DB": LEARN_SNR_DB,
    "SHOUT_CLIP_DB": SHOUT_CLIP_DB, "SHOUT_SKIP_DB": SHOUT_SKIP_DB, "GUARD_FRAMES": GUARD_FRAMES,
    "SHOUT_SPAN": SHOUT_SPAN,
    "RESTART_FRAMES": RESTART_FRAMES,
    "MOD_FRAMES": MOD_FRAMES, "MOD_DB": MOD_DB,
    "MOD_MIN": MOD_MIN, "MOD_SNR_DB": MOD_SNR_DB,
    "IDLE_HOLD_FRAMES": IDLE_HOLD_FRAMES, "LIMIT_MARGIN": LIMIT_MARGIN,
    "LIMITER_RELEASE_S": LIMITER_RELEASE_S, "INITIAL_GAIN_DB": INITIAL_GAIN_DB,
}

# The constructor keywords: name -> (low, high, default), inclusive; the ranges are
# callaudio.config.RANGES (written there once), the defaults GainControlConfig's.
RANGES = {
    f.name: (*_CONFIG_RANGES["gain_control"][f.name][:2], f.default)
    for f in fields(GainControlConfig) if f.name in _CONFIG_RANGES["gain_control"]
}


# -- kernels --------------------------------------------------------------------------

@cython.boundscheck(False)   # kernel: indices < n by construction
@cython.wraparound(False)
cdef inline f64 mean_square(const f32* x, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef f64 acc = 0.0, v
    for i in range(n):
        v = x[i]
        acc += v * v
    return acc / n


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(True)
cdef inline void mean_square2(const f32* x, const f32* y, Py_ssize_t n,
                              f64* ex, f64* ey) noexcept nogil:
    """mean_square of two frames in one pass (each sum in the same order: the same bits)."""
    cdef Py_ssize_t i = 0
    cdef f64 ax = 0.0, ay = 0.0, u, v
    cdef int j
    while i + 4 <= n:
        for j in range(4):      # unrolled by the compiler (a constant trip count)
            u = x[i + j]
            v = y[i + j]
            ax += u * u
            ay += v * v
        i += 4
    while i < n:
        u = x[i]
        v = y[i]
        ax += u * u
        ay += v * v
        i += 1
    ex[0] = ax / n
    ey[0] = ay / n


@cython.boundscheck(False)   # kernel: ring indices are reduced modulo size
@cython.wraparound(False)
@cython.cdivision(True)      # count >= 1 and size >= 1 are guaranteed by the caller
cdef f64 p56_active_power(const f64* ring, int size, int head, int count, int hang,
                          f64* spread, bint recent=False) noexcept nogil:
    """P.56 active power of the last ``count`` entries written before ``head``.

    Activity: an entry within P56_MARGIN of the current estimate, or one of the ``hang``
    entries after such an entry (P.56's 0.2 s hangover, counted in speech frames).
    ``spread`` (or NULL): the max/min ratio of the entries above the final threshold.
    ``recent``: step 4's level instead -- the lower of that power and the mean of the same
    active entries weighting the i-th oldest entry by i (i = 1..count).
    Returns 0 for no entries.
    """
    cdef int k, m, h, c, _it, part, n1, b, start = head - count
    cdef const f64* p
    cdef f64 s = 0.0, v, w, mean, thr, hi = 0.0, lo = 1e300   # set again in every iteration
    cdef f64 sw = 0.0, wsum = 1.0
    start = start % size
    if start < 0:
        start += size
    # The entries are ring[start:start + n1] then ring[0:count - n1] (oldest first).
    n1 = count if count < size - start else size - start
    c = 0
    for part in range(2):
        p = ring + start if part == 0 else ring
        m = n1 if part == 0 else count - n1
        for k in range(m):
            v = p[k]
            s += v
            c += 1
    if c == 0:
        if spread != NULL:
            spread[0] = 1.0
        return 0.0
    mean = s / c
    for _it in range(P56_ITERATIONS):
        thr = mean * P56_MARGIN
        s = 0.0
        c = 0
        h = 0
        hi = 0.0
        lo = 1e300
        sw = 0.0
        wsum = 0.0
        for part in range(2):
            p = ring + start if part == 0 else ring
            m = n1 if part == 0 else count - n1
            b = 1 if part == 0 else n1 + 1    # the weight of p[0]: its age rank
            for k in range(m):
                v = p[k]
                if v >= thr:
                    h = hang + 1
                    if v > hi:
                        hi = v
                    if v < lo:
                        lo = v
                if h > 0:
                    s += v
                    c += 1
                    if recent:
                        w = <f64>(b + k)
                        sw += w * v
                        wsum += w
                    h -= 1
        mean = s / c     # c >= 1: the maximum is >= mean >= thr
    if spread != NULL:
        spread[0] = hi / lo
    if recent:
        sw /= wsum
        return sw if sw < mean else mean
    return mean


@cython.boundscheck(False)   # kernel: i < n
@cython.wraparound(False)
@cython.cdivision(True)
cdef void apply_gain_limiter(f32* x, Py_ssize_t n, f64 g0, f64 g1, f64* lim_state,
                             f64 clip, f64 release) noexcept nogil:
    """Gain ramp g0 -> g1 across the frame, then the zero-latency limiter (step 7)."""
    cdef f64 dg = (g1 - g0) / n
    cdef f64 lim0 = lim_state[0]
    cdef f64 target = limiter_target(ca_peak_ramp(x, <int>n, g0, dg), clip)
    cdef Py_ssize_t first = -1
    if target < lim0:
        first = ca_first_over(x, <int>n, g0, dg, lim0, clip)
    lim_state[0] = limiter_apply(x, n, g0, dg, lim0, target, first, clip, release)


cdef inline f64 limiter_target(f64 pk, f64 clip) noexcept nogil:
    """The limiter's gain a frame of gained peak ``pk`` allows."""
    return 1.0 if pk <= clip else clip / pk


@cython.boundscheck(False)   # kernel: i < n
@cython.wraparound(False)
@cython.cdivision(True)
cdef f64 limiter_apply(f32* x, Py_ssize_t n, f64 g0, f64 dg, f64 lim0, f64 target,
                       Py_ssize_t first, f64 clip, f64 release) noexcept nogil:
    """Apply the gain ramp g0 + dg (i + 1) and the limiter that ``target`` (the gain the
    frame's peak allows; linked channels: every channel's peak) calls for; ``first``: the
    first sample over the ceiling at ``lim0`` (only read when attacking; linked channels:
    the earliest over all of them).  Returns the limiter's gain at the frame's end."""
    cdef Py_ssize_t i
    cdef f64 lim1, dl, y, lim
    if target < lim0:
        # Attack: reach the target at the first sample that needs it, hold it after.
        lim1 = target
        dl = (target - lim0) / (first + 1)
        for i in range(n):
            lim = lim0 + dl * (i + 1) if i < first else target
            y = x[i] * (g0 + dg * (i + 1)) * lim
            x[i] = <f32>(clip if y > clip else (-clip if y < -clip else y))
    else:
        # Release towards the target (<= the gain every sample of this frame allows).
        lim1 = target + (lim0 - target) * release
        if lim1 > 1.0 - 1e-9:
            lim1 = 1.0
        dl = (lim1 - lim0) / n
        ca_apply_ramps(x, <int>n, g0, dg, lim0, dl, clip)
    return lim1


cdef inline f64 db_to_amp(f64 db) noexcept nogil:
    return pow(10.0, db / 20.0)


cdef inline f64 power_to_db(f64 p) noexcept nogil:
    return 10.0 * log10(p)


cdef class GainControl:
    """Automatic gain control for one channel of 10 ms frames (see the module docstring).

    Parameters
    ----------
    sample_rate : int
        8000, 16000, 32000 or 48000 Hz; a frame is ``sample_rate // 100`` samples.
    target_level_dbfs : float, default -18.0
        Active speech level aimed at, dBFS (-40..-3).
    max_gain_db : float, default 40.0
        Largest gain ever applied, dB (0..50).
    min_gain_db : float, default -20.0
        Smallest gain (largest attenuation) applied by the level control, dB (-50..0).
    max_gain_change_db_per_s : float, default 30.0
        Slew limit of the gain, dB per second (1..100).
    noise_ceiling_dbfs : float, default -50.0
        The gain is capped so the estimated noise floor is not lifted above this level,
        dBFS (-90..-20); the cap never forces a gain below 0 dB.
    idle_gain_decay_db_per_s : float, default 6.0
        After 1 s without speech a positive gain decays towards 0 dB at this rate,
        dB per second (0..20; 0 freezes the gain).
    limiter_threshold_dbfs : float, default -1.0
        Peak ceiling of the output, dBFS (-20..-0.1); no output sample reaches it.

    Raises
    ------
    ConfigError
        If a parameter is outside its range (:data:`callaudio.config.RANGES`; the message
        names it).
    """

    def __cinit__(self, int sample_rate, double target_level_dbfs=-18.0,
                  double max_gain_db=40.0, double min_gain_db=-20.0,
                  double max_gain_change_db_per_s=30.0, double noise_ceiling_dbfs=-50.0,
                  double idle_gain_decay_db_per_s=6.0, double limiter_threshold_dbfs=-1.0):
        validate_stage("gain_control", sample_rate, target_level_dbfs=target_level_dbfs,
                       max_gain_db=max_gain_db, min_gain_db=min_gain_db,
                       max_gain_change_db_per_s=max_gain_change_db_per_s,
                       noise_ceiling_dbfs=noise_ceiling_dbfs,
                       idle_gain_decay_db_per_s=idle_gain_decay_db_per_s,
                       limiter_threshold_dbfs=limiter_threshold_dbfs)
        self.sample_rate = sample_rate
        self.frame_size = sample_rate // 100
        self.target_level_dbfs = target_level_dbfs
        self.max_gain_db = max_gain_db
        self.min_gain_db = min_gain_db
        self.max_gain_change_db_per_s = max_gain_change_db_per_s
        self.noise_ceiling_dbfs = noise_ceiling_dbfs
        self.idle_gain_decay_db_per_s = idle_gain_decay_db_per_s
        self.limiter_threshold_dbfs = limiter_threshold_dbfs
        self.latency_samples = 0
        self._clip = db_to_amp(limiter_threshold_dbfs) * LIMIT_MARGIN
        self._step_db = max_gain_change_db_per_s * FRAME_S
        self._idle_step_db = idle_gain_decay_db_per_s * FRAME_S
        self._mins = <f64*>PyMem_Malloc(NOISE_SUBWINDOWS * sizeof(f64))
        self._maxs = <f64*>PyMem_Malloc(NOISE_SUBWINDOWS * sizeof(f64))
        self._ring = <f64*>PyMem_Malloc(LEVEL_FRAMES * sizeof(f64))
        self._guarded = <f64*>PyMem_Malloc(LEVEL_FRAMES * sizeof(f64))
        self._mod = <f64*>PyMem_Malloc(MOD_FRAMES * sizeof(f64))
        if self._mins == NULL or self._maxs == NULL or self._ring == NULL or self._mod == NULL \
                or self._guarded == NULL:
            raise MemoryError()
        self.reset()

    def __dealloc__(self):
        PyMem_Free(self._mins)
        PyMem_Free(self._maxs)
        PyMem_Free(self._ring)
        PyMem_Free(self._mod)
        PyMem_Free(self._guarded)

    cpdef void reset(self):
        """Forget everything learnt (noise floor, speech level, gain): as constructed."""
        with nogil:
            self.reset_c()

    cdef void reset_c(self) noexcept nogil:
        cdef int k
        for k in range(NOISE_SUBWINDOWS):
            self._mins[k] = UNKNOWN
            self._maxs[k] = 0.0
        for k in range(LEVEL_FRAMES):
            self._ring[k] = 0.0
            self._guarded[k] = 0.0
        self._smoothed = 0.0
        self._sub_min = UNKNOWN
        self._sub_max = 0.0
        self._sub_count = 0
        self._sub_head = 0
        self._noise = ENERGY_FLOOR
        self._noise_held = ENERGY_FLOOR
        self._started = False
        self._hang = 0
        self._idle = 0
        self._speech = False
        self._learn = False
        self._learn_hang = 0
        self._shout_hold = 0
        self._unobserved = 0
        self._mod_head = 0
        self._mod_count = 0
        self._ring_head = 0
        self._ring_count = 0
        self._level = 0.0
        self._desired_db = INITIAL_GAIN_DB
        self._gain_db = INITIAL_GAIN_DB
        self._gain = db_to_amp(INITIAL_GAIN_DB)
        self._lim = 1.0

    # -- the per-frame kernel ------------------------------------------------------------

    cdef void _restart_floor(self) noexcept nogil:
        """Forget the minimum statistics: the next observation starts the floor."""
        cdef int k
        for k in range(NOISE_SUBWINDOWS):
            self._mins[k] = UNKNOWN
            self._maxs[k] = 0.0
        self._sub_min = UNKNOWN
        self._sub_max = 0.0
        self._sub_count = 0
        self._started = False

    @cython.boundscheck(False)   # sub-window indices are kept in range explicitly
    @cython.wraparound(False)
    cdef bint _update_floor(self, f64 e, bint observe) noexcept nogil:
        """Step 2: smoothing, sub-window minima, stationarity shortcut, floor.

        ``observe``: the frame is a noise observation; otherwise nothing changes.
        Returns False until the first observation (the floor is unknown).
        """
        cdef int k
        cdef f64 m, lo, hi
        if not observe:
            return self._started
        if not self._started:
            self._smoothed = e
            self._started = True
        else:
            self._smoothed = NOISE_SMOOTH * self._smoothed + (1.0 - NOISE_SMOOTH) * e
        if self._smoothed < self._sub_min:
            self._sub_min = self._smoothed
        if self._smoothed > self._sub_max:
            self._sub_max = self._smoothed
        self._sub_count += 1
        m = self._sub_min
        for k in range(NOISE_SUBWINDOWS):
            if self._mins[k] < m:
                m = self._mins[k]
        # Stationarity: over the running sub-window and the STATIONARY_SUBWINDOWS before
        # it the smoothed power stayed within STATIONARY_DB: that is noise, however loud,
        # so the floor follows it now instead of after the whole minimum window.
        lo = self._sub_min
        hi = self._sub_max
        k = self._sub_head
        for _ in range(STATIONARY_SUBWINDOWS):
            k = k - 1 if k > 0 else NOISE_SUBWINDOWS - 1
            if self._mins[k] < lo:
                lo = self._mins[k]
            if self._maxs[k] > hi:
                hi = self._maxs[k]
        if hi < lo * STATIONARY_RATIO:
            m = lo
        if self._sub_count == NOISE_SUBWINDOW:
            self._mins[self._sub_head] = self._sub_min
            self._maxs[self._sub_head] = self._sub_max
            self._sub_head = (self._sub_head + 1) % NOISE_SUBWINDOWS
            self._sub_min = UNKNOWN
            self._sub_max = 0.0
            self._sub_count = 0
        self._noise = m * NOISE_BIAS
        return True

    @cython.boundscheck(False)   # ring/min indices are kept in range explicitly
    @cython.wraparound(False)
    @cython.cdivision(True)
    cdef void process_c(self, f32* x, Py_ssize_t n, f32 speech_prob,
                        bint echo_only, bint echo_shaped) noexcept nogil:
        cdef Py_ssize_t i
        cdef f64 e, g1
        e = mean_square(x, n)
        if not isfinite(e):
            for i in range(n):
                x[i] = 0.0
            return
        g1 = self.level_c(e, speech_prob, echo_only, echo_shaped)
        apply_gain_limiter(x, n, self._gain, g1, &self._lim, self._clip, LIMITER_RELEASE)
        self._gain = g1

    @cython.boundscheck(False)
    @cython.wraparound(False)
    @cython.cdivision(True)
    cdef void process_linked_c(self, f32** xs, int nch, Py_ssize_t n, f32 speech_prob,
                               bint echo_only, bint echo_shaped) noexcept nogil:
        """Linked channels: one gain for the ``nch`` frames ``xs`` (each n samples, in
        place), from the loudest one's level (the talker's nearest microphone sets it,
        the others keep their level below it), and one limiter over all their peaks. A
        non-finite frame is zeroed and left out."""
        cdef Py_ssize_t i, first = -1, f
        cdef int c
        cdef f64 e = -1.0, ec, g1, pk = 0.0, p, dg, target, lim0
        cdef f32 g0f, dgf, pkf
        cdef f64 ms[2]
        if nch == 2:
            mean_square2(xs[0], xs[1], n, &ms[0], &ms[1])
        for c in range(nch):
            ec = ms[c] if nch == 2 else mean_square(xs[c], n)
            if not isfinite(ec):
                for i in range(n):
                    xs[c][i] = 0.0
            elif ec > e:
                e = ec
        if e < 0.0:
            return
        g1 = self.level_c(e, speech_prob, echo_only, echo_shaped)
        # the usual frame: the gained peaks stay under the ceiling and the limiter is idle,
        # so the frame is only the gain ramp (float32, one vectorisable pass per channel)
        g0f = <f32>self._gain
        dgf = <f32>((g1 - self._gain) / n)
        for c in range(nch):
            pkf = ca_peak_ramp_f32(xs[c], <int>n, g0f, dgf)
            if pkf > pk:
                pk = pkf
        if self._lim >= 1.0 and pk * 1.0001 < self._clip:
            for c in range(nch):
                ca_ramp_clamp_f32(xs[c], <int>n, g0f, dgf, <f32>self._clip)
            self._gain = g1
            return
        # one limiter over every channel's peak; it attacks from the earliest sample over
        dg = (g1 - self._gain) / n
        pk = 0.0
        for c in range(nch):
            p = ca_peak_ramp(xs[c], <int>n, self._gain, dg)
            if p > pk:
                pk = p
        target = limiter_target(pk, self._clip)
        lim0 = self._lim
        if target < lim0:
            for c in range(nch):
                f = ca_first_over(xs[c], <int>n, self._gain, dg, lim0, self._clip)
                if f >= 0 and (first < 0 or f < first):
                    first = f
        for c in range(nch):
            self._lim = limiter_apply(xs[c], n, self._gain, dg, lim0, target, first,
                                      self._clip, LIMITER_RELEASE)
        self._gain = g1

    cdef void follow_c(self, GainControl leader) noexcept nogil:
        """Linked channels: take the leader's gain and limiter state (what a band-split
        chain applies to its upper bands)."""
        self._gain = leader._gain
        self._lim = leader._lim

    @cython.boundscheck(False)   # ring/min indices are kept in range explicitly
    @cython.wraparound(False)
    @cython.cdivision(True)
    cdef f64 level_c(self, f64 e, f32 speech_prob, bint echo_only,
                     bint echo_shaped) noexcept nogil:
        """Steps 2-6 on a frame of (finite) mean square ``e``: returns the gain at the
        frame's end (linear; the limiter not included)."""
        cdef Py_ssize_t i
        cdef int k
        cdef f64 cap, d, lv
        cdef bint speech, learn, floor_known, observe, strong
        e += ENERGY_FLOOR
        # 2. noise floor: minimum statistics of the smoothed frame power.  An echo-only
        # frame's level is the echo suppressor's doing, and so is an echo-shaped one's
        # (the canceller took a large part of it, whatever its talk decision): neither is
        # a noise observation.
        observe = not echo_only and not echo_shaped
        # (nothing learnt yet: a floor from before a long stretch of echo is stale)
        if observe:
            if self._unobserved >= RESTART_FRAMES and self._ring_count == 0:
                self._restart_floor()
            self._unobserved = 0
        elif self._unobserved < RESTART_FRAMES:
            self._unobserved += 1
        floor_known = self._update_floor(e, observe)
        # 3. voice activity
        if echo_only:
            # Residual echo (or near-end noise the suppressor shaped): never a talker.
            speech = False
            self._hang = 0
        elif speech_prob >= 0.0:
            # An upstream VAD decides, but nothing below the absolute floor is a talker.
            speech = speech_prob >= SPEECH_PROB_THRESHOLD and e > VAD_FLOOR
        else:
            if floor_known and e > self._noise * VAD_SNR and e > VAD_FLOOR:
                self._hang = HANGOVER
                speech = True
            elif self._hang > 0:
                self._hang -= 1
                speech = True
            else:
                speech = False
        self._speech = speech
        # Only a near-end talker well above the tracked floor teaches the level and may
        # raise the gain.
        # (held HANGOVER frames, as the VAD, so the level keeps the P.56 hangover frames)
        # Speech less than MOD_SNR_DB over the floor must also be modulated (MOD_DB over
        # the last MOD_FRAMES such frames): what an upstream VAD calls speech may be steady
        # noise (passed on over a floor the echo suppressor pushed down, or a burst).
        learn = False
        if speech and floor_known:
            strong = e > self._noise * LEARN_SNR
            if strong:
                self._mod[self._mod_head] = e
                self._mod_head = (self._mod_head + 1) % MOD_FRAMES
                if self._mod_count < MOD_FRAMES:
                    self._mod_count += 1
                strong = e > self._noise * MOD_SNR or self._modulated()
            if strong:
                self._learn_hang = HANGOVER
                learn = True
            elif self._learn_hang > 0:
                self._learn_hang -= 1
                learn = True
        else:
            self._learn_hang = 0
        self._learn = learn
        # Within a talk spurt the minimum can climb onto the speech itself (no pause in the
        # window); the noise cap uses an estimate that only rises in non-speech frames.
        if observe and floor_known and (not speech or self._noise < self._noise_held):
            self._noise_held = self._noise

        # 4. speech level
        if learn:
            self._idle = 0
            # shout guard: the entry is judged once, against the level when it came
            # (a shout's quieter frames go with it: the SHOUT_SPAN entries after a left-out
            # one count as the level too, whatever their power, and so do the clipped ones
            # among the SHOUT_SPAN before it)
            lv = e
            if self._ring_count >= GUARD_FRAMES:
                if e > self._level * SHOUT_SKIP:
                    lv = self._level
                    self._shout_hold = SHOUT_SPAN
                    for k in range(1, SHOUT_SPAN + 1):
                        i = (self._ring_head - k + LEVEL_FRAMES) % LEVEL_FRAMES
                        if k < self._ring_count and self._ring[i] > self._level * SHOUT_CLIP:
                            self._guarded[i] = self._level
                elif self._shout_hold > 0:
                    lv = self._level
                elif e > self._level * SHOUT_CLIP:
                    lv = self._level * SHOUT_CLIP
            if self._shout_hold > 0:
                self._shout_hold -= 1
            self._ring[self._ring_head] = e
            self._guarded[self._ring_head] = lv
            self._ring_head = (self._ring_head + 1) % LEVEL_FRAMES
            if self._ring_count < LEVEL_FRAMES:
                self._ring_count += 1
            if self._ring_count >= MIN_LEVEL_FRAMES:
                # the lower of the plain and the recency-weighted active power (a fall
                # is followed sooner; a rise as before)
                lv = p56_active_power(self._guarded, LEVEL_FRAMES, self._ring_head,
                                      self._ring_count, P56_HANG, NULL, True)
                if lv > 0.0:
                    self._level = lv
                self._check_change()
        elif not speech and not echo_only:
            # (echo-only frames are no idle time: the near end may talk under the echo)
            self._idle += 1

        # 5. desired gain
        if learn and self._level > 0.0:
            d = self.target_level_dbfs - power_to_db(self._level)
            if d > self.max_gain_db:
                d = self.max_gain_db
            if d < self.min_gain_db:
                d = self.min_gain_db
            self._desired_db = d
        elif not speech and self._idle > IDLE_HOLD_FRAMES and self._desired_db > 0.0:
            self._desired_db -= self._idle_step_db
            if self._desired_db < 0.0:
                self._desired_db = 0.0
        cap = self.noise_ceiling_dbfs - power_to_db(self._noise_held)
        if cap < 0.0:
            cap = 0.0
        if self._desired_db > cap:
            self._desired_db = cap

        # 6. slew-limited gain, 7. limiter (both applied sample by sample).  The gain only
        # rises in frames that teach the level: otherwise it is frozen or falls.
        d = self._desired_db - self._gain_db
        if d > self._step_db:
            d = self._step_db
        elif d < -self._step_db:
            d = -self._step_db
        if d > 0.0 and not learn:
            d = 0.0
        self._gain_db += d
        return db_to_amp(self._gain_db)

    @cython.boundscheck(False)   # k < _mod_count <= MOD_FRAMES
    @cython.wraparound(False)
    cdef bint _modulated(self) noexcept nogil:
        """The last MOD_FRAMES learning candidates span more than MOD_DB, with at least
        MOD_MIN of them above the quietest by that much and MOD_MIN below the loudest (a
        lone burst in steady noise is no modulation)."""
        cdef int k, above = 0, below = 0
        cdef f64 hi = 0.0, lo = UNKNOWN
        for k in range(self._mod_count):
            if self._mod[k] > hi:
                hi = self._mod[k]
            if self._mod[k] < lo:
                lo = self._mod[k]
        for k in range(self._mod_count):
            if self._mod[k] > lo * MOD_RATIO:
                above += 1
            if self._mod[k] * MOD_RATIO < hi:
                below += 1
        return above >= MOD_MIN and below >= MOD_MIN

    @cython.cdivision(True)
    cdef void _check_change(self) noexcept nogil:
        """Step 4's change detector: restart the long window on a sustained level change."""
        cdef f64 newer, past, spread, thr, part
        cdef int r, q, parts, k, j
        cdef bint up, ok
        # In this order: a rise beyond a voice's range, a rise outlasting a shout, a fall,
        # a steady fall (the window shortens).
        for k in range(4):
            r = BIG_RISE_FRAMES if k == 0 else (RECENT_UP_FRAMES if k == 1 else (
                RECENT_FRAMES if k == 2 else TREND_FRAMES))
            thr = BIG_RISE_DB if k == 0 else (RESET_DB if k < 3 else TREND_DB)
            up = k < 2
            parts = CHANGE_PARTS
            if self._ring_count <= r or (k == 3 and self._ring_count < r + TREND_PAST):
                continue
            q = r // parts
            past = p56_active_power(self._guarded, LEVEL_FRAMES, self._ring_head - r,
                                    self._ring_count - r, 0, NULL)
            newer = p56_active_power(self._ring, LEVEL_FRAMES, self._ring_head, q, 0,
                                     &spread)
            ok = power_to_db(spread) > SPREAD_DB
            # every part of the recent window differs from the past the same way
            j = 0
            while ok and j < parts:
                part = newer if j == 0 else p56_active_power(
                    self._ring, LEVEL_FRAMES, self._ring_head - j * q, q, 0, &spread)
                ok = power_to_db(part / past) > thr if up else power_to_db(part / past) < -thr
                # a fall (a restart or the trend test): every part modulated (a steady
                # stretch is noise, as a shout in a pause the stages before hand on as
                # steady noise, or the quiet tail they leave after a shout)
                if ok and k >= 2:
                    ok = power_to_db(spread) > SPREAD_DB
                j += 1
            if not ok:
                continue
            if k == 3:
                # a steady fall (a talker walking away): keep only the recent entries
                newer = p56_active_power(self._guarded, LEVEL_FRAMES, self._ring_head,
                                         TREND_KEEP, P56_HANG, NULL)
                if newer > self._noise_held * RESET_MIN_SNR:
                    self._ring_count = TREND_KEEP
                    self._level = newer
                return
            # restart from the newer half of the recent window: only frames after the change
            newer = p56_active_power(self._ring, LEVEL_FRAMES, self._ring_head, r // 2, 0,
                                     NULL)
            if up or newer > self._noise_held * RESET_MIN_SNR:
                self._ring_count = r // 2
                self._level = newer
                for j in range(r // 2):
                    q = (self._ring_head - 1 - j + LEVEL_FRAMES) % LEVEL_FRAMES
                    self._guarded[q] = self._ring[q]
                return

    # -- Python-facing ---------------------------------------------------------------------

    def process(self, frame, double speech_prob=-1.0, bint echo_only=False,
                bint echo_shaped=False):
        """Process one 10 ms frame and return the result as a new array.

        Parameters
        ----------
        frame : numpy.ndarray
            1-D float32, exactly ``frame_size`` samples; it is not modified.
        speech_prob : float, default -1.0
            Speech probability in [0, 1] from an upstream VAD, or negative for the
            built-in VAD.
        echo_only : bool, default False
            The frame holds only what an echo suppressor left of echo and near-end noise
            (``EchoCanceller.echo_only``): it is not speech, and its level says nothing of
            the near end's noise, so neither the speech level nor the noise floor learns
            from it (the gain is kept, or decays when idle).
        echo_shaped : bool, default False
            An echo canceller removed a large part of the frame (the chain: more than
            half its power): its level is no observation of the near end's noise, so the
            noise floor does not learn from it (it may still be speech).

        Returns
        -------
        numpy.ndarray
            The processed frame, float32.
        """
        arr = np.asarray(frame)
        if arr.dtype != np.float32:
            raise TypeError(f"frame must be float32, got {arr.dtype}")
        if arr.ndim != 1 or arr.shape[0] != self.frame_size:
            raise ValueError(
                f"frame must be 1-D with {self.frame_size} samples "
                f"(10 ms at {self.sample_rate} Hz), got shape {arr.shape}")
        if speech_prob > 1.0:
            raise ValueError(f"speech_prob must be <= 1 (or negative), got {speech_prob}")
        out = np.array(arr, dtype=np.float32, order="C", copy=True)
        cdef f32[::1] view = out
        with nogil:
            self.process_c(&view[0], self.frame_size, <f32>speech_prob, echo_only,
                           echo_shaped)
        return out

    def process_signal(self, x, double speech_prob=-1.0, bint echo_only=False,
                       bint echo_shaped=False):
        """Process consecutive 10 ms frames of a signal in one call (offline use, benches).

        Parameters
        ----------
        x : numpy.ndarray
            1-D float32 whose length is a multiple of ``frame_size``; not modified.
        speech_prob : float, default -1.0
            Applied to every frame (see :meth:`process`).
        echo_only : bool, default False
            Applied to every frame (see :meth:`process`).
        echo_shaped : bool, default False
            Applied to every frame (see :meth:`process`).

        Returns
        -------
        numpy.ndarray
            The processed signal, float32, same length.
        """
        arr = np.asarray(x)
        if arr.dtype != np.float32:
            raise TypeError(f"x must be float32, got {arr.dtype}")
        if arr.ndim != 1 or arr.shape[0] % self.frame_size:
            raise ValueError(
                f"x must be 1-D with a multiple of {self.frame_size} samples, "
                f"got shape {arr.shape}")
        if speech_prob > 1.0:
            raise ValueError(f"speech_prob must be <= 1 (or negative), got {speech_prob}")
        out = np.array(arr, dtype=np.float32, order="C", copy=True)
        cdef f32[::1] view = out
        cdef Py_ssize_t k, n = self.frame_size, frames = out.shape[0] // self.frame_size
        if frames:
            with nogil:
                for k in range(frames):
                    self.process_c(&view[k * n], n, <f32>speech_prob, echo_only,
                                   echo_shaped)
        return out

    @property
    def speech_level_dbfs(self):
        """Estimated active speech level of the input, dBFS (NaN until known)."""
        return power_to_db(self._level) if self._level > 0.0 else float("nan")

    @property
    def learning(self):
        """The last frame taught the speech level (near-end speech well above the noise
        floor, not echo only): only such frames may raise the gain."""
        return bool(self._learn)

    @property
    def gain_db(self):
        """Gain applied at the end of the last frame (before the limiter), dB."""
        return self._gain_db

    @property
    def speech(self):
        """Voice-activity decision for the last frame."""
        return bool(self._speech)

    @property
    def noise_level_dbfs(self):
        """Estimated noise floor of the input, dBFS (-120 until a non-speech frame).

        The minimum-statistics floor, followed upwards only in non-speech frames (the
        value the noise cap uses).
        """
        return power_to_db(self._noise_held)

    @property
    def limiter_gain_db(self):
        """Limiter gain at the end of the last frame, dB (0 when not limiting)."""
        return 20.0 * log10(self._lim)

    def __repr__(self):
        return (f"GainControl(sample_rate={self.sample_rate}, "
                f"target_level_dbfs={self.target_level_dbfs!r}, "
                f"max_gain_db={self.max_gain_db!r}, min_gain_db={self.min_gain_db!r}, "
                f"max_gain_change_db_per_s={self.max_gain_change_db_per_s!r}, "
                f"noise_ceiling_dbfs={self.noise_ceiling_dbfs!r}, "
                f"idle_gain_decay_db_per_s={self.idle_gain_decay_db_per_s!r}, "
                f"limiter_threshold_dbfs={self.limiter_threshold_dbfs!r})")
