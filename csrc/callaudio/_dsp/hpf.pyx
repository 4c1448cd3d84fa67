# cython: language_level=3
"""High-pass filter: Butterworth, order 2 or 4, as cascaded second-order sections.

Design (all in float64, done once in ``__cinit__``):

* Analog prototype: the order-N Butterworth low-pass with unit cutoff has its poles on the
  unit circle at ``s_k = exp(j*pi*(2k + N + 1) / (2N))``, k = 0..N-1 (S. Butterworth, "On
  the theory of filter amplifiers", Wireless Engineer 7, 1930). A conjugate pole pair gives
  the section ``1 / (s^2 + a*s + 1)`` with ``a = -2*Re(s_k) = 2*sin((2k + 1)*pi / (2N))``.
* Low-pass to high-pass: ``s -> wc / s`` turns each section into
  ``s^2 / (s^2 + a*wc*s + wc^2)``.
* Bilinear transform ``s = (1 - z^-1) / (1 + z^-1)`` (in units of 2*fs) with the cutoff
  prewarped, ``wc = tan(pi * fc / fs)``, so the digital -3 dB point lands exactly on fc
  (A. V. Oppenheim & R. W. Schafer, "Discrete-Time Signal Processing", 3rd ed., sec. 7.2).
  With ``K = tan(pi*fc/fs)`` and ``d = 1 + a*K + K^2`` one section is

      b = [1, -2, 1] / d,   a = [1, 2*(K^2 - 1) / d, (1 - a*K + K^2) / d].

* Layout: the same as ``scipy.signal.butter(..., output='sos')``: sections ordered from
  the lowest Q (pole pair farthest from the unit circle) to the highest, the overall gain
  (product of the 1/d) folded into the first section's numerator, the others keep
  ``b = [1, -2, 1]``.

Filtering: transposed direct form II per section, states and arithmetic in float64 (the
float32 samples are widened on input and rounded to float32 after each section), states
carried across calls in place so any chunking gives bit-identical output.  States whose
magnitude falls below ``CA_TINY`` are flushed to zero after every sample, so a long run
of digital silence decays to exact zeros instead of denormals.

Parameters: ``sample_rate`` in Hz; ``cutoff_hz`` in Hz (-3 dB point, 20..500 Hz and below
0.45 * sample_rate); ``order`` 2 or 4 (12 or 24 dB/octave).  Latency: 0 samples (a
causal IIR filter; its group delay is a property of the response, not added buffering).
"""

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport M_PI, fabs, isfinite, sin, tan
from libc.string cimport memset

import numpy as np

from callaudio.config import validate_stage

from callaudio._dsp._typedefs cimport CA_TINY, f32, f64


cdef extern from "hpf_vec.h" nogil:
    int ca_sos_df2t_x2(f32* x0, f32* x1, Py_ssize_t n, const f64* coef, f64* s0, f64* s1,
                       int nsec, double tiny)


@cython.boundscheck(False)   # kernel: i < n by construction
@cython.wraparound(False)
cdef void sos_df2t_inplace(f32* x, Py_ssize_t n, const f64* coef, f64* state,
                           int nsec) noexcept nogil:
    """Cascade of ``nsec`` (1 or 2) DF2T biquads over x[0:n] in place, float64 arithmetic.

    Both sections run in the same sample loop (the second reads the first one's output
    rounded to float32), so the out-of-order core overlaps their recursions.  Per section
    ``z1 = (b1 v + z2) - a1 y`` keeps the feedback path at one add, one multiply and one
    subtract per sample.
    """
    cdef Py_ssize_t i
    cdef f64 v, y, u, w
    cdef f64 b0 = coef[0], b1 = coef[1], b2 = coef[2], a1 = coef[3], a2 = coef[4]
    cdef f64 z1 = state[0], z2 = state[1]
    cdef f64 c0, c1, c2, d1, d2, q1, q2
    if nsec == 1:
        for i in range(n):
            v = x[i]
            y = b0 * v + z1
            z1 = (b1 * v + z2) - a1 * y
            z2 = b2 * v - a2 * y
            if fabs(z1) < CA_TINY:
                z1 = 0.0
            if fabs(z2) < CA_TINY:
                z2 = 0.0
            x[i] = <f32>y
    else:
        c0 = coef[5]
        c1 = coef[6]
        c2 = coef[7]
        d1 = coef[8]
        d2 = coef[9]
        q1 = state[2]
        q2 = state[3]
        for i in range(n):
            v = x[i]
            y = b0 * v + z1
            z1 = (b1 * v + z2) - a1 * y
            z2 = b2 * v - a2 * y
            if fabs(z1) < CA_TINY:
                z1 = 0.0
            if fabs(z2) < CA_TINY:
                z2 = 0.0
            u = <f32>y
            w = c0 * u + q1
            q1 = (c1 * u + q2) - d1 * w
            q2 = c2 * u - d2 * w
            if fabs(q1) < CA_TINY:
                q1 = 0.0
            if fabs(q2) < CA_TINY:
                q2 = 0.0
            x[i] = <f32>w
        state[2] = q1
        state[3] = q2
    state[0] = z1
    state[1] = z2


cdef void butter_highpass_sos(f64* coef, int sample_rate, double cutoff_hz,
                              int order) noexcept:
    """Fill ``coef`` (5 per section) with the design of the module docstring."""
    cdef int nsec = order // 2, k, s
    cdef double K = tan(M_PI * cutoff_hz / sample_rate)
    cdef double a, d, gain = 1.0
    # s = 0..nsec-1 takes k = nsec-1..0: a = 2 sin((2k+1) pi / 2N) from largest (lowest Q).
    for s in range(nsec):
        k = nsec - 1 - s
        a = 2.0 * sin((2 * k + 1) * M_PI / (2 * order))
        d = 1.0 + a * K + K * K
        gain /= d
        coef[5 * s] = 1.0
        coef[5 * s + 1] = -2.0
        coef[5 * s + 2] = 1.0
        coef[5 * s + 3] = 2.0 * (K * K - 1.0) / d
        coef[5 * s + 4] = (1.0 - a * K + K * K) / d
    for k in range(3):
        coef[k] *= gain


cdef class HighPass:
    """Butterworth high-pass filter of order 2 or 4 with its state carried across calls.

    Parameters
    ----------
    sample_rate : int
        Sample rate in Hz (8000..192000).
    cutoff_hz : float, default 80.0
        The -3 dB frequency in Hz, 20..500 and below 0.45 * sample_rate.
    order : int, default 2
        Filter order, 2 (12 dB/octave) or 4 (24 dB/octave).

    Raises
    ------
    ConfigError
        If a parameter is outside its range (:data:`callaudio.config.RANGES`; the message
        names it).
    """

    def __cinit__(self, int sample_rate, double cutoff_hz=80.0, int order=2):
        validate_stage("high_pass", sample_rate, cutoff_hz=cutoff_hz, order=order)
        self.sample_rate = sample_rate
        self.cutoff_hz = cutoff_hz
        self.order = order
        self.latency_samples = 0
        self._nsec = order // 2
        self._coef = <f64*>PyMem_Malloc(5 * self._nsec * sizeof(f64))
        self._state = <f64*>PyMem_Malloc(2 * self._nsec * sizeof(f64))
        if self._coef == NULL or self._state == NULL:
            raise MemoryError()
        butter_highpass_sos(self._coef, sample_rate, cutoff_hz, order)
        self.reset()

    def __dealloc__(self):
        PyMem_Free(self._coef)
        PyMem_Free(self._state)

    cdef void process_c(self, f32* x, Py_ssize_t n) noexcept nogil:
        sos_df2t_inplace(x, n, self._coef, self._state, self._nsec)
        self._restart_if_nonfinite()

    cdef void _restart_if_nonfinite(self) noexcept nogil:
        # A non-finite input sample would leave the recursive state NaN for ever: the
        # output of this call is lost anyway, so restart from rest (2 compares/section).
        cdef int i
        for i in range(2 * self._nsec):
            if not isfinite(self._state[i]):
                memset(self._state, 0, 2 * self._nsec * sizeof(f64))
                break

    cdef void process2_c(self, HighPass other, f32* x, f32* y, Py_ssize_t n) noexcept nogil:
        cdef int k
        cdef bint same = other is not self and other._nsec == self._nsec
        for k in range(5 * self._nsec):
            same = same and other._coef[k] == self._coef[k]
        if same and ca_sos_df2t_x2(x, y, n, self._coef, self._state, other._state,
                                   self._nsec, <double>CA_TINY):
            self._restart_if_nonfinite()
            other._restart_if_nonfinite()
        else:
            self.process_c(x, n)
            other.process_c(y, n)

    cpdef void reset(self):
        """Clear the filter state (as after construction)."""
        with nogil:
            self.reset_c()

    cdef void reset_c(self) noexcept nogil:
        memset(self._state, 0, 2 * self._nsec * sizeof(f64))

    @property
    def sos(self):
        """The sections as an ``(order // 2, 6)`` float64 array ``[b0, b1, b2, 1, a1, a2]``."""
        out = np.empty((self._nsec, 6), dtype=np.float64)
        cdef int s
        for s in range(self._nsec):
            out[s, 0] = self._coef[5 * s]
            out[s, 1] = self._coef[5 * s + 1]
            out[s, 2] = self._coef[5 * s + 2]
            out[s, 3] = 1.0
            out[s, 4] = self._coef[5 * s + 3]
            out[s, 5] = self._coef[5 * s + 4]
        return out

    @property
    def state(self):
        """A copy of the DF2T states as an ``(order // 2, 2)`` float64 array."""
        out = np.empty((self._nsec, 2), dtype=np.float64)
        cdef int s
        for s in range(self._nsec):
            out[s, 0] = self._state[2 * s]
            out[s, 1] = self._state[2 * s + 1]
        return out

    def process(self, x):
        """Filter a 1-D float32 signal (any length), continuing from the current state.

        Parameters
        ----------
        x : numpy.ndarray
            1-D float32 samples; it is not modified.

        Returns
        -------
        numpy.ndarray
            A new float32 array of the same length.
        """
        arr = np.asarray(x)
        if arr.ndim != 1:
            raise ValueError(f"x must be 1-D, got shape {arr.shape}")
        if arr.dtype != np.float32:
            raise TypeError(f"x must be float32, got {arr.dtype}")
        out = np.array(arr, dtype=np.float32, order="C", copy=True)
        cdef f32[::1] view = out
        cdef Py_ssize_t n = out.shape[0]
        if n:
            with nogil:
                self.process_c(&view[0], n)
        return out

    def process_pair(self, HighPass other not None, x, y):
        """Filter ``x`` with this filter and ``y`` with ``other`` (its own state), as
        ``(self.process(x), other.process(y))`` bit for bit: a linked stereo capture's
        two channels, run in one vector's two lanes when both designs are equal.

        Parameters
        ----------
        other : HighPass
            A different filter (its state advances over ``y``).
        x, y : numpy.ndarray
            1-D float32 signals of the same length; they are not modified.

        Returns
        -------
        tuple of numpy.ndarray
            New float32 arrays, the filtered ``x`` and ``y``.
        """
        if other is self:
            raise ValueError("other must be a different filter")
        ox, oy = np.asarray(x), np.asarray(y)
        for arr in (ox, oy):
            if arr.ndim != 1:
                raise ValueError(f"x and y must be 1-D, got shape {arr.shape}")
            if arr.dtype != np.float32:
                raise TypeError(f"x and y must be float32, got {arr.dtype}")
        ox = np.array(ox, dtype=np.float32, order="C", copy=True)
        oy = np.array(oy, dtype=np.float32, order="C", copy=True)
        if ox.shape != oy.shape:
            raise ValueError(f"x and y must have the same length, got {ox.shape} and {oy.shape}")
        cdef f32[::1] vx = ox
        cdef f32[::1] vy = oy
        cdef Py_ssize_t n = ox.shape[0]
        if n:
            with nogil:
                self.process2_c(other, &vx[0], &vy[0], n)
        return ox, oy

    def __repr__(self):
        return (f"HighPass(sample_rate={self.sample_rate}, cutoff_hz={self.cutoff_hz!r}, "
                f"order={self.order})")
