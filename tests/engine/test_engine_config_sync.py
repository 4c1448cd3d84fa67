"""Adversarial reproducer (wave 4): a running engine follows the processor's new chains
only when ``vp.config`` is a different *object* from the one it synced last
(engine.py AudioEngine._sync_chains: ``vp.config is self._synced_config``). Toggling
between two preset objects, apply_config(B) then apply_config(A), with no frame (or watcher
tick) in between leaves the engine on the chains it had, while the processor now holds a
third build whose changed stages never run: ``vp.stats`` reports that idle gain control
(gain 0.0 dB, no speech level) while the engine applies +13 dB, and after stop() the
processor goes on with the never-run stage (the call's adaptation is lost)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from callaudio import VoiceProcessor
from callaudio.config import ProcessingConfig
from callaudio.devices.simulated import SimulatedBackend
from callaudio.engine import AudioEngine

RATE = 16000


@pytest.mark.parametrize("compiled", [True, False])
def test_toggling_between_two_preset_objects_reaches_the_running_engine(compiled: bool) -> None:
    a = ProcessingConfig()
    b = dataclasses.replace(
        a, gain_control=dataclasses.replace(a.gain_control, target_level_dbfs=-30.0)
    )
    vp = VoiceProcessor(RATE, config=a)
    dev = SimulatedBackend(RATE)
    rng = np.random.default_rng(0)
    t = np.arange(RATE * 6)
    talker = 0.02 * rng.standard_normal(t.size) * (np.sin(2 * np.pi * 2 * t / RATE) > 0)
    dev.set_near(talker.astype(np.float32))
    engine = AudioEngine(dev, RATE, vp, compiled=compiled)
    engine.start()
    try:
        dev.run_frames(150)
        assert vp.stats.speech_level_dbfs is not None
        vp.apply_config(b)
        vp.apply_config(a)  # back to the first preset before the next frame
        dev.run_frames(250)
        stats = vp.stats  # must describe the gain control that runs
        assert stats.speech_level_dbfs is not None
        assert stats.gain_db is not None and stats.gain_db > 3.0
    finally:
        engine.stop()
