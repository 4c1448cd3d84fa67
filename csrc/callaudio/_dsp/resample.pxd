# Rational polyphase resampler of 10 ms frames (44.1 <-> 48 kHz in the chain).  See resample.pyx.
from callaudio._dsp._typedefs cimport f32


cdef class Resampler:
    cdef readonly int n_in          # input samples per frame
    cdef readonly int n_out         # output samples per frame
    cdef readonly long long delay_num   # delay in units of 1 / (n_out / gcd) input samples
    cdef readonly int up            # L: output samples per M input samples (reduced)
    cdef readonly int down          # M
    cdef int _taps                  # taps per output sample (2 * half)
    cdef int _hist                  # input samples kept from earlier frames
    cdef f32* _coef                 # n_out x _taps coefficients
    cdef int* _start                # first input index of each output, relative to _buf
    cdef f32* _buf                  # _hist earlier samples, then the current frame

    # One frame: n_in samples of x -> n_out samples of y (no allocation).
    cdef void process_c(self, const f32* x, f32* y) noexcept nogil
    # Forget the history (zeros), in place.
    cdef void reset_c(self) noexcept nogil
