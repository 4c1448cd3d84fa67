"""Turning fuzzer bytes into frames, layouts and configurations (shared by the harnesses).

Samples are the fuzzer's raw bytes reinterpreted as float32/int16/float64 (so NaN, +-Inf,
subnormals and float32's extremes all occur naturally), tiled to the needed length.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

# Tags of open, reported defects whose inputs a session should not regenerate (run.py's
# KNOWN, passed as CALLAUDIO_FUZZ_SKIP); "misaligned" (fixed 05:37 UTC) is the one tag.
SKIP = set(filter(None, os.environ.get("CALLAUDIO_FUZZ_SKIP", "").split(",")))

DTYPES = (
    np.dtype(np.float32), np.dtype(np.float32), np.dtype(np.int16), np.dtype(np.float64),
    np.dtype(">f4"), np.dtype(np.int32), np.dtype(np.uint8), np.dtype(np.complex64),
)
LAYOUTS = ("c", "c", "strided", "fortran", "readonly", "unaligned", "reversed")


def samples(fdp: Any, count: int, dtype: np.dtype[Any]) -> np.ndarray:
    """``count`` values of ``dtype`` from the fuzzer's bytes (tiled; zeros if none left)."""
    nbytes = fdp.ConsumeIntInRange(0, 4 * 64)
    raw = fdp.ConsumeBytes(nbytes)
    item = dtype.itemsize
    usable = len(raw) // item * item
    if count == 0:
        return np.zeros(0, dtype=dtype)
    if usable == 0:
        return np.zeros(count, dtype=dtype)
    base = np.frombuffer(raw[:usable], dtype=dtype)
    return np.resize(base, count).astype(dtype, copy=False)


def layout(a: np.ndarray, kind: str) -> np.ndarray:
    if a.ndim == 0:
        return a
    if kind == "strided":
        big = np.zeros((a.shape[0] * 2, *a.shape[1:]), dtype=a.dtype)
        big[::2] = a
        return big[::2]
    if kind == "fortran":
        return np.asfortranarray(a)
    if kind == "readonly":
        b = a.copy()
        b.flags.writeable = False
        return b
    if kind == "unaligned" and a.dtype.itemsize > 1 and "misaligned" not in SKIP:
        raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
        v = raw[1:].view(a.dtype).reshape(a.shape)
        v[...] = a
        return v
    if kind == "reversed":
        return np.ascontiguousarray(a[::-1])[::-1]
    return a


def frame(fdp: Any, n: int, channels: int) -> np.ndarray:
    """A frame that is usually well-formed and sometimes not (shape, dtype, layout)."""
    dtype = DTYPES[fdp.ConsumeIntInRange(0, len(DTYPES) - 1)]
    shape_kind = fdp.ConsumeIntInRange(0, 7)
    if shape_kind <= 3:
        shape: tuple[int, ...] = (n,) if channels == 1 else (n, channels)
    elif shape_kind == 4:
        shape = (n, 1)
    elif shape_kind == 5:
        shape = (fdp.ConsumeIntInRange(0, 2 * n),)
    elif shape_kind == 6:
        shape = (n, fdp.ConsumeIntInRange(0, 4))
    else:
        shape = (n, channels, 1)
    count = int(np.prod(shape))
    if dtype.kind == "c":
        v = samples(fdp, count, np.dtype(np.float32)).astype(np.complex64)
    else:
        v = samples(fdp, count, dtype)
    return layout(v.reshape(shape), LAYOUTS[fdp.ConsumeIntInRange(0, len(LAYOUTS) - 1)])


def number(fdp: Any, lo: float, hi: float) -> Any:
    """A config value: mostly inside [lo, hi], sometimes outside or of a wrong type."""
    k = fdp.ConsumeIntInRange(0, 9)
    if k <= 5:
        return lo + (hi - lo) * fdp.ConsumeProbability()
    if k == 6:
        return fdp.ConsumeRegularFloat()
    if k == 7:
        return fdp.ConsumeFloat()                 # NaN / Inf included
    if k == 8:
        return fdp.ConsumeIntInRange(-100000, 100000)
    return [None, "12", True, np.float32(lo), np.int64(int(hi))][fdp.ConsumeIntInRange(0, 4)]
