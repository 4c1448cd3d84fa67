"""Hypothesis strategies for hostile audio frames, output buffers and configurations.

A drawn frame carries its own validity verdict (``FrameCase.valid``), computed from the
documented contract of :meth:`callaudio.VoiceProcessor.process_capture` (module docstring of
:mod:`callaudio.processing`): an ndarray of native float32 or int16, shape ``(n,)`` /
``(n, 1)`` for one channel or ``(n, channels)``, any strides, read-only allowed.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import hypothesis.strategies as st
import numpy as np
import numpy.typing as npt

VALID_DTYPES = (np.dtype(np.float32), np.dtype(np.int16))
OTHER_DTYPES = (
    np.dtype(np.float64),
    np.dtype(np.float16),
    np.dtype(np.int32),
    np.dtype(np.int64),
    np.dtype(np.uint8),
    np.dtype(np.uint16),
    np.dtype(np.complex64),
    np.dtype(np.bool_),
    np.dtype(">f4"),
    np.dtype(">i2"),
    np.dtype(object),
)

# Values that break naive DSP: non-finite, the float32 extremes, subnormals, int16 extremes.
F32 = np.finfo(np.float32)
SPECIAL_FLOATS = (
    math.nan,
    -math.nan,
    math.inf,
    -math.inf,
    float(F32.max),
    -float(F32.max),
    1e30,
    -1e30,
    1e4,
    float(F32.tiny),
    float(F32.smallest_subnormal),
    -float(F32.smallest_subnormal),
    1e-40,
    0.0,
    -0.0,
    1.0,
    -1.0,
    16.0,
)
SPECIAL_INTS = (-32768, 32767, 0, -1, 1)
# CALLAUDIO_FUZZ_SKIP=misaligned (as for fuzz/run.py) leaves out misaligned buffers (they
# reached C code unaligned until 05:37 UTC; UBSan stops at the first): for sanitizer sweeps.
_SKIP = set(filter(None, os.environ.get("CALLAUDIO_FUZZ_SKIP", "").split(",")))
LAYOUTS = tuple(
    k
    for k in ("c", "fortran", "strided", "reversed", "readonly", "unaligned", "offset")
    if not (k == "unaligned" and "misaligned" in _SKIP)
)
FILLS = ("speech", "silence", "tiny", "loud", "full", "dc", "denormal", "noise")


@dataclass
class FrameCase:
    """One drawn frame and whether the processor's contract accepts it."""

    array: Any
    valid: bool
    note: str


def _fill(kind: str, shape: tuple[int, ...], rng: np.random.Generator) -> npt.NDArray[np.float64]:
    size = int(np.prod(shape)) if shape else 1
    if kind == "silence":
        v = np.zeros(size)
    elif kind == "tiny":
        v = rng.standard_normal(size) * 1e-6  # -120 dBFS
    elif kind == "denormal":
        v = rng.standard_normal(size) * 1e-41  # float32 subnormals
    elif kind == "loud":
        v = rng.standard_normal(size) * 0.7
    elif kind == "full":
        v = np.sign(rng.standard_normal(size))  # +-1 square noise
    elif kind == "dc":
        v = np.full(size, 0.9)
    elif kind == "noise":
        v = rng.standard_normal(size) * 0.01
    else:  # "speech": an AM tone complex
        t = np.arange(size)
        v = 0.1 * np.sin(2 * np.pi * t * rng.uniform(0.005, 0.05)) * (1 + np.sin(t / 50.0))
    return v.reshape(shape) if shape else v.reshape(())


def _materialise(
    values: npt.NDArray[np.float64], dtype: np.dtype[Any], specials: list[tuple[int, float]]
) -> npt.NDArray[Any]:
    flat = values.reshape(-1).copy()
    if dtype.kind == "f" or dtype.kind == "c":
        for i, v in specials:
            if flat.size:
                flat[i % flat.size] = v
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        scaled = np.clip(np.nan_to_num(flat * 32767.0), info.min, info.max)
        out = scaled.astype(dtype)
        for i, v in specials:
            if out.size and not math.isnan(v) and not math.isinf(v):
                out[i % out.size] = np.clip(int(np.clip(v, -1e9, 1e9)), info.min, info.max)
        return out.reshape(values.shape)
    if dtype.kind == "b":
        return (flat > 0).reshape(values.shape)
    if dtype.kind == "O":
        return np.array(flat.tolist() if flat.size else [], dtype=object).reshape(values.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        return flat.astype(dtype).reshape(values.shape)


def _layout(a: npt.NDArray[Any], layout: str) -> npt.NDArray[Any]:
    """The same values with a hostile memory layout (values unchanged)."""
    if layout == "fortran":
        return np.asfortranarray(a)
    if layout == "strided":
        big = np.zeros((a.shape[0] * 2, *a.shape[1:]), dtype=a.dtype) if a.ndim else a.copy()
        if a.ndim:
            big[::2] = a
            return big[::2]
        return big
    if layout == "reversed":
        if a.ndim == 0:
            return a
        r = np.ascontiguousarray(a[::-1])
        return r[::-1]
    if layout == "readonly":
        b = a.copy()
        b.flags.writeable = False
        return b
    if layout in ("unaligned", "offset") and a.dtype.itemsize > 1 and a.dtype.kind != "O":
        shift = 1 if layout == "unaligned" else a.dtype.itemsize
        raw = np.zeros(a.nbytes + shift, dtype=np.uint8)
        view = raw[shift : shift + a.nbytes].view(a.dtype).reshape(a.shape)
        view[...] = a
        return view
    return a


@st.composite
def frame_cases(
    draw: st.DrawFn,
    n: int,
    channels: int,
    *,
    p_valid: float = 0.7,
    dtypes: tuple[np.dtype[Any], ...] = VALID_DTYPES,
) -> FrameCase:
    """A frame for a processor of ``n`` samples and ``channels`` capture channels.

    With ``channels=0`` any channel count is valid (the render side downmixes).
    """
    want_valid = draw(st.floats(0, 1)) < p_valid
    if want_valid:
        dtype = draw(st.sampled_from(dtypes))
        if channels == 0:
            ch = draw(st.integers(1, 4))
            shape: tuple[int, ...] = (n,) if ch == 1 and draw(st.booleans()) else (n, ch)
        elif channels == 1:
            shape = draw(st.sampled_from([(n,), (n, 1)]))
        else:
            shape = (n, channels)
    else:
        dtype = draw(st.sampled_from(VALID_DTYPES + OTHER_DTYPES))
        ndim = draw(st.integers(0, 3))
        lengths = st.sampled_from(
            sorted({max(0, v) for v in (n, n - 1, n + 1, 0, 1, 2 * n, n // 2)})
        )
        chans = st.integers(0, 5)
        if ndim == 0:
            shape = ()
        elif ndim == 1:
            shape = (draw(lengths),)
        elif ndim == 2:
            shape = (draw(lengths), draw(chans))
        else:
            shape = (draw(lengths), draw(chans), draw(st.integers(0, 2)))
    fill = draw(st.sampled_from(FILLS))
    seed = draw(st.integers(0, 2**32 - 1))
    specials = draw(
        st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(SPECIAL_FLOATS)), max_size=6)
    )
    layout = draw(st.sampled_from(LAYOUTS))
    values = _fill(fill, shape, np.random.default_rng(seed))
    arr = _layout(_materialise(values, dtype, specials), layout)
    valid = is_valid_frame(arr, n, channels)
    return FrameCase(arr, valid, f"{dtype} {shape} {fill} {layout} specials={specials}")


def is_valid_frame(a: Any, n: int, channels: int) -> bool:
    """The documented contract of a capture (channels >= 1) or render (0) frame."""
    if not isinstance(a, np.ndarray) or a.dtype not in VALID_DTYPES:
        return False
    if a.ndim == 1:
        got = 1
    elif a.ndim == 2:
        got = a.shape[1]
    else:
        return False
    if a.shape[0] != n or got < 1:
        return False
    return channels == 0 or got == channels


@st.composite
def out_buffers(draw: st.DrawFn, frame: Any) -> tuple[Any, bool]:
    """An ``out=`` argument for ``frame`` and whether it is acceptable (given a valid frame)."""
    kind = draw(
        st.sampled_from(
            [
                "none",
                "good",
                "self",
                "wrong_dtype",
                "wrong_shape",
                "readonly",
                "fortran",
                "strided",
                "list",
            ]
        )
    )
    if not isinstance(frame, np.ndarray):
        return None, True
    shape, dtype = frame.shape, frame.dtype
    if kind == "none":
        return None, True
    if kind == "good":
        return np.full(shape, 7, dtype=dtype), True
    if kind == "self":
        ok = bool(frame.flags.c_contiguous and frame.flags.writeable and frame.flags.aligned)
        return frame, ok
    if kind == "wrong_dtype":
        other = np.int16 if dtype == np.float32 else np.float32
        return np.zeros(shape, dtype=other), False
    if kind == "wrong_shape":
        return np.zeros((shape[0] + 1, *shape[1:]) if shape else (1,), dtype=dtype), False
    if kind == "readonly":
        b = np.zeros(shape, dtype=dtype)
        b.flags.writeable = False
        return b, False
    if kind == "fortran":
        b = np.zeros((*shape, 2), dtype=dtype)[..., 0] if shape else np.zeros((), dtype)
        return b, bool(b.flags.c_contiguous)
    if kind == "strided":
        if not shape:
            return np.zeros((), dtype), True
        b = np.zeros((shape[0] * 2, *shape[1:]), dtype=dtype)[::2]
        return b, bool(b.flags.c_contiguous)
    return [0.0] * (shape[0] if shape else 1), False


# -- configuration values --------------------------------------------------------------

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=3),
    st.just(math.nan),
    st.just(math.inf),
    st.just(-math.inf),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([np.float64(12.0), np.float32(12.0), np.int64(2), 2.0, 4.0, [], {}]),
)


def near(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Numbers in, at and just outside [lo, hi]."""
    span = hi - lo
    return st.one_of(
        st.floats(lo, hi),
        st.sampled_from([lo, hi, lo - 1e-9 * max(1.0, abs(lo)), hi + 1e-9 * max(1.0, abs(hi))]),
        st.floats(lo - span, hi + span),
        st.integers(int(lo) - 5, int(hi) + 5),
    )
