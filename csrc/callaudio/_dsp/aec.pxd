# Acoustic echo canceller stage (see aec.pyx for the algorithm, papers and units).
from callaudio._dsp._typedefs cimport f32, f64
from callaudio._dsp.aec_delay cimport DelayEstimator
from callaudio._dsp.aec_filter cimport PartitionedKalmanFilter
from callaudio._dsp.aec_suppressor cimport ResidualEchoSuppressor
from callaudio._dsp.fft cimport RealFFT
from callaudio._dsp.ns cimport NoiseSuppressor


cdef class EchoCanceller:
    # configuration (read-only from Python)
    cdef readonly int sample_rate
    cdef readonly int frame_size
    cdef readonly double tail_ms
    cdef readonly double max_delay_ms
    cdef readonly double suppression
    cdef readonly double max_attenuation_db
    cdef readonly bint comfort_noise
    # sizes: n frame, k = n + 1 bins, P partitions, L lags, H far-spectrum ring frames
    cdef int n, k, P, L, H, lat
    cdef double gmin, wscale
    cdef RealFFT fft
    cdef PartitionedKalmanFilter filter
    # two-path: a copy of the adaptive filter taken while it was the better one (never adapts)
    cdef PartitionedKalmanFilter fg
    cdef DelayEstimator delay
    # the estimator whose correlation memory an echo-path change weakens: ``delay``, or a
    # linked capture's first channel's (``share_delay``)
    cdef DelayEstimator prior
    cdef ResidualEchoSuppressor suppressor
    cdef f32* _arena
    # render FIFO: FIFO_FRAMES + 1 slots, lock-free (render_c and capture_c may run on two
    # threads at once): frame counters that only grow, written with atomics (see render_c)
    cdef f32* fifo
    cdef long long fifo_w, fifo_r
    cdef long long overruns, underruns, nonfinite
    # time-domain history and work buffers
    cdef f32* far
    cdef f32* far_prev
    cdef f32* mic
    cdef f32* mic_prev
    cdef f32* y
    cdef f32* e
    cdef f32* yf        # the copy's echo estimate and error
    cdef f32* ef
    cdef f32* tmp
    cdef f32* wa
    # spectra (interleaved re/im, 2k floats) and powers (k floats)
    cdef f32* Xr        # H x 2k far spectra ring
    cdef f32* X2r       # H x k far power ring
    cdef f32* fe2r      # H far frame mean squares
    cdef f32* Dspec     # mic, low-delay window
    cdef f32* D2
    cdef long long t
    cdef int hint        # the application's delay hint in frames (-1: none)
    cdef int anchor_n    # frames the filter's peak stayed off-centre
    # statistics
    cdef double p_far, p_y, p_mic, p_e, p_out, conv_lin, sm_s, se_s
    cdef double ms_mic, ms_e    # this frame's mean squares of mic and error
    cdef double ms_y, s_ee, s_yy, s_ey  # echo estimate's, and smoothed error/estimate moments
    cdef double s_out           # this frame's output sum of squares (_statistics)
    cdef int talk_n  # consecutive frames of the suppressor's talker (_talker)
    cdef double g_echo          # echo power per far power, from a filter that works (0: unknown)
    cdef int dt_hang            # frames the near-talk decision still holds
    # no filter cancelled >= DE_JUMP_ERLE at the lag since it was taken or the echo path
    # changed: the delay estimator may replace it by the first-lock rule
    cdef bint provisional
    cdef int lag_age            # frames since the lag was taken (counts to DE_PROVE_FRAMES)
    cdef int relock_n           # frames left in which a path change lets the lag move (_aged)
    # Last frame: the far end talks or talked within 200 ms and no near-end talker is
    # evident (see capture_c), so what is left is echo, or near-end noise the suppressor
    # modulated with the far envelope. The chain passes this to the gain control so it
    # never learns either as speech.
    cdef readonly bint echo_only
    cdef int far_hang           # frames left in which the far end counts as talking
    cdef int div_n
    cdef int cp_n
    # two-path test (smoothed error-power differences and their variances), the smoothed
    # error power of the copy, and the delay state the copy was taken with (fg_lag -1: none)
    cdef double tp_d1, tp_d2, tp_v1, tp_v2, sf_s, fg_g
    cdef int fg_lag
    cdef bint fg_prov
    cdef long long n_copy, n_restore
    cdef long long n_far        # frames whose far spectrum this canceller computed
    # the filters' versions when the copy was last taken or restored: while both still
    # hold, the copy's echo estimate is the filter's
    cdef long long sync_f, sync_g
    # this frame's sum of squares of mic, and the two-path test's of ef and e (when set)
    cdef double ss_mic, tp_sff, tp_see
    cdef bint has_sff, has_see
    cdef long long nact
    # linked channels' per-bin means (uncertainty, tail partitions), a hop's power sum and
    # the comfort noise's amplitude
    cdef f32* lpx
    cdef f32* lwl
    cdef f32* lwm
    cdef f32* lacc
    cdef f32* lamp
    cdef f32* ld2               # linked channels' mean mic power spectrum (delay_linked_c)
    cdef f32* cdy               # 2k smoothed mic/echo-estimate cross-spectrum (D~ conj(Y~))
    cdef f32* cyy               # k smoothed |Y~|^2
    cdef f32* cdd               # k smoothed |D~|^2
    cdef f32* qv                # k the Kalman random-walk factor per bin (_random_walk)
    cdef f32* qfull             # k KF_Q everywhere, and
    cdef f32* qzero             # k 0 everywhere (constant: _random_walk's other answers)
    cdef int dt_calm            # frames left without the step's shrinking (an echo-path change)
    cdef double dt_x            # the suppressor's presence before its hold, held DT_MU_HOLD
    cdef double leak_q          # the suppressor's leakage latched where its presence < DT_MU_QUIET
    cdef int leak_n             # frames the presence stayed >= DT_MU_QUIET since leak_q was latched
    cdef bint dt_hold           # the control judged the frame near-end dominated (the lag holds)
    cdef double dt_s            # _random_walk's share of the Kalman step taken off (x DT_MU_CUT)
    cdef f32* drc               # 2k clock-drift tracker: the filter's remaining rotation (_drift)
    cdef f32* wold              # 2k the peak partition before this frame's update
    cdef f32* drph              # 2k the rotation's phasors
    cdef double dr_delta        # the drift: delay change per frame (samples)
    cdef double dr_p            # ... its error variance (ppm^2, _drift)
    cdef double w_ph, fg_ph     # rotation (samples) pending on the filter / the kept copy
    cdef int dr_n               # free frames tracked since the last estimate
    cdef int dr_pk              # the partition tracked (the filter's most energetic one)
    cdef EchoCanceller coh_src  # a linked follower's leader, whose coherence spectra it uses

    # Queue one far frame of frame_size samples (n is not checked).
    cdef void render_c(self, const f32* far, Py_ssize_t n) noexcept nogil
    # In place: mic -> echo-cancelled output (latency_samples late).  Returns OK, or
    # ERR_NONFINITE when the frame held NaN/Inf input (replaced by 0) or the echo path
    # had to be restarted; the output is always finite.
    cdef int capture_c(self, f32* mic, Py_ssize_t n) noexcept nogil
    # The same, with the noise suppressor ``post`` sharing the suppressor's synthesis
    # (None: capture_c): mic -> echo- and noise-suppressed output, framed in post's hops
    # and windows, post.latency_samples late (aec_suppressor.pyx, step 5).
    cdef int capture_post_c(self, f32* mic, Py_ssize_t n, NoiseSuppressor post) noexcept nogil
    # capture_post_c in steps, for linked capture channels (one residual-echo and noise
    # gain for all; see suppress_linked_c): each channel's filter, then step 6 once for
    # all channels (on the first channel's canceller), then each channel's NaN safety.
    cdef int capture_filter_c(self, f32* mic, Py_ssize_t nn) noexcept nogil
    # capture_filter_c in steps for linked channels: each channel's far FIFO, sanitation
    # and spectra (the far spectrum copied from the first channel's), one delay estimate
    # for all on the first channel's canceller (its estimator shared, ``share_delay``),
    # then each channel's filter with the lag taken (-1: none).
    cdef int analyse_c(self, f32* mic, EchoCanceller far_src) noexcept nogil
    cdef int delay_linked_c(self, void** ecs, int nch) noexcept nogil
    cdef bint share_delay(self, EchoCanceller leader)
    cdef void adapt_c(self, int lag) noexcept nogil
    cdef void suppress_linked_c(self, void** ecs, f32** outs, void** posts,
                                int nch) noexcept nogil
    cdef int capture_finish_c(self, f32* mic, int code, NoiseSuppressor post) noexcept nogil
    cdef const f32* _beyond_tail(self) noexcept nogil
    cdef void _statistics(self, f32* out) noexcept nogil
    cdef const f32* _random_walk(self) noexcept nogil
    # The last frame's output mean square without the noise suppressor's share (the
    # echo canceller's own output level; its statistics use it).
    cdef double ms_out
    # In place, allocation-free: forget the echo path, keep the delay as a weak prior.
    cdef void reset_path_c(self) noexcept nogil
    # In place, allocation-free: everything as after construction.
    cdef void reset_all_c(self) noexcept nogil
    cdef void _reset_path(self) noexcept nogil
    cdef void _reset_estimates(self) noexcept nogil
    cdef void _set_lag(self, int lag) noexcept nogil
    cdef void _anchor(self) noexcept nogil
    cdef void _divergence(self) noexcept nogil
    cdef int _two_path(self, double fsum) noexcept nogil
    cdef void _restore(self) noexcept nogil
    cdef void _keep(self) noexcept nogil
    cdef void _drift(self, bint free, int pk) noexcept nogil
    cdef void _suppress(self, f32* out, NoiseSuppressor post) noexcept nogil
    cdef bint _converged(self) noexcept nogil
    cdef bint _aged(self) noexcept nogil
    cdef bint _near_talk(self) noexcept nogil
    cdef bint _talker(self) noexcept nogil
