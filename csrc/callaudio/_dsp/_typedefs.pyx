# cython: language_level=3
"""The compiled core's shared limits, for Python (declared once in ``_typedefs.pxd``).

``callaudio.config`` is the Python validator; it takes the rate list from here.
"""

SAMPLE_RATES = (RATE_8K, RATE_16K, RATE_32K, RATE_44K1, RATE_48K)
"""Sample rates the compiled chain takes (Hz); a frame is 10 ms."""
NATIVE_RATES = (RATE_8K, RATE_16K, RATE_32K, RATE_48K)
"""Sample rates the stages run at; the chain resamples the others (RESAMPLED_RATES)."""
RESAMPLED_RATES = {RATE_44K1: RATE_44K1_INTERNAL}
"""Chain rate -> the native rate its stages run at (polyphase resampling, pipeline.pyx)."""
INPUT_CLAMP = CA_INPUT_CLAMP
"""Input samples are clamped to +-INPUT_CLAMP (full scale 1.0) after NaN/Inf -> 0."""
ERROR_CODES = {"OK": OK, "ERR_NONFINITE": ERR_NONFINITE, "ERR_SIZE": ERR_SIZE,
               "ERR_NOMEM": ERR_NOMEM}
"""Return codes of the kernels that can fail."""
