"""callaudio: the audio side of a voice call.

A compiled voice-processing core (high-pass filter, acoustic echo canceller, noise
suppressor, automatic gain control on 10 ms frames at 16, 32 and 48 kHz) under a Python
layer that runs the call's audio session.
"""

from ._version import __version__
from .config import (
    SAMPLE_RATES,
    EchoCancellerConfig,
    GainControlConfig,
    HighPassConfig,
    NoiseSuppressorConfig,
    ProcessingConfig,
    frame_size,
)
from .errors import CallAudioError, ConfigError, FrameError, NotAvailableError
from .processing import ProcessingStats, VoiceProcessor, process_arrays

__all__ = [
    "SAMPLE_RATES",
    "CallAudioError",
    "ConfigError",
    "EchoCancellerConfig",
    "FrameError",
    "GainControlConfig",
    "HighPassConfig",
    "NoiseSuppressorConfig",
    "NotAvailableError",
    "ProcessingConfig",
    "ProcessingStats",
    "VoiceProcessor",
    "__version__",
    "frame_size",
    "process_arrays",
]
