"""Rational polyphase resampler of 10 ms frames (compiled; see csrc/callaudio/_dsp/resample.pyx)."""

from typing import Any

import numpy as np
import numpy.typing as npt
from typing_extensions import Self, disjoint_base

def min_delay(n_in: int, n_out: int, half: int = ...) -> int: ...
def coefficients(
    n_in: int,
    n_out: int,
    delay_num: int,
    half: int = ...,
    cutoff: float = ...,
    beta: float = ...,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]: ...

@disjoint_base
class Resampler:
    """Frames of n_in samples to frames of n_out samples, history kept."""

    @property
    def n_in(self) -> int: ...
    @property
    def n_out(self) -> int: ...
    @property
    def up(self) -> int: ...
    @property
    def down(self) -> int: ...
    @property
    def delay_num(self) -> int: ...
    @property
    def delay_samples(self) -> float: ...
    def __new__(
        cls, n_in: int, n_out: int, delay_num: int, half: int = ..., cutoff: float = ...
    ) -> Self: ...
    def process(self, x: npt.ArrayLike) -> npt.NDArray[Any]: ...
