# Shared typedefs and constants of the compiled core (cimported by every stage).
# The one place the supported rates, the frame length, the input clamp and the error codes
# are written; _typedefs.pyx exports them to Python (callaudio.config reads them there).
cimport numpy as cnp

ctypedef float f32
ctypedef double f64
ctypedef Py_ssize_t idx_t

# Supported sample rates (Hz); a frame is 10 ms: rate // FRAMES_PER_SECOND samples.  The
# stages run at 8, 16, 32 and 48 kHz; the chain (pipeline.pyx) also takes 44.1 kHz and
# resamples it to RATE_44K1_INTERNAL (48 kHz) around the stages.
cdef enum:
    RATE_8K = 8000
    RATE_16K = 16000
    RATE_32K = 32000
    RATE_48K = 48000
    RATE_44K1 = 44100
    RATE_44K1_INTERNAL = RATE_48K
    FRAMES_PER_SECOND = 100
    MAX_FRAME = RATE_48K // FRAMES_PER_SECOND

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

# The one input clamp limit (ca_limits.h, also read by the C helpers and the references).
cdef extern from "ca_limits.h":
    const double CA_INPUT_CLAMP
