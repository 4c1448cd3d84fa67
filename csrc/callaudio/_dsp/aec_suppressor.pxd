# The echo canceller's residual-echo suppressor (see aec_suppressor.pyx).
from callaudio._dsp._typedefs cimport f32
from callaudio._dsp.fft cimport RealFFT
from callaudio._dsp.ns cimport NoiseSuppressor


cdef class ResidualEchoSuppressor:
    # Postfilter and synthesis after the adaptive filter (aec_suppressor.pyx).
    cdef int n, k, lat
    cdef double suppression, gmin
    cdef bint comfort_noise
    cdef RealFFT fft
    cdef f32* _arena
    cdef f32* wa
    cdef f32* ws
    cdef f32* tmp
    cdef f32* ola
    cdef f32* y_prev
    cdef f32* Yspec
    cdef f32* Espec
    cdef f32* Tspec
    cdef f32* Rrev
    cdef f32* Ebar
    cdef f32* Ybar
    cdef f32* nf
    cdef f32* See
    cdef f32* Rs
    cdef f32* G
    cdef f32* syy
    cdef f32* see
    cdef f32* NLe
    cdef f32* NLc
    cdef f32* Ls
    cdef f32* Aee
    cdef f32* Ayy
    cdef f32* Res
    cdef f32* Kf                       # the talker's floor per bin (step 5; zeros: none)
    cdef bint kf_set
    # the canceller's smoothed mic/echo-estimate spectra (``set_coherence``; NULL: none)
    cdef const f32* coh_dy
    cdef const f32* coh_yy
    cdef const f32* coh_dd
    cdef void set_coherence(self, const f32* cdy, const f32* cyy, const f32* cdd) noexcept nogil
    cdef int nlearn, last_lag, hold, lag_before, since_louder
    cdef bint hold_jump
    cdef double gamma, Pey, Pyy, leak
    cdef double zbar, pzz, near
    cdef double near_now        # this frame's presence before the hold (NEAR_HOLD)
    cdef double keep_ctx               # the talker's floor context (step 5)
    cdef unsigned int rng
    cdef unsigned int rng_jump[32]     # the comfort noise's state map over k bins
    # the last frame's output power over the echo-suppressed power (the noise suppressor's
    # share of the attenuation when it shares this synthesis; 1 without it)
    cdef double post_ratio
    cdef void reset_path(self) noexcept nogil
    cdef void clear_output(self) noexcept nogil
    cdef void reset_all(self) noexcept nogil
    cdef void process(self, f32* out, const f32* y, const f32* e, const f32* Dspec,
                      const f32* Wl, const f32* Wm, const f32* X2b, const f32* PX, f32 kres,
                      int lag, NoiseSuppressor post) noexcept nogil
    # The same in steps: the spectra and powers; the estimate and gain (on this stage's
    # powers, or the means of linked channels'); a linked follower's gain from its leader;
    # the synthesis without, or one hop's analysis with, a noise suppressor.
    cdef void spectra_c(self, const f32* y, const f32* Dspec, double* sums) noexcept nogil
    cdef void estimate_c(self, double* sums, const f32* Wl, const f32* Wm,
                         const f32* X2b, const f32* PX, f32 kres, int lag,
                         bint comfort) noexcept nogil
    cdef void _estimate(self, double* sums, const f32* Wl, const f32* Wm, const f32* X2b,
                        const f32* PX, f32 kres, int lag, bint spectrum,
                        bint comfort) noexcept nogil
    cdef void follow_c(self, ResidualEchoSuppressor leader, bint spectrum) noexcept nogil
    cdef void synthesis_c(self, f32* out) noexcept nogil
    cdef void comfort_amp_c(self, f32* amp) noexcept nogil
    cdef void hop_in_c(self, const f32* e, NoiseSuppressor post, const f32* amp) noexcept nogil
    # Step 5 with a noise suppressor: the error in its hops, both gains, its synthesis.
    cdef void _shared_synthesis(self, f32* out, const f32* e, NoiseSuppressor post) noexcept nogil
    # The band-split chain's echo-suppression gain for the bands above (from the last
    # frame's gains and echo estimate over the upper half of the spectrum).
    cdef f32 upper_band_gain(self) noexcept nogil
    # The same for linked channels after estimate_c on their means: from this stage's
    # (mean) echo-estimate powers ``syy`` and the channels' mean mic power ``d2``.
    cdef f32 upper_band_gain_mean(self, const f32* d2) noexcept nogil
