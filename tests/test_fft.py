"""Tests of callaudio._dsp.fft.RealFFT against numpy.fft (float64 references).

Error bounds are float32-rounding bounds of the form ``c * eps32 * log2(n) * scale``:
an FFT of depth log2(n) makes O(log n) roundings per output, each relative to the signal
norm.  The measured constant is 0.3-0.7 for the forward transform (largest at tiny n);
c = 2 leaves room for other seeds, while a single wrong twiddle or butterfly gives errors
of order ``scale``.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from callaudio._dsp.fft import RealFFT, is_supported

EPS32 = float(np.finfo(np.float32).eps)
C_BOUND = 2.0

PIPELINE_SIZES = [320, 640, 960, 128, 256, 512, 1024, 2048]
# Small and odd-m sizes (every radix as first and last pass), and some larger ones.
OTHER_SIZES = [2, 4, 6, 8, 10, 12, 16, 18, 30, 32, 54, 60, 64, 96, 150, 162, 250, 480, 1000]
OTHER_SIZES += [1920, 4096]
ALL_SIZES = PIPELINE_SIZES + OTHER_SIZES
UNSUPPORTED = [0, 1, 3, 5, 7, 14, 22, 26, 42, 98, 322, 1022, -2, -512, 2**25]


def _ids(sizes: list[int]) -> list[str]:
    return [f"n={n}" for n in sizes]


def _bound(n: int, scale: float) -> float:
    return C_BOUND * EPS32 * max(math.log2(n), 1.0) * scale


def _signals(n: int, seed: int) -> dict[str, np.ndarray]:
    """Test inputs: noise, a mix of tones off the bin grid, an impulse, DC plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    tones = np.sin(2 * np.pi * 0.1234 * t) + 0.5 * np.cos(2 * np.pi * 0.377 * t + 0.3)
    impulse = np.zeros(n)
    impulse[n // 3] = 1.0
    return {
        "noise": rng.standard_normal(n).astype(np.float32),
        "tones": tones.astype(np.float32),
        "impulse": impulse.astype(np.float32),
        "dc_noise": (3.0 + 0.1 * rng.standard_normal(n)).astype(np.float32),
    }


def _supported_reference(n: int) -> bool:
    """Slow statement of the length rule: even, n/2 = 2^a 3^b 5^c."""
    if n < 2 or n % 2:
        return False
    m = n // 2
    for p in (2, 3, 5):
        while m % p == 0:
            m //= p
    return m == 1


@pytest.mark.parametrize("n", ALL_SIZES, ids=_ids(ALL_SIZES))
def test_forward_matches_numpy(n: int) -> None:
    fft = RealFFT(n)
    assert fft.n == n
    for name, x in _signals(n, seed=n).items():
        got = fft.forward(x)
        assert got.dtype == np.complex64
        assert got.shape == (n // 2 + 1,)
        ref = np.fft.rfft(x.astype(np.float64))
        err = float(np.max(np.abs(got.astype(np.complex128) - ref)))
        bound = _bound(n, float(np.linalg.norm(x)))
        assert err <= bound, f"{name}: max error {err:.3g} > bound {bound:.3g}"
        # DC and Nyquist bins of a real signal are real.
        assert got[0].imag == 0.0
        assert got[-1].imag == 0.0


@pytest.mark.parametrize("n", ALL_SIZES, ids=_ids(ALL_SIZES))
def test_inverse_matches_numpy(n: int) -> None:
    fft = RealFFT(n)
    rng = np.random.default_rng(1000 + n)
    X = (rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)).astype(
        np.complex64
    )
    X[0] = X[0].real
    X[-1] = X[-1].real
    keep = X.copy()
    got = fft.inverse(X)
    assert got.dtype == np.float32
    assert got.shape == (n,)
    np.testing.assert_array_equal(X, keep)  # the input spectrum is not modified
    ref = np.fft.irfft(X.astype(np.complex128), n)
    err = float(np.max(np.abs(got - ref)))
    bound = _bound(n, float(np.linalg.norm(ref)))
    assert err <= bound, f"max error {err:.3g} > bound {bound:.3g}"


@pytest.mark.parametrize("n", ALL_SIZES, ids=_ids(ALL_SIZES))
def test_roundtrip(n: int) -> None:
    fft = RealFFT(n)
    for name, x in _signals(n, seed=2000 + n).items():
        back = fft.inverse(fft.forward(x))
        err = float(np.max(np.abs(back - x)))
        bound = _bound(n, float(np.linalg.norm(x)))
        assert err <= bound, f"{name}: max error {err:.3g} > bound {bound:.3g}"


def test_every_supported_size_up_to_4096() -> None:
    """Forward against numpy and the round trip for all supported n <= 4096 (one seed)."""
    sizes = [n for n in range(2, 4097, 2) if _supported_reference(n)]
    assert len(sizes) > 100
    for n in sizes:
        fft = RealFFT(n)
        x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
        bound = _bound(n, float(np.linalg.norm(x)))
        X = fft.forward(x)
        err = float(np.max(np.abs(X - np.fft.rfft(x.astype(np.float64)))))
        assert err <= bound, f"n={n}: forward error {err:.3g} > {bound:.3g}"
        err = float(np.max(np.abs(fft.inverse(X) - x)))
        assert err <= bound, f"n={n}: round-trip error {err:.3g} > {bound:.3g}"


@pytest.mark.parametrize("n", [6, 30, 60, 320], ids=_ids([6, 30, 60, 320]))
def test_forward_matches_direct_dft(n: int) -> None:
    """Independent of numpy.fft: the O(n^2) DFT sum in float64."""
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    k = np.arange(n // 2 + 1)[:, None]
    j = np.arange(n)[None, :]
    ref = np.exp(-2j * np.pi * ((k * j) % n) / n) @ x.astype(np.float64)
    err = float(np.max(np.abs(RealFFT(n).forward(x) - ref)))
    assert err <= _bound(n, float(np.linalg.norm(x)))


@pytest.mark.parametrize("n", [2, 10, 320, 512], ids=_ids([2, 10, 320, 512]))
def test_inverse_ignores_imag_of_dc_and_nyquist(n: int) -> None:
    fft = RealFFT(n)
    rng = np.random.default_rng(n)
    X = (rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)).astype(
        np.complex64
    )
    clean = X.copy()
    clean[0] = clean[0].real
    clean[-1] = clean[-1].real
    np.testing.assert_array_equal(fft.inverse(X), fft.inverse(clean))


@pytest.mark.parametrize("n", [320, 480, 512], ids=_ids([320, 480, 512]))
def test_linearity_and_parseval(n: int) -> None:
    fft = RealFFT(n)
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(np.float32)
    y = rng.standard_normal(n).astype(np.float32)
    a, b = np.float32(0.75), np.float32(-2.5)
    lhs = fft.forward((a * x + b * y).astype(np.float32))
    rhs = a * fft.forward(x) + b * fft.forward(y)
    scale = float(np.linalg.norm(a * x) + np.linalg.norm(b * y))
    assert float(np.max(np.abs(lhs - rhs))) <= 2 * _bound(n, scale)

    X = fft.forward(x).astype(np.complex128)
    energy_freq = (abs(X[0]) ** 2 + abs(X[-1]) ** 2 + 2 * np.sum(np.abs(X[1:-1]) ** 2)) / n
    energy_time = float(np.sum(x.astype(np.float64) ** 2))
    assert energy_freq == pytest.approx(energy_time, rel=C_BOUND * EPS32 * math.log2(n))


@pytest.mark.parametrize("n", [16, 320, 960], ids=_ids([16, 320, 960]))
def test_known_spectra(n: int) -> None:
    fft = RealFFT(n)
    impulse = np.zeros(n, np.float32)
    impulse[0] = 1.0
    np.testing.assert_allclose(fft.forward(impulse), np.ones(n // 2 + 1), atol=4 * EPS32)
    k0 = n // 8
    tone = np.cos(2 * np.pi * k0 * np.arange(n) / n).astype(np.float32)
    X = fft.forward(tone)
    expected = np.zeros(n // 2 + 1)
    expected[k0] = n / 2
    np.testing.assert_allclose(X, expected, atol=_bound(n, float(np.linalg.norm(tone))))


def test_is_supported_matches_rule() -> None:
    for n in range(-4, 3000):
        assert is_supported(n) == _supported_reference(n), n
    assert is_supported(2**20)
    assert not is_supported(2**25)
    for bad in (512.0, "512", None, True):
        assert not is_supported(bad)
    assert is_supported(np.int64(320))


@pytest.mark.parametrize("n", UNSUPPORTED, ids=_ids(UNSUPPORTED))
def test_unsupported_size_raises(n: int) -> None:
    with pytest.raises(ValueError, match=r"n/2 has no prime factor other than 2, 3 and 5"):
        RealFFT(n)


@pytest.mark.parametrize("bad", [512.0, "512", None], ids=["float", "str", "none"])
def test_non_integer_size_raises(bad: object) -> None:
    with pytest.raises(ValueError, match="unsupported length"):
        RealFFT(bad)  # type: ignore[arg-type]


def test_wrong_input_raises_and_plan_still_works() -> None:
    n = 320
    fft = RealFFT(n)
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    before = fft.forward(x).copy()
    with pytest.raises(ValueError, match=r"shape \(320,\)"):
        fft.forward(np.zeros(n - 1, np.float32))
    with pytest.raises(ValueError, match=r"shape \(320,\)"):
        fft.forward(np.zeros((2, n), np.float32))
    with pytest.raises(TypeError, match="float32 or float64"):
        fft.forward(np.zeros(n, np.int16))
    with pytest.raises(TypeError, match="float32 or float64"):
        fft.forward(np.zeros(n, np.complex64))
    with pytest.raises(ValueError, match=r"shape \(161,\)"):
        fft.inverse(np.zeros(n // 2, np.complex64))
    with pytest.raises(TypeError, match="complex64 or complex128"):
        fft.inverse(np.zeros(n // 2 + 1, np.float32))
    np.testing.assert_array_equal(fft.forward(x), before)
    np.testing.assert_allclose(fft.inverse(before), x, atol=_bound(n, float(np.linalg.norm(x))))


def test_out_buffers() -> None:
    n = 512
    fft = RealFFT(n)
    x = np.random.default_rng(3).standard_normal(n).astype(np.float32)
    spec = np.empty(n // 2 + 1, np.complex64)
    sig = np.empty(n, np.float32)
    assert fft.forward(x, out=spec) is spec
    np.testing.assert_array_equal(spec, fft.forward(x))
    assert fft.inverse(spec, out=sig) is sig
    np.testing.assert_array_equal(sig, fft.inverse(spec))
    with pytest.raises(ValueError, match="out must be"):
        fft.forward(x, out=np.empty(n // 2 + 1, np.complex128))
    with pytest.raises(ValueError, match="out must be"):
        fft.forward(x, out=np.empty(n // 2, np.complex64))
    with pytest.raises(ValueError, match="out must be"):
        fft.inverse(spec, out=np.empty(2 * n, np.float32)[::2])
    with pytest.raises(TypeError, match=r"numpy\.ndarray"):
        fft.inverse(spec, out=[0.0] * n)
    readonly = np.empty(n, np.float32)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        fft.inverse(spec, out=readonly)
    shared = np.zeros(n + 2, np.float32)
    with pytest.raises(ValueError, match="overlap"):
        fft.forward(shared[:n], out=shared.view(np.complex64))
    with pytest.raises(ValueError, match="overlap"):
        fft.inverse(shared.view(np.complex64), out=shared[:n])


def test_input_coercion() -> None:
    n = 60
    fft = RealFFT(n)
    x64 = np.random.default_rng(4).standard_normal(2 * n)
    x32 = x64.astype(np.float32)
    # float64 input is rounded to float32; strided input is made contiguous.
    np.testing.assert_array_equal(fft.forward(x64[:n]), fft.forward(x32[:n]))
    np.testing.assert_array_equal(fft.forward(x32[::2]), fft.forward(x32[::2].copy()))
    np.testing.assert_array_equal(fft.forward(list(x32[:n])), fft.forward(x32[:n]))
    X = fft.forward(x32[:n])
    np.testing.assert_array_equal(fft.inverse(X.astype(np.complex128)), fft.inverse(X))


def test_non_native_byte_order() -> None:
    n = 64
    fft = RealFFT(n)
    x = np.random.default_rng(7).standard_normal(n).astype(np.float32)
    X = fft.forward(x)
    swapped = x.astype(x.dtype.newbyteorder())
    np.testing.assert_array_equal(fft.forward(swapped), X)
    np.testing.assert_array_equal(fft.inverse(X.astype(X.dtype.newbyteorder())), fft.inverse(X))
    with pytest.raises(ValueError, match="native-order"):
        fft.forward(x, out=np.empty(n // 2 + 1, np.dtype(np.complex64).newbyteorder()))


def test_plans_are_independent() -> None:
    a, b = RealFFT(320), RealFFT(320)
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((2, 320)).astype(np.float32)
    ref_x = a.forward(x).copy()
    b.forward(y)
    np.testing.assert_array_equal(a.forward(x), ref_x)
    assert repr(a) == "RealFFT(n=320)"


def test_no_allocation_with_out_buffers() -> None:
    n = 1024
    fft = RealFFT(n)
    x = np.random.default_rng(6).standard_normal(n).astype(np.float32)
    spec = np.empty(n // 2 + 1, np.complex64)
    sig = np.empty(n, np.float32)
    fwd, inv = fft.forward, fft.inverse
    fwd(x, out=spec)
    inv(spec, out=sig)
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        fwd(x, out=spec)
        inv(spec, out=sig)
        fwd(x, out=spec)
        inv(spec, out=sig)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - base == 0, f"{peak - base} bytes allocated by forward/inverse with out="
    # Control: without out= a result array is allocated, and tracemalloc sees it.
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        fwd(x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - base >= spec.nbytes
