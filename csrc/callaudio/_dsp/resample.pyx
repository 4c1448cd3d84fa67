# cython: language_level=3
"""Rational polyphase resampler of 10 ms frames: 44.1 kHz <-> 48 kHz inside the chain.

Output sample m of a stream is the input evaluated at ``t_m = (m M - D) / L`` input
samples (rate ratio L / M, reduced; ``D`` a whole number of 1/L input samples, the
delay): ``y[m] = sum_j x[j] h(t_m - j)`` over the 2 * half inputs nearest ``t_m``, with
``h`` a Kaiser-windowed sinc (J. F. Kaiser, "Nonrecursive digital filter design using
the I0-sinh window function", ISCAS 1974; R. E. Crochiere and L. R. Rabiner, *Multirate
Digital Signal Processing*, 1983, ch. 4). A frame of n_in inputs gives exactly
n_out = n_in L / M outputs, so every frame uses the same n_out x 2 half coefficient table
(each row normalised to a DC gain of 1), computed once at construction.

Units: samples; ``cutoff`` relative to the lower of the two Nyquist frequencies (0.85:
18.7 kHz between 44.1 and 48 kHz); ``delay_num / up`` is the delay in input samples.
The smallest causal delay is ``((half + 1) L - M) / L`` input samples.
"""

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.string cimport memcpy, memmove, memset

import math

import numpy as np


cdef extern from "resample_impl.h":
    void ca_resample_frame(int n_out, int taps, const f32* coef, const int* start,
                           const f32* buf, f32* y) noexcept nogil


def min_delay(int n_in, int n_out, int half=16):
    """The smallest delay (units of 1/L input samples) a causal ``Resampler`` accepts."""
    g = math.gcd(n_in, n_out)
    L, M = n_out // g, n_in // g
    return (half + 1) * L - M


def coefficients(int n_in, int n_out, long long delay_num, int half=16,
                 double cutoff=0.85, double beta=8.0):
    """(start, table): each output's first input index relative to the frame, and its
    2 half taps (float64), for the delay ``delay_num / L`` input samples."""
    g = math.gcd(n_in, n_out)
    L, M = n_out // g, n_in // g
    fc = cutoff * min(1.0, L / M)        # cutoff, fraction of the input Nyquist frequency
    m = np.arange(n_out, dtype=np.int64)
    num = m * M - delay_num              # t_m * L
    q = np.floor_divide(num, L)          # the input at or before t_m
    frac = (num - q * L) / L
    start = q - half + 1
    k = np.arange(2 * half)
    t = frac[:, None] + (half - 1 - k)[None, :]       # t_m - j for j = start + k
    w = np.i0(beta * np.sqrt(np.clip(1.0 - (t / half) ** 2, 0.0, None))) / np.i0(beta)
    h = fc * np.sinc(fc * t) * w
    h /= h.sum(axis=1, keepdims=True)
    return start, h


cdef class Resampler:
    """Frames of ``n_in`` samples to frames of ``n_out`` (rate ratio n_out / n_in),
    delayed by ``delay_num / up`` input samples; the history is kept between frames.

    Allocates in the constructor only; ``process_c`` / ``reset_c`` are nogil and
    allocation-free. Raises ValueError for a delay shorter than :func:`min_delay`.
    """

    def __cinit__(self, int n_in, int n_out, long long delay_num, int half=16,
                  double cutoff=0.85):
        if delay_num < min_delay(n_in, n_out, half):
            raise ValueError(f"delay {delay_num} is below {min_delay(n_in, n_out, half)}")
        g = math.gcd(n_in, n_out)
        self.n_in = n_in
        self.n_out = n_out
        self.up = n_out // g
        self.down = n_in // g
        self.delay_num = delay_num
        self._taps = 2 * half
        start, h = coefficients(n_in, n_out, delay_num, half, cutoff)
        self._hist = int(-start.min())
        if self._hist < 0:
            self._hist = 0
        self._coef = <f32*>PyMem_Malloc(n_out * self._taps * sizeof(f32))
        self._start = <int*>PyMem_Malloc(n_out * sizeof(int))
        self._buf = <f32*>PyMem_Malloc((self._hist + n_in) * sizeof(f32))
        if self._coef == NULL or self._start == NULL or self._buf == NULL:
            raise MemoryError()
        cdef int i, k
        hf = h.astype(np.float32)
        for i in range(n_out):
            self._start[i] = int(start[i]) + self._hist
            for k in range(self._taps):
                self._coef[i * self._taps + k] = hf[i, k]
        self.reset_c()

    def __dealloc__(self):
        PyMem_Free(self._coef)
        PyMem_Free(self._start)
        PyMem_Free(self._buf)

    @property
    def delay_samples(self):
        """The delay in input samples (may be fractional)."""
        return self.delay_num / self.up

    cdef void reset_c(self) noexcept nogil:
        memset(self._buf, 0, (self._hist + self.n_in) * sizeof(f32))

    cdef void process_c(self, const f32* x, f32* y) noexcept nogil:
        memcpy(self._buf + self._hist, x, self.n_in * sizeof(f32))
        ca_resample_frame(self.n_out, self._taps, self._coef, self._start, self._buf, y)
        if self._hist:
            memmove(self._buf, self._buf + self.n_in, self._hist * sizeof(f32))

    def process(self, x):
        """One frame (float32, n_in samples) -> a new float32 array of n_out samples."""
        cdef const f32[::1] v = np.ascontiguousarray(x, dtype=np.float32)
        if v.shape[0] != self.n_in:
            raise ValueError(f"a frame of {self.n_in} samples, got {v.shape[0]}")
        out = np.empty(self.n_out, np.float32)
        cdef f32[::1] o = out
        with nogil:
            self.process_c(&v[0], &o[0])
        return out
