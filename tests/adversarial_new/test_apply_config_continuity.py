"""Adversarial reproducer (wave 4): apply_config keeps the unchanged stages' state, but at
32, 44.1 and 48 kHz the chain around them (band-split filter banks, the 44.1 kHz
resamplers, the upper bands' delay lines, the output limiter) is rebuilt from zero, so
every apply_config -- even with the same configuration -- puts a ~10 ms transient in the
output (error about -14 dB re the signal over 30 ms at 48 kHz). At 8 and 16 kHz the
output is bit-identical. Cause: VoiceProcessor._build_chains builds a new Chain whose
__cinit__ (pipeline.pyx _build_bands/_build_resamplers) starts those from silence."""

from __future__ import annotations

import numpy as np
import pytest

from callaudio import VoiceProcessor


@pytest.mark.parametrize("rate", [32000, 44100, 48000])  # (16000: bit-identical today)
def test_apply_config_with_the_same_configuration_changes_nothing(rate: int) -> None:
    n = rate // 100
    t = np.arange(rate) / rate
    x = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    plain, reconfigured = VoiceProcessor(rate), VoiceProcessor(rate)
    ya, yb = [], []
    for k in range(x.size // n):
        frame = x[k * n : (k + 1) * n]
        if k == 50:
            reconfigured.apply_config(reconfigured.config)
        ya.append(plain.process_capture(frame))
        yb.append(reconfigured.process_capture(frame))
    np.testing.assert_array_equal(np.concatenate(yb), np.concatenate(ya))
