"""Arguments the engine and its sounds refuse or scale: int16 sounds, a negative start, a
frame index that is no int, a mute that is no bool."""

from __future__ import annotations

import numpy as np
import pytest

from callaudio.devices.simulated import SimulatedBackend
from callaudio.engine import AudioEngine, PreparedSound
from callaudio.errors import ConfigError

RATE = 16000


def test_an_int16_sound_is_scaled_as_write_far_scales_it() -> None:
    snd = PreparedSound(np.array([16384, -32768, 8192], dtype=np.int16))
    np.testing.assert_allclose(snd.samples[:, 0], [0.5, -1.0, 0.25])


@pytest.mark.parametrize("loop", [False, True])
def test_a_negative_start_is_refused(loop: bool) -> None:
    with pytest.raises(ConfigError, match="start"):
        PreparedSound(np.zeros(10, np.float32), start=-1, loop=loop)


@pytest.mark.parametrize("frame", [-1, 1.0, True, "3", None])
def test_frame_times_refuses_what_is_no_frame_index(frame: object) -> None:
    engine = AudioEngine(SimulatedBackend(RATE), RATE)
    with pytest.raises(ConfigError, match="frame"):
        engine.frame_times(frame)  # type: ignore[arg-type]
    assert engine.frame_times(0) == engine.frame_times(0)


@pytest.mark.parametrize("value", ["yes", 1, None, 0.0])
def test_muted_takes_a_bool_only(value: object) -> None:
    engine = AudioEngine(SimulatedBackend(RATE), RATE)
    with pytest.raises(ConfigError, match="muted"):
        engine.muted = value  # type: ignore[assignment]
    assert engine.muted is False
    engine.muted = True
    assert engine.muted is True
