# The echo canceller's partitioned frequency-domain Kalman filter (see aec_filter.pyx).
from callaudio._dsp._typedefs cimport f32
from callaudio._dsp.fft cimport RealFFT


cdef class PartitionedKalmanFilter:
    cdef int n, k, P, H
    cdef RealFFT fft
    cdef f32* _arena
    cdef f32* W         # P x 2k coefficients
    cdef f32* Psi       # P x k state-error PSD
    cdef f32* Phi       # k observation-noise PSD
    cdef f32* PX        # k: sum_p Psi |X_p|^2 of this frame
    cdef f32* inv       # k: the gain denominator's inverse
    cdef f32* Yspec     # 2k echo estimate spectrum
    cdef f32* Espec     # 2k FFT([0, e])
    cdef f32* tmp       # 2n scratch
    cdef f32* psi0      # P prior state-error variance
    cdef f32* peak      # P largest |tap| of each partition
    cdef int* peak_i    # P its index
    cdef int rr         # round-robin partition of the gradient constraint
    cdef readonly int d  # frames from the far ring's newest frame to the first partition
    # bumped by every change of W or d: equal versions mean an unchanged echo estimate
    cdef long long version
    cdef void reset(self) noexcept nogil
    cdef double estimate(self, const f32* Xr, const f32* X2r, const f32* fe2r, long long t,
                         const f32* mic, f32* y, f32* e) noexcept nogil
    cdef void estimate_echo(self, const f32* Xr, long long t, const f32* mic, f32* y,
                            f32* e) noexcept nogil
    cdef bint update(self, const f32* Xr, const f32* X2r, long long t, const f32* e,
                     double fsum, const f32* q, f32 mu) noexcept nogil
    cdef bint constrain(self, int r) noexcept nogil
    cdef void raise_uncertainty(self) noexcept nogil
    cdef void raise_prior(self) noexcept nogil
    cdef void move_to(self, int newd) noexcept nogil
    cdef void copy_from(self, PartitionedKalmanFilter o) noexcept nogil
    cdef void _move_partition(self, int p, int q) noexcept nogil
