"""Seeded noise-suppression scenarios and their measures (issue 16), shared by
``tests/test_ns_sweep.py``, the soak draw in ``tests/reliability/`` and ``bench/bench_ns.py``.

A case is drawn from one seed (``draw(seed, rate, kind, snr)``), so a failure is
reproduced by its seed alone:

- talkers: the two shipped clips and the espeak-ng voices of ``aec_sweep`` (eight voices,
  six languages; left out when espeak-ng is not installed);
- noises: ``babble`` and ``keyboard`` of :mod:`callaudio.simulation.noise`, and five
  generated here from seeded random numbers (no recording):

  ``car``     low-passed brown rumble plus engine harmonics (25-45 Hz) that wander;
  ``aircon``  a fan: 1/f broadband with a 300-900 Hz hump, blade-pass tones, and a slow
              (0.1-0.4 Hz) +-3 dB modulation of the whole;
  ``street``  traffic rumble with passing vehicles (2-4 s swells of +6..+12 dB) and a horn;
  ``cafe``    babble of :mod:`callaudio.simulation.noise` plus crockery clinks (decaying
              resonances at 2-6 kHz);
  ``switch``  ``car`` for the first half, then ``cafe`` (a noise change mid-signal);
  ``switch_back``  ``cafe``, then ``car`` (the babble stops; ``EXTRA_KINDS``, not swept);

- SNR: the P.56 active speech level over the noise's mean square (``mix_at_snr``).

Measures (``measure``): wideband PESQ and STOI of input and output against the clean
speech (48 kHz resampled to 16 kHz), DNSMOS OVRL (``speechmos``, optional), and the noise
attenuation: level of the input minus level of the output over the frames where the clean
speech is inactive (P.56 mask), the output aligned by its latency.

Peers (``PEERS``): WebRTC NS (``webrtc-noise-gain`` at 16 kHz, level 2 = 12 dB; livekit's
APM noise suppression), SpeexDSP (``speexdsp-ns``), RNNoise (``pyrnnoise``, 48 kHz only),
each ``None`` when not installed or not at that rate (the shared wrappers of
``tests/_reference/peers.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from _reference import peers
from aec_sweep import ESPEAK_VOICES, espeak_available, load_any_talker
from callaudio._dsp.ns import NoiseSuppressor
from callaudio.simulation.metrics import active_mask, level_dbfs
from callaudio.simulation.noise import make_noise, mix_at_snr
from callaudio.simulation.resample import resample

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Runner = Callable[[F32], F32]

KINDS = ("babble", "cafe", "aircon", "car", "keyboard", "street", "switch")
# Kinds drawn only by their own tests (not in the per-kind sweep, to keep its cost):
# ``switch_back`` is ``cafe`` for the first half, then ``car`` (babble stops).
EXTRA_KINDS = ("switch_back",)
SECONDS = 6.0

# Worst PESQ gain over the draw that each kind must keep (measured, rounded down).  The
# issue's target is > 0 for every kind.  Babble / cafe, before -> after the held,
# bias-compensated pause floor with its raised gain floor: 16 kHz seeds 0-1 -0.021 /
# -0.021 -> +0.022 / +0.025, soak seeds 100-111 +0.014 / +0.013 -> +0.025 / +0.025;
# 48 kHz seed 2 +0.010 / +0.007 -> +0.065 / +0.064, soak seeds +0.029 / +0.027.
PESQ_FLOOR = {
    "babble": 0.0,
    "cafe": 0.0,
    "aircon": 0.15,
    "car": 0.3,  # worst measured: +0.37 (car at 20 dB, seed 1)
    # before the transient detector's count of rising bins (ns.pyx item 2): -0.017 (48 kHz
    # seed 2 at 20 dB); now +0.109 (the same), 16 kHz worst +0.119 (seed 1 at 10 dB)
    "keyboard": 0.1,
    "street": 0.2,
    "switch": 0.0,
}
# Worst STOI change: the issue's -0.02 everywhere.  Air-con at 10 dB was the exception
# (floor -0.03): -0.024 before and after the pause floor, -0.022 with the onset hold, -0.018
# with the noise tracker's xi_H1 at 13.5 dB (WebRTC NS -0.021, SpeexDSP +0.003).
STOI_FLOOR: dict[str, float] = {}


# -- noises ----------------------------------------------------------------------------


def _shaped(n: int, rate: int, rng: np.random.Generator, psd: Callable[[F64], F64]) -> F64:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / rate)
    return np.fft.irfft(spec * np.sqrt(psd(f)), n)


def _rms(x: F64) -> float:
    return float(np.sqrt(np.mean(x**2)) + 1e-30)


def car_noise(n: int, rate: int, rng: np.random.Generator) -> F64:
    t = np.arange(n) / rate
    rumble = _shaped(n, rate, rng, lambda f: 1.0 / np.maximum(f, 20.0) ** 2 / (1 + (f / 400) ** 2))
    f0 = rng.uniform(25.0, 45.0) * (1.0 + 0.05 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t))
    ph = 2 * np.pi * np.cumsum(f0) / rate
    eng = sum(np.sin(k * ph + rng.uniform(0, 6.3)) / k for k in range(1, 6))
    return rumble / _rms(rumble) + 0.5 * eng / _rms(eng)


def aircon_noise(n: int, rate: int, rng: np.random.Generator) -> F64:
    t = np.arange(n) / rate
    fc = rng.uniform(300.0, 900.0)
    broad = _shaped(
        n,
        rate,
        rng,
        lambda f: (
            (1.0 / np.maximum(f, 50.0) + 3e-3 * np.exp(-(((f - fc) / (0.6 * fc)) ** 2)))
            / (1 + (f / 4000) ** 2)
        ),
    )
    bp = rng.uniform(80.0, 160.0)
    tones = sum(np.sin(2 * np.pi * k * bp * t + rng.uniform(0, 6.3)) / k for k in (1, 2, 3))
    x = broad / _rms(broad) + 0.25 * tones / _rms(tones)
    mod_db = 3.0 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t + rng.uniform(0, 6.3))
    return x * 10.0 ** (mod_db / 20.0)


def street_noise(n: int, rate: int, rng: np.random.Generator) -> F64:
    t = np.arange(n) / rate
    base = _shaped(n, rate, rng, lambda f: 1.0 / np.maximum(f, 30.0) ** 1.5)
    base /= _rms(base)
    env = np.ones(n)
    for _ in range(int(rng.integers(1, 4))):
        c, w = rng.uniform(0, n / rate), rng.uniform(1.0, 2.0)
        env += (10 ** (rng.uniform(6, 12) / 20) - 1) * np.exp(-(((t - c) / w) ** 2))
    car = _shaped(n, rate, rng, lambda f: 1.0 / np.maximum(f, 60.0) / (1 + (f / 1500) ** 2))
    x = base + env * car / _rms(car)
    h0, hf = rng.uniform(0, max(n / rate - 0.5, 0.1)), rng.uniform(350.0, 500.0)
    horn = np.where((t >= h0) & (t < h0 + 0.4), 1.0, 0.0)
    x += 0.5 * horn * sum(np.sin(2 * np.pi * k * hf * t) / k for k in (1, 2, 3))
    return x


def cafe_noise(n: int, rate: int, rng: np.random.Generator, seed: int) -> F64:
    bab = make_noise("babble", n / rate + 0.01, rate, seed=seed).astype(np.float64)[:n]
    x = bab / _rms(bab)
    clinks = np.zeros(n)
    cl = round(0.15 * rate)
    tt = np.arange(cl) / rate
    for _ in range(int(rng.poisson(1.5 * n / rate))):
        s = int(rng.integers(0, max(n - cl, 1)))
        f = rng.uniform(2000.0, min(6000.0, 0.4 * rate))
        ring = np.sin(2 * np.pi * f * tt) * np.exp(-tt / rng.uniform(0.02, 0.06))
        clinks[s : s + cl] += ring[: n - s] * 10 ** (rng.uniform(-6, 6) / 20)
    return x + 0.3 * clinks / max(_rms(clinks), 1e-9) * np.sqrt(np.mean(clinks != 0))


def noise_of(kind: str, n: int, rate: int, seed: int) -> F64:
    """``n`` samples of noise ``kind`` (one of KINDS or EXTRA_KINDS) at an arbitrary level."""
    rng = np.random.default_rng([seed, (KINDS + EXTRA_KINDS).index(kind), 0x5EED])
    if kind in ("babble", "keyboard"):
        return make_noise(kind, n / rate + 0.01, rate, seed=seed).astype(np.float64)[:n]
    if kind == "car":
        return car_noise(n, rate, rng)
    if kind == "aircon":
        return aircon_noise(n, rate, rng)
    if kind == "street":
        return street_noise(n, rate, rng)
    if kind == "cafe":
        return cafe_noise(n, rate, rng, seed)
    if kind in ("switch", "switch_back"):
        a, b = car_noise(n, rate, rng), cafe_noise(n, rate, rng, seed)
        if kind == "switch_back":
            a, b = b, a
        h = n // 2
        return np.concatenate([a[:h] / _rms(a[:h]), b[h:] / _rms(b[h:])])
    raise ValueError(f"unknown kind {kind!r}")


# -- cases -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    seed: int
    rate: int
    kind: str
    snr: float
    talker: int

    @property
    def label(self) -> str:
        return f"{self.kind}@{self.snr:g}dB/talker{self.talker}/seed{self.seed}/{self.rate}"


def n_talkers() -> int:
    return 2 + (len(ESPEAK_VOICES) if espeak_available() else 0)


def draw(seed: int, rate: int, kind: str, snr: float) -> Case:
    rng = np.random.default_rng([seed, 0x16])
    return Case(seed, rate, kind, snr, int(rng.integers(0, n_talkers())))


@functools.lru_cache(maxsize=64)
def clean_of(talker: int, rate: int, seed: int, seconds: float = SECONDS) -> F32:
    s = load_any_talker(talker, rate, seconds, seed=seed)
    n = rate // 100
    return np.ascontiguousarray(s[: s.size // n * n], dtype=np.float32)


@functools.lru_cache(maxsize=64)
def build(case: Case) -> tuple[F32, F32]:
    """(clean, noisy) float32, whole 10 ms frames."""
    s = clean_of(case.talker, case.rate, case.seed)
    v = noise_of(case.kind, s.size, case.rate, case.seed)
    x, _ = mix_at_snr(s, v, case.snr, case.rate)
    return s, np.ascontiguousarray(x, dtype=np.float32)


# -- processors ------------------------------------------------------------------------


def callaudio_ns(rate: int, level_db: float = 12.0) -> tuple[Runner, int]:
    def run(x: F32) -> F32:
        return NoiseSuppressor(rate, level_db).process_signal(x)

    return run, NoiseSuppressor(rate, level_db).latency_samples


# The peers of the comparison, from the shared wrappers (tests/_reference/peers.py), each at
# its native rates only: WebRTC NS (webrtc-noise-gain at 16 kHz; livekit's APM), SpeexDSP,
# RNNoise (48 kHz).  Output aligned with the input (the peer's latency removed).
PEER_NAMES = {
    "webrtc": "webrtc-ns-wng",
    "livekit": "webrtc-ns-livekit",
    "speex": "speexdsp-ns",
    "rnnoise": "rnnoise",
}


def _peer(name: str, rate: int) -> Runner | None:
    p = next(p for p in peers.NS_PEERS if p.name == name)
    if rate not in p.rates or name not in peers.ns_peers(callaudio=False):
        return None
    return functools.partial(peers.run_ns, name, rate=rate)


PEERS: dict[str, Callable[[int], Runner | None]] = {
    short: functools.partial(_peer, name) for short, name in PEER_NAMES.items()
}


# -- measures --------------------------------------------------------------------------


def to16k(x: F64, rate: int) -> F64:
    return x if rate == 16000 else np.asarray(resample(x, rate, 16000), dtype=np.float64)


def lag(x: F32, y: F32, rate: int, max_s: float = 0.04) -> int:
    """Delay of y behind x in samples (argmax of the cross-correlation, 0..max_s)."""
    m = int(max_s * rate)
    a, b = x.astype(np.float64), y.astype(np.float64)
    n = a.size - m
    return int(np.argmax([float(np.dot(a[:n], b[k : k + n])) for k in range(m)]))


def pesq_wb(ref: F64, deg: F64) -> float:
    import pesq

    return float(pesq.pesq(16000, ref, deg, "wb"))


def stoi(ref: F64, deg: F64) -> float:
    import pystoi

    return float(pystoi.stoi(ref, deg, 16000))


def dnsmos_ovrl(x: F64) -> float | None:
    try:
        from speechmos import dnsmos
    except ImportError:
        return None
    return float(dnsmos.run(x.astype(np.float32), 16000)["ovrl_mos"])


def dnsmos_gain(noisy: F32, out: F32, rate: int, delay: int) -> dict[str, float]:
    """DNSMOS OVRL of input and output (16 kHz, aligned as ``measure`` aligns them) and its
    gain; empty when speechmos is missing."""
    n = out.size - delay
    a = dnsmos_ovrl(to16k(noisy[:n].astype(np.float64), rate))
    b = dnsmos_ovrl(to16k(out[delay:].astype(np.float64), rate))
    if a is None or b is None:
        return {}
    return {"dnsmos_in": a, "dnsmos_out": b, "dnsmos_gain": b - a}


def measure(
    clean: F32, noisy: F32, out: F32, rate: int, delay: int | None = None, mos: bool = False
) -> dict[str, float]:
    """PESQ/STOI (and DNSMOS OVRL with ``mos``) of input and output, noise attenuation."""
    d = lag(noisy, out, rate) if delay is None else delay
    n = out.size - d
    s = to16k(clean[:n].astype(np.float64), rate)
    x = to16k(noisy[:n].astype(np.float64), rate)
    y = to16k(out[d:].astype(np.float64), rate)
    m = {
        "pesq_in": pesq_wb(s, x),
        "pesq_out": pesq_wb(s, y),
        "stoi_in": stoi(s, x),
        "stoi_out": stoi(s, y),
    }
    m["pesq_gain"] = m["pesq_out"] - m["pesq_in"]
    m["stoi_delta"] = m["stoi_out"] - m["stoi_in"]
    quiet = ~active_mask(clean[:n], rate)
    quiet[: rate // 2] = False  # the first 0.5 s: the estimators' start
    if np.count_nonzero(quiet) > rate // 10:
        xs, ys = noisy[:n][quiet], out[d:][quiet]
        m["atten_db"] = level_dbfs(xs) - level_dbfs(ys)
    if mos:
        m.update(dnsmos_gain(noisy, out, rate, d))
    return m


@functools.cache
def _measured(case: Case) -> tuple[tuple[str, float], ...]:
    s, x = build(case)
    run, d = callaudio_ns(case.rate)
    return tuple(measure(s, x, run(x), case.rate, d).items())


def measured(case: Case) -> dict[str, float]:
    """callaudio's noise suppressor (default settings) on ``case``, measured (``measure``),
    run once per process: the sweep's tests (tests/test_ns_sweep.py: floors, never worse,
    air-con STOI, the peer margin) and tests/test_ns_transient.py assert on the same
    cases. Nothing outlives the process: every test session measures the code it runs."""
    return dict(_measured(case))


def music(rate: int, seed: int, seconds: float = 8.0) -> F32:
    """Chords of three harmonic notes (110-880 Hz, 7 partials falling 4.5 dB/octave) held
    0.4-2 s with 0.5-3 s decays, at -26 dBFS, over pink noise at -66 dBFS."""
    rng = np.random.default_rng([seed, 0x3A5])
    n = round(seconds * rate) // (rate // 100) * (rate // 100)
    x = np.zeros(n)
    t0 = 0
    while t0 < n:
        m = round(float(rng.uniform(0.4, 2.0)) * rate)
        tt = np.arange(m) / rate
        for f in 110.0 * 2.0 ** (rng.integers(0, 36, size=3) / 12.0):
            note = sum(
                np.sin(2 * np.pi * k * f * tt + rng.uniform(0, 6.3)) / k**1.5
                for k in range(1, 8)
                if k * f < 0.45 * rate
            )
            x[t0 : t0 + m] += (note * np.exp(-tt / rng.uniform(0.5, 3.0)))[: n - t0]
        t0 += m
    return _with_floor(x, rate, seed)


def dial_tone(rate: int, seed: int, seconds: float = 8.0) -> F32:
    """The 350 + 440 Hz dial tone held throughout, at -26 dBFS, over pink noise at -66."""
    n = round(seconds * rate) // (rate // 100) * (rate // 100)
    t = np.arange(n) / rate
    return _with_floor(np.sin(2 * np.pi * 350 * t) + np.sin(2 * np.pi * 440 * t), rate, seed)


def _with_floor(x: F64, rate: int, seed: int) -> F32:
    x = x * 10.0 ** ((-26.0 - level_dbfs(x)) / 20.0)
    v = make_noise("pink", x.size / rate + 0.01, rate, level_dbfs=-66.0, seed=seed)[: x.size]
    return np.ascontiguousarray(x + v, dtype=np.float32)


def worst_half_second_gain_db(x: F32, y: F32, rate: int, delay: int) -> float:
    """The lowest output-over-input level ratio over 0.5 s windows (after the first 1 s)."""
    n = y.size - delay
    a, b = x[:n].astype(np.float64), y[delay:].astype(np.float64)
    w = rate // 2
    gains = [
        level_dbfs(b[i : i + w]) - level_dbfs(a[i : i + w]) for i in range(rate, n - w + 1, w // 2)
    ]
    return float(min(gains))


def check(seed: int, rate: int, kind: str) -> None:
    """Assert the sweep's floors on the cases of ``seed`` (10 and 20 dB)."""
    for snr in (10, 20):
        case = draw(seed, rate, kind, snr)
        m = measured(case)
        assert m["pesq_gain"] >= PESQ_FLOOR[kind], (case.label, m)
        assert m["stoi_delta"] >= STOI_FLOOR.get(kind, -0.02), (case.label, m)


def table(
    rates: tuple[int, ...] = (16000, 48000),
    seeds: tuple[int, ...] = (0, 1),
    kinds: tuple[str, ...] = KINDS,
    mos: bool = True,
) -> list[dict[str, float | str]]:
    """One row per (rate, kind, SNR, processor): the means over ``seeds`` of the measures,
    callaudio and every installed peer on the same signals (the bench's NS table)."""
    rows: list[dict[str, float | str]] = []
    for rate in rates:
        ca_run, ca_delay = callaudio_ns(rate)
        procs: dict[str, tuple[Runner, int | None]] = {"callaudio": (ca_run, ca_delay)}
        for name, make in PEERS.items():
            run = make(rate)
            if run is not None:
                procs[name] = (run, None)
        for kind in kinds:
            for snr in (10, 20):
                acc: dict[str, list[dict[str, float]]] = {p: [] for p in procs}
                for seed in seeds:
                    s, x = build(draw(seed, rate, kind, snr))
                    for name, (run, d) in procs.items():
                        acc[name].append(measure(s, x, run(x), rate, d, mos))
                for name, ms in acc.items():
                    row: dict[str, float | str] = {"rate": rate, "kind": kind, "snr": snr}
                    row["processor"] = name
                    for key in ms[0]:
                        row[key] = float(np.mean([m[key] for m in ms if key in m]))
                    rows.append(row)
    return rows


def main() -> None:
    """Print the NS table (``python tests/ns_sweep.py``; slow: minutes)."""
    for r in table():
        print(
            f"{r['rate']:>5} {r['kind']:9s} {r['snr']:>2} {r['processor']:9s} "
            f"pesq {r['pesq_gain']:+.3f} stoi {r['stoi_delta']:+.3f} "
            f"atten {r.get('atten_db', float('nan')):5.1f} dB "
            f"dnsmos {r.get('dnsmos_gain', float('nan')):+.3f}"
        )


if __name__ == "__main__":
    main()
