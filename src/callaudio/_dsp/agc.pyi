"""Automatic gain control stage (compiled; see csrc/callaudio/_dsp/agc.pyx)."""

import numpy as np
import numpy.typing as npt
from typing_extensions import Self, disjoint_base

CONSTANTS: dict[str, float]
RANGES: dict[str, tuple[float, float, float]]

@disjoint_base
class GainControl:
    @property
    def sample_rate(self) -> int: ...
    @property
    def frame_size(self) -> int: ...
    @property
    def target_level_dbfs(self) -> float: ...
    @property
    def max_gain_db(self) -> float: ...
    @property
    def min_gain_db(self) -> float: ...
    @property
    def max_gain_change_db_per_s(self) -> float: ...
    @property
    def noise_ceiling_dbfs(self) -> float: ...
    @property
    def idle_gain_decay_db_per_s(self) -> float: ...
    @property
    def limiter_threshold_dbfs(self) -> float: ...
    @property
    def latency_samples(self) -> int: ...
    def __new__(
        cls,
        sample_rate: int,
        target_level_dbfs: float = -18.0,
        max_gain_db: float = 40.0,
        min_gain_db: float = -20.0,
        max_gain_change_db_per_s: float = 30.0,
        noise_ceiling_dbfs: float = -50.0,
        idle_gain_decay_db_per_s: float = 6.0,
        limiter_threshold_dbfs: float = -1.0,
    ) -> Self: ...
    def reset(self) -> None: ...
    def process(
        self,
        frame: npt.NDArray[np.float32],
        speech_prob: float = -1.0,
        echo_only: bool = False,
        echo_shaped: bool = False,
    ) -> npt.NDArray[np.float32]: ...
    def process_signal(
        self,
        x: npt.NDArray[np.float32],
        speech_prob: float = -1.0,
        echo_only: bool = False,
        echo_shaped: bool = False,
    ) -> npt.NDArray[np.float32]: ...
    @property
    def speech_level_dbfs(self) -> float: ...
    @property
    def learning(self) -> bool: ...
    @property
    def gain_db(self) -> float: ...
    @property
    def speech(self) -> bool: ...
    @property
    def noise_level_dbfs(self) -> float: ...
    @property
    def limiter_gain_db(self) -> float: ...
