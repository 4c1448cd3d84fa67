"""The README's embedding examples as a typed caller writes them: checked by mypy --strict
(pyproject's [tool.mypy] files, so tests/test_static.py), never imported or run."""

from __future__ import annotations

import numpy as np

import callaudio as ca


def simulated_call() -> bool:
    backend = ca.make_backend("simulated", sample_rate=48000, realtime=False)
    client = ca.VoiceClient(backend, session=ca.AudioSession())
    call = client.start_call("alice")
    call.progress()
    call.answer()
    call.establish()
    backend.device.run_frames(10)  # the room's own method: make_backend keeps its type
    call.hangup()
    client.close()
    return backend.is_running


def frames() -> float | None:
    vp = ca.VoiceProcessor(sample_rate=16000, channels=2)
    vp.process_render(np.zeros(160, dtype=np.int16))
    out = vp.process_capture(np.zeros((160, 2), dtype=np.float32))
    assert out.shape == (160, 2) and vp.latency_samples == 80
    return vp.stats.erle_db
