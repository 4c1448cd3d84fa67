"""Room impulse responses by the image-source method (pure NumPy).

References
----------
- J. B. Allen and D. A. Berkley, "Image method for efficiently simulating small-room
  acoustics", J. Acoust. Soc. Am. 65(4), pp. 943-950, 1979: the shoebox image lattice,
  reflection coefficients ``beta = sqrt(1 - alpha)`` per wall, amplitude ``1 / (4 pi d)``
  and a high-pass filter to remove the DC the method produces.
- P. M. Peterson, "Simulating the response of multiple microphones to a single acoustic
  source in a reverberant room", J. Acoust. Soc. Am. 80(5), 1986: each image is placed
  with a low-passed, windowed sinc at its exact (fractional) delay.
- W. C. Sabine, *Collected Papers on Acoustics*, 1922 (``T60 = 0.161 V / (S alpha)``), and
  C. F. Eyring, "Reverberation time in 'dead' rooms", JASA 1(2A), 1930
  (``T60 = 0.161 V / (-S ln(1 - alpha))``): wall absorption from a target RT60.
- M. R. Schroeder, "New method of measuring reverberation time", JASA 37(3), 1965:
  backward-integrated energy decay curve, used by :func:`rt60_schroeder`.

Units: lengths and positions in metres, times in seconds, speed of sound in m/s, rates in
Hz. The response is in pascal per unit point-source strength at 1 m convention, i.e. the
direct path has amplitude ``1 / (4 pi d)``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "SPEED_OF_SOUND",
    "absorption_from_rt60",
    "image_source_rir",
    "place_in_room",
    "room_rir",
    "rt60_schroeder",
]

F64 = npt.NDArray[np.float64]

#: Speed of sound in air at 20 degrees C (m/s).
SPEED_OF_SOUND = 343.0
#: Half-length (samples) of the fractional-delay kernel for each image.
_FD_HALF = 10
#: Cutoff of the fractional-delay low-pass, as a fraction of Nyquist.
_FD_ROLLOFF = 0.95
#: Default high-pass corner (Hz) removing the DC component of the image sum.
_HIGHPASS_HZ = 40.0
#: Table oversampling of the fractional-delay kernel (entries per sample).
_FD_OS = 512


def _room(room_dim: npt.ArrayLike) -> F64:
    d = np.asarray(room_dim, dtype=np.float64)
    if d.shape != (3,) or np.any(d <= 0.0):
        raise ValueError(f"room_dim must be three positive lengths (m), got {room_dim!r}")
    return d


def _point(p: npt.ArrayLike, dims: F64, name: str) -> F64:
    a = np.asarray(p, dtype=np.float64)
    if a.shape != (3,) or np.any(a <= 0.0) or np.any(a >= dims):
        raise ValueError(f"{name} {p!r} must lie strictly inside the room {tuple(dims)}")
    return a


def absorption_from_rt60(rt60_s: float, room_dim: npt.ArrayLike, formula: str = "eyring") -> float:
    """Uniform wall absorption coefficient giving ``rt60_s`` in the shoebox ``room_dim``.

    ``formula`` is ``"eyring"`` (``alpha = 1 - exp(-0.161 V / (S T60))``) or ``"sabine"``
    (``alpha = 0.161 V / (S T60)``).

    Raises
    ------
    ValueError
        If the RT60 is too short for the room (alpha would exceed 1).
    """
    dims = _room(room_dim)
    if not rt60_s > 0.0:
        raise ValueError(f"rt60_s must be > 0, got {rt60_s}")
    volume = float(np.prod(dims))
    surface = 2.0 * float(dims[0] * dims[1] + dims[0] * dims[2] + dims[1] * dims[2])
    k = 24.0 * np.log(10.0) / SPEED_OF_SOUND  # 0.161 s/m
    if formula == "sabine":
        alpha = k * volume / (surface * rt60_s)
    elif formula == "eyring":
        alpha = 1.0 - float(np.exp(-k * volume / (surface * rt60_s)))
    else:
        raise ValueError(f"formula must be 'eyring' or 'sabine', got {formula!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"RT60 {rt60_s} s is not reachable in a room {tuple(dims)} m")
    return float(alpha)


def _axis_images(
    src: float, mic: float, length: float, n_max: int
) -> tuple[F64, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Image offsets (image - mic) along one axis and their reflection counts per wall.

    Allen & Berkley: image ``(n, u)`` sits at ``(1 - 2u) src + 2 n L`` and has met the wall
    at 0 ``|n - u|`` times and the wall at ``L`` ``|n|`` times.
    """
    n = np.arange(-n_max, n_max + 1, dtype=np.int64)
    offs = []
    c0 = []
    c1 = []
    for u in (0, 1):
        offs.append((1.0 - 2.0 * u) * src + 2.0 * n * length - mic)
        c0.append(np.abs(n - u))
        c1.append(np.abs(n))
    return np.concatenate(offs), np.concatenate(c0), np.concatenate(c1)


def _fd_table() -> F64:
    """Fractional-delay kernel sampled at 1/_FD_OS sample over [-H, H]."""
    t = np.arange(-_FD_HALF * _FD_OS, _FD_HALF * _FD_OS + 1) / _FD_OS
    w = 0.5 * (1.0 + np.cos(np.pi * t / _FD_HALF))
    return np.asarray(_FD_ROLLOFF * np.sinc(_FD_ROLLOFF * t) * w, dtype=np.float64)


def _edc_rt60(delay_s: F64, energy: F64, fit_db: tuple[float, float]) -> float:
    """T from the Schroeder curve of an energy histogram (1 ms bins) of arrivals."""
    bins = np.floor(delay_s * 1000.0).astype(np.int64)
    hist = np.bincount(bins, weights=energy)
    return rt60_schroeder(np.sqrt(hist), 1000, fit_db)


def _calibrate_beta(
    rt60_s: float, dist: F64, n_refl: npt.NDArray[np.int_], beta0: float, c: float
) -> float:
    """Uniform reflection coefficient whose image set decays with T20 = ``rt60_s``.

    Starts from Eyring's coefficient and iterates ``ln(beta) <- ln(beta) * T / rt60_s``
    (Eyring's law ``-ln(1 - alpha) ~ 1 / T``) on the reverberant images (direct path
    excluded); the image method's late decay is slower than Eyring's because axial and
    grazing paths meet fewer walls (Lehmann & Johansson, JASA 124(1), 2008).
    """
    rev = n_refl > 0
    delay_s = dist[rev] / c
    geo = 1.0 / (4.0 * np.pi * dist[rev]) ** 2
    n = n_refl[rev]
    log_b = float(np.log(beta0))
    for _ in range(8):
        t = _edc_rt60(delay_s, geo * np.exp(2.0 * log_b * n), (-5.0, -25.0))
        if abs(t / rt60_s - 1.0) < 0.01:
            break
        log_b *= t / rt60_s
    return float(np.exp(log_b))


def image_source_rir(
    sample_rate: int,
    room_dim: npt.ArrayLike,
    source: npt.ArrayLike,
    mic: npt.ArrayLike,
    *,
    rt60_s: float | None = None,
    beta: float | npt.ArrayLike | None = None,
    length_s: float | None = None,
    max_order: int | None = None,
    speed_of_sound: float = SPEED_OF_SOUND,
    highpass_hz: float | None = _HIGHPASS_HZ,
    calibrate: bool = True,
) -> F64:
    """Impulse response from ``source`` to ``mic`` in a shoebox room (image method).

    Parameters
    ----------
    sample_rate : int
        Hz.
    room_dim : sequence of 3 float
        Room size (x, y, z) in metres.
    source, mic : sequence of 3 float
        Positions in metres, inside the room.
    rt60_s : float, optional
        Target reverberation time; sets a uniform absorption by Eyring's formula.
    beta : float or sequence of 6 float, optional
        Pressure reflection coefficients instead of ``rt60_s``: one for all walls or one
        per wall in the order (x=0, x=Lx, y=0, y=Ly, z=0, z=Lz).
    length_s : float, optional
        Response length; default ``rt60_s`` (the time the energy takes to fall 60 dB),
        or 0.5 s with ``beta``. Images arriving later are dropped.
    max_order : int, optional
        Largest image index ``|n|`` per axis; default: every image within ``length_s``.
    speed_of_sound : float
        m/s.
    highpass_hz : float or None
        Corner of the second-order Butterworth high-pass applied to the result (Allen &
        Berkley's DC removal); None to skip.
    calibrate : bool
        With ``rt60_s``: refine the Eyring reflection coefficient so the image set's
        Schroeder decay (T20, direct path excluded) matches ``rt60_s`` within 1 %.

    Returns
    -------
    numpy.ndarray
        float64 response of ``round(length_s * sample_rate)`` samples.
    """
    rate = int(sample_rate)
    dims = _room(room_dim)
    s = _point(source, dims, "source")
    m = _point(mic, dims, "mic")
    if (rt60_s is None) == (beta is None):
        raise ValueError("give exactly one of rt60_s and beta")
    if rt60_s is not None:
        b = float(np.sqrt(1.0 - absorption_from_rt60(rt60_s, dims)))
        betas = np.full(6, b)
        length = rt60_s if length_s is None else length_s
    else:
        betas = np.broadcast_to(np.asarray(beta, dtype=np.float64), (6,)).copy()
        if np.any(np.abs(betas) > 1.0):
            raise ValueError(f"reflection coefficients must be within [-1, 1], got {beta!r}")
        length = 0.5 if length_s is None else length_s
    if not length > 0.0:
        raise ValueError(f"length_s must be > 0, got {length}")
    n_len = round(length * rate)
    max_dist = length * speed_of_sound
    n_axis = [int(np.ceil(max_dist / (2.0 * dims[i]))) + 1 for i in range(3)]
    if max_order is not None:
        n_axis = [min(n, int(max_order)) for n in n_axis]

    offs = []
    counts = []
    for i in range(3):
        o, c0, c1 = _axis_images(s[i], m[i], dims[i], n_axis[i])
        offs.append(o)
        counts.append((c0, c1))
    # Enumerate the lattice one x-plane at a time (bounded memory for long responses),
    # keeping images that arrive within the response.
    r_max = (n_len - 1) / rate * speed_of_sound
    dyz2 = (offs[1] ** 2)[:, None] + (offs[2] ** 2)[None, :]
    iy, iz = np.meshgrid(np.arange(offs[1].size), np.arange(offs[2].size), indexing="ij")
    dists: list[F64] = []
    refls: list[npt.NDArray[np.int16]] = []
    for ix in range(offs[0].size):
        d2 = offs[0][ix] ** 2 + dyz2
        sel = d2 < r_max * r_max
        if not np.any(sel):
            continue
        dists.append(np.sqrt(d2[sel]))
        r = np.empty((6, int(sel.sum())), dtype=np.int16)
        r[0] = counts[0][0][ix]
        r[1] = counts[0][1][ix]
        r[2], r[3] = counts[1][0][iy[sel]], counts[1][1][iy[sel]]
        r[4], r[5] = counts[2][0][iz[sel]], counts[2][1][iz[sel]]
        refls.append(r)
    if not dists:
        return np.zeros(n_len)  # the response ends before the direct sound arrives
    dist = np.concatenate(dists)
    # Reflection count on each wall for every kept image, shape (6, n_images).
    refl = np.concatenate(refls, axis=1)
    if rt60_s is not None and calibrate:
        betas = np.full(
            6, _calibrate_beta(rt60_s, dist, refl.sum(axis=0), betas[0], speed_of_sound)
        )
    log_b = np.log(np.maximum(np.abs(betas), 1e-300))
    log_gain = np.zeros(dist.size)
    odd = np.zeros(dist.size, dtype=bool)  # an odd number of sign-flipping reflections
    for w in range(6):
        log_gain += refl[w] * log_b[w]
        if betas[w] < 0.0:
            odd ^= (refl[w] % 2) == 1
    sign = np.where(odd, -1.0, 1.0)
    amp = sign * np.exp(log_gain) / (4.0 * np.pi * dist)
    delay = dist / speed_of_sound * rate

    # Fractional delay per image: Hann-windowed sinc low-passed at 0.95 Nyquist (Peterson),
    # read from a table at 1/512-sample resolution.
    h = np.zeros(n_len + 2 * _FD_HALF + 1)
    base = np.floor(delay).astype(np.int64)
    frac_idx = np.rint((delay - base) * _FD_OS).astype(np.int64)
    table = _fd_table()
    chunk = 1 << 16
    j = np.arange(-_FD_HALF + 1, _FD_HALF + 1)
    for st in range(0, delay.size, chunk):
        # tap j of an image with fractional part f has t = j - f; table index (t + H) * OS.
        ti = (j[None, :] + _FD_HALF) * _FD_OS - frac_idx[st : st + chunk, None]
        k = table[ti] * amp[st : st + chunk, None]
        idx = base[st : st + chunk, None] + j[None, :] + _FD_HALF
        h += np.bincount(idx.ravel(), weights=k.ravel(), minlength=h.size)[: h.size]
    out = h[_FD_HALF : _FD_HALF + n_len]
    if highpass_hz is not None:
        out = _butter2_highpass(out, highpass_hz, rate)
    return out


def _butter2_highpass(x: F64, fc: float, rate: int) -> F64:
    """Second-order Butterworth high-pass (bilinear transform, prewarped), causal."""
    if not 0.0 < fc < 0.5 * rate:
        raise ValueError(f"highpass_hz must be in (0, {rate / 2}), got {fc}")
    k = np.tan(np.pi * fc / rate)
    q = 1.0 / np.sqrt(2.0)
    norm = 1.0 / (1.0 + k / q + k * k)
    b0, b1, b2 = norm, -2.0 * norm, norm
    a1 = 2.0 * (k * k - 1.0) * norm
    a2 = (1.0 - k / q + k * k) * norm
    y = np.empty_like(x)
    x1 = x2 = y1 = y2 = 0.0
    for i, v in enumerate(x.tolist()):
        o = b0 * v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
        x2, x1, y2, y1 = x1, v, y1, o
        y[i] = o
    return y


def rt60_schroeder(
    h: npt.ArrayLike, sample_rate: int, fit_db: tuple[float, float] = (-5, -25)
) -> float:
    """Reverberation time of ``h`` from its Schroeder energy decay curve.

    A straight line is fitted (least squares) to the backward-integrated energy decay curve
    (dB) between ``fit_db`` levels and extrapolated to -60 dB (T20 by default).
    """
    a = np.asarray(h, dtype=np.float64)
    edc = np.cumsum((a * a)[::-1])[::-1]
    if edc[0] <= 0.0:
        raise ValueError("h is silent")
    edc_db = 10.0 * np.log10(np.maximum(edc / edc[0], 1e-30))
    hi, lo = fit_db
    sel = (edc_db <= hi) & (edc_db >= lo)
    if np.count_nonzero(sel) < 2:
        raise ValueError(f"the decay does not span {fit_db} dB")
    t = np.nonzero(sel)[0] / sample_rate
    slope, _ = np.polyfit(t, edc_db[sel], 1)
    return float(-60.0 / slope)


def place_in_room(
    room_dim: npt.ArrayLike,
    distance_m: float,
    rng: np.random.Generator,
    *,
    margin_m: float = 0.5,
    anchor: npt.ArrayLike | None = None,
) -> tuple[F64, F64]:
    """Seeded (source, mic) positions ``distance_m`` apart, ``margin_m`` from every wall.

    The mic is ``anchor`` if given, else drawn uniformly; the source lies in a random
    direction from it (elevation within +-30 degrees) with both points inside the margin.
    """
    dims = _room(room_dim)
    if not distance_m > 0.0:
        raise ValueError(f"distance_m must be > 0, got {distance_m}")
    lo, hi = np.full(3, margin_m), dims - margin_m
    if np.any(hi <= lo):
        raise ValueError(f"room {tuple(dims)} too small for a {margin_m} m margin")
    for _ in range(1000):
        mic = np.asarray(anchor, dtype=np.float64) if anchor is not None else rng.uniform(lo, hi)
        az = rng.uniform(0.0, 2.0 * np.pi)
        el = rng.uniform(-np.pi / 6.0, np.pi / 6.0)
        src = mic + distance_m * np.array(
            [np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)]
        )
        if np.all(src > lo) and np.all(src < hi):
            return src, mic
    raise ValueError(f"cannot place a source {distance_m} m from the mic in {tuple(dims)}")


def room_rir(
    sample_rate: int,
    rt60_s: float,
    distance_m: float,
    *,
    seed: int = 0,
    room_dim: npt.ArrayLike = (5.0, 4.0, 2.8),
    length_s: float | None = None,
) -> tuple[F64, float]:
    """Response of a seeded source ``distance_m`` from a mic in a room with ``rt60_s``.

    Returns the response and the direct-path delay in samples (``distance_m / c * rate``).
    """
    rng = np.random.default_rng([int(seed), 0x0A11])
    src, mic = place_in_room(room_dim, distance_m, rng)
    h = image_source_rir(sample_rate, room_dim, src, mic, rt60_s=rt60_s, length_s=length_s)
    return h, distance_m / SPEED_OF_SOUND * sample_rate
