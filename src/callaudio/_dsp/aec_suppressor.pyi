"""The echo canceller's residual-echo suppressor (compiled; see aec_suppressor.pyx in csrc)."""

import numpy as np
import numpy.typing as npt
from typing_extensions import Self, disjoint_base

from .fft import RealFFT

def analysis_windows(n: int, d: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...

@disjoint_base
class ResidualEchoSuppressor:
    def __new__(
        cls,
        n: int,
        lat: int,
        fft: RealFFT,
        suppression: float,
        gmin: float,
        comfort_noise: bool,
    ) -> Self: ...
