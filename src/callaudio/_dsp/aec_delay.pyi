"""The echo canceller's bulk-delay estimator (compiled; see csrc/callaudio/_dsp/aec_delay.pyx)."""

import numpy as np
import numpy.typing as npt
from typing_extensions import Self, disjoint_base

def band_edges(n: int = 160) -> npt.NDArray[np.int64]: ...

@disjoint_base
class DelayEstimator:
    def __new__(cls, n: int, L: int, H: int) -> Self: ...
    @property
    def lag(self) -> int: ...
