"""The whole capture chain (all available stages) per 10 ms frame at 8, 16, 44.1 and 48 kHz.

The benchmark's time is per call of ``process_render`` + ``process_capture`` on one frame
(Python wrapper included), i.e. microseconds per 10 ms frame; the budget is 10 000 us.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import callaudio as ca


@pytest.mark.parametrize(
    "rate", [8000, 16000, 44100, 48000], ids=["8k", "16k", "44.1k-resampled", "48k"]
)
@pytest.mark.benchmark(group="chain")
def test_chain_per_frame(benchmark, speech_frames, rate):
    frames = speech_frames(rate)
    vp = ca.VoiceProcessor(rate)
    out = np.empty(frames.shape[1], np.float32)
    far = np.zeros(frames.shape[1], np.float32)
    it = itertools.cycle(frames)

    def step() -> None:
        vp.process_render(far)
        vp.process_capture(next(it), out=out)

    benchmark.pedantic(step, rounds=2000, iterations=1, warmup_rounds=100)


@pytest.mark.parametrize(
    "rate", [8000, 16000, 44100, 48000], ids=["8k", "16k", "44.1k-resampled", "48k"]
)
@pytest.mark.benchmark(group="chain")
def test_chain_bypass_per_frame(benchmark, speech_frames, rate):
    """The wrapper's own cost: the same call with every stage off."""
    frames = speech_frames(rate)
    vp = ca.VoiceProcessor(rate, config=ca.ProcessingConfig.bypass())
    out = np.empty(frames.shape[1], np.float32)
    it = itertools.cycle(frames)
    benchmark.pedantic(
        lambda: vp.process_capture(next(it), out=out), rounds=2000, iterations=1, warmup_rounds=100
    )
