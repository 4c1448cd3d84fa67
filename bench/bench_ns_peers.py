"""Noise suppressors side by side (issue 16): callaudio, WebRTC NS (livekit's APM,
pywebrtc-audio, webrtc-noise-gain), SpeexDSP and RNNoise, same signals, same metrics.

Scenarios (seeded; ``seed`` picks the talker and the noise draw): speech from the shipped
clips and the espeak-ng voices of ``tests/aec_sweep.py`` (``load_any_talker``: sentences
with natural pauses, -26 dBFS active level) after a 1.5 s noise-only lead-in, 11.5 s in all,
in each noise at 10 and 20 dB SNR (P.56 active speech level over the noise's mean-square
level): when ``tests/ns_sweep.py`` (issue 16's scenarios) is there, its car, air-con,
street, cafe and car -> cafe switch with babble, keyboard and pink of
``callaudio.simulation.noise``; otherwise the simulation's noises closest to the issue's
conditions (babble for cafe, hum for air-con, brown for car, keyboard, pink, white, a switch
brown -> babble at the middle); clean speech; and
music-like sustained tones (notes of 1 s with five harmonics and vibrato, no speech). In babble
(and cafe, and the switch to them) the talker is an espeak-ng voice: the babble holds the
recorded ones.

Per case and processor (the output aligned by the processor's latency; 48 kHz signals
resampled to 16 kHz for the metrics):

``dPESQ``   wideband PESQ gain (output minus input, both against the clean speech) over the
            speech part (after the lead-in);
``dOVRL``   DNSMOS OVRL gain (``speechmos.dnsmos``) over the speech part;
``dSTOI``   STOI of the output minus STOI of the input;
``att``     noise attenuation over the lead-in (0.5-1.5 s; dB, output below input);
``clean``   PESQ of the output on clean speech; ``tones`` the worst 0.5 s level gain (dB)
            on the tones after the first second; ``us/frame`` median time of one 10 ms
            frame at a native rate (interleaved over the processors).

A rate a peer does not support is resampled around it (RNNoise: 48 kHz only;
webrtc-noise-gain: 16 kHz only, so at 48 kHz it loses the band above 8 kHz).

Script (markdown tables): ``PYTHONPATH=src:tests python bench/bench_ns_peers.py --seeds 2``
(``--rates``, ``--snrs``, ``--noises``, ``--peers``, ``--no-mos``, ``--cases``).
pytest-benchmark (``make bench``): one frame per round for every processor at its native
rates; ``extra_info`` carries its summary over ``BENCH_NS_SEEDS`` seeds (default 1).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import aec_sweep
from _reference import peers
from callaudio.simulation.metrics import level_dbfs
from callaudio.simulation.noise import make_noise, mix_at_snr
from callaudio.simulation.resample import resample

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
ORDER = tuple(p.name for p in peers.NS_PEERS)
LEAD_S = 1.5
SPEECH_S = 10.0
try:  # issue 16's noise scenarios (tests/ns_sweep.py), when this checkout has them
    import ns_sweep
except ImportError:
    ns_sweep = None
_NS_KINDS = ("car", "aircon", "street", "cafe", "switch")
if ns_sweep is not None and hasattr(ns_sweep, "noise_of") and set(_NS_KINDS) <= set(ns_sweep.KINDS):
    SOURCE = "noises: tests/ns_sweep.py (car, aircon, street, cafe, switch) + simulation.noise"
    NOISES = {  # label -> noise kind ("ns:" = ns_sweep.noise_of)
        "babble": "babble",
        "cafe": "ns:cafe",
        "air-con": "ns:aircon",
        "car": "ns:car",
        "keyboard": "keyboard",
        "street": "ns:street",
        "pink": "pink",
        "switch car -> cafe": "ns:switch",
    }
else:
    SOURCE = "noises: callaudio.simulation.noise (the closest to the issue's conditions)"
    NOISES = {
        "babble (cafe)": "babble",
        "hum (air-con)": "hum",
        "brown (car)": "brown",
        "keyboard": "keyboard",
        "pink": "pink",
        "white": "white",
        "switch brown -> babble": "switch",
    }
# noises made of the recorded talkers (the speech then comes from another voice)
BABBLE = {"babble", "ns:cafe", "ns:switch", "switch"}
SWITCH = ("brown", "babble")


@dataclass(frozen=True, eq=False)
class Case:
    label: str  # noise label, "switch", "clean" or "tones"
    snr_db: float
    seed: int
    rate: int
    clean: F32
    noisy: F32
    talker: int

    def name(self) -> str:
        snr = f" {self.snr_db:.0f} dB" if self.label not in ("clean", "tones") else ""
        return f"{self.label}{snr}"


def _tones(seconds: float, rate: int, seed: int) -> F32:
    """Sustained notes (1 s each, five harmonics, 5 Hz vibrato) at -26 dBFS, faint hiss."""
    rng = np.random.default_rng([seed, 0x70E5])
    t = np.arange(round(rate * 1.0)) / rate
    notes = []
    for _ in range(round(seconds)):
        f0 = 110.0 * 2.0 ** (int(rng.integers(0, 30)) / 12.0)
        ph = 2 * np.pi * np.cumsum(f0 * (1 + 0.004 * np.sin(2 * np.pi * 5.0 * t))) / rate
        note = sum(0.6**h * np.sin((h + 1) * ph) for h in range(5) if (h + 1) * f0 < 0.45 * rate)
        env = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02)
        notes.append(note * env)
    x = np.concatenate(notes)
    x *= 10 ** (-26 / 20) / np.sqrt(np.mean(x**2))
    x += 10 ** (-70 / 20) * rng.standard_normal(x.size)
    return x.astype(np.float32)


def _noise(kind: str, seconds: float, rate: int, seed: int) -> F32:
    if kind.startswith("ns:"):
        n = round(seconds * rate)
        return np.asarray(ns_sweep.noise_of(kind[3:], n, rate, seed), np.float32)
    if kind != "switch":
        return make_noise(kind, seconds, rate, seed=seed)
    a, b = (make_noise(k, seconds, rate, seed=seed + i) for i, k in enumerate(SWITCH))
    h = a.size // 2
    return np.concatenate([a[:h], b[h:]])


@cache
def case(label: str, snr_db: float, seed: int, rate: int) -> Case:
    """The seeded case: the talker and the noise draw follow from ``seed``."""
    rng = np.random.default_rng([seed, 0x5EED])
    nt = aec_sweep.n_talkers()
    # babble is made of the two recorded talkers (and synthetic voices): with espeak-ng
    # the talker in babble is another voice, not one of the babble's own
    lo = 2 if NOISES.get(label) in BABBLE and nt > 2 else 0
    talker = int(rng.integers(lo, nt))
    nseed = int(rng.integers(2**31))
    if label == "tones":
        x = _tones(LEAD_S + SPEECH_S, rate, seed)
        return Case(label, math.inf, seed, rate, x, x, -1)
    sp = aec_sweep.load_any_talker(talker, rate, SPEECH_S, seed=nseed)
    clean = np.concatenate([np.zeros(round(LEAD_S * rate), np.float32), sp]).astype(np.float32)
    if label == "clean":
        return Case(label, math.inf, seed, rate, clean, clean, talker)
    kind = NOISES[label]
    noisy, _ = mix_at_snr(
        clean, _noise(kind, clean.size / rate, rate, nseed)[: clean.size], snr_db, rate
    )
    return Case(label, snr_db, seed, rate, clean, noisy, talker)


def _to16k(x: npt.ArrayLike, rate: int) -> F64:
    y = np.asarray(x, dtype=np.float64)
    return y if rate == 16000 else np.asarray(resample(y, rate, 16000), np.float64)


def _pesq(ref: F64, deg: F64) -> float:
    from pesq import pesq

    return float(pesq(16000, ref, deg, "wb"))


def _stoi(ref: F64, deg: F64) -> float:
    from pystoi import stoi

    return float(stoi(ref, deg, 16000))


def _ovrl(x: F64) -> float:
    try:
        from speechmos import dnsmos
    except ImportError:
        return math.nan
    return float(dnsmos.run(np.clip(x, -1.0, 1.0), 16000)["ovrl_mos"])


@cache
def _input_scores(c: Case, mos: bool) -> dict[str, float]:
    i0 = round(LEAD_S * 16000)
    ref = _to16k(c.clean, c.rate)[i0:]
    x = _to16k(c.noisy, c.rate)[i0:]
    out = {"pesq": _pesq(ref, x), "stoi": _stoi(ref, x)}
    if mos:
        out["ovrl"] = _ovrl(x)
    return out


def measure(name: str, c: Case, mos: bool) -> dict[str, float]:
    """The quantities of one processor on one case."""
    out = peers.run_ns(name, c.noisy, c.rate)
    rate = c.rate
    if c.label == "tones":
        w = rate // 2
        a = np.asarray(c.noisy, np.float64)
        b = np.asarray(out, np.float64)
        g = [
            level_dbfs(b[i : i + w]) - level_dbfs(a[i : i + w])
            for i in range(rate, a.size - w - rate // 10, w)
        ]
        return {"tones": float(min(g))}
    i0 = round(LEAD_S * 16000)
    ref = _to16k(c.clean, rate)[i0:]
    y = _to16k(out, rate)[i0:]
    if c.label == "clean":
        return {"clean": _pesq(ref, y)}
    base = _input_scores(c, mos)
    m = {
        "dpesq": _pesq(ref, y) - base["pesq"],
        "dstoi": _stoi(ref, y) - base["stoi"],
        "att": level_dbfs(c.noisy[rate // 2 : round(LEAD_S * rate)])
        - level_dbfs(out[rate // 2 : round(LEAD_S * rate)]),
    }
    if mos:
        m["dovrl"] = _ovrl(y) - base["ovrl"]
    return m


def time_frames(names: list[str], rate: int, rounds: int = 5, frames: int = 200) -> dict:
    """Median and p99 us per frame at ``rate`` of the processors native at it, interleaved."""
    x = case(next(iter(NOISES)), 10.0, 0, rate).noisy
    n = rate // 100
    steps = peers.frame_steps("ns", rate)
    times: dict[str, list[Any]] = {k: [] for k in names if k in steps}
    for r in range(rounds):
        s = slice(r * frames * n, (r + 1) * frames * n)
        for k in times:
            times[k].append(peers.process_frames(steps[k], x[s], rate=rate)[1])
    out = {}
    for k, ts in times.items():
        t = np.concatenate(ts) / 1e3
        out[k] = (float(np.median(t)), float(np.percentile(t, 99)))
    return out


def conditions(noises: list[str], snrs: list[float]) -> list[tuple[str, float]]:
    return [(lab, s) for lab in noises for s in snrs] + [
        ("clean", math.inf),
        ("tones", math.inf),
    ]


def sweep(
    names: list[str],
    seeds: int,
    rates: list[int],
    conds: list[tuple[str, float]],
    mos: bool,
    verbose: bool,
) -> dict[tuple[int, str, str], list[dict[str, float]]]:
    """{(rate, condition name, processor): [per-seed quantities]}."""
    rows: dict[tuple[int, str, str], list[dict[str, float]]] = {}
    for rate in rates:
        for lab, snr in conds:
            for seed in range(seeds):
                c = case(lab, snr, seed, rate)
                for k in names:
                    m = measure(k, c, mos)
                    rows.setdefault((rate, c.name(), k), []).append(m)
                    if verbose:
                        vals = " ".join(f"{a}={b:+.2f}" for a, b in m.items())
                        print(
                            f"  {rate // 1000}k {c.name():22s} #{seed} talker {c.talker} "
                            f"{k:20s} {vals}",
                            file=sys.stderr,
                            flush=True,
                        )
            case.cache_clear()
            _input_scores.cache_clear()
    return rows


def _mean(ms: list[dict[str, float]], key: str) -> float:
    v = [m[key] for m in ms if key in m and not math.isnan(m[key])]
    return float(np.mean(v)) if v else math.nan


def _f(v: float, fmt: str = "{:+.2f}") -> str:
    return "-" if math.isnan(v) else fmt.format(v)


def tables(
    rows: dict[tuple[int, str, str], list[dict[str, float]]],
    names: list[str],
    timing: dict[int, dict],
) -> str:
    rates = sorted({r for r, _, _ in rows})
    conds = list(dict.fromkeys(c for _, c, _ in rows if c not in ("clean", "tones")))
    out = []
    for rate in rates:
        out.append(
            f"\n**{rate // 1000} kHz: dPESQ / dOVRL / dSTOI per condition (mean over seeds)**\n"
        )
        out.append("| condition | " + " | ".join(names) + " |")
        out.append("|---|" + "---|" * len(names))
        for c in conds:
            cells = []
            for k in names:
                ms = rows.get((rate, c, k), [])
                cells.append(
                    f"{_f(_mean(ms, 'dpesq'))} / {_f(_mean(ms, 'dovrl'))} / "
                    f"{_f(_mean(ms, 'dstoi'), '{:+.3f}')}"
                )
            out.append(f"| {c} | " + " | ".join(cells) + " |")
    head = [
        "rate",
        "processor",
        "dPESQ mean",
        "dPESQ worst",
        "dOVRL mean",
        "dOVRL worst",
        "dSTOI worst",
        "noise att. median (dB)",
        "clean PESQ",
        "tones worst 0.5 s (dB)",
        "latency (ms)",
        "us/frame med (p99)",
    ]
    out.append("\n**Summary over all noisy conditions and seeds**\n")
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    for rate in rates:
        for k in names:
            ms = [m for (r, _, kk), v in rows.items() if r == rate and kk == k for m in v]

            def col(key: str, f: Any, ms: list[dict[str, float]] = ms) -> float:
                v = [m[key] for m in ms if key in m and not math.isnan(m[key])]
                return float(f(v)) if v else math.nan

            t = timing.get(rate, {}).get(k)
            if t is None:
                p = next(p for p in peers.NS_PEERS if p.name == k)
                nr = peers.native_rate(p, rate)
                t2 = timing.get(nr, {}).get(k)
                us = "-" if t2 is None else f"{t2[0]:.0f} ({t2[1]:.0f}) at {nr // 1000} kHz"
            else:
                us = f"{t[0]:.0f} ({t[1]:.0f})"
            cells = [
                f"{rate // 1000} kHz",
                k,
                _f(col("dpesq", np.mean)),
                _f(col("dpesq", np.min)),
                _f(col("dovrl", np.mean)),
                _f(col("dovrl", np.min)),
                _f(col("dstoi", np.min), "{:+.3f}"),
                _f(col("att", np.median), "{:.1f}"),
                _f(col("clean", np.min), "{:.2f}"),
                _f(col("tones", np.min), "{:.1f}"),
                f"{1000.0 * peers.latency('ns', k, rate) / rate:.1f}",
                us,
            ]
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=1, help="draws per condition and rate")
    ap.add_argument("--rates", type=int, nargs="+", default=[16000, 48000])
    ap.add_argument("--snrs", type=float, nargs="+", default=[10.0, 20.0])
    ap.add_argument("--noises", nargs="+", default=list(NOISES), choices=list(NOISES))
    ap.add_argument("--peers", nargs="+", default=list(ORDER), choices=list(ORDER))
    ap.add_argument("--no-mos", action="store_true", help="skip DNSMOS")
    ap.add_argument("--cases", action="store_true", help="print every case (stderr)")
    a = ap.parse_args(argv)
    missing = peers.unavailable()
    names = [k for k in a.peers if k not in missing]
    t0 = time.time()
    timing = {r: time_frames(names, r) for r in sorted({*a.rates, 16000, 48000})}
    rows = sweep(names, a.seeds, a.rates, conditions(a.noises, a.snrs), not a.no_mos, a.cases)
    print(
        f"Noise suppressors ({a.seeds} seed(s) per condition and rate; espeak-ng talkers: "
        f"{'yes' if aec_sweep.espeak_available() else 'no'}; {SOURCE}; "
        f"{time.time() - t0:.0f} s)"
    )
    print(tables(rows, names, timing))
    for k in a.peers:
        if k in missing:
            print(f"\n{k}: skipped ({missing[k]})")


# ----------------------------------------------------------------------------- pytest
try:
    import pytest
except ImportError:  # pragma: no cover - the script needs no pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:
    BENCH_SEEDS = int(os.environ.get("BENCH_NS_SEEDS", "1"))

    @cache
    def _summary_row(name: str, rate: int) -> dict[str, float]:
        rows = sweep(
            [name], BENCH_SEEDS, [rate], conditions(list(NOISES), [10.0, 20.0]), True, False
        )
        ms = [m for v in rows.values() for m in v]
        return {
            "dpesq_mean": _mean(ms, "dpesq"),
            "dovrl_mean": _mean(ms, "dovrl"),
            "dstoi_mean": _mean(ms, "dstoi"),
            "noise_att_db": _mean(ms, "att"),
            "clean_pesq": _mean(ms, "clean"),
            "tones_worst_db": _mean(ms, "tones"),
        }

    NATIVE = [
        pytest.param(p.name, r, id=f"{p.name}-{r // 1000}k")
        for p in peers.NS_PEERS
        for r in (16000, 48000)
        if r in p.rates
    ]

    @pytest.mark.parametrize(("name", "rate"), NATIVE)
    @pytest.mark.benchmark(group="ns-peers")
    def test_ns_peer(benchmark: Any, name: str, rate: int) -> None:
        reason = peers.unavailable().get(name)
        if reason is not None:
            pytest.skip(reason)
        step = peers.frame_steps("ns", rate)[name]
        x = case(next(iter(NOISES)), 10.0, 0, rate).noisy
        n = rate // 100
        nf = x.size // n
        frames = x[: nf * n].reshape(nf, n)
        i = [0]

        def one() -> None:
            step(frames[i[0] % nf])
            i[0] += 1

        benchmark.pedantic(one, rounds=1000, iterations=1, warmup_rounds=50)
        benchmark.extra_info["us_per_frame"] = benchmark.stats.stats.median * 1e6
        benchmark.extra_info.update(_summary_row(name, rate))


if __name__ == "__main__":
    main()
