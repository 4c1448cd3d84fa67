"""Adversarial reproducer (wave 4): EngineBackend.write_far with no stream running."""

from __future__ import annotations

import numpy as np
import pytest

from callaudio.errors import CallAudioError

RATE = 16000


def test_backend_write_far_validates_its_input_with_no_duplex_stream() -> None:
    """EngineBackend.write_far with no duplex stream (before the call's audio, during an
    interruption) returned 0 for anything -- a string, a stereo or complex array, a
    negative timeout -- and raised numpy's ValueError for a ragged list, while the same
    calls during a call raise FrameError/ConfigError. Bad input should get the same one
    library error whether or not a stream runs."""
    from callaudio.audio import make_backend

    backend = make_backend("simulated", sample_rate=RATE, realtime=False)
    for args in (
        ("abc",),
        (np.zeros((10, 2), np.float32),),
        (np.zeros(10, complex),),
        (np.zeros(10, np.float32), -5),
        ([[0.0], [0.0, 0.0]],),
    ):
        with pytest.raises(CallAudioError):
            backend.write_far(*args)
