"""callaudio: the audio side of a voice call.

A compiled voice-processing core (high-pass filter, acoustic echo canceller, noise
suppressor, automatic gain control on 10 ms frames at 16, 32 and 48 kHz) under a Python
layer that runs the call's audio session.
"""

from ._version import __version__
from .call import Call, CallDetails, CallDirection, CallState, EndCause
from .client import VoiceClient
from .clock import ManualClock, MonotonicClock
from .config import (
    SAMPLE_RATES,
    EchoCancellerConfig,
    GainControlConfig,
    HighPassConfig,
    NoiseSuppressorConfig,
    ProcessingConfig,
    frame_size,
)
from .controller import AudioController, SoundKind
from .errors import (
    ActivationError,
    BackendError,
    CallAudioError,
    ConfigError,
    FrameError,
    InvalidCategoryOptionsError,
    InvalidStateError,
    SessionBusyError,
    SoundFileError,
)
from .events import (
    Event,
    ExecutorDispatcher,
    QueueDispatcher,
    SynchronousDispatcher,
    ThreadDispatcher,
)
from .interruption import Interruption, InterruptionPolicy, InterruptionReason
from .processing import ProcessingStats, VoiceProcessor, process_arrays
from .session import (
    AudioSession,
    Category,
    CategoryOptions,
    Mode,
    Port,
    Route,
    RouteChangeReason,
    SessionConfiguration,
    SessionHold,
)
from .tones import TONE_PLANS, TonePlan, ToneSpec

__all__ = [
    "SAMPLE_RATES",
    "TONE_PLANS",
    "ActivationError",
    "AudioController",
    "AudioSession",
    "BackendError",
    "Call",
    "CallAudioError",
    "CallDetails",
    "CallDirection",
    "CallState",
    "Category",
    "CategoryOptions",
    "ConfigError",
    "EchoCancellerConfig",
    "EndCause",
    "Event",
    "ExecutorDispatcher",
    "FrameError",
    "GainControlConfig",
    "HighPassConfig",
    "Interruption",
    "InterruptionPolicy",
    "InterruptionReason",
    "InvalidCategoryOptionsError",
    "InvalidStateError",
    "ManualClock",
    "Mode",
    "MonotonicClock",
    "NoiseSuppressorConfig",
    "Port",
    "ProcessingConfig",
    "ProcessingStats",
    "QueueDispatcher",
    "Route",
    "RouteChangeReason",
    "SessionBusyError",
    "SessionConfiguration",
    "SessionHold",
    "SoundFileError",
    "SoundKind",
    "SynchronousDispatcher",
    "ThreadDispatcher",
    "TonePlan",
    "ToneSpec",
    "VoiceClient",
    "VoiceProcessor",
    "__version__",
    "frame_size",
    "process_arrays",
]
