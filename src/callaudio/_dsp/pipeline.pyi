from collections.abc import Callable
from typing import Any, TypeVar

import numpy.typing as npt
from typing_extensions import Self, disjoint_base

from .aec import EchoCanceller
from .agc import GainControl
from .bands import FilterBank
from .hpf import HighPass
from .ns import NoiseSuppressor

_T = TypeVar("_T")

@disjoint_base
class PathState:
    """The path locks and frame counters a rebuilt chain shares with its predecessor."""

    def __new__(cls) -> Self: ...

@disjoint_base
class Chain:
    """One channel's capture/render chain (see csrc/callaudio/_dsp/pipeline.pyx)."""

    @property
    def sample_rate(self) -> int: ...
    @property
    def core_rate(self) -> int: ...
    @property
    def stage_rate(self) -> int: ...
    @property
    def split_bands(self) -> bool: ...
    @property
    def shared_analysis(self) -> bool: ...
    @property
    def band_split(self) -> FilterBank | None: ...
    @property
    def frame_size(self) -> int: ...
    @property
    def high_pass(self) -> HighPass | None: ...
    @property
    def echo_canceller(self) -> EchoCanceller | None: ...
    @property
    def noise_suppressor(self) -> NoiseSuppressor | None: ...
    @property
    def gain_control(self) -> GainControl | None: ...
    @property
    def capture_frames(self) -> int: ...
    @property
    def render_frames(self) -> int: ...
    @property
    def nonfinite_frames(self) -> int: ...
    @property
    def output_power(self) -> float: ...
    @property
    def latency_samples(self) -> int: ...
    def __new__(
        cls,
        sample_rate: int,
        high_pass: dict[str, Any] | HighPass | None = ...,
        echo_canceller: dict[str, Any] | EchoCanceller | None = ...,
        noise_suppressor: dict[str, Any] | NoiseSuppressor | None = ...,
        gain_control: dict[str, Any] | GainControl | None = ...,
        state: PathState | None = ...,
        split_bands: bool = ...,
        shared_analysis: bool = ...,
    ) -> Self: ...
    @property
    def state(self) -> PathState: ...
    def locked(self, fn: Callable[[Chain], _T]) -> _T: ...
    def reset(self) -> None: ...
    def render_shared(self, source: Chain) -> None: ...
    def reset_echo_path(self) -> None: ...
    def capture(
        self,
        mic: npt.NDArray[Any],
        out: npt.NDArray[Any],
        channel: int = ...,
        channels: int = ...,
    ) -> int: ...
    def process_block(
        self,
        mic: npt.NDArray[Any],
        out: npt.NDArray[Any],
        far: npt.NDArray[Any] | None,
        channel: int = ...,
        channels: int = ...,
        far_channels: int = ...,
    ) -> int: ...
    def render(self, far: npt.NDArray[Any], channels: int = ...) -> None: ...
    def c_api(self) -> object: ...
