"""callaudio's RealFFT against numpy.fft.rfft / irfft, microseconds per call.

One group per transform length n (320/640/960 are the 2N windows of 16/32/48 kHz frames;
the powers of two are the usual alternatives).  Both sides are called from Python with
preallocated ``out=`` buffers on float32/complex64 data (numpy >= 2 computes those in
single precision too), so the difference is the transform plus each library's call
overhead (about 30 ns for RealFFT).  Each round runs ``ITERATIONS`` calls so the timer's
own resolution does not dominate a sub-microsecond call.
"""

from __future__ import annotations

import numpy as np
import pytest

from callaudio._dsp.fft import RealFFT

SIZES = [256, 320, 512, 640, 960, 1024, 2048]
ITERATIONS = 200
ROUNDS = 30


def _data(n: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    return x, np.fft.rfft(x).astype(np.complex64)


@pytest.mark.parametrize("n", SIZES, ids=[f"n={n}" for n in SIZES])
def test_forward_callaudio(benchmark, n):
    benchmark.group = f"rfft n={n}"
    fft = RealFFT(n)
    x, _ = _data(n)
    out = np.empty(n // 2 + 1, np.complex64)
    benchmark.pedantic(
        fft.forward, args=(x,), kwargs={"out": out}, rounds=ROUNDS, iterations=ITERATIONS
    )


@pytest.mark.parametrize("n", SIZES, ids=[f"n={n}" for n in SIZES])
def test_forward_numpy(benchmark, n):
    benchmark.group = f"rfft n={n}"
    x, _ = _data(n)
    out = np.empty(n // 2 + 1, np.complex64)
    benchmark.pedantic(
        np.fft.rfft, args=(x,), kwargs={"out": out}, rounds=ROUNDS, iterations=ITERATIONS
    )


@pytest.mark.parametrize("n", SIZES, ids=[f"n={n}" for n in SIZES])
def test_inverse_callaudio(benchmark, n):
    benchmark.group = f"irfft n={n}"
    fft = RealFFT(n)
    _, X = _data(n)
    out = np.empty(n, np.float32)
    benchmark.pedantic(
        fft.inverse, args=(X,), kwargs={"out": out}, rounds=ROUNDS, iterations=ITERATIONS
    )


@pytest.mark.parametrize("n", SIZES, ids=[f"n={n}" for n in SIZES])
def test_inverse_numpy(benchmark, n):
    benchmark.group = f"irfft n={n}"
    _, X = _data(n)
    out = np.empty(n, np.float32)
    benchmark.pedantic(
        np.fft.irfft, args=(X, n), kwargs={"out": out}, rounds=ROUNDS, iterations=ITERATIONS
    )
