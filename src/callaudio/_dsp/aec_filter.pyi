"""The echo canceller's adaptive filter (compiled; see csrc/callaudio/_dsp/aec_filter.pyx)."""

from typing_extensions import Self, disjoint_base

from .fft import RealFFT

@disjoint_base
class PartitionedKalmanFilter:
    def __new__(cls, n: int, P: int, H: int, fft: RealFFT) -> Self: ...
    @property
    def d(self) -> int: ...
