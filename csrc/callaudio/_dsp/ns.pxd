# Noise suppressor stage (STFT gain over a tracked noise PSD, low-delay windows).  See ns.pyx.
from callaudio._dsp._typedefs cimport f32, f64
from callaudio._dsp.fft cimport RealFFT


cdef class NoiseSuppressor:
    cdef readonly int sample_rate
    # Maximum noise attenuation (dB); the gain floor is 10 ** (-level_db / 20).
    cdef readonly double level_db
    # Analysis hops per 10 ms frame (1, 2 or 4); hop_size = frame_size // hops_per_frame.
    cdef readonly int hops_per_frame
    # The low-delay window pair (output delay frame_size / 4, 2.5 ms, or delay_samples)
    # instead of the one-hop pair.
    cdef readonly bint low_delay
    cdef readonly int frame_size
    cdef readonly int hop_size
    # FFT length = analysis window length = 2 * frame_size (20 ms).
    cdef readonly int fft_size
    # Output delay in samples: hop_size, or min(hop_size, frame_size / 4) with low_delay
    # (the low-delay windows of ns.pyx, item 1).
    cdef readonly int latency_samples

    cdef RealFFT _fft
    cdef int _nbins
    # Constants derived in __cinit__ (per hop).
    cdef f32 _gmin             # gain floor (linear)
    cdef f32 _log_gmin         # ln(_gmin)
    cdef f32 _a_noise          # noise PSD smoothing factor
    cdef f32 _a_spp            # smoothing factor of the stagnation-control SPP average
    cdef f32 _noise_floor      # lowest noise PSD value (|X|^2 units, about -140 dBFS)
    cdef f32 _wa_energy        # sum of the analysis window squared
    cdef int _n_init           # hops averaged to initialise the noise PSD
    cdef int _vad_lo, _vad_hi  # bin range of the frame speech likelihood
    cdef double _vad_threshold  # mean presence where the frame LR is 1 (rate table)
    # Buffers (all allocated in __cinit__).
    cdef f32* _wa              # analysis window, fft_size
    cdef f32* _ws              # synthesis window, fft_size (non-zero on the last R + d)
    cdef f32* _inbuf           # last fft_size input samples
    cdef f32* _tbuf            # windowed frame / inverse FFT output, fft_size
    cdef f32* _spec            # spectrum, fft_size + 2 (interleaved re, im)
    cdef f32* _outacc          # overlap-add accumulator, hop_size + latency_samples
    cdef f32* _power           # this hop's |X|^2, nbins
    cdef f32* _noise           # noise PSD estimate, nbins
    cdef f32* _pprev           # previous hop's |X|^2, nbins
    cdef f32* _gprev           # previous hop's gain, nbins
    cdef f32* _sppbar          # smoothed speech-presence probability, nbins
    cdef f32* _xi              # previous hop's a priori SNR, nbins
    cdef f32* _zeta            # recursively smoothed a priori SNR, nbins
    cdef f32* _odds            # a priori absence odds of this hop, then its presence p, nbins
    cdef f32* _zloc            # zeta smoothed over frequency (local window), nbins
    cdef f32* _wloc            # normalised Hann weights, 2 * _hloc + 1
    cdef f32* _wglob           # normalised Hann weights, 2 * _hglob + 1
    cdef int _hloc, _hglob     # half-widths of the local / global windows (bins)
    cdef f32 _a_zeta           # smoothing factor of zeta
    cdef f32 _a_dd             # decision-directed factor (per hop, from DD_TAU_S)
    cdef f32* _floor_spec      # pause spectrum (speech-pause noise floor), nbins
    cdef f64* _ehist           # band energy of the last _nhist hops (ring)
    cdef int _nhist, _hist_pos  # ring length (FLOOR_WIN_S in hops), next slot
    cdef f32 _a_floor          # smoothing factor of the pause spectrum
    cdef f64 _floor_gate       # linear FLOOR_GATE_DB
    cdef f32* _noise_used      # max(_noise, B w _floor_spec), tonal-limited: the gain's PSD
    cdef f32* _tonal_pad       # scratch of the tonal limit, nbins + 2 TONAL_BINS
    cdef f32 _tonal_on, _tonal_inv_span  # linear TONAL_ON_DB, 1 / (FULL - ON) linear
    cdef f32* _pbar            # mean periodogram (TONAL_TAU_S) of the tonal protection, nbins
    cdef f32 _a_pbar           # its smoothing factor per update (every _tonal_every hops)
    cdef int _tonal_every      # hops between updates of _pbar and the weights (TONAL_EVERY_S)
    cdef f32* _tonal_t         # tonal weight per bin (0 outside the band), nbins
    cdef f32* _tonal_fl        # the local floor it limits s2 to, nbins
    cdef f32* _xprev           # unit phasors of the hop before an update (2 nbins, band only)
    cdef f32* _zlast           # the last update's phase advance x conj(xprev) (2 nbins)
    cdef f32* _coh             # phase coherence average, complex (2 nbins; |.| 0..1)
    cdef f32 _a_coh            # its smoothing factor per update (TONAL_COH_TAU_S)
    cdef f32* _hold            # onset hold per bin, hops left (ONSET_HOLD_S), nbins
    cdef f32 _onset, _onset_coh2, _onset_coh2_inv  # linear ONSET_DB, ONSET_COH[0]^2, 1 / ramp
    cdef f32 _hold_n           # ONSET_HOLD_S in hops
    cdef f32* _psm             # the periodogram's ONSET_TAU_S average, nbins
    cdef f32 _a_onset          # its smoothing factor per hop
    cdef f64 _wbar             # average of the pause-floor weight w (FLOOR_HOLD_TAU_S)
    cdef f64 _a_whold          # its smoothing factor per hop
    cdef bint _floor_known     # _floor_mean/_floor_geo hold _floor_spec's as it is now
    cdef f64 _floor_mean, _floor_geo  # its VAD-band mean and geometric mean (exp log-mean)
    # Transient (click) suppression (ns.pyx item 2; ns_impl.h TRANS_*).
    cdef f32* _tref            # the spectrum before a transient (TRANS_REF_TAU_S mean), nbins
    cdef int _t_lo, _t_hi      # bins of TRANS_LO_HZ .. TRANS_HI_HZ
    cdef f32 _a_tref
    cdef f32* _dref            # the detection reference (TRANS_DREF_*), nbins
    cdef f32 _a_dfall, _a_drise
    cdef f64 _a_trate
    cdef f64 _t_on, _t_off, _t_jump  # linear TRANS_ON_DB, TRANS_OFF_DB, TRANS_JUMP_DB
    cdef int _t_non, _t_noff   # bins that must stand over D: TRANS_FRAC_ON, _OFF of the band
    cdef int _t_max            # TRANS_MAX_S in hops
    cdef int _t_sup            # TRANS_SUPPRESS_S in hops (<= _t_max)
    cdef int _t_left           # hops left in a transient (0: none)
    cdef bint _t_refr          # a transient that lasted (not a click), until it ends
    cdef f64 _t_elprev, _t_e1, _t_e2  # last low-band mean, e_h history
    cdef f64 _t_el0            # the low-band mean before the transient
    cdef int _t_conf, _t_pend  # TRANS_CONFIRM_S in hops; hops left until the confirmation
    cdef bint _t_voiced        # the pending transient lasted or voicing followed it
    cdef f64 _t_rate           # confirmed clicks, decaying with TRANS_RATE_TAU_S
    cdef f64 _t_wt             # this hop's click weight (0 outside a transient)
    cdef long _t_count         # transients started since reset
    cdef f64 _t_peak           # the transient's highest e_h
    cdef f64 _t_retrig         # linear -TRANS_RETRIG_DB
    cdef void _transient(self) noexcept nogil
    cdef bint _t_onset(self, f64 eh, f64 e2) noexcept nogil
    cdef void _t_begin(self, f64 eh, f64 el, f64 dl) noexcept nogil
    # Speech absence in babble (ns.pyx item 4b; ns_impl.h ABSENT_*).
    cdef int _abs_hang         # ABSENT_HANG_S in hops
    cdef int _abs_run          # hops since the last one over ABSENT_ON (saturates at _abs_hang)
    cdef f64 _a_abs            # the absence weight's smoothing factor per hop
    cdef f64 _abs_u            # the absence weight (0..1)
    cdef f64 _abs_lev          # the talker's level over the pause spectrum (dB)
    cdef f64 _a_alev           # its smoothing factor per hop (ABSENT_LEVEL_TAU_S)
    cdef void _absence(self, f64 e, f32 log_gmin) noexcept nogil
    # Scalar state.
    cdef long _count           # hops since reset (saturates)
    cdef f64 _presence_acc          # sum over this frame's hops of the mean presence probability
    cdef f64 _log_odds         # VAD log odds (HMM recursion)
    cdef f64 _speech_prob

    # Process one 10 ms frame (n = frame_size) in place; the output lags by latency_samples.
    cdef void process_c(self, f32* x, Py_ssize_t n) noexcept nogil
    cpdef void reset(self)
    # The same, in place and allocation-free, for the per-frame path.
    cdef void reset_c(self) noexcept nogil
    cdef void _hop(self, f32* x) noexcept nogil
    cdef void _gain_hop(self, f32* spec, f64* sums) noexcept nogil
    cdef void _gain_power(self) noexcept nogil
    # Linked channels (one gain for all of a multi-channel capture; see ns.pyx):
    # accumulate a hop's power, the gain from the channels' mean power, apply a gain.
    cdef bint power_acc_c(self, const f32* spec, f32* acc, bint first) noexcept nogil
    cdef void process_power_c(self, const f32* acc, int count, int hop) noexcept nogil
    cdef void follow_c(self, NoiseSuppressor leader) noexcept nogil
    cdef const f32* gain_c(self) noexcept nogil
    cdef void apply_c(self, f32* spec, const f32* gain, f64* sums) noexcept nogil
    cdef void _frame_vad(self, int nh) noexcept nogil
    # Shared analysis (the echo canceller's suppressor; ns.pyx, item 1): hop ``hop`` (0 ..
    # hops_per_frame - 1) of a frame: this stage's gain from the analysis spectrum ``spec``
    # (fft_size + 2 floats, interleaved, made by analyse_c), applied in place; sums = (power
    # after, before); the speech probability is updated after the frame's last hop.
    # Returns False (nothing learnt or changed, sums untouched) when ``spec`` is not finite.
    cdef bint process_spectrum_c(self, f32* spec, int hop, f64* sums) noexcept nogil
    cdef int _shared_hops       # hops of the current shared frame that were processed
    # One hop's framing, for a stage that shares it: hop_size new samples of ``x`` into
    # the analysis buffer, the windowed spectrum into ``spec``; and the synthesis of a
    # (gained) spectrum into hop_size output samples, latency_samples late.
    cdef void analyse_c(self, const f32* x, f32* spec) noexcept nogil
    cdef void synthesise_c(self, const f32* spec, f32* out) noexcept nogil
    # Empty the analysis and overlap-add buffers (after a frame that had to be discarded).
    cdef void clear_output_c(self) noexcept nogil
    # Continue from another suppressor at the same rate (a chain that must change the
    # windows of an adopted one): see ns.pyx.
    cdef void carry_state_c(self, NoiseSuppressor other) noexcept
    # Mean gain of the last hop over the upper half of the spectrum (the band-split
    # chain's gain for the bands above).
    cdef f32 upper_band_gain_c(self) noexcept nogil
