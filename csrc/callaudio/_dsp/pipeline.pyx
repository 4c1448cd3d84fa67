# cython: language_level=3
"""One channel's voice-processing chain: the stage order is written once, here.

    render path:  far frame -> [downmix] -> echo canceller's render buffer
    capture path: mic frame -> input guard -> high-pass -> echo canceller
                  -> noise suppressor -> gain control -> output guard

One analysis, one synthesis: when the echo canceller and the noise suppressor both run,
the canceller's error is framed in the noise suppressor's 5 ms hops; each hop gets the
echo suppressor's gain and comfort noise, then the noise suppressor's gain, and one
synthesis applies both (``shared_analysis``; ns.pyx, item 1): one delay, not two, with
the longest cross-fade that keeps the whole chain within 5 ms (``_shared_delay``: 5 ms
at 8/16 kHz, 4 ms on the split band at 32/48 kHz, 3.3 ms at 44.1 kHz).

At 32 and 48 kHz the stages run on the 0-8 kHz band at 16 kHz (split-band processing,
as WebRTC's APM does): ``bands.FilterBank`` splits the capture frame into 16 kHz bands,
the high-pass, echo canceller, noise suppressor and gain control process band 0, and the
bands above get the gains derived from it -- the echo suppressor's and the noise
suppressor's gain over 4-8 kHz (``upper_band_gain``) and the gain control's broadband
gain, ramped across the frame -- delayed by the stages' latency, before the synthesis.
The far frame's band 0 feeds the echo canceller. ``split_bands=False`` runs the stages on
the full band instead.

At 44.1 kHz the stages run at 48 kHz: the 441-sample frame is resampled to 480 samples
before the stages and back after them (``resample.Resampler``, polyphase, history kept in
state), and the far frame likewise before the echo canceller. The two resamplers' delays
are chosen so that the whole chain delays by a whole number of 44.1 kHz samples
(``latency_samples``). A chain with no stage resamples nothing and splits nothing.

Linked channels (``Chain.link``, what ``VoiceProcessor(channels>1)`` builds by default): the
chain of channel 0 runs all channels of a frame in one call (``capture_linked_c``). Each
channel keeps its own input guard, resampler, band split, high-pass and adaptive echo filter
(each microphone has its own echo path) and its own synthesis; the gains are estimated once
for all channels, on their mean powers per bin (the residual-echo suppressor, per frame, and
the noise suppressor, per hop: ``EchoCanceller.suppress_linked_c``), and the gain control's
on the loudest channel's level with one limiter over every channel's peaks
(``GainControl.process_linked_c``). One real gain per bin for all channels keeps their level
and phase differences (WebRTC AEC3 computes one suppression gain for all capture channels;
binaural noise reduction applies a common gain to keep the interaural cues). The mean, not
the maximum, is the combined statistic: the noise model and the speech presence see a
lower-variance periodogram, and an echo or noise on one microphone still raises it in its
bins (by 10 log10(channels) dB less than on that channel); the maximum would bias the noise
estimate up (the larger of two periodograms) and let one noisy microphone set the noise
floor of all.

The chain owns one instance of every enabled stage and two scratch frames, all allocated
in ``__cinit__``; ``render_c`` and ``capture_c`` run without the GIL and allocate nothing.
Validation happens once, in the Python-facing ``render``/``capture`` methods (and above
them in :class:`callaudio.VoiceProcessor`); the ``_c`` methods never re-check.

Input guard: non-finite samples (NaN, +-Inf) are replaced by 0 and finite samples are
clamped to +-``CA_INPUT_CLAMP`` (``_typedefs.pxd``: 24 dB above full scale, the one clamp
limit of the core), so no stage ever sees a value that
could overflow its power estimates. The frame is counted in ``nonfinite_frames``.
Output guard: if a stage ever produced a non-finite sample anyway, the frame is zeroed
and ``capture_c`` returns ``ERR_NONFINITE``; ``capture``/``process_block`` then reset the
chain in place (``reset_c``: no allocation, no stage object replaced).

Threads: every Python entry point takes its path's lock (``PathState``) without the GIL
before it touches state: ``capture``, ``reset``, ``reset_echo_path`` and ``locked`` the
capture lock, ``render`` the render lock, ``process_block`` both (capture first, always);
``FrameEntry`` (VoiceProcessor's one compiled call per frame) takes them as ``capture``,
``render`` and ``render_shared`` do.
So ``render`` and ``capture`` may run on two threads at once (the echo canceller's render
queue has a lock of its own), and calls on one path from several threads are serialised.
Several chains' locks at once (``link``, the linked captures, ``render_shared``) go through
``_lock_states``: the first waited for, the others only tried, all given back when one is
busy, so no thread waits while it holds one. A claim (``Chain.claim``) is the state's.
"""

cimport cython
cimport numpy as cnp
from libc.math cimport exp, isfinite, sqrt
from libc.stdint cimport int16_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memmove, memset
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_New
from cpython.pythread cimport (
    NOWAIT_LOCK, WAIT_LOCK, PyThread_acquire_lock, PyThread_allocate_lock, PyThread_free_lock,
    PyThread_release_lock, PyThread_type_lock,
)

from callaudio._dsp._typedefs cimport (
    CA_INPUT_CLAMP, ERR_NONFINITE, OK, RATE_16K, RATE_44K1, RATE_44K1_INTERNAL, f32, f64,
)
from callaudio._dsp.aec cimport EchoCanceller
from callaudio._dsp.bands cimport FilterBank
from callaudio._dsp.agc cimport GainControl
from callaudio._dsp.hpf cimport HighPass
from callaudio._dsp.ns cimport NoiseSuppressor
from callaudio._dsp.resample cimport Resampler

from callaudio._dsp.resample import min_delay
from callaudio.config import check_sample_rate
from callaudio.errors import InvalidStateError

cnp.import_array()

DEF MAX_LINK = 32                      # VoiceProcessor's largest channel count

cdef f32 INPUT_CLAMP = <f32>CA_INPUT_CLAMP
cdef f64 UPPER_FLOOR_RISE = 1.0023     # 1 dB per second in 10 ms frames
cdef f64 OUTPUT_LIMIT_RELEASE = exp(-0.01 / 0.1)   # the output limiter's release, 0.1 s
cdef f32 I16_SCALE = 32768.0
cdef f64 ECHO_SHAPED = 2.0             # canceller input/output power: it shaped the frame


cdef extern from *:
    """
    #ifdef _WIN32
    #define WIN32_LEAN_AND_MEAN
    #include <windows.h>
    static void ca_yield(void) { SwitchToThread(); }
    #else
    #include <sched.h>
    static void ca_yield(void) { sched_yield(); }
    #endif
    """
    void ca_yield() noexcept nogil

cdef extern from "pythread.h":
    unsigned long ca_thread_ident "PyThread_get_thread_ident"() noexcept nogil


# what _lock_states (the end of this file) returns
cdef enum:
    LOCKS_HELD = 0
    LOCKS_CLAIMED = 1       # one of the chains is claimed (Chain.claim)
    LOCKS_REGROUPED = 2     # the linked group changed since the caller looked
    LOCKS_REENTERED = 3     # this thread holds one of the locks (inside Chain.locked)

ctypedef int (*_states_fn)(void* ctx, void** states) noexcept nogil

cdef struct _Group:
    void* lead      # the linked group's first Chain
    int nch         # the group's size the caller saw


cdef extern from "ca_guard.h":
    int ca_count_nonfinite(const f32* x, int n) noexcept nogil
    void ca_clamp_copy(const f32* x, f32* y, int n, f32 c) noexcept nogil
    double ca_mean_square(const f32* x, int n) noexcept nogil
    double ca_peak_ramp(const f32* x, int n, double g0, double dg) noexcept nogil
    int ca_first_over(const f32* x, int n, double g0, double dg, double lim,
                      double clip) noexcept nogil
    f32 ca_peak_ramp_f32(const f32* x, int n, f32 g0, f32 dg) noexcept nogil
    void ca_gather_f32(const f32* src, Py_ssize_t stride, f32* dst, int n) noexcept nogil
    void ca_scatter_f32(const f32* src, f32* dst, Py_ssize_t stride, int n) noexcept nogil
    void ca_deinterleave2_f32(const f32* s, f32* a, f32* b, int n) noexcept nogil
    void ca_interleave2_f32(const f32* a, const f32* b, f32* d, int n) noexcept nogil
    void ca_upper_ramp(const f32* x, f32* out, int n, double gs0, double dgs, double a0,
                       double da, double gp0, double dgp, int noise,
                       unsigned int* rng) noexcept nogil


@cython.boundscheck(False)   # kernels: indices are bounded by n, checked by the callers
@cython.wraparound(False)
cdef inline int guard_input(f32* x, Py_ssize_t n) noexcept nogil:
    """Zero non-finite samples and clamp the rest; return how many were non-finite."""
    cdef Py_ssize_t i
    cdef int bad = 0
    cdef f32 v
    if ca_count_nonfinite(x, <int>n) == 0:     # the usual case: two vectorised passes
        ca_clamp_copy(x, x, <int>n, INPUT_CLAMP)
        return 0
    for i in range(n):
        v = x[i]
        if not isfinite(v):
            x[i] = 0.0
            bad += 1
        elif v > INPUT_CLAMP:
            x[i] = INPUT_CLAMP
        elif v < -INPUT_CLAMP:
            x[i] = -INPUT_CLAMP
    return bad


cdef inline f64 _olimit_target(f64 pk, f64 clip) noexcept nogil:
    """The output limiter's gain a frame of peak ``pk`` allows (< its gain: attack)."""
    return 1.0 if pk <= clip else clip / pk


cdef inline bint all_finite(const f32* x, Py_ssize_t n) noexcept nogil:
    return ca_count_nonfinite(x, <int>n) == 0


cdef inline int _dtype_of(cnp.ndarray a):
    """The array's type number, or -1 when byte-swapped ('>f4' on x86): its bytes are not
    the numbers a kernel would read, so it is refused like any other wrong dtype."""
    return cnp.PyArray_TYPE(a) if cnp.PyArray_ISNOTSWAPPED(a) else -1


cdef inline bint _holds(cnp.ndarray a, Py_ssize_t per, Py_ssize_t channels):
    """``a`` holds exactly ``per`` samples of ``channels`` interleaved channels (checked by
    division: ``per * channels`` could overflow for a hostile channel count)."""
    cdef Py_ssize_t size = cnp.PyArray_SIZE(a)
    return channels >= 1 and size % channels == 0 and size // channels == per


cdef Py_ssize_t _block_frames(cnp.ndarray mic, cnp.ndarray out, object far, Py_ssize_t n,
                              Py_ssize_t channels, Py_ssize_t far_channels) except -1:
    """The checks of ``process_block`` and ``process_block_linked``: native float32,
    C-contiguous, aligned signals, a writable ``out``, whole frames of ``channels``
    interleaved channels, ``far`` (or None) as long as ``mic``. Returns the frames."""
    cdef Py_ssize_t frames
    if _dtype_of(mic) != cnp.NPY_FLOAT32 or _dtype_of(out) != cnp.NPY_FLOAT32:
        raise TypeError("process_block takes native float32 signals")
    if not (cnp.PyArray_IS_C_CONTIGUOUS(mic) and cnp.PyArray_IS_C_CONTIGUOUS(out)):
        raise ValueError("signals must be C-contiguous")
    if not (cnp.PyArray_ISALIGNED(mic) and cnp.PyArray_ISALIGNED(out)):
        raise ValueError("signals must be aligned to their dtype")
    if not cnp.PyArray_ISWRITEABLE(out):
        raise ValueError("out must be writable")
    if far_channels < 1 or channels < 1:
        raise ValueError("bad channel layout")
    frames = cnp.PyArray_SIZE(mic) // channels // n
    if not (_holds(mic, frames * n, channels) and _holds(out, frames * n, channels)):
        raise ValueError("signals must hold whole frames")
    if far is not None and (
            _dtype_of(far) != cnp.NPY_FLOAT32 or
            not cnp.PyArray_IS_C_CONTIGUOUS(far) or not cnp.PyArray_ISALIGNED(far) or
            not _holds(far, frames * n, far_channels)):
        raise ValueError("far must be native float32, C-contiguous, as long as mic")
    return frames


def _resampled_latency(int n, int N, int stages):
    """(D1, D2, latency) of the resamplers around ``stages`` samples of delay at N per
    frame (see ``Chain._build_resamplers``), the latency in samples at n per frame."""
    import math
    g = math.gcd(n, N)
    L1, L2 = N // g, n // g
    d1 = min_delay(n, N)
    d2 = min_delay(N, n)
    d2 += (-(d1 + L2 * stages + d2)) % L1
    return d1, d2, (d1 + L2 * stages + d2) // L1


def _stage(cls, int sample_rate, spec):
    """None, a stage instance to adopt (same rate), or the keywords to build one."""
    if spec is None:
        return None
    if isinstance(spec, cls):
        if spec.sample_rate != sample_rate:
            raise ValueError(f"{cls.__name__} runs at {spec.sample_rate} Hz, not {sample_rate}")
        return spec
    return cls(sample_rate, **spec)


class ChainClaimed(RuntimeError):
    """A chain's Python entry point was called while one user runs it (``Chain.claim``)."""

    def __init__(self):
        super().__init__("the chain is claimed by a running audio callback")


class ChainLockHeld(InvalidStateError, RuntimeError):
    """A call needs a chain's capture lock that the calling thread holds itself, inside
    ``Chain.locked(fn)``'s ``fn``: waiting would never end. An InvalidStateError, so that
    a VoiceProcessor call made there (``vp.chains()[0].locked(lambda c: vp.reset())``,
    which waited for ever) raises the package's error and changes nothing."""

    def __init__(self):
        super().__init__("use the chain", "LOCKED", "this thread holds the chain's capture "
                         "lock inside Chain.locked: link or process the chain after it returns")


cdef class PathState:
    """What one channel's chain keeps across a reconfiguration: the lock of each path and
    the frame counters.

    A chain rebuilt for a new configuration shares it with the chain it replaces, so a
    frame still running through the old chain and one through the new are serialised
    (they may share adopted stages) and are counted once.
    """
    cdef PyThread_type_lock capture_lock
    cdef PyThread_type_lock render_lock
    cdef long long capture_frames
    cdef long long render_frames
    cdef long long nonfinite_frames
    cdef double output_power
    cdef bint claimed  # one user runs the paths without these locks (Chain.claim)
    cdef object claim_key       # what that user claimed with: link/release need it
    cdef unsigned long holder   # the thread inside Chain.locked's fn (0: none)

    def __cinit__(self):
        self.capture_lock = PyThread_allocate_lock()
        self.render_lock = PyThread_allocate_lock()
        if self.capture_lock == NULL or self.render_lock == NULL:
            raise MemoryError()
        self.output_power = -1.0

    def __dealloc__(self):
        if self.capture_lock != NULL:
            PyThread_free_lock(self.capture_lock)
        if self.render_lock != NULL:
            PyThread_free_lock(self.render_lock)


cdef inline int _not_held_here(PathState st) except -1:
    """ChainLockHeld when this thread holds ``st``'s capture lock (inside ``Chain.locked``'s
    ``fn``): ``capture``, ``process_block``, ``reset``, ``reset_echo_path``, ``claim`` and
    ``release`` would wait for it for ever (a hang of the caller's thread)."""
    if st.holder != 0 and st.holder == ca_thread_ident():
        raise ChainLockHeld()
    return 0


cdef class Chain:
    """The capture/render chain of one channel at one sample rate (10 ms frames).

    Parameters
    ----------
    sample_rate : int
        8000, 16000, 32000, 44100 or 48000 (validated by the caller); at 44100 the stages
        run at 48000 between two resamplers.
    high_pass, echo_canceller, noise_suppressor, gain_control : dict, stage or None
        Constructor keywords of that stage, an instance to adopt with its state (a chain
        rebuilt for a new configuration keeps the stages whose settings did not change),
        or None to leave the stage out. The noise suppressor built from keywords gets
        ``low_delay=True`` (2.5 ms), or with the echo canceller (``shared_analysis``: the
        two share one synthesis) two hops per frame and the delay that fits; an
        adopted one with other windows (the canceller was switched on) is replaced by one
        with these that continues from its noise estimate and gains.
    state : PathState, optional
        The locks and counters of the chain this one replaces (required when adopting
        its stages: the two chains then never run a stage at the same time).
    split_bands : bool
        At 32, 44.1 and 48 kHz, run the stages at 16 kHz on the 0-8 kHz band (default);
        False runs them on the full band. Adopted stages must run at the matching rate.
    shared_analysis : bool
        With the echo canceller, the noise suppressor works in its analysis and synthesis
        (default: one 2.5 ms delay for both, one transform pair); False gives it its own
        2.5 ms low-delay transforms after the canceller (5 ms for the two; at 5 ms hops
        its gains move more smoothly: +0.03 to +0.25 PESQ in car noise at 20 dB SNR).

    When both the noise suppressor and the gain control run, the gain control takes its
    voice-activity decision from the noise suppressor's speech probability (one VAD for
    the chain) instead of its own energy detector. Frames the echo canceller marks as
    echo only (far end active, no near-end talker) count as non-speech for the gain
    control, so it never learns residual echo as a quiet talker and lifts it; they and the
    frames the canceller took more than half the power of (``echo_shaped``) are no
    observations of the near end's noise floor either.
    """

    cdef readonly int sample_rate
    cdef readonly int frame_size
    cdef readonly int core_rate     # the rate between the resamplers (sample_rate but 44.1 kHz)
    cdef readonly int stage_rate    # the rate the stages run at (16 kHz when split)
    cdef readonly bint split_bands  # the stages run on band 0 of a band split
    # the noise suppressor runs inside the echo canceller's analysis/synthesis
    cdef readonly bint shared_analysis
    cdef int _n                     # the core frame (core_rate // 100)
    cdef int _ns                    # the stages' frame (stage_rate // 100)
    cdef int _latency
    cdef readonly HighPass high_pass
    cdef readonly EchoCanceller echo_canceller
    cdef readonly NoiseSuppressor noise_suppressor
    cdef readonly GainControl gain_control
    cdef f32* _cap          # capture scratch frame (frame_size)
    cdef f32* _ren          # render scratch frame (downmixed reference, frame_size)
    cdef f32* _mid          # the stages' capture frame when resampling (_n)
    cdef f32* _rmid         # the stages' render frame when resampling (_n)
    cdef Resampler _up      # capture: sample_rate -> stage_rate (None: no resampling)
    cdef Resampler _down    # capture: stage_rate -> sample_rate
    cdef Resampler _rup     # render: sample_rate -> stage_rate
    cdef FilterBank _bank   # capture band split (None: full band)
    cdef FilterBank _rbank  # render band split (band 0 only)
    cdef f32* _bands        # the capture frame's bands, bands x _ns
    cdef f32* _rlow         # the far frame's band 0, _ns
    cdef f32* _upper        # the upper bands' delay lines, (bands - 1) x (_udelay + _ns)
    cdef int _udelay        # the stages' latency (samples at stage_rate)
    cdef f64 _usup          # the upper bands' echo-suppression gain at the last frame's end
    cdef f64 _uns           # the same, the noise suppressor's
    cdef f64* _ufloor       # each upper band's noise power (slow minimum follower), bands - 1
    cdef unsigned int _rng  # the upper bands' comfort noise (xorshift32)
    cdef f64 _agc0, _agc1   # the gain control's broadband gain before / after this frame
    cdef f64 _olim          # the output limiter's gain (split or resampled paths)
    cdef readonly PathState state   # locks and counters (shared with a rebuilt chain)
    # linked capture channels (``link``): the chains of channels 0 .. _nlink - 1, this one
    # first (0: not a linked group's first chain); the stage frame, band-split/resampler
    # frame, canceller input power and return code of the frame in flight
    cdef void* _peer[MAX_LINK]
    cdef int _nlink
    cdef list _peer_refs
    cdef f32* _sx
    cdef f32* _core
    cdef f64 _p_in
    cdef int _code

    def __cinit__(self, int sample_rate, high_pass=None, echo_canceller=None,
                  noise_suppressor=None, gain_control=None, PathState state=None,
                  bint split_bands=True, bint shared_analysis=True):
        # a chain with no stage took any rate: Chain(0).process_block divided by zero
        check_sample_rate(sample_rate)
        self.sample_rate = sample_rate
        self.frame_size = sample_rate // 100
        self.core_rate = RATE_44K1_INTERNAL if sample_rate == RATE_44K1 else sample_rate
        self._n = self.core_rate // 100
        cdef bint any_stage = not (high_pass is None and echo_canceller is None
                                   and noise_suppressor is None and gain_control is None)
        self.split_bands = split_bands and any_stage and self.core_rate > RATE_16K
        self.stage_rate = RATE_16K if self.split_bands else self.core_rate
        self._ns = self.stage_rate // 100
        self._cap = <f32*>calloc(self.frame_size, sizeof(f32))
        self._ren = <f32*>calloc(self.frame_size, sizeof(f32))
        self._mid = <f32*>calloc(self._n, sizeof(f32))
        self._rmid = <f32*>calloc(self._n, sizeof(f32))
        if self._cap == NULL or self._ren == NULL or self._mid == NULL or self._rmid == NULL:
            raise MemoryError()
        cdef int rate = self.stage_rate
        self.high_pass = _stage(HighPass, rate, high_pass)
        self.echo_canceller = _stage(EchoCanceller, rate, echo_canceller)
        cdef bint share = (shared_analysis and echo_canceller is not None
                           and noise_suppressor is not None)
        self.gain_control = _stage(GainControl, rate, gain_control)
        # Sharing the canceller's synthesis: two 5 ms hops per frame and the longest
        # cross-fade (output delay) that keeps the whole chain within 5 ms; otherwise 2.5 ms.
        cdef int hops = 2, delay = 0
        if share:
            delay = self._shared_delay()
        if isinstance(noise_suppressor, dict):
            noise_suppressor = dict(noise_suppressor, low_delay=True)
            if share:
                noise_suppressor["hops_per_frame"] = hops
                noise_suppressor["delay_samples"] = delay
        self.noise_suppressor = _stage(NoiseSuppressor, rate, noise_suppressor)
        cdef NoiseSuppressor kept = self.noise_suppressor
        if kept is not None and (not kept.low_delay or (share and (
                kept.hops_per_frame != hops or kept.latency_samples != delay))):
            # an adopted suppressor with other windows (the echo canceller was switched
            # on, or it was built outside a chain): a new one continues from its state
            self.noise_suppressor = NoiseSuppressor(
                rate, kept.level_db, hops if share else kept.hops_per_frame, True,
                delay if share else 0)
            self.noise_suppressor.carry_state_c(kept)
        self.shared_analysis = share
        self.state = PathState() if state is None else state
        self._olim = 1.0
        cdef int stages = self._stage_latency()
        if self.split_bands:
            stages = self._build_bands(stages)
        self._latency = stages
        if self._n != self.frame_size:
            if not any_stage:
                self._n = self.frame_size     # no stage: nothing to resample (bit-exact)
            else:
                self._build_resamplers(stages)

    cdef int _shared_delay(self):
        """The shared synthesis' output delay (samples at stage_rate): the largest in
        frame/4 .. frame/2 (2.5 .. 5 ms) with which the chain's latency (band split and
        resamplers included) stays within 5 ms at sample_rate. The 48 kHz core takes the
        delay that fits 44.1 kHz too (one stage configuration per core rate: 44.1 kHz is
        the 48 kHz chain between two resamplers)."""
        cdef int other = 0, d, core, M = 1, bank = 0
        if self.high_pass is not None:
            other += self.high_pass.latency_samples
        if self.gain_control is not None:
            other += self.gain_control.latency_samples
        if self.split_bands:
            fb = FilterBank(self.core_rate)
            M, bank = fb.bands, fb.latency_samples
        cdef int step = max(1, self.stage_rate // RATE_16K)   # whole 16 kHz samples
        for d in range(self._ns // 2 // step * step, self._ns // 4, -step):
            core = bank + M * (other + d)
            if core > self.core_rate * 5 // 1000:
                continue
            if self.core_rate == RATE_44K1_INTERNAL and \
                    _resampled_latency(RATE_44K1 // 100, self._n, core)[2] > RATE_44K1 * 5 // 1000:
                continue
            return d
        return self._ns // 4

    cdef int _build_bands(self, int stages):
        """The band split; returns the core path's latency (samples at core_rate)."""
        self._bank = FilterBank(self.core_rate)
        self._rbank = FilterBank(self.core_rate)
        cdef int M = self._bank.bands, nb = self._ns
        self._udelay = stages
        self._bands = <f32*>calloc(M * nb, sizeof(f32))
        self._rlow = <f32*>calloc(nb, sizeof(f32))
        self._upper = <f32*>calloc((M - 1) * (stages + nb), sizeof(f32))
        self._ufloor = <f64*>calloc(M - 1, sizeof(f64))
        if self._bands == NULL or self._rlow == NULL or self._upper == NULL \
                or self._ufloor == NULL:
            raise MemoryError()
        self._reset_upper()
        return self._bank.latency_samples + M * stages

    cdef _build_resamplers(self, int stages):
        """Up (n -> _n) and down (_n -> n) with delays D1 / L1 and D2 / L2 input samples,
        D2 the smallest causal one that makes the total delay a whole number of samples:
        (D1 + L2 stages + D2) / L1 (L1 = _n / g, L2 = n / g)."""
        d1, d2, self._latency = _resampled_latency(self.frame_size, self._n, stages)
        self._up = Resampler(self.frame_size, self._n, d1)
        self._down = Resampler(self._n, self.frame_size, d2)
        self._rup = Resampler(self.frame_size, self._n, d1)

    def __dealloc__(self):
        free(self._cap)
        free(self._ren)
        free(self._mid)
        free(self._rmid)
        free(self._bands)
        free(self._rlow)
        free(self._upper)
        free(self._ufloor)

    @property
    def latency_samples(self):
        """Algorithmic latency of the whole chain, in samples at ``sample_rate`` (the
        band split's and the resamplers' delays included)."""
        return self._latency

    @property
    def band_split(self):
        """The capture path's ``bands.FilterBank`` (None: the stages run on the full band)."""
        return self._bank

    cdef int _stage_latency(self):
        cdef int total = 0
        if self.high_pass is not None:
            total += self.high_pass.latency_samples
        if self.echo_canceller is not None and not self.shared_analysis:
            total += self.echo_canceller.latency_samples
        if self.noise_suppressor is not None:
            total += self.noise_suppressor.latency_samples   # shared: the one synthesis
        if self.gain_control is not None:
            total += self.gain_control.latency_samples
        return total

    def reset(self):
        """Clear every stage's state (as after construction); counters are kept.

        In place, allocating nothing: no stage object is replaced, so a reset can never
        free what a running ``capture``/``render`` uses. Callers serialise it with the
        capture path (see :class:`callaudio.VoiceProcessor`).
        """
        cdef bint busy
        _not_held_here(self.state)
        with nogil:
            PyThread_acquire_lock(self.state.capture_lock, WAIT_LOCK)
            busy = self.state.claimed
            if not busy:
                self.reset_c()
            PyThread_release_lock(self.state.capture_lock)
        if busy:
            raise ChainClaimed()

    cdef void reset_c(self) noexcept nogil:
        if self._up is not None:
            self._up.reset_c()
            self._down.reset_c()
        if self._bank is not None:
            # the render side's split (like its resampler) belongs to the render path and
            # holds only the far signal's recent past: it is not reset from this one
            self._bank.reset_c()
            self._reset_upper()
        if self.high_pass is not None:
            self.high_pass.reset_c()
        if self.echo_canceller is not None:
            self.echo_canceller.reset_all_c()
        if self.noise_suppressor is not None:
            self.noise_suppressor.reset_c()
        if self.gain_control is not None:
            self.gain_control.reset_c()
        self._olim = 1.0

    def reset_echo_path(self):
        """The echo path changed (route change, speaker toggled): restart the echo
        canceller's filter and suppressor, keeping its delay estimate as a prior so it
        re-converges fast. The other stages keep their state. In place, like ``reset``."""
        cdef bint busy = False
        _not_held_here(self.state)
        if self.echo_canceller is not None:
            with nogil:
                PyThread_acquire_lock(self.state.capture_lock, WAIT_LOCK)
                busy = self.state.claimed
                if not busy:
                    self.echo_canceller.reset_path_c()
                PyThread_release_lock(self.state.capture_lock)
        if busy:
            raise ChainClaimed()

    @property
    def capture_frames(self):
        """Capture frames processed."""
        return self.state.capture_frames

    @property
    def render_frames(self):
        """Far-end frames received."""
        return self.state.render_frames

    @property
    def nonfinite_frames(self):
        """Capture frames that held NaN/Inf samples (replaced by silence)."""
        return self.state.nonfinite_frames

    @property
    def output_power(self):
        """Mean square of the last output frame (full scale 1.0); -1 before the first."""
        return self.state.output_power

    def locked(self, fn):
        """``fn(self)`` while no capture frame runs (a consistent reading of the stats).
        ``fn`` holds the capture lock: ``locked``, ``link``, ``capture``, ``process_block``,
        ``reset``, ``reset_echo_path``, ``claim``, ``release`` and the linked captures of a
        chain on this state called from it raise :class:`ChainLockHeld` (they would wait
        for their own thread for ever)."""
        cdef unsigned long me = ca_thread_ident()
        if self.state.holder == me:
            raise ChainLockHeld()
        with nogil:
            PyThread_acquire_lock(self.state.capture_lock, WAIT_LOCK)
        self.state.holder = me
        try:
            return fn(self)
        finally:
            self.state.holder = 0
            PyThread_release_lock(self.state.capture_lock)

    def claim(self, key=None):
        """Hand both paths to one user that runs them without the path locks (a compiled
        audio callback, through :meth:`c_api`). Waits for the frames in flight; from then
        until :meth:`release`, ``capture``, ``render``, ``render_shared``, ``process_block``,
        ``reset`` and ``reset_echo_path`` raise :class:`ChainClaimed`. The claim belongs to
        the state: every chain built on it (a rebuilt one, or any other) is claimed too.
        ``key``: an object only the claiming user holds (``VoiceProcessor`` passes a private
        one); :meth:`link` and :meth:`release` act on a claimed state only with it. Returns
        False if it was claimed already (the first claim and its key stay)."""
        cdef bint was
        _not_held_here(self.state)
        with nogil:
            PyThread_acquire_lock(self.state.capture_lock, WAIT_LOCK)
            PyThread_acquire_lock(self.state.render_lock, WAIT_LOCK)
        was = self.state.claimed
        if not was:
            self.state.claim_key = key
            self.state.claimed = True
        PyThread_release_lock(self.state.render_lock)
        PyThread_release_lock(self.state.capture_lock)
        return not was

    def release(self, key=None):
        """End a :meth:`claim` made with ``key`` (after its user stopped running the chain;
        any other key changes nothing). Returns whether the state is unclaimed now."""
        _not_held_here(self.state)
        with nogil:
            PyThread_acquire_lock(self.state.capture_lock, WAIT_LOCK)
            PyThread_acquire_lock(self.state.render_lock, WAIT_LOCK)
        if self.state.claim_key is key:
            self.state.claimed = False
            self.state.claim_key = None
        PyThread_release_lock(self.state.render_lock)
        PyThread_release_lock(self.state.capture_lock)
        return not self.state.claimed

    @property
    def claimed(self):
        """Whether one user runs the chain without its locks (:meth:`claim`)."""
        return self.state.claimed

    # -- kernels ---------------------------------------------------------------------

    cdef void render_c(self, const f32* far) noexcept nogil:
        """One mono 10 ms far-end frame (what the loudspeaker plays), ``frame_size``."""
        if self._rup is not None:
            self._rup.process_c(far, self._rmid)
            far = self._rmid
        if self.echo_canceller is not None:
            if self._rbank is not None:
                self._rbank.analysis_low_c(far, self._rlow)
                far = self._rlow
            self.echo_canceller.render_c(far, self._ns)
        self.state.render_frames += 1

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int capture_c(self, f32* x) noexcept nogil:
        """Process one mono 10 ms frame (``frame_size``) in place. Returns OK or
        ERR_NONFINITE."""
        cdef int rc
        if guard_input(x, self.frame_size):
            self.state.nonfinite_frames += 1
        if self._up is None:
            rc = self.core_c(x)
        else:
            self._up.process_c(x, self._mid)
            rc = self.core_c(self._mid)
            self._down.process_c(self._mid, x)
        if self.gain_control is not None and (self._up is not None or self._bank is not None):
            self.output_limit_c(x, self.frame_size)
        return rc

    @cython.boundscheck(False)
    @cython.wraparound(False)
    @cython.cdivision(True)
    cdef void output_limit_c(self, f32* x, Py_ssize_t n) noexcept nogil:
        """The gain control's limiter acts on band 0 (or on the resampler's rate): the
        upper bands, the band synthesis and the rate conversion back may add a little
        peak on top. This zero-latency peak limiter on the final output keeps the gain
        control's ceiling exact: attack to the first sample over it within the frame,
        release like the gain control's limiter; idle (gain 1) while the peaks stay under."""
        cdef f64 pk = ca_peak_ramp(x, <int>n, 1.0, 0.0)     # max |x|
        cdef f64 lim0 = self._olim
        cdef Py_ssize_t first = -1
        if _olimit_target(pk, self.gain_control._clip) < lim0:   # attack
            first = ca_first_over(x, <int>n, 1.0, 0.0, lim0, self.gain_control._clip)
        self._olim = self._olimit_apply(x, n, pk, first, lim0)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    @cython.cdivision(True)
    cdef f64 _olimit_apply(self, f32* x, Py_ssize_t n, f64 pk, Py_ssize_t first,
                           f64 lim0) noexcept nogil:
        """The output limiter on ``x`` for the peak ``pk`` (linked channels: every
        channel's) from the gain ``lim0``; ``first``: the first sample over the ceiling at
        ``lim0`` (linked channels: the earliest of any channel; only read when the limiter
        attacks, i.e. ``_olimit_target(pk) < lim0``); returns the gain at the frame's end."""
        cdef f64 clip = self.gain_control._clip, target, lim1, dl, y
        cdef Py_ssize_t i
        if pk * lim0 <= clip and lim0 >= 1.0:
            return lim0
        target = 1.0 if pk <= clip else clip / pk
        if target < lim0:
            lim1 = target
            dl = (target - lim0) / (first + 1)
            for i in range(n):
                y = x[i] * (lim0 + dl * (i + 1) if i < first else target)
                x[i] = <f32>(clip if y > clip else (-clip if y < -clip else y))
        else:
            lim1 = target + (lim0 - target) * OUTPUT_LIMIT_RELEASE
            if lim1 > 1.0 - 1e-9:
                lim1 = 1.0
            dl = (lim1 - lim0) / n
            for i in range(n):
                y = x[i] * (lim0 + dl * (i + 1))
                x[i] = <f32>(clip if y > clip else (-clip if y < -clip else y))
        return lim1

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int core_c(self, f32* x) noexcept nogil:
        """One frame of ``_n`` samples at ``core_rate``, in place: the stages, on the
        full band or on band 0 of the split; then the output guard."""
        cdef Py_ssize_t n = self._n, i
        if self._bank is None:
            self.stages_c(x)
        else:
            self._bank.analysis_c(x, self._bands)
            self.stages_c(self._bands)
            self.upper_bands_c(-1.0)
            self._bank.synthesis_c(self._bands, x)
        self.state.capture_frames += 1
        if not all_finite(x, n):
            for i in range(n):
                x[i] = 0.0
            self.state.output_power = 0.0
            return ERR_NONFINITE
        self.state.output_power = ca_mean_square(x, <int>n)
        return OK

    cdef void _reset_upper(self) noexcept nogil:
        memset(self._upper, 0,
               (self._bank.bands - 1) * (self._udelay + self._ns) * sizeof(f32))
        memset(self._ufloor, 0, (self._bank.bands - 1) * sizeof(f64))
        self._usup = 1.0
        self._uns = 1.0
        self._rng = 0x2545F491

    @cython.boundscheck(False)
    @cython.wraparound(False)
    @cython.cdivision(True)
    cdef void upper_bands_c(self, f64 gs_linked) noexcept nogil:
        """The bands above band 0: delayed like band 0 through the stages, scaled by the
        echo suppressor's and the noise suppressor's upper-band gains and the gain
        control's gain, each ramped across the frame from the last frame's value (no step
        at a frame edge). Where the echo suppressor attenuates, comfort noise at the
        band's noise floor fills in what it removed (as it does below 8 kHz), so
        suppression leaves no spectral hole above the band edge. ``gs_linked`` (>= 0):
        a linked capture's common echo-suppression gain for these bands, instead of this
        channel's own."""
        cdef int M = self._bank.bands, nb = self._ns, d = self._udelay, b
        cdef f64 gs0 = self._usup, gs1 = 1.0, gp0, gp1 = 1.0, dgs, dgp, p, a0, a1, da
        cdef bint cn = False
        cdef f32* line
        cdef f32* out
        cdef unsigned int r = self._rng
        if self.echo_canceller is not None:
            gs1 = (gs_linked if gs_linked >= 0.0
                   else self.echo_canceller.suppressor.upper_band_gain())
            cn = self.echo_canceller.comfort_noise
        if self.noise_suppressor is not None:
            gp1 = self.noise_suppressor.upper_band_gain_c()
        gp0 = self._uns * self._agc0
        self._usup = gs1
        self._uns = gp1
        gp1 *= self._agc1
        dgs = (gs1 - gs0) / nb
        dgp = (gp1 - gp0) / nb
        for b in range(M - 1):
            line = self._upper + b * (d + nb)
            out = self._bands + (b + 1) * nb
            memcpy(line + d, out, nb * sizeof(f32))
            # noise floor: follows the frame power down at once, up by 1 dB per second
            p = ca_mean_square(out, nb)
            if p < self._ufloor[b] or self._ufloor[b] <= 0.0:
                self._ufloor[b] = p
            else:
                self._ufloor[b] *= UPPER_FLOOR_RISE
            a0 = sqrt(self._ufloor[b] * (1.0 - gs0 * gs0) * 3.0) if cn else 0.0
            a1 = sqrt(self._ufloor[b] * (1.0 - gs1 * gs1) * 3.0) if cn else 0.0
            da = (a1 - a0) / nb
            # out = (line gs + a u) gp, u uniform (xorshift32, variance 1/3), each ramped;
            # no echo suppression here (a0 = a1 = 0): no comfort noise
            ca_upper_ramp(line, out, nb, gs0, dgs, a0, da, gp0, dgp,
                          not (a0 == 0.0 and a1 == 0.0), &r)
            memmove(line, line + nb, d * sizeof(f32))
        self._rng = r

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef void stages_c(self, f32* x) noexcept nogil:
        """The stages on one frame of ``_ns`` samples at ``stage_rate``, in place."""
        cdef Py_ssize_t n = self._ns
        cdef f32 speech_prob = -1.0     # negative: the gain control uses its own VAD
        cdef f64 p_in = 0.0, p_out = 0.0
        if self.high_pass is not None:
            self.high_pass.process_c(x, n)
        if self.echo_canceller is not None:
            p_in = ca_mean_square(x, <int>n)
            if self.shared_analysis:
                self.echo_canceller.capture_post_c(x, n, self.noise_suppressor)
                p_out = self.echo_canceller.ms_out     # the canceller's share alone
            else:
                self.echo_canceller.capture_c(x, n)
                p_out = ca_mean_square(x, <int>n)
        if self.noise_suppressor is not None:
            if not self.shared_analysis:
                self.noise_suppressor.process_c(x, n)
            speech_prob = <f32>self.noise_suppressor._speech_prob
        if self.gain_control is not None:
            self._agc0 = self.gain_control._gain * self.gain_control._lim
            # residual echo is not a talker, and the suppressor's output level in such a
            # frame is not the near end's noise: the gain control learns neither from it.
            # Nor is the level of a frame the canceller took more than half of (echo
            # shaped: its echo-only decision flickers in the far end's talk and its
            # suppressor keeps working in the far end's pauses, far below the near end's
            # noise), whatever it decided about a near-end talker.
            self.gain_control.process_c(
                x, n, speech_prob,
                self.echo_canceller is not None and self.echo_canceller.echo_only,
                p_out * ECHO_SHAPED < p_in)
            self._agc1 = self.gain_control._gain * self.gain_control._lim
        else:
            self._agc0 = 1.0
            self._agc1 = 1.0

    # -- linked capture channels -------------------------------------------------------

    def link(self, followers, key=None):
        """Make this chain the first of a linked multi-channel capture: ``followers`` are
        the chains of channels 1 .. len(followers) (same rate, stages and band split).

        A linked capture (``capture_linked``, ``process_block_linked``, the C API's
        ``capture_multi``) analyses the far end once (the first channel's canceller; the
        others copy its far spectrum) and runs ONE bulk-delay estimate on the channels'
        mean microphone power (the followers share the first canceller's estimator:
        one loudspeaker, one playout path, so one bulk delay; see
        ``EchoCanceller.share_delay``), each channel's high-pass and adaptive echo filter
        (each microphone has its own echo path), then ONE residual-echo estimate and gain and
        ONE noise model and gain on the channels' mean powers
        (``EchoCanceller.suppress_linked_c``), each channel's synthesis, and ONE gain
        control from the loudest channel's level with one limiter over all channels'
        peaks (``GainControl.process_linked_c``): a common real gain keeps the near end's
        level and phase differences (a panned talker keeps its pan) and costs the gain
        estimation once. Linking needs the echo canceller, and the noise suppressor, if
        any, in its shared analysis; otherwise nothing is linked and False is returned
        (the channels run independently). ``link([])`` unlinks. Returns True if linked.
        The chains must be distinct, each with its own state (its own locks); a refused
        link (ValueError, TypeError, :class:`ChainLockHeld`) changes nothing. The group
        changes under the capture locks of every chain it touches, so never under a linked
        frame in flight. A chain on a claimed state (one an engine's compiled callback runs
        without locks, or any other chain built on that state, which may share its stages),
        leader or follower, old group or new, is linked or unlinked only with the claim's
        ``key`` (ValueError otherwise): ``VoiceProcessor.apply_config`` links the chains it
        builds on its running chains' states before anyone runs them.
        """
        cdef Chain f
        cdef EchoCanceller ec
        cdef int c
        followers = list(followers)
        if len(followers) + 1 > MAX_LINK:
            raise ValueError(f"at most {MAX_LINK} linked channels")
        if not all(isinstance(x, Chain) for x in followers):
            raise TypeError("followers must be Chain instances")
        if len({id((<Chain>f).state) for f in [self] + followers}) != len(followers) + 1:
            raise ValueError("linked chains must be distinct, each with its own state")
        cdef bint linked = bool(followers) and self.echo_canceller is not None and not (
            self.noise_suppressor is not None and not self.shared_analysis)
        for f in followers if linked else ():
            if f is self or f.sample_rate != self.sample_rate \
                    or f.split_bands != self.split_bands \
                    or f.shared_analysis != self.shared_analysis \
                    or (f.high_pass is None) != (self.high_pass is None) \
                    or f.echo_canceller is None \
                    or (f.noise_suppressor is None) != (self.noise_suppressor is None) \
                    or (f.gain_control is None) != (self.gain_control is None) \
                    or (self.noise_suppressor is not None and (
                        f.noise_suppressor.hops_per_frame != self.noise_suppressor.hops_per_frame)):
                raise ValueError("linked chains need the same rate, stages and band split")
            ec = f.echo_canceller   # share_delay's condition, checked before anything changes
            if ec.n != self.echo_canceller.n or ec.L != self.echo_canceller.L \
                    or ec.H != self.echo_canceller.H:
                raise ValueError("linked chains need echo cancellers of the same tail and "
                                 "delay range")
        others = self._lock_members(followers)
        try:
            if any(_claimed_against(<Chain>f, key) for f in [self] + others):
                raise ValueError("a claimed chain cannot be linked or unlinked (release it "
                                 "first)")   # its user runs it (and its group) without locks
            if self._peer_refs is not None:
                for f in self._peer_refs:
                    f.echo_canceller.share_delay(None)
            self._nlink = 0
            self._peer_refs = None
            if linked:
                self._peer_refs = [self] + followers
                for c in range(len(self._peer_refs)):
                    self._peer[c] = <void*>self._peer_refs[c]
                    (<Chain>self._peer_refs[c]).echo_canceller.share_delay(self.echo_canceller)
                self._nlink = len(self._peer_refs)
        finally:
            for f in reversed(others):
                PyThread_release_lock((<Chain>f).state.capture_lock)
            PyThread_release_lock(self.state.capture_lock)
        return linked

    cdef list _lock_members(self, list followers):
        """Take the capture locks of this chain (first), the new ``followers`` and the
        current group's chains, one per state (:func:`_lock_states`); returns the others,
        locked."""
        cdef void* states[2 * MAX_LINK]
        cdef list ctx = [self, followers, None]
        cdef int rc
        with nogil:
            rc = _lock_states(<void*>self.state, False, _member_states, <void*>ctx, states)
        if rc == LOCKS_REENTERED:
            raise ChainLockHeld()
        return ctx[2]

    @property
    def linked_channels(self):
        """Channels of the linked capture this chain leads (0: none; see :meth:`link`)."""
        return self._nlink

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef void _front_c(self, Chain lead, bint hp) noexcept nogil:
        """Linked capture, this channel's part before the high-pass: the input guard, the
        resampler and the band analysis on the frame in ``_cap`` (then the high-pass if
        ``hp``, and :meth:`_front_end_c`)."""
        cdef f32* x = self._cap
        if guard_input(x, self.frame_size):
            self.state.nonfinite_frames += 1
        if self._up is not None:
            self._up.process_c(x, self._mid)
            x = self._mid
        self._core = x
        if self._bank is not None:
            self._bank.analysis_c(x, self._bands)
            x = self._bands
        self._sx = x
        if hp:
            if self.high_pass is not None:
                self.high_pass.process_c(x, self._ns)
            self._front_end_c(lead)

    cdef void _front_end_c(self, Chain lead) noexcept nogil:
        """Linked capture, after the high-pass: the input power and the echo canceller's
        analysis (the far spectrum taken from ``lead``'s) of the stage frame ``_sx``."""
        cdef f32* x = self._sx
        self._p_in = ca_mean_square(x, <int>self._ns)
        if lead is self:
            self._code = self.echo_canceller.analyse_c(x, None)
        else:
            self._code = self.echo_canceller.analyse_c(x, lead.echo_canceller)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int _back_c(self, f64 gs_linked) noexcept nogil:
        """Linked capture, this channel's part after the common gains: the upper bands,
        the band synthesis, the output guard and the resampler back (into ``_cap``).
        Returns OK or ERR_NONFINITE."""
        cdef Py_ssize_t n = self._n, i
        cdef int rc = OK
        if self._bank is not None:
            self.upper_bands_c(gs_linked)
            self._bank.synthesis_c(self._bands, self._core)
        self.state.capture_frames += 1
        if not all_finite(self._core, n):
            for i in range(n):
                self._core[i] = 0.0
            self.state.output_power = 0.0
            rc = ERR_NONFINITE
        else:
            self.state.output_power = ca_mean_square(self._core, <int>n)
        if self._up is not None:
            self._down.process_c(self._mid, self._cap)
        return rc

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int capture_linked_c(self, const void* src, void* dst, bint i16) noexcept nogil:
        """One interleaved frame (frame_size x ``_nlink``, float32 or int16) of a linked
        capture from ``src`` into ``dst`` (may be ``src``). Returns OK, or ERR_NONFINITE
        when a channel's output went non-finite (that channel's frame is silence and its
        chain has been reset in place)."""
        cdef int c, nch = self._nlink, rc = OK, code, lag
        cdef Py_ssize_t i, n = self.frame_size, ns = self._ns
        cdef void* ecs[MAX_LINK]
        cdef void* posts[MAX_LINK]
        cdef f32* xs[MAX_LINK]
        cdef f64 p_in = 0.0, p_out = 0.0
        cdef bint echo_only = True
        cdef f32 v
        cdef int bad[MAX_LINK]
        cdef Py_ssize_t first = -1, f
        cdef f64 pk = 0.0, p, lim, gs
        cdef const f32* sf = <const f32*>src
        cdef const int16_t* si = <const int16_t*>src
        cdef f32* df = <f32*>dst
        cdef int16_t* di = <int16_t*>dst
        cdef f32* cap
        cdef bint hp2 = nch == 2 and self.high_pass is not None
        if nch == 2 and not i16:
            ca_deinterleave2_f32(sf, (<Chain>self._peer[0])._cap, (<Chain>self._peer[1])._cap,
                                 <int>n)
        for c in range(nch):
            cap = (<Chain>self._peer[c])._cap
            if i16:
                for i in range(n):
                    cap[i] = si[i * nch + c] * (1.0 / I16_SCALE)
            elif nch != 2:
                ca_gather_f32(sf + c, nch, cap, <int>n)
            (<Chain>self._peer[c])._front_c(self, not hp2)
        if hp2:     # two channels' high-pass recursions in one vector's lanes (exact)
            self.high_pass.process2_c((<Chain>self._peer[1]).high_pass, self._sx,
                                      (<Chain>self._peer[1])._sx, ns)
            self._front_end_c(self)
            (<Chain>self._peer[1])._front_end_c(self)
        for c in range(nch):
            ecs[c] = <void*>(<Chain>self._peer[c]).echo_canceller
            posts[c] = <void*>(<Chain>self._peer[c]).noise_suppressor
            xs[c] = (<Chain>self._peer[c])._sx
        # one delay estimate (the far end was analysed once, by this chain's canceller),
        # then each channel's adaptive filter
        lag = self.echo_canceller.delay_linked_c(ecs, nch)
        for c in range(nch):
            # each channel keeps its own lag (its filter re-anchors on its own path); one
            # without any (after its reset) takes the common one
            if lag >= 0 or (<Chain>self._peer[c]).echo_canceller.delay.lag >= 0:
                (<Chain>self._peer[c]).echo_canceller.adapt_c(lag)
            else:
                (<Chain>self._peer[c]).echo_canceller.adapt_c(self.echo_canceller.delay.lag)
        self.echo_canceller.suppress_linked_c(
            ecs, xs, posts if self.noise_suppressor is not None else NULL, nch)
        for c in range(nch):
            code = (<Chain>self._peer[c])._code
            (<Chain>self._peer[c]).echo_canceller.capture_finish_c(
                xs[c], code, (<Chain>self._peer[c]).noise_suppressor)
            p_in += (<Chain>self._peer[c])._p_in
            p_out += (<Chain>self._peer[c]).echo_canceller.ms_out
            echo_only = echo_only and (<Chain>self._peer[c]).echo_canceller.echo_only
        if self.gain_control is not None:
            for c in range(nch):
                (<Chain>self._peer[c])._agc0 = (
                    self.gain_control._gain * self.gain_control._lim)
            # one gain: the frame is echo only when every channel's is; shaped when the
            # cancellers together took more than half the power (see stages_c)
            self.gain_control.process_linked_c(
                xs, nch, ns,
                <f32>self.noise_suppressor._speech_prob if self.noise_suppressor is not None
                else <f32>-1.0,
                echo_only, p_out * ECHO_SHAPED < p_in)
            for c in range(nch):
                if c > 0:
                    (<Chain>self._peer[c]).gain_control.follow_c(self.gain_control)
                (<Chain>self._peer[c])._agc1 = (
                    self.gain_control._gain * self.gain_control._lim)
        else:
            for c in range(nch):
                (<Chain>self._peer[c])._agc0 = 1.0
                (<Chain>self._peer[c])._agc1 = 1.0
        # the bands above 8 kHz: one echo-suppression gain too, from the channels' means
        gs = (self.echo_canceller.suppressor.upper_band_gain_mean(self.echo_canceller.ld2)
              if self._bank is not None else -1.0)
        for c in range(nch):
            bad[c] = (<Chain>self._peer[c])._back_c(gs) != OK
        if self.gain_control is not None and (self._up is not None or self._bank is not None):
            # one output limiter over every channel's peaks (each chain's follows it);
            # max |x| (the frames are finite here), as ca_peak_ramp(x, n, 1, 0) but on the
            # bit patterns
            for c in range(nch):
                p = ca_peak_ramp_f32((<Chain>self._peer[c])._cap, <int>n, 1.0, 0.0)
                if p > pk:
                    pk = p
            lim = self._olim
            if _olimit_target(pk, self.gain_control._clip) < lim:   # attack
                for c in range(nch):
                    f = ca_first_over((<Chain>self._peer[c])._cap, <int>n, 1.0, 0.0, lim,
                                      self.gain_control._clip)
                    if f >= 0 and (first < 0 or f < first):
                        first = f
            for c in range(nch):
                (<Chain>self._peer[c])._olim = self._olimit_apply(
                    (<Chain>self._peer[c])._cap, n, pk, first, lim)
        for c in range(nch):
            if bad[c]:
                rc = ERR_NONFINITE
                (<Chain>self._peer[c]).reset_c()
            cap = (<Chain>self._peer[c])._cap
            if i16:
                for i in range(n):
                    v = cap[i] * I16_SCALE
                    v = v + 0.5 if v >= 0 else v - 0.5      # round half away from zero
                    if v > 32767.0:
                        v = 32767.0
                    elif v < -32768.0:
                        v = -32768.0
                    di[i * nch + c] = <int16_t>v
            elif nch != 2:
                ca_scatter_f32(cap, df + c, nch, <int>n)
        if nch == 2 and not i16:
            ca_interleave2_f32((<Chain>self._peer[0])._cap, (<Chain>self._peer[1])._cap, df,
                               <int>n)
        return rc

    cdef int _lock_linked(self, int nch) noexcept nogil:
        """Take every linked channel's capture lock (:func:`_lock_states`): this chain's
        first (``link`` changes the group under it). LOCKS_HELD (0); LOCKS_CLAIMED: one of
        them is claimed, LOCKS_REGROUPED: the group is no longer ``nch`` channels (``link``
        ran since the caller looked), LOCKS_REENTERED; none is held then."""
        cdef void* states[MAX_LINK]
        cdef _Group g
        cdef int c, rc
        cdef bint busy = False
        g.lead = <void*>self
        g.nch = nch
        rc = _lock_states(<void*>self.state, False, _group_states, &g, states)
        if rc != LOCKS_HELD:
            return rc
        for c in range(nch):
            busy = busy or (<Chain>self._peer[c]).state.claimed
        if busy:
            self._unlock_linked()
            return LOCKS_CLAIMED
        return LOCKS_HELD

    cdef void _lock_renders(self, int nch) noexcept nogil:
        """Take every linked channel's render lock (the capture locks held, so the group
        stays), as :meth:`_lock_linked` takes the capture locks."""
        cdef void* states[MAX_LINK]
        cdef _Group g
        g.lead = <void*>self
        g.nch = nch
        _lock_states(<void*>self.state, True, _group_states, &g, states)

    cdef void _unlock_linked(self) noexcept nogil:
        cdef int c
        for c in range(self._nlink - 1, -1, -1):
            PyThread_release_lock((<Chain>self._peer[c]).state.capture_lock)

    def capture_linked(self, cnp.ndarray mic not None, cnp.ndarray out not None):
        """Process a C-contiguous (frame_size, linked_channels) frame of a linked capture
        (see :meth:`link`); ``mic`` and ``out`` as for :meth:`capture` (``out`` may be
        ``mic``). Returns OK (0), or ERR_NONFINITE when a channel's output went non-finite
        (its frame is silence and its chain has been reset in place)."""
        cdef int typ = _dtype_of(mic)
        cdef int rc = OK, busy, nch = self._nlink
        if nch < 2:
            raise ValueError("not a linked chain")
        if typ != _dtype_of(out):
            raise TypeError("mic and out must have the same dtype")
        if typ != cnp.NPY_FLOAT32 and typ != cnp.NPY_INT16:
            raise TypeError("frames must be float32 or int16 in native byte order")
        if cnp.PyArray_SIZE(mic) != self.frame_size * nch or \
                cnp.PyArray_SIZE(out) != self.frame_size * nch:
            raise ValueError("frame size mismatch")
        if not (cnp.PyArray_IS_C_CONTIGUOUS(mic) and cnp.PyArray_IS_C_CONTIGUOUS(out)):
            raise ValueError("frames must be C-contiguous")
        if not (cnp.PyArray_ISALIGNED(mic) and cnp.PyArray_ISALIGNED(out)):
            raise ValueError("frames must be aligned to their dtype")
        if not cnp.PyArray_ISWRITEABLE(out):
            raise ValueError("out must be writable")
        cdef void* src = cnp.PyArray_DATA(mic)
        cdef void* dst = cnp.PyArray_DATA(out)
        cdef bint i16 = typ == cnp.NPY_INT16
        with nogil:
            busy = self._lock_linked(nch)
            if not busy:
                rc = self.capture_linked_c(src, dst, i16)
                self._unlock_linked()
        _raise_unlocked(busy)
        return rc

    def process_block_linked(self, cnp.ndarray mic not None, cnp.ndarray out not None, far,
                             Py_ssize_t far_channels=1):
        """:meth:`process_block` for a linked capture: every channel at once, frame by
        frame (``mic``/``out``: frames * frame_size x linked_channels float32; the far
        frame is analysed once and fed to every channel's canceller). Returns the number
        of frames in which a channel's output went non-finite."""
        cdef Py_ssize_t n = self.frame_size, k, frames, nch = self._nlink
        cdef int resets = 0, c
        cdef f32* ref = NULL
        cdef int busy
        if nch < 2:
            raise ValueError("not a linked chain")
        frames = _block_frames(mic, out, far, n, nch, far_channels)
        if far is not None:
            ref = <f32*>cnp.PyArray_DATA(far)
        cdef f32* src = <f32*>cnp.PyArray_DATA(mic)
        cdef f32* dst = <f32*>cnp.PyArray_DATA(out)
        with nogil:
            busy = self._lock_linked(nch)
            if not busy:
                self._lock_renders(nch)
                for k in range(frames):
                    if ref != NULL:
                        self.render_f32(ref + k * n * far_channels, far_channels)
                        self._render_peers_c()
                    if self.capture_linked_c(src + k * n * nch, dst + k * n * nch,
                                             False) != OK:
                        resets += 1
                for c in range(nch - 1, -1, -1):
                    PyThread_release_lock((<Chain>self._peer[c]).state.render_lock)
                self._unlock_linked()
        _raise_unlocked(busy)
        return resets

    cdef void _render_peers_c(self) noexcept nogil:
        """The far frame this chain just rendered, to the other linked channels."""
        cdef int c
        for c in range(1, self._nlink):
            (<Chain>self._peer[c])._take_far_c(self._far_frame())

    cdef void _take_far_c(self, const f32* far) noexcept nogil:
        self.echo_canceller.render_c(far, self._ns)
        self.state.render_frames += 1

    # -- strided float32 / int16 boundary ----------------------------------------------

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int capture_f32(self, const f32* src, f32* dst, Py_ssize_t stride) noexcept nogil:
        cdef Py_ssize_t i, n = self.frame_size
        cdef int rc
        if stride == 1:     # mono: two copies the C library vectorises
            memcpy(self._cap, src, n * sizeof(f32))
            rc = self.capture_c(self._cap)
            memcpy(dst, self._cap, n * sizeof(f32))
            return rc
        for i in range(n):
            self._cap[i] = src[i * stride]
        rc = self.capture_c(self._cap)
        for i in range(n):
            dst[i * stride] = self._cap[i]
        return rc

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int capture_i16(self, const int16_t* src, int16_t* dst, Py_ssize_t stride) noexcept nogil:
        cdef Py_ssize_t i, n = self.frame_size
        cdef int rc
        cdef f32 v
        for i in range(n):
            self._cap[i] = src[i * stride] * (1.0 / I16_SCALE)
        rc = self.capture_c(self._cap)
        for i in range(n):
            v = self._cap[i] * I16_SCALE
            v = v + 0.5 if v >= 0 else v - 0.5      # round half away from zero
            if v > 32767.0:
                v = 32767.0
            elif v < -32768.0:
                v = -32768.0
            dst[i * stride] = <int16_t>v
        return rc

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef void render_f32(self, const f32* src, Py_ssize_t channels) noexcept nogil:
        cdef Py_ssize_t i, c, n = self.frame_size
        cdef f32 s, inv = 1.0 / channels
        if channels == 1 and ca_count_nonfinite(src, <int>n) == 0:
            ca_clamp_copy(src, self._ren, <int>n, INPUT_CLAMP)    # the guard, copying
            self.render_c(self._ren)
            return
        for i in range(n):
            s = 0.0
            for c in range(channels):
                s += src[i * channels + c]
            self._ren[i] = s * inv
        guard_input(self._ren, n)
        self.render_c(self._ren)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef void render_i16(self, const int16_t* src, Py_ssize_t channels) noexcept nogil:
        cdef Py_ssize_t i, c, n = self.frame_size
        cdef f32 s, inv = 1.0 / (channels * I16_SCALE)
        for i in range(n):
            s = 0.0
            for c in range(channels):
                s += src[i * channels + c]
            self._ren[i] = s * inv
        self.render_c(self._ren)

    # -- Python-facing entry points (arguments validated by VoiceProcessor) -------------

    def capture(self, cnp.ndarray mic not None, cnp.ndarray out not None,
                Py_ssize_t channel=0, Py_ssize_t channels=1):
        """Process channel ``channel`` of a C-contiguous (frame_size[, channels]) frame.

        ``mic`` and ``out`` must have the same dtype (float32 or int16), shape and
        contiguity; ``out`` may be ``mic``. Returns OK (0), or ERR_NONFINITE when a stage
        produced a non-finite value despite the input guard: the frame is silence then and
        the chain has been reset in place, so the next frame starts clean.
        """
        cdef int typ = _dtype_of(mic)
        cdef int rc
        if typ != _dtype_of(out):
            raise TypeError("mic and out must have the same dtype")
        if not (_holds(mic, self.frame_size, channels) and
                _holds(out, self.frame_size, channels)):
            raise ValueError("frame size mismatch")
        if not (cnp.PyArray_IS_C_CONTIGUOUS(mic) and cnp.PyArray_IS_C_CONTIGUOUS(out)):
            raise ValueError("frames must be C-contiguous")
        if not (cnp.PyArray_ISALIGNED(mic) and cnp.PyArray_ISALIGNED(out)):
            raise ValueError("frames must be aligned to their dtype")
        if not cnp.PyArray_ISWRITEABLE(out):
            raise ValueError("out must be writable")
        if not 0 <= channel < channels:
            raise ValueError("channel out of range")
        cdef char* src = <char*>cnp.PyArray_DATA(mic)
        cdef char* dst = <char*>cnp.PyArray_DATA(out)
        if typ != cnp.NPY_FLOAT32 and typ != cnp.NPY_INT16:
            raise TypeError("frames must be float32 or int16 in native byte order")
        cdef bint busy
        _not_held_here(self.state)
        with nogil:
            busy = _capture_locked(self, src, dst, typ, channel, channels, &rc)
        if busy:
            raise ChainClaimed()
        return rc

    def process_block(self, cnp.ndarray mic not None, cnp.ndarray out not None, far,
                      Py_ssize_t channel=0, Py_ssize_t channels=1, Py_ssize_t far_channels=1):
        """Render and capture a whole signal, frame by frame, in one GIL-free section.

        ``mic``/``out``: C-contiguous float32 (frames * frame_size[, channels]); ``far``:
        None or C-contiguous float32 (frames * frame_size[, far_channels]). Frame k's far
        frame is rendered just before frame k is captured, exactly as a caller alternating
        ``render`` and ``capture`` would; a chain whose output went non-finite is reset
        before the next frame. Returns the number of such resets.
        """
        cdef Py_ssize_t n = self.frame_size, k, frames
        cdef int resets = 0
        cdef f32* src
        cdef f32* dst
        cdef f32* ref = NULL
        if channels < 1 or not 0 <= channel < channels:
            raise ValueError("bad channel layout")
        frames = _block_frames(mic, out, far, n, channels, far_channels)
        if far is not None:
            ref = <f32*>cnp.PyArray_DATA(far)
        src = <f32*>cnp.PyArray_DATA(mic) + channel
        dst = <f32*>cnp.PyArray_DATA(out) + channel
        cdef bint busy
        _not_held_here(self.state)
        with nogil:
            PyThread_acquire_lock(self.state.capture_lock, WAIT_LOCK)
            PyThread_acquire_lock(self.state.render_lock, WAIT_LOCK)
            busy = self.state.claimed
            for k in range(0 if busy else frames):
                if ref != NULL:
                    self.render_f32(ref + k * n * far_channels, far_channels)
                if self.capture_f32(src + k * n * channels, dst + k * n * channels,
                                    channels) != OK:
                    resets += 1
                    self.reset_c()
            PyThread_release_lock(self.state.render_lock)
            PyThread_release_lock(self.state.capture_lock)
        if busy:
            raise ChainClaimed()
        return resets

    cdef const f32* _far_frame(self) noexcept nogil:
        """The last far frame as the echo canceller got it (downmixed, resampled, band 0)."""
        if self._rbank is not None:
            return self._rlow
        if self._rup is not None:
            return self._rmid
        return self._ren

    def render_shared(self, Chain source not None):
        """Feed this chain the far frame ``source`` has just rendered, without downmixing,
        resampling or splitting it again: the far-end analysis of a multi-channel capture
        is done once per frame (``source`` is the first channel's chain; same rate and
        band split). Takes ``source``'s render lock, then this chain's."""
        if source is self:
            return
        if source.sample_rate != self.sample_rate or source.split_bands != self.split_bands \
                or (source.echo_canceller is None) != (self.echo_canceller is None):
            raise ValueError("render_shared needs a chain of the same rate, band split "
                             "and echo canceller")
        cdef bint busy
        with nogil:
            busy = _render_shared_locked(self, source)
        if busy:
            raise ChainClaimed()

    def render(self, cnp.ndarray far not None, Py_ssize_t channels=1):
        """Feed a C-contiguous (frame_size[, channels]) far-end frame (downmixed to mono)."""
        cdef int typ = _dtype_of(far)
        if not _holds(far, self.frame_size, channels):
            raise ValueError("frame size mismatch")
        if not (cnp.PyArray_IS_C_CONTIGUOUS(far) and cnp.PyArray_ISALIGNED(far)):
            raise ValueError("frames must be C-contiguous and aligned")
        cdef char* src = <char*>cnp.PyArray_DATA(far)
        if typ != cnp.NPY_FLOAT32 and typ != cnp.NPY_INT16:
            raise TypeError("frames must be float32 or int16 in native byte order")
        cdef bint busy
        with nogil:
            busy = _render_locked(self, src, typ, channels)
        if busy:
            raise ChainClaimed()

    # -- C interface for a compiled audio callback (callaudio._dsp.rt) ------------------

    def c_api(self):
        """A PyCapsule with this chain's per-frame C entry points (``ca_chain_api``,
        ``ca_rt.h``) for a compiled audio callback. It holds no reference: its user keeps
        the chain alive, and must be the chain's only user while it runs (the C entry
        points take no path lock)."""
        cdef ca_chain_api* api = <ca_chain_api*>PyMem_Malloc(sizeof(ca_chain_api))
        if api == NULL:
            raise MemoryError()
        api.self = <void*>self
        api.render = _api_render
        api.capture = _api_capture
        api.reset = _api_reset
        api.reset_echo_path = _api_reset_echo_path
        api.frame_size = self.frame_size
        api.capture_multi = _api_capture_multi
        api.linked_channels = &self._nlink   # live: fixed while the chain is claimed
        return PyCapsule_New(api, CA_CHAIN_API_CAPSULE, _api_free)


cdef extern from "ca_rt.h":
    ctypedef struct ca_chain_api:
        void* self
        void (*render)(void*, const f32*) noexcept nogil
        int (*capture)(void*, f32*) noexcept nogil
        void (*reset)(void*) noexcept nogil
        void (*reset_echo_path)(void*) noexcept nogil
        int frame_size
        int (*capture_multi)(void*, f32*) noexcept nogil
        const int* linked_channels
    const char* CA_CHAIN_API_CAPSULE


cdef void _api_render(void* chain, const f32* far) noexcept nogil:
    (<Chain>chain).render_c(far)


cdef int _api_capture(void* chain, f32* x) noexcept nogil:
    return (<Chain>chain).capture_c(x)


cdef int _api_capture_multi(void* chain, f32* x) noexcept nogil:
    return (<Chain>chain).capture_linked_c(x, x, False)


cdef void _api_reset(void* chain) noexcept nogil:
    (<Chain>chain).reset_c()


cdef void _api_reset_echo_path(void* chain) noexcept nogil:
    if (<Chain>chain).echo_canceller is not None:
        (<Chain>chain).echo_canceller.reset_path_c()


cdef void _api_free(object capsule) noexcept:
    PyMem_Free(PyCapsule_GetPointer(capsule, CA_CHAIN_API_CAPSULE))


# -- one compiled entry point per path for VoiceProcessor ---------------------------------

cdef inline bint _native_frame(object a, Py_ssize_t n):
    """``a`` is exactly an ndarray of native float32 or int16, C-contiguous and aligned,
    of shape (n,) or (n, k) with k >= 1."""
    if not cnp.PyArray_CheckExact(a):
        return False
    cdef cnp.ndarray x = <cnp.ndarray>a
    cdef int typ = cnp.PyArray_TYPE(x)
    if (typ != cnp.NPY_FLOAT32 and typ != cnp.NPY_INT16) or not cnp.PyArray_ISNOTSWAPPED(x):
        return False
    cdef int nd = cnp.PyArray_NDIM(x)
    if nd < 1 or nd > 2 or cnp.PyArray_DIM(x, 0) != n or (nd == 2 and cnp.PyArray_DIM(x, 1) < 1):
        return False
    return cnp.PyArray_IS_C_CONTIGUOUS(x) and cnp.PyArray_ISALIGNED(x)


cdef inline bint _overlap(cnp.ndarray a, cnp.ndarray b):
    """The two arrays' bytes overlap (both C-contiguous)."""
    cdef char* pa = <char*>cnp.PyArray_DATA(a)
    cdef char* pb = <char*>cnp.PyArray_DATA(b)
    return pa < pb + cnp.PyArray_NBYTES(b) and pb < pa + cnp.PyArray_NBYTES(a)


cdef class FrameEntry:
    """The per-frame entry points of one :class:`callaudio.VoiceProcessor` over its chains
    (one per capture channel): one compiled call per frame and path.

    Each call checks the frame in C and runs it only when it is exactly what the chains
    take as it is (an ndarray of native float32 or int16, C-contiguous and aligned, of the
    processor's frame shape; for capture an ``out`` of the same shape and dtype, writable,
    either the input itself or, with several channels, not overlapping it). Anything else
    -- a wrong frame, one that needs a copy, a processor without chains (closed) -- returns
    None having touched nothing, and the caller validates it in full (and raises, or
    copies and runs). The frame then runs exactly as ``Chain.capture``/``Chain.render`` and
    ``Chain.render_shared`` run it: each chain's path lock taken without the GIL, raising
    ChainClaimed (nothing run on that chain) while a user has claimed it. Linked channels
    (``Chain.link``) run as ``Chain.capture_linked`` runs them: every channel's lock
    taken, ChainClaimed (nothing run) when any of them is claimed.
    """
    cdef tuple _chains
    cdef Chain _first
    cdef Py_ssize_t _n          # samples per channel in one frame
    cdef Py_ssize_t _channels   # capture channels (= chains)

    def __cinit__(self, chains, Py_ssize_t channels):
        self._chains = tuple(chains)
        if self._chains and len(self._chains) != channels:
            raise ValueError("one chain per capture channel")
        for ch in self._chains:
            if not isinstance(ch, Chain):
                raise TypeError("chains must be Chain instances")
        self._first = self._chains[0] if self._chains else None
        self._n = self._first.frame_size if self._chains else 0
        self._channels = channels

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def capture(self, object mic, object out):
        """One capture frame: returns ``out`` (a new array when None) after running it, or
        None when the caller must validate the arguments (nothing run)."""
        cdef Py_ssize_t chans = self._channels, c
        if self._first is None or not _native_frame(mic, self._n):
            return None
        cdef cnp.ndarray x = <cnp.ndarray>mic
        cdef cnp.ndarray y
        cdef int typ = cnp.PyArray_TYPE(x)
        cdef int nd = cnp.PyArray_NDIM(x)
        if (nd == 2 and cnp.PyArray_DIM(x, 1) != chans) or (nd == 1 and chans != 1):
            return None
        if out is None:
            y = cnp.PyArray_EMPTY(nd, cnp.PyArray_DIMS(x), typ, 0)
        else:
            if out is not mic:
                if not _native_frame(out, self._n):
                    return None
                y = <cnp.ndarray>out
                if cnp.PyArray_TYPE(y) != typ or cnp.PyArray_NDIM(y) != nd or \
                        (nd == 2 and cnp.PyArray_DIM(y, 1) != chans):
                    return None
                if chans > 1 and _overlap(x, y):   # channel by channel: it would tear mic
                    return None
            else:
                y = x
            if not cnp.PyArray_ISWRITEABLE(y):
                return None
        cdef char* src = <char*>cnp.PyArray_DATA(x)
        cdef char* dst = <char*>cnp.PyArray_DATA(y)
        cdef Chain ch = self._first
        cdef bint busy = False
        cdef int lk, rc
        if chans == 1:
            _not_held_here(ch.state)
            with nogil:
                busy = _capture_locked(ch, src, dst, typ, 0, 1, &rc)
        elif ch._nlink == chans:
            # linked channels: the whole frame in the linked capture (Chain.capture_linked,
            # the C API's capture_multi): one common gain, never channel by channel
            with nogil:
                lk = ch._lock_linked(<int>chans)
                if lk == 0:
                    ch.capture_linked_c(src, dst, typ == cnp.NPY_INT16)
                    ch._unlock_linked()
            if lk == LOCKS_REGROUPED:   # relinked since the check above: the checked path
                return None
            _raise_unlocked(lk)
        else:
            for c in range(chans):
                _not_held_here((<Chain>self._chains[c]).state)
            for c in range(chans):
                ch = <Chain>self._chains[c]
                with nogil:
                    busy = _capture_locked(ch, src, dst, typ, c, chans, &rc)
                if busy:
                    break
        if busy:
            raise ChainClaimed()
        return out if out is not None else y

    def render(self, object far):
        """One far-end frame (any channel count, downmixed): True after running it, or
        None when the caller must validate the argument (nothing run)."""
        if self._first is None or not _native_frame(far, self._n):
            return None
        cdef cnp.ndarray x = <cnp.ndarray>far
        cdef Py_ssize_t k = 1 if cnp.PyArray_NDIM(x) == 1 else cnp.PyArray_DIM(x, 1), c
        cdef int typ = cnp.PyArray_TYPE(x)
        cdef char* src = <char*>cnp.PyArray_DATA(x)
        cdef Chain first = self._first
        cdef Chain ch
        cdef bint busy
        with nogil:
            busy = _render_locked(first, src, typ, k)
        if busy:
            raise ChainClaimed()
        for c in range(1, self._channels):   # as Chain.render_shared(first)
            ch = <Chain>self._chains[c]
            with nogil:
                busy = _render_shared_locked(ch, first)
            if busy:
                raise ChainClaimed()
        return True


cdef inline bint _capture_locked(Chain ch, char* src, char* dst, int typ, Py_ssize_t c,
                                 Py_ssize_t chans, int* rc) noexcept nogil:
    """Channel ``c`` of a float32/int16 frame through ``ch`` under its capture lock (reset
    in place after a non-finite output; ``rc``: the capture's code); True (nothing run) if
    the chain is claimed."""
    PyThread_acquire_lock(ch.state.capture_lock, WAIT_LOCK)
    cdef bint busy = ch.state.claimed
    if not busy:
        if typ == cnp.NPY_FLOAT32:
            rc[0] = ch.capture_f32(<f32*>src + c, <f32*>dst + c, chans)
        else:
            rc[0] = ch.capture_i16(<int16_t*>src + c, <int16_t*>dst + c, chans)
        if rc[0] != OK:
            ch.reset_c()
    PyThread_release_lock(ch.state.capture_lock)
    return busy


cdef inline bint _render_locked(Chain ch, char* src, int typ, Py_ssize_t chans) noexcept nogil:
    """A float32/int16 far frame of ``chans`` channels into ``ch`` under its render lock;
    True (nothing run) if the chain is claimed."""
    PyThread_acquire_lock(ch.state.render_lock, WAIT_LOCK)
    cdef bint busy = ch.state.claimed
    if not busy:
        if typ == cnp.NPY_FLOAT32:
            ch.render_f32(<f32*>src, chans)
        else:
            ch.render_i16(<int16_t*>src, chans)
    PyThread_release_lock(ch.state.render_lock)
    return busy


cdef inline bint _render_shared_locked(Chain ch, Chain source) noexcept nogil:
    """Chain.render_shared's locked section; True (nothing run) if either is claimed.
    Both render locks, source's first (:func:`_lock_states`: a.render_shared(b) and
    b.render_shared(a) at once take them in opposite orders)."""
    cdef bint busy, same = ch.state is source.state
    cdef void* states[1]
    _lock_states(<void*>source.state, True, _one_state, NULL if same else <void*>ch.state,
                 states)
    busy = ch.state.claimed or source.state.claimed
    if not busy:
        if ch.echo_canceller is not None and source.echo_canceller is not None:
            ch.echo_canceller.render_c(source._far_frame(), ch._ns)
        ch.state.render_frames += 1
    if not same:
        PyThread_release_lock(ch.state.render_lock)
    PyThread_release_lock(source.state.render_lock)
    return busy


# -- taking several chains' path locks --------------------------------------------------

cdef int _lock_states(void* first, bint render, _states_fn others_of, void* ctx,
                      void** states) noexcept nogil:
    """Take the path lock (render or capture) of the PathState ``first`` waiting; then,
    with it held, those of the states ``others_of(ctx, states)`` writes to ``states`` (it
    returns how many; a negative value -code: give up with that code) without waiting.
    When one is busy, all are given back and taken again after a yield: a thread never
    waits for a lock while it holds another, so callers taking overlapping sets in
    opposite orders (``a.link([b])`` with ``b.link([a])``, linked captures of two groups
    sharing chains, ``a.render_shared(b)`` with the reverse) cannot deadlock.
    Returns LOCKS_HELD (all held), the code ``others_of`` gave, or LOCKS_REENTERED when
    this thread holds one of the capture locks inside ``Chain.locked`` (waiting for it
    would never end); nothing is held then."""
    cdef unsigned long me = 0 if render else ca_thread_ident()
    cdef PyThread_type_lock lock0 = (<PathState>first).render_lock if render else \
        (<PathState>first).capture_lock
    cdef int n, got, c
    if me != 0 and (<PathState>first).holder == me:
        return LOCKS_REENTERED
    while True:
        PyThread_acquire_lock(lock0, WAIT_LOCK)
        n = others_of(ctx, states)
        if n < 0:
            PyThread_release_lock(lock0)
            return -n
        for c in range(n):
            if me != 0 and (<PathState>states[c]).holder == me:
                PyThread_release_lock(lock0)
                return LOCKS_REENTERED
        got = 0
        while got < n and PyThread_acquire_lock(_path_lock(states[got], render), NOWAIT_LOCK):
            got += 1
        if got == n:
            return LOCKS_HELD
        for c in range(got - 1, -1, -1):
            PyThread_release_lock(_path_lock(states[c], render))
        PyThread_release_lock(lock0)
        ca_yield()


cdef inline PyThread_type_lock _path_lock(void* state, bint render) noexcept nogil:
    return (<PathState>state).render_lock if render else (<PathState>state).capture_lock


cdef int _group_states(void* ctx, void** states) noexcept nogil:
    """A linked group's other channels' states (``ctx``: a _Group; its first chain's lock
    held); -LOCKS_REGROUPED when ``link`` changed the group since the caller looked."""
    cdef _Group* g = <_Group*>ctx
    cdef int c
    if (<Chain>g.lead)._nlink != g.nch:
        return -LOCKS_REGROUPED
    for c in range(1, g.nch):
        states[c - 1] = <void*>(<Chain>(<Chain>g.lead)._peer[c]).state
    return g.nch - 1


cdef int _one_state(void* ctx, void** states) noexcept nogil:
    """``ctx`` (a PathState; NULL: none)."""
    if ctx == NULL:
        return 0
    states[0] = ctx
    return 1


cdef int _member_states(void* ctx, void** states) noexcept nogil:
    """Chain.link's other states (``ctx``: the list [leader, followers, None]; the
    leader's capture lock held): the followers' and the leader's current group's, one per
    state, the leader's left out; their chains go to ``ctx[2]``."""
    with gil:
        return _members_of(<list>ctx, states)


cdef int _members_of(list ctx, void** states) noexcept:
    cdef Chain lead = ctx[0]
    cdef list others = []
    for f in ctx[1] + (lead._peer_refs or []):
        if (<Chain>f).state is not lead.state and all(
                (<Chain>f).state is not (<Chain>o).state for o in others):
            states[len(others)] = <void*>(<Chain>f).state
            others.append(f)
    ctx[2] = others
    return len(others)


cdef bint _claimed_against(Chain ch, object key):
    """Whether ``ch``'s state is claimed by someone other than the holder of ``key``."""
    return ch.state.claimed and (key is None or ch.state.claim_key is not key)


cdef _raise_unlocked(int rc):
    """The error for a :func:`_lock_states` code (LOCKS_HELD: none)."""
    if rc == LOCKS_REGROUPED:
        raise ValueError("the linked group changed (link) during the call")
    if rc == LOCKS_CLAIMED:
        raise ChainClaimed()
    if rc == LOCKS_REENTERED:
        raise ChainLockHeld()
