"""Harmonic regeneration in the noise suppressor's reference model (issue 16): measured, not
landed.

The decision-directed a priori SNR (a = 0.98 per 5 ms hop) lags the talker's harmonics (at
20 dB SNR, talker bins at 10-15 dB local SNR get a median gain near -5 dB; bench/README,
"DNSMOS OVRL at 20 dB SNR"). Harmonic regeneration (HRNR) of C. Plapous, C. Marro and P.
Scalart, "Improved signal-to-noise ratio estimation for speech enhancement", IEEE TASLP
14(6), 2006, restores them: the first gain's enhanced frame ``s = IFFT(G1 Y)`` (here the
model's whole gain, presence weighting included, on the analysis-windowed frame, so no
added latency) goes through a nonlinearity, ``s_h = max(s, 0)`` (half-wave rectification,
the paper's choice), whose spectrum ``S_h = FFT(s_h)`` carries harmonics of the voiced
frame at their places; the final gain is the model's log-MMSE / presence gain on

    xi_harmo = (rho |G1 Y|^2 + (1 - rho) |S_h|^2) / noise_psd

(the paper: rho = G1, ``--rho gain``). Options (all experiments; see ``--help``):
``--rho`` a constant mix, ``--only-up`` the final gain at least the first, ``--cap-ml``
xi_harmo at most the maximum-likelihood ``gamma - 1`` (no regeneration where the observed
periodogram is at the noise), ``--dd-first`` the decision-directed recursion fed the first
gain (the paper's TSNR recursion on the first step), ``--no-babble`` off while the
speech-pause floor's held weight is at or over ONSET_MAX_W (babble), ``--scale`` on
``|S_h|^2`` (4 undoes the half-wave's halving of a partial's amplitude).

Cost in the compiled stage: one extra real FFT pair per hop (the stage's analysis spectrum
comes from the shared analysis; its gain needs no transform now): ``ca_rfft`` forward +
inverse of 320 points is ~14k instructions under callgrind (the NS now ~23.6k per 10 ms
call at 16 kHz with two hops), plus a second exp(E1/2) and presence pass per bin.

Script: ``PYTHONPATH=src:tests python bench/ns_hrnr.py [--rho 0.8 --only-up --cap-ml
--dd-first --no-babble] [--seeds 2 --snrs 20 --rates 16000 --noises air-con cafe street
babble] [--extra] [--compiled] [--bins air-con 1]``: the summary line of
``bench_ns_peers.py`` for the model (``--compiled``: the compiled stage instead, which
matches the model on these draws to the printed digits); ``--bins LABEL SEED`` prints the
median gain of the talker's bins per local SNR (oracle clean / noise periodograms).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_ns_peers as B
from _reference import ns_ref, peers

F64 = npt.NDArray[np.float64]


class HrnrModel(ns_ref.NoiseSuppressorRef):
    """The reference model with harmonic regeneration after its gain."""

    def __init__(self, sample_rate: int, opts: argparse.Namespace):
        self.opts = opts
        super().__init__(sample_rate)

    def reset(self) -> None:
        super().reset()
        self.g1 = np.ones(self.nbins)
        self.hr_on = False

    def _dd_gain(self) -> F64:
        return self.g1 if self.opts.dd_first and self.hr_on else self.gain

    def _final_gain(
        self, X: npt.NDArray[np.complex128], P: F64, gam: F64, gmin: float, odds: F64, q: F64
    ) -> None:
        o = self.opts
        self.hr_on = not (o.no_babble and self.wbar >= ns_ref.ONSET_MAX_W)
        if not self.hr_on:
            return
        g1 = self.gain
        if o.comb > 0.0:
            self._comb(g1, P, gam, gmin, odds)
            return
        s = np.fft.irfft(g1 * X, self.fft_size)
        sh = np.maximum(s, 0.0) if o.nl == "max" else np.abs(s)
        Sh = np.fft.rfft(sh)
        ph = o.scale * (Sh.real**2 + Sh.imag**2)
        rho = g1 if o.rho == "gain" else float(o.rho)
        xi = (rho * g1**2 * P + (1.0 - rho) * ph) / self.noise
        if o.cap_ml:
            xi = np.minimum(xi, np.maximum(gam - 1.0, 0.0))
        xi = np.clip(xi, ns_ref.XI_MIN, ns_ref.XI_MAX)
        g, _ = ns_ref.presence_gain(xi, gam, gmin, odds)
        if o.only_up:
            g = np.maximum(g, g1)
        self.g1 = np.asarray(g1, np.float32).astype(np.float64)
        self.gain = g


    def _comb(self, g1: F64, P: F64, gam: F64, gmin: float, odds: F64) -> None:
        """Frequency-domain variant: the pitch from the enhanced frame's autocorrelation
        (IFFT of |G1 Y|^2, parabolic peak over 70..400 Hz); in a hop whose normalised peak
        is at least ``--comb``, the bins nearest the harmonics get the larger of the
        decision-directed and the maximum-likelihood a priori SNR (gamma - 1)."""
        K, sr = self.fft_size, self.sample_rate
        r = np.fft.irfft(g1**2 * P, K)
        lo, hi = int(sr / 400), int(sr / 70)
        if r[0] <= 0.0:
            return
        t = lo + int(np.argmax(r[lo:hi]))
        if r[t] / r[0] < self.opts.comb:
            return
        a, b, c = r[t - 1], r[t], r[t + 1]
        den = a - 2 * b + c
        tf = t + (0.5 * (a - c) / den if den < 0 else 0.0)
        f0 = K / tf  # bins
        k = np.rint(f0 * np.arange(1, int((self.nbins - 1) / f0) + 1)).astype(int)
        k = k[(k > 0) & (k < self.nbins)]
        xi = self.xi.copy()
        xi[k] = np.maximum(xi[k], np.maximum(gam[k] - 1.0, 0.0))
        xi = np.clip(xi, ns_ref.XI_MIN, ns_ref.XI_MAX)
        g, _ = ns_ref.presence_gain(xi, gam, gmin, odds)
        self.g1 = np.asarray(g1, np.float32).astype(np.float64)
        self.gain = np.maximum(g, g1)


def _install(opts: argparse.Namespace) -> None:
    def make(rate: int) -> Any:
        ns = HrnrModel(rate, opts)

        def step(mic: Any) -> Any:
            return ns.process(mic)

        step.latency = int(ns.latency_samples)  # type: ignore[attr-defined]
        return step

    p = peers._BY_KEY[("ns", "callaudio")]
    peers._BY_KEY[("ns", "callaudio")] = peers.Peer("callaudio", "ns", p.module, p.rates, make)


def bins(opts: argparse.Namespace, label: str, seed: int) -> None:
    """Median gain of the talker's bins per local SNR (oracle periodograms), 16 kHz."""
    c = B.case(label, 20.0, seed, 16000)
    clean = np.asarray(c.clean, np.float64)
    noise = np.asarray(c.noisy, np.float64) - clean
    m = HrnrModel(16000, opts) if opts.rho != "off" else ns_ref.NoiseSuppressorRef(16000)
    K, R = m.fft_size, m.hop_size
    bc, bn = np.zeros(K), np.zeros(K)
    g, snr, pc = [], [], []
    x = np.asarray(c.noisy, np.float64)
    for i in range(0, x.size - R + 1, R):
        m._hop(x[i : i + R])
        bc = np.concatenate([bc[R:], clean[i : i + R]])
        bn = np.concatenate([bn[R:], noise[i : i + R]])
        a = np.abs(np.fft.rfft(m.wa * bc)) ** 2
        b = np.abs(np.fft.rfft(m.wa * bn)) ** 2
        g.append(20 * np.log10(m.gain))
        snr.append(10 * np.log10((a + 1e-20) / (b + 1e-20)))
        pc.append(a)
    G, S, PC = np.array(g), np.array(snr), np.array(pc)
    act = PC > 1e-6 * PC.max()
    for lo, hi in ((0, 5), (5, 10), (10, 15), (15, 20), (20, 30), (30, 999)):
        sel = act & (S >= lo) & (S < hi)
        print(
            f"local SNR {lo}..{hi} dB: median gain {np.median(G[sel]):+.1f} dB, "
            f"under -6 dB {np.mean(G[sel] < -6):.2f}"
        )
    print(f"noise bins (under -10 dB): median gain {np.median(G[S < -10]):+.1f} dB")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rho", default="0.8", help='"gain" (the paper), a constant, "off"')
    ap.add_argument("--only-up", action="store_true")
    ap.add_argument("--cap-ml", action="store_true")
    ap.add_argument("--dd-first", action="store_true")
    ap.add_argument("--no-babble", action="store_true")
    ap.add_argument("--nl", choices=("max", "abs"), default="max")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--comb", type=float, default=0.0, help="comb variant: voicing threshold")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--rates", type=int, nargs="+", default=[16000])
    ap.add_argument("--snrs", type=float, nargs="+", default=[20.0])
    ap.add_argument("--noises", nargs="+", default=["air-con", "cafe", "street", "babble"])
    ap.add_argument("--extra", action="store_true", help="also clean speech and tones")
    ap.add_argument("--compiled", action="store_true", help="the compiled stage instead")
    ap.add_argument("--bins", nargs=2, metavar=("LABEL", "SEED"))
    ap.add_argument("--cases", action="store_true", help="print every case (stderr)")
    o = ap.parse_args(argv)
    if o.bins:
        bins(o, o.bins[0], int(o.bins[1]))
        return
    if not o.compiled:
        _install_plain() if o.rho == "off" else _install(o)
    conds = [(n, s) for n in o.noises for s in o.snrs]
    if o.extra:
        conds += [("clean", math.inf), ("tones", math.inf)]
    rows = B.sweep(["callaudio"], o.seeds, o.rates, conds, True, o.cases)
    for rate in o.rates:
        ms = [m for (r, _, _), v in rows.items() if r == rate for m in v]

        def col(key: str, f: Any, ms: list[dict[str, float]] = ms) -> float:
            v = [m[key] for m in ms if key in m and not math.isnan(m[key])]
            return float(f(v)) if v else math.nan

        print(
            f"{rate // 1000} kHz: dPESQ {col('dpesq', np.mean):+.3f} (worst "
            f"{col('dpesq', np.min):+.3f}) dOVRL {col('dovrl', np.mean):+.3f} (worst "
            f"{col('dovrl', np.min):+.3f}) dSTOI worst {col('dstoi', np.min):+.3f} att median "
            f"{col('att', np.median):.1f} dB clean PESQ {col('clean', np.min):.2f} tones worst "
            f"{col('tones', np.min):.1f} dB"
        )


def _install_plain() -> None:
    """The reference model without regeneration (``--rho off``)."""

    def make(rate: int) -> Any:
        ns = ns_ref.NoiseSuppressorRef(rate)

        def step(mic: Any) -> Any:
            return ns.process(mic)

        step.latency = int(ns.latency_samples)  # type: ignore[attr-defined]
        return step

    p = peers._BY_KEY[("ns", "callaudio")]
    peers._BY_KEY[("ns", "callaudio")] = peers.Peer("callaudio", "ns", p.module, p.rates, make)


if __name__ == "__main__":
    main()
