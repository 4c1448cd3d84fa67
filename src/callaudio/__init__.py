"""callaudio: the audio side of a voice call.

A compiled voice-processing core (high-pass filter, acoustic echo canceller, noise
suppressor, automatic gain control on 10 ms frames at 8 to 48 kHz) under a Python
layer that runs the call's audio session.

Layers (each a module or folder with its own docstring; imports only go downward):
``cli`` -> ``client`` -> ``rules`` -> ``controller`` -> ``audio`` (the audio service) ->
``engine`` -> ``devices`` (sounddevice | simulated -> ``simulation.room``); ``engine`` ->
``processing`` -> the compiled core ``_dsp``; ``client`` -> ``session``, ``call`` (pure state
machines, events and an injectable clock). This package imports the session layer and the
processing API eagerly; the audio I/O names (``make_backend``, ``AudioEngine``, the devices)
load on first use, so importing callaudio never loads PortAudio.
"""

from typing import TYPE_CHECKING, Any

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
    AudioDropWarning,
    BackendError,
    CallAudioError,
    CallbackError,
    ConfigError,
    ConfigTypeError,
    DeviceError,
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
from .offline import process_arrays
from .processing import ProcessingStats, VoiceProcessor
from .session import (
    AudioSession,
    Category,
    CategoryOptions,
    Interruption,
    InterruptionPolicy,
    InterruptionReason,
    Mode,
    Port,
    Route,
    RouteChangeReason,
    SessionConfiguration,
    SessionHold,
    SessionState,
)
from .tones import TONE_PLANS, TonePlan, ToneSpec

__all__ = [
    "SAMPLE_RATES",
    "TONE_PLANS",
    "ActivationError",
    "AudioController",
    "AudioDropWarning",
    "AudioEngine",
    "AudioSession",
    "BackendError",
    "Call",
    "CallAudioError",
    "CallDetails",
    "CallDirection",
    "CallState",
    "CallbackError",
    "Category",
    "CategoryOptions",
    "ConfigError",
    "ConfigTypeError",
    "DeviceError",
    "EchoCancellerConfig",
    "EndCause",
    "EngineBackend",
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
    "RecordingAudioService",
    "Route",
    "RouteChangeReason",
    "SessionBusyError",
    "SessionConfiguration",
    "SessionHold",
    "SessionState",
    "SimulatedBackend",
    "SoundFileError",
    "SoundKind",
    "SounddeviceBackend",
    "SynchronousDispatcher",
    "ThreadDispatcher",
    "TonePlan",
    "ToneSpec",
    "VoiceClient",
    "VoiceProcessor",
    "__version__",
    "frame_size",
    "make_backend",
    "process_arrays",
]

# The audio I/O layer loads on first use (PEP 562), so `import callaudio` stays light.
_LAZY = {
    "AudioEngine": "callaudio.engine",
    "EngineBackend": "callaudio.audio.service",
    "make_backend": "callaudio.audio.service",
    "RecordingAudioService": "callaudio.audio.recording",
    "SimulatedBackend": "callaudio.devices.simulated",
    "SounddeviceBackend": "callaudio.devices.sounddevice_backend",
}

if TYPE_CHECKING:
    from .audio.recording import RecordingAudioService
    from .audio.service import EngineBackend, make_backend
    from .devices.simulated import SimulatedBackend
    from .devices.sounddevice_backend import SounddeviceBackend
    from .engine import AudioEngine


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'callaudio' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
