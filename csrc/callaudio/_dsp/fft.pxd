# Real FFT shared by every frequency-domain stage (AEC, NS).  See fft.pyx.
from callaudio._dsp._typedefs cimport f32


cdef class RealFFT:
    # Transform length: even, n/2 = 2^a 3^b 5^c.
    cdef readonly int n
    # The C plan (struct ca_rfft of fft_impl.h: twiddles and work buffers), owned.
    cdef void* _plan

    # x: n reals -> X: n + 2 floats, bins 0..n/2 as (re, im), unscaled (numpy.fft.rfft).
    # x and X must not overlap.  Not re-entrant on one object (shared work buffers).
    cdef void forward_c(self, const f32* x, f32* X) noexcept nogil
    # X: n + 2 floats (imag of bins 0 and n/2 ignored, X not written) -> x: n reals
    # scaled by 1/n (numpy.fft.irfft).  X and x must not overlap.
    cdef void inverse_c(self, const f32* X, f32* x) noexcept nogil
