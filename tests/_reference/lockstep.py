"""The compiled echo canceller and its NumPy model run frame by frame on the same signals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from _reference.aec_ref import EchoCancellerRef
from callaudio._dsp.aec import EchoCanceller


def lockstep(
    rate: int,
    far: np.ndarray,
    mic: np.ndarray,
    each: Callable[[int, EchoCanceller, EchoCancellerRef], Any] | None = None,
) -> tuple[EchoCanceller, EchoCancellerRef, np.ndarray, np.ndarray]:
    """Render ``far`` and capture ``mic`` through a fresh compiled canceller and a fresh
    model, 10 ms at a time; ``each(i, compiled, model)`` after frame ``i``. Returns both
    and their outputs (compiled, model)."""
    n = rate // 100
    a = EchoCanceller(rate)
    r = EchoCancellerRef(rate)
    outs_a, outs_r = [], []
    for i in range(len(mic) // n):
        s = slice(i * n, (i + 1) * n)
        a.render(far[s])
        r.render(far[s])
        outs_a.append(a.capture(mic[s]))
        outs_r.append(r.capture(mic[s]))
        if each is not None:
            each(i, a, r)
    return a, r, np.concatenate(outs_a), np.concatenate(outs_r)
