"""Noise suppressor stage (compiled; see csrc/callaudio/_dsp/ns.pyx)."""

import numpy as np
import numpy.typing as npt
from typing_extensions import Self, disjoint_base

XI_H1_DB: float
XI_H1_PAPER_DB: float
NOISE_TAU_S: float
SPP_TAU_S: float
SPP_CAP: float
DD_TAU_S: float
DD_ALPHA_MAX: float
XI_MIN_DB: float
GAMMA_MAX: float
XI_MAX: float
INIT_S: float
NOISE_FLOOR_DBFS: float
VAD_BAND_HZ: tuple[float, float]
VAD_A01: float
VAD_A10: float
VAD_THRESHOLD: float
VAD_SLOPE: float
LOG_ODDS_MAX: float
INPUT_LIMIT: float
SAP_TAU_S: float
SAP_LOCAL_HZ: float
SAP_GLOBAL_HZ: float
SAP_ZETA_MIN_DB: float
SAP_ZETA_MAX_DB: float
SAP_Q_MAX: float
SPP_MARGIN: float
FLOOR_WIN_S: float
FLOOR_GATE_DB: float
FLOOR_TAU_S: float
FLOOR_ON_DB: float
FLOOR_FULL_DB: float
FLOOR_FLAT: tuple[float, float]
FLOOR_HOLD_TAU_S: float
FLOOR_BIAS: float
FLOOR_GMIN_SHARE: float
ABSENT_ON_DB: tuple[float, float]
ABSENT_MARGIN_DB: float
ABSENT_LEVEL_TAU_S: float
ABSENT_HANG_S: float
ABSENT_TAU_S: float
ABSENT_DEPTH: float
TONAL_BINS: int
TONAL_DB: tuple[float, float]
TONAL_TAU_S: float
TONAL_EVERY_S: float
TONAL_COH_TAU_S: float
ONSET_DB: float
ONSET_HOLD_S: float
ONSET_COH: tuple[float, float]
ONSET_TAU_S: float
ONSET_MAX_W: float
TRANS_BAND_HZ: tuple[float, float]
TRANS_ON_DB: float
TRANS_JUMP_DB: float
TRANS_OFF_DB: float
TRANS_MAX_S: float
TRANS_SUPPRESS_S: float
TRANS_RETRIG_DB: float
TRANS_CONFIRM_S: float
TRANS_DREF_TAU_S: tuple[float, float]
TRANS_FRAC: tuple[float, float]
TRANS_REF_TAU_S: float
TRANS_RATE_TAU_S: float
TRANS_RATE: tuple[float, float]
TRANS_KEEP: float
TRANS_GMIN_DB: float
ONSET_OFF_DB: float

def _fast_math(x: float, fn: str) -> float: ...
def lowdelay_windows(
    K: int, R: int, d: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...

@disjoint_base
class NoiseSuppressor:
    @property
    def sample_rate(self) -> int: ...
    @property
    def level_db(self) -> float: ...
    @property
    def hops_per_frame(self) -> int: ...
    @property
    def low_delay(self) -> bool: ...
    @property
    def frame_size(self) -> int: ...
    @property
    def hop_size(self) -> int: ...
    @property
    def fft_size(self) -> int: ...
    @property
    def latency_samples(self) -> int: ...
    def __new__(
        cls,
        sample_rate: int,
        level_db: float = 12.0,
        hops_per_frame: int = 2,
        low_delay: bool = False,
        delay_samples: int = 0,
    ) -> Self: ...
    def reset(self) -> None: ...
    @property
    def speech_prob(self) -> float: ...
    @property
    def speech_probability(self) -> float: ...
    @property
    def noise_level_dbfs(self) -> float: ...
    @property
    def noise_psd(self) -> npt.NDArray[np.float32]: ...
    @property
    def gain(self) -> npt.NDArray[np.float32]: ...
    def process(self, frame: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...
    def process_signal(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...
