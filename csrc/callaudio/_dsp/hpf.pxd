# High-pass filter stage (Butterworth, bilinear transform, second-order sections).  See hpf.pyx.
from callaudio._dsp._typedefs cimport f32, f64


cdef class HighPass:
    cdef readonly int sample_rate
    cdef readonly double cutoff_hz
    cdef readonly int order
    # Always 0: a causal IIR filter adds no algorithmic delay.
    cdef readonly int latency_samples
    # Number of second-order sections (order // 2).
    cdef int _nsec
    # Per section: b0, b1, b2, a1, a2 (a0 = 1), float64; 5 * _nsec values.
    cdef f64* _coef
    # Per section: the two transposed direct-form II states, float64; 2 * _nsec values.
    cdef f64* _state

    # Filter n samples of x in place (any n >= 0); the state carries over to the next call.
    cdef void process_c(self, f32* x, Py_ssize_t n) noexcept nogil
    # x with this filter and y with ``other`` (the same design, its own state), both n
    # samples in place, bit-identical to process_c on each; the two recursions run in
    # the two lanes of one SSE2 vector (hpf_vec.h) when the designs are equal.
    cdef void process2_c(self, HighPass other, f32* x, f32* y, Py_ssize_t n) noexcept nogil
    cdef void _restart_if_nonfinite(self) noexcept nogil
    cpdef void reset(self)
    # The same, in place and allocation-free, for the per-frame path.
    cdef void reset_c(self) noexcept nogil
