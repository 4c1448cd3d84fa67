"""Real FFT of even length n with n/2 = 2^a 3^b 5^c (numpy.fft.rfft / irfft conventions)."""

import numpy as np
import numpy.typing as npt
from typing_extensions import Self, disjoint_base

MAX_N: int

def is_supported(n: object) -> bool: ...

@disjoint_base
class RealFFT:
    def __new__(cls, n: int) -> Self: ...
    @property
    def n(self) -> int: ...
    def forward(
        self, x: npt.ArrayLike, out: npt.NDArray[np.complex64] | None = None
    ) -> npt.NDArray[np.complex64]: ...
    def inverse(
        self, X: npt.ArrayLike, out: npt.NDArray[np.float32] | None = None
    ) -> npt.NDArray[np.float32]: ...
