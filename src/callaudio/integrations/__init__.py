"""Integrations: callaudio as the audio side of other libraries' calls.

- :mod:`.loop_clock`: :class:`LoopClock`, a session clock whose timers fire on an asyncio
  loop (no third-party import);
- :mod:`.aiortc`: the audio device of an aiortc WebRTC call (:class:`CallAudioBridge`,
  the ``webrtc`` extra): the remote peer's track plays through the engine as the
  far end, the processed microphone goes back as a local track, and the peer connection's
  lifecycle drives a :class:`~callaudio.client.VoiceClient` call.

May import: the public API of ``client``, ``call``, ``session``, ``errors``, ``audio`` and
``engine`` (and ``devices`` for a caller-driven device's ``run_frames``). Third-party
libraries are imported only in the module named after them (aiortc and PyAV only in
:mod:`.aiortc`), never from this ``__init__``, so importing the package needs none of them.
Nothing else in callaudio imports this package.
"""

from __future__ import annotations

__all__: list[str] = []
