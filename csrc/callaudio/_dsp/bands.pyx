# cython: language_level=3
"""Band split for split-band processing at 32 and 48 kHz: an M-band cosine-modulated
filter bank (M = rate / 16 kHz: 2 at 32 kHz, 3 at 48 kHz), critically sampled, with a
near-perfect-reconstruction linear-phase prototype.

Band k covers [8k, 8(k+1)] kHz and is delivered at 16 kHz, band 0 as an ordinary
low-pass signal (unit passband gain), so the 16 kHz stages run on it unchanged.

Design (P. P. Vaidyanathan, *Multirate Systems and Filter Banks*, 1993, ch. 8;
Y.-P. Lin and P. P. Vaidyanathan, "A Kaiser window approach for the design of prototype
filters of cosine modulated filterbanks", IEEE SP Letters 5(6), 1998):

    h_k[n] = 2 p[n] cos((2k+1) pi/(2M) (n - (N-1)/2) + (-1)^k pi/4)     analysis
    f_k[n] = 2 p[n] cos((2k+1) pi/(2M) (n - (N-1)/2) - (-1)^k pi/4)     synthesis

with p a Kaiser-windowed sinc of N = 2 M K taps whose cutoff is chosen (golden-section
search) to minimise max | |P(w)|^2 + |P(pi/M - w)|^2 - 1 |: adjacent-band aliasing then
cancels in the synthesis, the rest is below the prototype's stopband, and analysis +
synthesis is a delay of N - 1 samples with a magnitude ripple of a few hundredths of a dB
(tests/test_bands.py).  With K = 8 and beta = 8: 47 samples (0.98 ms) at 48 kHz,
31 samples (0.97 ms) at 32 kHz, about 85 dB of stopband.

Implementation: polyphase branches and a cosine matrix (``bands_impl.c``); per frame
about N + 2 M^2 multiply-adds per M input samples each way.  Units: samples at
``sample_rate`` unless said otherwise.
"""

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.string cimport memset

import numpy as np

from callaudio._dsp._typedefs cimport f32

BAND_RATE = 16000
TAPS_PER_BRANCH = 8     # K
KAISER_BETA = 8.0


cdef extern from "bands_impl.h":
    void ca_bands_analysis(int M, int K, int nb, int kmax, const float* x, float* v,
                           float* xs, float* u, const float* q,
                           const float* cmod) noexcept nogil
    void ca_bands_synthesis(int M, int K, int nb, const float* v, float* y, float* ws,
                            float* yr, const float* q, const float* cmod) noexcept nogil


def _kaiser_lowpass(int N, double wc, double beta):
    n = np.arange(N) - (N - 1) / 2.0
    h = wc / np.pi * np.sinc(wc / np.pi * n) * np.kaiser(N, beta)
    return h / h.sum()


def _pr_error(p, int M, int nfft=4096):
    A2 = np.abs(np.fft.rfft(p, nfft)) ** 2
    m = nfft // (2 * M)                 # bin of pi / M
    return float(np.max(np.abs(A2[: m + 1] + A2[m::-1] - 1.0)))


_PROTOTYPES = {}     # (M, K, beta) -> the prototype, computed once per process


def prototype(int M, int K=TAPS_PER_BRANCH, double beta=KAISER_BETA):
    """The prototype low-pass p (float64, 2 M K taps, DC gain 1) of an M-band bank.
    Designed once per (M, K, beta) and cached: building a chain at 32/48 kHz (a new
    processor, ``apply_config``) does not redo the search."""
    key = (M, K, beta)
    cached = _PROTOTYPES.get(key)
    if cached is None:
        cached = _design_prototype(M, K, beta)
        cached.flags.writeable = False
        _PROTOTYPES[key] = cached
    return cached.copy()


def _design_prototype(int M, int K, double beta):
    """Golden-section search of the Kaiser cutoff for the best power complementarity."""
    N = 2 * M * K
    g = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = 0.3 * np.pi / M, 0.7 * np.pi / M
    for _ in range(60):
        c, d = b - g * (b - a), a + g * (b - a)
        if _pr_error(_kaiser_lowpass(N, c, beta), M) < _pr_error(_kaiser_lowpass(N, d, beta), M):
            b = d
        else:
            a = c
    return _kaiser_lowpass(N, 0.5 * (a + b), beta)


def filters(int M, int K=TAPS_PER_BRANCH, double beta=KAISER_BETA):
    """(analysis, synthesis): M x N float64 impulse responses, the synthesis scaled by M
    (the interpolation gain), so analysis -> decimation -> expansion -> synthesis is a
    delay of N - 1 samples."""
    p = prototype(M, K, beta)
    N = p.size
    n = np.arange(N) - (N - 1) / 2.0
    k = np.arange(M)[:, None]
    arg = (2 * k + 1) * np.pi / (2 * M) * n[None, :]
    th = np.where(k % 2 == 0, np.pi / 4, -np.pi / 4)
    return 2 * p * np.cos(arg + th), M * 2 * p * np.cos(arg - th)


cdef class FilterBank:
    """Split 10 ms frames at 32 or 48 kHz into 16 kHz bands and join them again.

    ``analysis_c`` / ``synthesis_c`` are nogil and allocation-free; the analysis and
    the synthesis keep separate histories (one object serves one capture path; a render
    path needing band 0 only uses ``analysis_low_c`` on a bank of its own).
    """

    def __cinit__(self, int sample_rate):
        if sample_rate % BAND_RATE or sample_rate // BAND_RATE < 2:
            raise ValueError(f"a band split needs 32000 or 48000 Hz, not {sample_rate}")
        cdef int M = sample_rate // BAND_RATE, K = TAPS_PER_BRANCH
        self.sample_rate = sample_rate
        self.bands = M
        self.frame_size = sample_rate // 100
        self.band_size = self.frame_size // M
        self._K = K
        self.taps = 2 * M * K
        self.latency_samples = self.taps - 1
        cdef int nb = self.band_size, H = 2 * K
        cdef Py_ssize_t total = 2 * M * K + 4 * M * M + M * (H + nb) + 2 * M * nb \
            + 2 * M * (H + nb) + M * nb
        self._arena = <f32*>PyMem_Malloc(total * sizeof(f32))
        if self._arena == NULL:
            raise MemoryError()
        memset(self._arena, 0, total * sizeof(f32))
        self._q = self._arena
        self._can = self._q + 2 * M * K
        self._csyn = self._can + 2 * M * M
        self._xs = self._csyn + 2 * M * M
        self._u = self._xs + M * (H + nb)
        self._ws = self._u + 2 * M * nb
        self._yr = self._ws + 2 * M * (H + nb)
        p = prototype(M, K)
        n = np.arange(2 * M) - (self.taps - 1) / 2.0
        cdef int j, b, k
        for j in range(2 * M):
            for b in range(K):
                self._q[j * K + b] = (-1.0) ** b * p[j + 2 * M * b]
            for k in range(M):
                th = np.pi / 4 if k % 2 == 0 else -np.pi / 4
                a = (2 * k + 1) * np.pi / (2 * M) * n[j]
                self._can[k * 2 * M + j] = 2.0 * np.cos(a + th)
                self._csyn[j * M + k] = M * 2.0 * np.cos(a - th)

    def __dealloc__(self):
        PyMem_Free(self._arena)

    cdef void reset_c(self) noexcept nogil:
        cdef int M = self.bands, nb = self.band_size, H = 2 * self._K
        memset(self._xs, 0, M * (H + nb) * sizeof(f32))
        memset(self._ws, 0, 2 * M * (H + nb) * sizeof(f32))

    def reset(self):
        """Clear both histories (as constructed)."""
        self.reset_c()

    cdef void analysis_c(self, const f32* x, f32* v) noexcept nogil:
        ca_bands_analysis(self.bands, self._K, self.band_size, self.bands, x, v, self._xs,
                          self._u, self._q, self._can)

    cdef void analysis_low_c(self, const f32* x, f32* v) noexcept nogil:
        ca_bands_analysis(self.bands, self._K, self.band_size, 1, x, v, self._xs,
                          self._u, self._q, self._can)

    cdef void synthesis_c(self, const f32* v, f32* y) noexcept nogil:
        ca_bands_synthesis(self.bands, self._K, self.band_size, v, y, self._ws, self._yr,
                           self._q, self._csyn)

    def analysis(self, x):
        """One frame (frame_size float32 samples) -> a new (bands, band_size) array."""
        cdef const f32[::1] xv = np.ascontiguousarray(x, dtype=np.float32)
        if xv.shape[0] != self.frame_size:
            raise ValueError(f"a frame of {self.frame_size} samples, got {xv.shape[0]}")
        out = np.empty((self.bands, self.band_size), np.float32)
        cdef f32[:, ::1] o = out
        with nogil:
            self.analysis_c(&xv[0], &o[0, 0])
        return out

    def synthesis(self, v):
        """A (bands, band_size) array -> a new frame of frame_size float32 samples."""
        cdef const f32[:, ::1] vv = np.ascontiguousarray(v, dtype=np.float32)
        if vv.shape[0] != self.bands or vv.shape[1] != self.band_size:
            raise ValueError(f"bands of shape ({self.bands}, {self.band_size}) expected")
        out = np.empty(self.frame_size, np.float32)
        cdef f32[::1] o = out
        with nogil:
            self.synthesis_c(&vv[0, 0], &o[0])
        return out
