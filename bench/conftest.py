"""Benchmarks report microseconds per 10 ms frame; see bench/README in the docstrings."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def speech_frames():
    """Speech-like frames (seeded) per rate: a dict rate -> (frames, frame_size) float32."""
    from callaudio.simulation import speech_like

    cache: dict[int, np.ndarray] = {}

    def get(rate: int, seconds: float = 2.0) -> np.ndarray:
        if rate not in cache:
            x = speech_like(seconds, rate, level_dbfs=-26.0, seed=3)
            n = rate // 100
            x = x[: x.size // n * n]
            noise = np.random.default_rng(0).standard_normal(x.size) * 1e-3
            cache[rate] = (x + noise).astype(np.float32).reshape(-1, n)
        return cache[rate]

    return get
