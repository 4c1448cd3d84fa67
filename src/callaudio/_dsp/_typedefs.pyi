"""The compiled core's shared limits (compiled; see csrc/callaudio/_dsp/_typedefs.pxd)."""

SAMPLE_RATES: tuple[int, ...]
NATIVE_RATES: tuple[int, ...]
RESAMPLED_RATES: dict[int, int]
INPUT_CLAMP: float
ERROR_CODES: dict[str, int]
