"""Real FFT of even length n with n/2 = 2^a 3^b 5^c (callaudio's own, no vendored code).

Algorithm: a complex mixed-radix (8, 4, 2, 3, 5) Stockham autosort FFT of n/2 points
(C. Van Loan, *Computational Frameworks for the Fast Fourier Transform*, SIAM 1992,
sec. 1.7) followed by the split pass that turns it into the spectrum of n reals
(Sorensen, Jones, Heideman & Burrus, "Real-valued fast Fourier transform algorithms",
IEEE Trans. ASSP 35(6), 1987).  The arithmetic lives in ``fft_impl.c`` (split real and
imaginary arrays so every inner loop vectorises; twiddles computed in double).

Conventions (units: n in samples): ``forward`` is numpy.fft.rfft (unscaled, bins
0..n/2), ``inverse`` is numpy.fft.irfft (scaled by 1/n).  Results are float32.

Accuracy (tests/test_fft.py): against a float64 reference, the largest error in any bin
is below 0.7 * eps32 * log2(n) * ||x||_2 (rms relative error about 1 eps32).  Results
are bit-identical between the SSE2 and AVX2 builds of the kernels.

Layers: ``RealFFT.forward_c`` / ``inverse_c`` are the ``nogil`` kernels other stages
cimport (raw pointers, no checks, no allocation); ``forward`` / ``inverse`` are the
Python-facing wrappers that validate once and then call the same kernels.
"""

cimport numpy as cnp

import operator

import numpy as np

from callaudio._dsp._typedefs cimport f32

cnp.import_array()


cdef extern from "fft_impl.h":
    ctypedef struct ca_rfft:
        pass
    int CA_RFFT_MAX_N
    int ca_rfft_supported(int n) noexcept nogil
    ca_rfft* ca_rfft_new(int n) noexcept nogil
    void ca_rfft_free(ca_rfft* plan) noexcept nogil
    void ca_rfft_forward(ca_rfft* plan, const float* x, float* X) noexcept nogil
    void ca_rfft_inverse(ca_rfft* plan, const float* X, float* x) noexcept nogil


MAX_N = CA_RFFT_MAX_N

_RULE = (
    "n must be an even integer with 2 <= n <= {max_n} whose half n/2 has no prime "
    "factor other than 2, 3 and 5 (e.g. 320, 480, 512, 640, 960, 1024)"
)


def is_supported(n):
    """Return whether ``RealFFT(n)`` accepts the length ``n``.

    Parameters
    ----------
    n : int
        Transform length in samples.

    Returns
    -------
    bool
        True if n is an even integer, 2 <= n <= ``MAX_N``, and n/2 = 2^a 3^b 5^c.
    """
    if isinstance(n, bool):
        return False
    try:
        v = operator.index(n)
    except TypeError:
        return False
    if v < 2 or v > CA_RFFT_MAX_N:
        return False
    return ca_rfft_supported(<int>v) != 0


cdef inline bint _is_ready(cnp.ndarray a, int typenum, cnp.npy_intp length) noexcept:
    """True if ``a`` is a 1-D aligned C-contiguous native-order ``typenum`` array of ``length``."""
    return (
        cnp.PyArray_TYPE(a) == typenum
        and cnp.PyArray_ISNOTSWAPPED(a)
        and cnp.PyArray_NDIM(a) == 1
        and cnp.PyArray_DIM(a, 0) == length
        and cnp.PyArray_IS_C_CONTIGUOUS(a)
        and cnp.PyArray_ISALIGNED(a)
    )


cdef inline bint _overlap(cnp.ndarray a, cnp.ndarray b) noexcept:
    """True if the memory spans of two contiguous arrays intersect."""
    cdef char* a0 = <char*>cnp.PyArray_DATA(a)
    cdef char* b0 = <char*>cnp.PyArray_DATA(b)
    cdef char* a1 = a0 + cnp.PyArray_NBYTES(a)
    cdef char* b1 = b0 + cnp.PyArray_NBYTES(b)
    return a0 < b1 and b0 < a1


cdef cnp.ndarray _check_out(object out, int typenum, cnp.npy_intp length, str what):
    """Validate a caller-supplied output buffer and return it as an ndarray."""
    if not cnp.PyArray_Check(out):
        raise TypeError(f"out must be a numpy.ndarray of {what}, got {type(out).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>out
    if not _is_ready(arr, typenum, length):
        raise ValueError(
            f"out must be a 1-D C-contiguous aligned native-order {what} array of shape "
            f"({length},), got dtype={arr.dtype}, shape={(<object>arr).shape}"
        )
    if not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError("out must be writeable")
    return arr


cdef class RealFFT:
    """Real FFT plan of length ``n`` (numpy.fft.rfft / irfft conventions, float32).

    Parameters
    ----------
    n : int
        Transform length in samples: even, 2 <= n <= ``MAX_N``, n/2 = 2^a 3^b 5^c.

    Raises
    ------
    ValueError
        If n is not a supported length (see ``is_supported``).

    Notes
    -----
    The plan owns its twiddle tables and work buffers; ``forward`` and ``inverse``
    allocate nothing when ``out`` is given and the input is already a contiguous array of
    the right dtype.  One plan must not be used from two threads at once (the Python
    methods hold the GIL, so this only concerns ``forward_c`` / ``inverse_c``).
    """

    def __cinit__(self, n):
        if not is_supported(n):
            raise ValueError(f"RealFFT: unsupported length n={n!r}; " + _RULE.format(
                max_n=CA_RFFT_MAX_N))
        self.n = <int>operator.index(n)
        self._plan = ca_rfft_new(self.n)
        if self._plan == NULL:
            raise MemoryError(f"RealFFT: cannot allocate a plan for n={self.n}")

    def __dealloc__(self):
        ca_rfft_free(<ca_rfft*>self._plan)
        self._plan = NULL

    def __repr__(self):
        return f"RealFFT(n={self.n})"

    cdef void forward_c(self, const f32* x, f32* X) noexcept nogil:
        ca_rfft_forward(<ca_rfft*>self._plan, x, X)

    cdef void inverse_c(self, const f32* X, f32* x) noexcept nogil:
        ca_rfft_inverse(<ca_rfft*>self._plan, X, x)

    def forward(self, x, out=None):
        """Spectrum of ``n`` real samples (numpy.fft.rfft convention).

        Parameters
        ----------
        x : array_like of float32 or float64, shape (n,)
            Real input; float64 is rounded to float32 first (that copy allocates).
        out : numpy.ndarray of complex64, shape (n // 2 + 1,), optional
            Buffer for the result (1-D, C-contiguous, writeable, not overlapping ``x``).

        Returns
        -------
        numpy.ndarray of complex64, shape (n // 2 + 1,)
            Bins 0..n/2, unscaled; ``out`` itself when given.
        """
        cdef cnp.ndarray xa = _real_input(x, self.n)
        cdef cnp.npy_intp nbins = self.n // 2 + 1
        cdef cnp.ndarray res
        if out is None:
            res = cnp.PyArray_EMPTY(1, &nbins, cnp.NPY_COMPLEX64, 0)
        else:
            res = _check_out(out, cnp.NPY_COMPLEX64, nbins, "complex64")
            if _overlap(xa, res):
                raise ValueError("out must not overlap x")
        self.forward_c(<const f32*>cnp.PyArray_DATA(xa), <f32*>cnp.PyArray_DATA(res))
        return res

    def inverse(self, X, out=None):
        """Real signal of ``n`` samples from its half spectrum (numpy.fft.irfft).

        Parameters
        ----------
        X : array_like of complex64 or complex128, shape (n // 2 + 1,)
            Bins 0..n/2; the imaginary parts of bins 0 and n/2 are ignored.  complex128
            is rounded to complex64 first (that copy allocates).  Not modified.
        out : numpy.ndarray of float32, shape (n,), optional
            Buffer for the result (1-D, C-contiguous, writeable, not overlapping ``X``).

        Returns
        -------
        numpy.ndarray of float32, shape (n,)
            The signal scaled by 1/n; ``out`` itself when given.
        """
        cdef cnp.ndarray Xa = _complex_input(X, self.n // 2 + 1)
        cdef cnp.npy_intp n = self.n
        cdef cnp.ndarray res
        if out is None:
            res = cnp.PyArray_EMPTY(1, &n, cnp.NPY_FLOAT32, 0)
        else:
            res = _check_out(out, cnp.NPY_FLOAT32, n, "float32")
            if _overlap(Xa, res):
                raise ValueError("out must not overlap X")
        self.inverse_c(<const f32*>cnp.PyArray_DATA(Xa), <f32*>cnp.PyArray_DATA(res))
        return res


cdef cnp.ndarray _real_input(object x, cnp.npy_intp n):
    """``x`` as a 1-D contiguous float32 array of length n, or raise."""
    cdef cnp.ndarray a
    if cnp.PyArray_Check(x) and _is_ready(<cnp.ndarray>x, cnp.NPY_FLOAT32, n):
        return <cnp.ndarray>x
    a = np.asarray(x)
    if a.dtype.kind != "f" or a.dtype.itemsize not in (4, 8):
        raise TypeError(f"x must be a float32 or float64 array, got dtype={a.dtype}")
    if cnp.PyArray_NDIM(a) != 1 or cnp.PyArray_DIM(a, 0) != n:
        raise ValueError(f"x must have shape ({n},), got {(<object>a).shape}")
    # np.require copies a misaligned (but contiguous) view too: the C kernels assume
    # float alignment.
    return np.require(a, dtype=np.float32, requirements=("C", "A"))


cdef cnp.ndarray _complex_input(object X, cnp.npy_intp nbins):
    """``X`` as a 1-D contiguous complex64 array of length nbins, or raise."""
    cdef cnp.ndarray a
    if cnp.PyArray_Check(X) and _is_ready(<cnp.ndarray>X, cnp.NPY_COMPLEX64, nbins):
        return <cnp.ndarray>X
    a = np.asarray(X)
    if a.dtype.kind != "c" or a.dtype.itemsize not in (8, 16):
        raise TypeError(f"X must be a complex64 or complex128 array, got dtype={a.dtype}")
    if cnp.PyArray_NDIM(a) != 1 or cnp.PyArray_DIM(a, 0) != nbins:
        raise ValueError(f"X must have shape ({nbins},), got {(<object>a).shape}")
    return np.require(a, dtype=np.complex64, requirements=("C", "A"))
