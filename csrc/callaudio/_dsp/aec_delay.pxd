# The echo canceller's bulk-delay estimator (see aec_delay.pyx).
from callaudio._dsp._typedefs cimport f32, f64


cdef class DelayEstimator:
    # Bulk delay by correlating 10 ms log band-energy envelopes (aec_delay.pyx).
    cdef int n, L, H
    cdef double de_a
    cdef int* edges     # NB + 1 band edges (bins)
    cdef f32* ffr       # H x NB far features (ring, same slots as the canceller's far ring)
    cdef f64* _f64      # one allocation for the f64 arrays below
    cdef f64* ffe       # H far feature energies (sum over the NB features squared)
    cdef f64* mu_f
    cdef f64* mu_m
    cdef f64* fm
    cdef f64* C
    cdef f64* F
    cdef double M
    cdef long long nfeat, nde
    cdef readonly int lag   # locked lag in frames, -1 until found
    cdef int cand, cand_n
    cdef void reset(self) noexcept nogil
    cdef void accept(self, int lag) noexcept nogil
    cdef void weaken_prior(self, double factor) noexcept nogil
    cdef int update(self, int slot, long long t, const f32* X2, const f32* D2,
                    double conv_lin, bint provisional, bint aged, bint hold) noexcept nogil
