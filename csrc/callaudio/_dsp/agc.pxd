# Automatic gain control stage (VAD, speech level, slew-limited gain, limiter).  See agc.pyx.
from callaudio._dsp._typedefs cimport f32, f64


cdef class GainControl:
    # -- configuration (read-only after construction) --
    cdef readonly int sample_rate
    cdef readonly int frame_size
    cdef readonly double target_level_dbfs
    cdef readonly double max_gain_db
    cdef readonly double min_gain_db
    cdef readonly double max_gain_change_db_per_s
    cdef readonly double noise_ceiling_dbfs
    cdef readonly double idle_gain_decay_db_per_s
    cdef readonly double limiter_threshold_dbfs
    # Always 0: the gain and the limiter act on the frame they were computed from.
    cdef readonly int latency_samples
    # Derived constants.
    cdef f64 _clip              # limiter ceiling, linear (threshold * LIMIT_MARGIN)
    cdef f64 _step_db           # max gain change per frame, dB
    cdef f64 _idle_step_db      # idle decay per frame, dB

    # -- noise floor tracker (minimum statistics over sub-windows) --
    cdef f64 _smoothed          # smoothed frame power
    cdef f64 _sub_min           # minimum of the current sub-window
    cdef f64 _sub_max           # maximum of the current sub-window
    cdef f64* _mins             # minima of the last NOISE_SUBWINDOWS sub-windows
    cdef f64* _maxs             # maxima of the same sub-windows
    cdef int _sub_count         # frames in the current sub-window
    cdef int _sub_head          # next slot of _mins
    cdef f64 _noise             # noise power estimate (mean square), drives the VAD
    cdef f64 _noise_held        # the same, rising only in non-speech frames: the noise cap
    cdef bint _started          # False until the first frame
    # -- voice activity --
    cdef int _hang              # hangover frames left
    cdef int _idle              # consecutive non-speech frames
    cdef bint _speech           # decision for the last frame
    cdef bint _learn            # the last frame taught the level (see process_c)
    cdef int _learn_hang        # hangover frames left of the learning decision
    cdef int _shout_hold        # entries left that go with a left-out (shouted) one
    cdef int _unobserved        # frames since the last noise observation (saturates)
    cdef f64* _mod              # powers of the last MOD_FRAMES learning candidates
    cdef int _mod_head
    cdef int _mod_count
    # -- speech level (P.56-gated power mean over a ring of speech-frame powers) --
    cdef f64* _ring
    cdef f64* _guarded          # the same entries after the shout guard
    cdef int _ring_head         # next slot
    cdef int _ring_count        # valid entries in the long window (<= LEVEL_FRAMES)
    cdef f64 _level             # long-window active speech power (mean square), 0 if unknown
    # -- gain --
    cdef f64 _desired_db
    cdef f64 _gain_db
    cdef f64 _gain              # linear gain at the end of the last frame
    cdef f64 _lim               # limiter gain (linear) at the end of the last frame

    # Process one 10 ms frame (n = frame_size) in place.  speech_prob in [0, 1] from an
    # upstream VAD, or negative (or NaN) to use the built-in energy VAD.  echo_only: the
    # frame is an echo suppressor's output with only echo left (not speech, not a noise
    # observation either).  echo_shaped: an echo canceller removed a large part of the
    # frame (no noise observation; it may be speech).
    cdef void process_c(self, f32* x, Py_ssize_t n, f32 speech_prob,
                        bint echo_only, bint echo_shaped) noexcept nogil
    # Steps 2-6 on a frame's mean square: the gain at the frame's end.
    cdef f64 level_c(self, f64 e, f32 speech_prob, bint echo_only,
                     bint echo_shaped) noexcept nogil
    # Linked channels: one gain and one limiter for nch frames (see agc.pyx).
    cdef void process_linked_c(self, f32** xs, int nch, Py_ssize_t n, f32 speech_prob,
                               bint echo_only, bint echo_shaped) noexcept nogil
    cdef void follow_c(self, GainControl leader) noexcept nogil
    cdef bint _update_floor(self, f64 e, bint observe) noexcept nogil
    cdef void _restart_floor(self) noexcept nogil
    cdef void _check_change(self) noexcept nogil
    cdef bint _modulated(self) noexcept nogil
    cpdef void reset(self)
    # The same, in place and allocation-free, for the per-frame path.
    cdef void reset_c(self) noexcept nogil
