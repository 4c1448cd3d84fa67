"""Shared helpers of the reliability tests: budgets, stage availability, signals.

Budgets
-------
``make test`` runs every test here within about 2.5 minutes on a loaded 2-core machine.
``HYPOTHESIS_PROFILE=soak`` multiplies every property test's example count (and makes the
search random instead of derandomized); ``CALLAUDIO_SOAK=1`` enables the long variants
(one hour of call audio, long atheris runs) and implies the soak hypothesis budget.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, settings

import callaudio as ca
from callaudio.config import (
    EchoCancellerConfig,
    GainControlConfig,
    HighPassConfig,
    NoiseSuppressorConfig,
    ProcessingConfig,
)

F = TypeVar("F", bound=Callable[..., Any])

SOAK = os.environ.get("CALLAUDIO_SOAK", "").strip().lower() in ("1", "true", "yes")
HYPOTHESIS_SOAK = SOAK or os.environ.get("HYPOTHESIS_PROFILE", "") == "soak"

soak_only = pytest.mark.skipif(not SOAK, reason="soak variant: set CALLAUDIO_SOAK=1 (make soak)")


def fuzz_settings(max_examples: int, *, stateful_steps: int | None = None) -> Callable[[F], F]:
    """Hypothesis settings of one property test: derandomized and modest by default.

    Under the soak profile the example count grows 30x and the search is random (a new
    seed per run; hypothesis prints the reproducer of a failure).
    """
    kw: dict[str, Any] = {
        "max_examples": max_examples * 30 if HYPOTHESIS_SOAK else max_examples,
        "derandomize": not HYPOTHESIS_SOAK,
        "deadline": None,
        "database": None,
        "print_blob": True,
        "suppress_health_check": [
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    }
    if stateful_steps is not None:
        kw["stateful_step_count"] = stateful_steps
    return settings(**kw)  # type: ignore[return-value]


# -- which stages this build provides ---------------------------------------------------


def full_config(**aec: Any) -> ProcessingConfig:
    """Every stage enabled (the 'full chain')."""
    return ProcessingConfig(
        high_pass=HighPassConfig(enabled=True),
        echo_canceller=EchoCancellerConfig(enabled=True, **aec),
        noise_suppressor=NoiseSuppressorConfig(enabled=True),
        gain_control=GainControlConfig(enabled=True),
    )


def chain_stage_kwargs(*, gain_control: bool = True) -> dict[str, dict[str, Any]]:
    """Constructor keywords of every stage of the compiled Chain (default configs)."""
    kw: dict[str, dict[str, Any]] = {
        "high_pass": HighPassConfig().kwargs(),
        "echo_canceller": EchoCancellerConfig().kwargs(),
        "noise_suppressor": NoiseSuppressorConfig().kwargs(),
    }
    if gain_control:
        kw["gain_control"] = GainControlConfig().kwargs()
    return kw


def stage_names() -> list[str]:
    """Names of the stages of :func:`full_config`, for reports."""
    return ["high_pass", "echo_canceller", "noise_suppressor", "gain_control"]


# -- signals ------------------------------------------------------------------------------


def frames_of(x: npt.NDArray[Any], n: int) -> Iterator[npt.NDArray[Any]]:
    """Consecutive whole frames of ``n`` samples (views, a partial tail is dropped)."""
    for k in range(x.shape[0] // n):
        yield x[k * n : (k + 1) * n]


def run_frames(
    vp: ca.VoiceProcessor,
    mic: npt.NDArray[np.float32],
    far: npt.NDArray[np.float32] | None = None,
) -> npt.NDArray[np.float32]:
    """Alternate process_render / process_capture over whole signals; return the output."""
    n = vp.frame_size
    frames = mic.shape[0] // n
    out = np.empty((frames * n, *mic.shape[1:]), dtype=mic.dtype)
    for k in range(frames):
        sl = slice(k * n, (k + 1) * n)
        if far is not None:
            vp.process_render(far[sl])
        vp.process_capture(mic[sl], out=out[sl])
    return out


def _malloc_trim() -> None:
    """Give glibc's free arena memory back to the OS (so RSS shows live memory only)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: RSS includes cached free memory


def pin_mmap_threshold() -> None:
    """Keep glibc's mmap threshold at its 128 kB default (mallopt M_MMAP_THRESHOLD).

    glibc raises the threshold to the size of the largest mmapped block freed, so a test
    harness that allocates and frees multi-MB measurement arrays (a long run's per-visit
    buffers, erle_db's float64 copies) soon gets them from the heap instead, which
    fragments: over an hour that showed as 3.5 MB of RSS growth belonging to the harness,
    not to the processor (0.4 MB with the threshold pinned; the processor allocates nothing
    per frame). Set once, before the tests allocate (conftest). Not glibc: nothing to do.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def rss_bytes() -> int:
    """Resident set size of this process after gc and malloc_trim, from /proc/self/statm."""
    import gc

    gc.collect()
    _malloc_trim()
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def is_subnormal(a: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Elementwise: a non-zero finite value below the smallest normal of its dtype."""
    arr = np.asarray(a)
    if arr.dtype.kind == "c":
        return is_subnormal(arr.real) | is_subnormal(arr.imag)
    tiny = np.finfo(arr.dtype).tiny
    mag = np.abs(arr)
    return np.asarray((mag > 0) & (mag < tiny))
