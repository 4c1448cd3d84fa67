"""apply_config with an equal configuration changes nothing, at every rate (found by an
adversarial probe: at 32, 44.1 and 48 kHz the chain around the stages -- band split,
resamplers, upper-band delay lines, output limiter -- was rebuilt from silence, a ~10 ms
transient of about -14 dB re the signal). A configuration that does change a stage still
rebuilds that part at those rates (documented in VoiceProcessor.apply_config)."""

from __future__ import annotations

import numpy as np
import pytest

from callaudio import ProcessingConfig, VoiceProcessor


@pytest.mark.parametrize("rate", [16000, 32000, 44100, 48000])
def test_apply_config_with_the_same_configuration_changes_nothing(rate: int) -> None:
    n = rate // 100
    t = np.arange(rate) / rate
    x = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    plain, reconfigured = VoiceProcessor(rate), VoiceProcessor(rate)
    ya, yb = [], []
    for k in range(x.size // n):
        frame = x[k * n : (k + 1) * n]
        if k == 50:
            reconfigured.apply_config(ProcessingConfig())  # equal, not the same object
        ya.append(plain.process_capture(frame))
        yb.append(reconfigured.process_capture(frame))
    np.testing.assert_array_equal(np.concatenate(yb), np.concatenate(ya))
