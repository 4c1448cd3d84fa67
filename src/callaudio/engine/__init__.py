"""The engine layer: the real-time callback between a device's stream and the VoiceProcessor.

- :mod:`.engine`: :class:`AudioEngine` (the callback, its start and stop);
- :mod:`.rings`: the application's side of its rings (``write_far``, ``read_capture``)
  and :func:`check_far_audio`, the validation of far-end audio;
- :mod:`.driver`: the choice between the compiled callback (:mod:`callaudio._dsp.rt`, no
  GIL) and the Python fallback, the compiled callback as a device receives it, and
  :func:`in_audio_callback` (whether the calling thread is inside an engine's callback);
- :mod:`.stats`: :class:`EngineStats` (what it counts) and :class:`EngineMode`;
- :mod:`.options`: the checks of its stream options (buffers, capture, priority, monitor),
  shared with the audio service, which takes them before it builds any engine;
- :mod:`.ring`: :class:`FrameRing`, the lock-free queue between the application and the
  callback;
- :mod:`.sound`: :class:`PreparedSound` and the :class:`MixSource` protocol, what the
  callback mixes into the loudspeaker output, and :func:`playable`, the loudspeaker's guard.

May import: ``config``, ``errors``, ``processing``, ``_dsp.rt`` (the compiled callback),
``devices.base`` (the device contract) and
``simulation.resample``. Never the session layer, the audio service or a concrete device.

``EngineBackend`` and ``make_backend`` (the session-facing service over an engine) live in
:mod:`callaudio.audio` (and at the top level, ``callaudio.make_backend``).
"""

from __future__ import annotations

from ..devices.base import Stream, StreamBackend, StreamCallback
from ..errors import CallbackError
from .driver import in_audio_callback
from .engine import AudioEngine
from .ring import FrameRing
from .rings import check_far_audio
from .sound import MixSource, PreparedSound, playable
from .stats import EngineMode, EngineStats

__all__ = [
    "AudioEngine",
    "CallbackError",
    "EngineMode",
    "EngineStats",
    "FrameRing",
    "MixSource",
    "PreparedSound",
    "Stream",
    "StreamBackend",
    "StreamCallback",
    "check_far_audio",
    "in_audio_callback",
    "playable",
]
