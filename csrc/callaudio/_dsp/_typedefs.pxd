# Shared typedefs and constants of the compiled core (cimported by every stage).
cimport numpy as cnp

ctypedef float f32
ctypedef double f64
ctypedef Py_ssize_t idx_t

# Supported sample rates; a frame is 10 ms: rate // 100 samples.
cdef enum:
    FRAMES_PER_SECOND = 100
    MAX_FRAME = 480

# Error codes returned by nogil kernels that can fail (0 = ok).
cdef enum:
    OK = 0
    ERR_NONFINITE = 1
    ERR_SIZE = 2
    ERR_NOMEM = 3

cdef extern from *:
    """
    /* Values below this are treated as zero in recursive states (denormal guard). */
    #define CA_TINY 1e-25f
    """
    const float CA_TINY
