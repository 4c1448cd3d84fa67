"""The compiled core's shared limits (compiled; see csrc/callaudio/_dsp/_typedefs.pxd)."""

SAMPLE_RATES: tuple[int, ...]
INPUT_CLAMP: float
ERROR_CODES: dict[str, int]
