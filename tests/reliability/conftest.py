"""Fixtures of the reliability tests (see _support for budgets and the soak switch)."""

from __future__ import annotations

import numpy as np
import pytest

from ._support import pin_mmap_threshold

# before any test allocates: the long runs sample RSS (see pin_mmap_threshold)
pin_mmap_threshold()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261125)
