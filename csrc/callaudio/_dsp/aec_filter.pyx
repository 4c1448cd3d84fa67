# cython: language_level=3
"""The echo canceller's adaptive filter: a partitioned frequency-domain Kalman filter
(composed by ``aec.EchoCanceller``).

Enzner & Vary 2006 (the diagonal frequency-domain Kalman filter: state-error PSD ``Psi``,
observation-noise PSD ``Phi``, gain ``Psi / (1/2 sum_p Psi |X_p|^2 + Phi + delta)``,
random-walk process noise), in the partitioned form of Kuech, Mabande & Enzner 2014, with
Soo & Pang's (1990) overlap-save convolution and gradient constraint. Per frame:
``Y = sum_p W_p X_{t-d-p}`` over ``P`` partitions of one frame (2n-point FFTs, k = n + 1
bins), ``e = mic - y``; then the measurement and time update of every partition (the
neighbours' power in the random walk lets a drifting path move between partitions) and
the gradient constraint on the peak partition and two round-robin ones.

Units: ``d`` and the partitions in frames of 10 ms; bins of 50 Hz. Constants:
``aec_constants.h``.
"""

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport isfinite
from libc.string cimport memcpy, memset

from callaudio._dsp._typedefs cimport f32
from callaudio._dsp.aec_constants cimport (
    HEADROOM, KF_DECAY, KF_DELTA, KF_LAMBDA, KF_PSI0, KF_PSIMIN, KF_REG, KF_SHRINK,
    KF_SPREAD, TINY,
)
from callaudio._dsp.fft cimport RealFFT


cdef extern from "aec_impl.h":
    void ca_aec_filter_acc(int k, f32* acc, f32* pacc, const f32* w, const f32* x,
                           const f32* ps, const f32* x2) noexcept nogil
    void ca_aec_filter_acc_y(int k, f32* acc, const f32* w, const f32* x) noexcept nogil
    void ca_aec_kalman(int k, f32* w, f32* psi, const f32* x, const f32* x2, const f32* e,
                       const f32* inv, f32 floor_, f32* pw, int has_prev, const f32* w_next,
                       const f32* q, f32 spread, f32 floor_psi) noexcept nogil
    void ca_aec_error(int n, f32* y, f32* e, const f32* t, const f32* mic) noexcept nogil
    void ca_aec_gain_inv(int k, f32* phi, f32* inv, const f32* e, const f32* px, double lam,
                         double delta, double tiny) noexcept nogil
    int ca_aec_peak_and_zero(int n, f32* t, f32* peak) noexcept nogil


cdef class PartitionedKalmanFilter:
    """``P`` partitions of one frame each, starting ``d`` frames into the far ring of
    ``H`` frames the canceller keeps."""

    def __cinit__(self, int n, int P, int H, RealFFT fft not None):
        self.n = n
        self.k = n + 1
        self.P = P
        self.H = H
        self.fft = fft
        cdef int k = self.k
        # W: P x 2k; Psi: P x k; Phi, PX, inv: k; Yspec, Espec: 2k; tmp: 2n; psi0, peak: P
        cdef Py_ssize_t total = P * 2 * k + P * k + 3 * k + 4 * k + 2 * n + 2 * P
        self._arena = <f32*>PyMem_Malloc(total * sizeof(f32))
        self.peak_i = <int*>PyMem_Malloc(P * sizeof(int))
        if self._arena == NULL or self.peak_i == NULL:
            raise MemoryError()
        memset(self._arena, 0, total * sizeof(f32))
        self.W = self._arena
        self.Psi = self.W + <Py_ssize_t>P * 2 * k
        self.Phi = self.Psi + <Py_ssize_t>P * k
        self.PX = self.Phi + k
        self.inv = self.PX + k
        self.Yspec = self.inv + k
        self.Espec = self.Yspec + 2 * k
        self.tmp = self.Espec + 2 * k
        self.psi0 = self.tmp + 2 * n
        self.peak = self.psi0 + P
        cdef int i
        for i in range(P):
            self.psi0[i] = KF_PSI0 * KF_DECAY ** max(i - HEADROOM - 1, 0)
        self.d = 0
        self.reset()

    def __dealloc__(self):
        PyMem_Free(self._arena)
        PyMem_Free(self.peak_i)

    cdef void reset(self) noexcept nogil:
        """No echo path: zero coefficients, the prior state error (``d`` is kept)."""
        cdef int k = self.k, P = self.P, p, i
        memset(self.W, 0, P * 2 * k * sizeof(f32))
        for p in range(P):
            for i in range(k):
                self.Psi[p * k + i] = self.psi0[p]
            self.peak[p] = 0.0
            self.peak_i[p] = 0
        memset(self.Phi, 0, k * sizeof(f32))
        self.rr = 0
        self.version += 1

    @cython.boundscheck(False)   # raw pointer loops
    @cython.wraparound(False)
    cdef double estimate(self, const f32* Xr, const f32* X2r, const f32* fe2r, long long t,
                         const f32* mic, f32* y, f32* e) noexcept nogil:
        """Echo estimate ``y`` and error ``e = mic - y`` of frame ``t``; keeps
        ``PX = sum_p Psi |X_p|^2``. Returns the sum of the far mean squares over the span."""
        cdef int n = self.n, k = self.k, P = self.P, H = self.H, p, idx
        cdef double fsum = 0.0
        memset(self.Yspec, 0, 2 * k * sizeof(f32))
        memset(self.PX, 0, k * sizeof(f32))
        for p in range(P):
            idx = <int>((t - self.d - p) % H)
            if idx < 0:
                idx += H
            ca_aec_filter_acc(k, self.Yspec, self.PX, self.W + <Py_ssize_t>p * 2 * k,
                              Xr + <Py_ssize_t>idx * 2 * k, self.Psi + <Py_ssize_t>p * k,
                              X2r + <Py_ssize_t>idx * k)
            fsum += fe2r[idx]
        self.fft.inverse_c(self.Yspec, self.tmp)
        ca_aec_error(n, y, e, self.tmp + n, mic)
        return fsum

    @cython.boundscheck(False)   # raw pointer loops
    @cython.wraparound(False)
    cdef void estimate_echo(self, const f32* Xr, long long t, const f32* mic, f32* y,
                            f32* e) noexcept nogil:
        """``estimate`` without ``PX`` and the far sum (the kept copy's estimate)."""
        cdef int n = self.n, k = self.k, P = self.P, H = self.H, p, idx
        memset(self.Yspec, 0, 2 * k * sizeof(f32))
        for p in range(P):
            idx = <int>((t - self.d - p) % H)
            if idx < 0:
                idx += H
            ca_aec_filter_acc_y(k, self.Yspec, self.W + <Py_ssize_t>p * 2 * k,
                                Xr + <Py_ssize_t>idx * 2 * k)
        self.fft.inverse_c(self.Yspec, self.tmp)
        ca_aec_error(n, y, e, self.tmp + n, mic)

    @cython.boundscheck(False)   # raw pointer loops
    @cython.wraparound(False)
    cdef bint update(self, const f32* Xr, const f32* X2r, long long t, const f32* e,
                     double fsum, const f32* q, f32 mu) noexcept nogil:
        """Measurement and time update with error ``e`` (random-walk factor ``q``, k
        floats: one per bin; the Kalman gain times ``mu``, 1: the filter's own), then
        the gradient constraint. Returns True when a partition went non-finite: the filter
        has then restarted itself (``reset``) and the caller resets what depends on it."""
        cdef int n = self.n, k = self.k, P = self.P, H = self.H, p, idx, pk, r, r2
        cdef double delta
        cdef f32* Wp
        cdef bint restarted = False
        self.version += 1
        # E = FFT([0, e])
        memset(self.tmp, 0, n * sizeof(f32))
        memcpy(self.tmp + n, e, n * sizeof(f32))
        self.fft.forward_c(self.tmp, self.Espec)
        # gain regularisation: an absolute floor plus KF_REG times the far power per bin
        # (bins the far end hardly excites must not adapt on rounding noise)
        delta = 2.0 * n * (KF_DELTA + KF_REG * fsum / P)
        ca_aec_gain_inv(k, self.Phi, self.inv, self.Espec, self.PX, KF_LAMBDA, delta, TINY)
        if mu != 1.0:
            for p in range(k):
                self.inv[p] *= mu
        # measurement and time update per partition; tmp carries the previous partition's
        # updated |W|^2 to the next one
        for p in range(P):
            idx = <int>((t - self.d - p) % H)
            if idx < 0:
                idx += H
            Wp = self.W + <Py_ssize_t>p * 2 * k
            ca_aec_kalman(k, Wp, self.Psi + <Py_ssize_t>p * k,
                          Xr + <Py_ssize_t>idx * 2 * k, X2r + <Py_ssize_t>idx * k,
                          self.Espec, self.inv, <f32>(1.0 - KF_SHRINK), self.tmp, p > 0,
                          Wp + 2 * k if p < P - 1 else NULL,
                          q, <f32>KF_SPREAD, <f32>(KF_PSIMIN * self.psi0[p] + TINY))
        # gradient constraint: the peak partition and two round-robin partitions
        pk = 0
        for p in range(1, P):
            if self.peak[p] > self.peak[pk]:
                pk = p
        restarted |= not self.constrain(pk)
        r = self.rr
        if r == pk:
            r = (r + 1) % P
        restarted |= not self.constrain(r)
        self.rr = (r + 1) % P
        r2 = self.rr
        if r2 == pk or r2 == r:
            r2 = (r2 + 1) % P
        if r2 == pk or r2 == r:
            r2 = (r2 + 1) % P
        restarted |= not self.constrain(r2)
        self.rr = (r2 + 1) % P
        return restarted

    @cython.boundscheck(False)   # raw pointer loops
    @cython.wraparound(False)
    cdef bint constrain(self, int r) noexcept nogil:
        """Zero the second half of partition r's impulse response; track its peak tap.
        False (after ``reset``) when the partition was non-finite."""
        cdef int bi
        cdef f32* Wp = self.W + <Py_ssize_t>r * 2 * self.k
        cdef f32 best = 0.0
        self.fft.inverse_c(Wp, self.tmp)
        bi = ca_aec_peak_and_zero(self.n, self.tmp, &best)
        if not isfinite(best):
            self.reset()
            return False
        self.peak[r] = best
        self.peak_i[r] = bi
        self.fft.forward_c(self.tmp, Wp)
        return True

    cdef void raise_uncertainty(self) noexcept nogil:
        """The echo path changed: the state error becomes at least the coefficient power."""
        cdef int i
        cdef double w2
        for i in range(self.P * self.k):
            w2 = self.W[2 * i] * self.W[2 * i] + self.W[2 * i + 1] * self.W[2 * i + 1]
            if w2 > self.Psi[i]:
                self.Psi[i] = <f32>w2

    cdef void raise_prior(self) noexcept nogil:
        """A lag no filter has cancelled at yet: the state error becomes at least the
        prior ``psi0`` of each partition's position (the partitions moved to the head
        carry a tail's prior, and every partition shrank its state error while the far end
        played before its echo reached the mic)."""
        cdef int k = self.k, p, i
        cdef f32 s0
        for p in range(self.P):
            s0 = self.psi0[p]
            for i in range(k):
                if self.Psi[p * k + i] < s0:
                    self.Psi[p * k + i] = s0

    cdef void move_to(self, int newd) noexcept nogil:
        """Start the partitions at frame delay ``newd``, keeping the echo path found."""
        cdef int shift = newd - self.d, p, P = self.P
        if shift == 0:
            return
        self.version += 1
        if shift > 0:
            for p in range(P):
                self._move_partition(p, p + shift)
        else:
            for p in range(P - 1, -1, -1):
                self._move_partition(p, p + shift)
        self.d = newd

    cdef void copy_from(self, PartitionedKalmanFilter o) noexcept nogil:
        """Take ``o``'s echo path: coefficients, state error, peaks and start ``d`` (same
        sizes; the observation-noise PSD and the round-robin position are kept)."""
        cdef int k = self.k, P = self.P
        memcpy(self.W, o.W, <Py_ssize_t>P * 2 * k * sizeof(f32))
        memcpy(self.Psi, o.Psi, <Py_ssize_t>P * k * sizeof(f32))
        memcpy(self.peak, o.peak, P * sizeof(f32))
        memcpy(self.peak_i, o.peak_i, P * sizeof(int))
        self.d = o.d
        self.version += 1

    cdef void _move_partition(self, int p, int q) noexcept nogil:
        cdef int k = self.k, i
        if 0 <= q < self.P:
            memcpy(self.W + <Py_ssize_t>p * 2 * k, self.W + <Py_ssize_t>q * 2 * k,
                   2 * k * sizeof(f32))
            memcpy(self.Psi + <Py_ssize_t>p * k, self.Psi + <Py_ssize_t>q * k, k * sizeof(f32))
            self.peak[p] = self.peak[q]
            self.peak_i[p] = self.peak_i[q]
        else:
            memset(self.W + <Py_ssize_t>p * 2 * k, 0, 2 * k * sizeof(f32))
            for i in range(k):
                self.Psi[p * k + i] = self.psi0[p]
            self.peak[p] = 0.0
            self.peak_i[p] = 0
