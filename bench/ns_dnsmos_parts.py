"""Where a noise suppressor's DNSMOS change comes from (issue 16, dOVRL at 20 dB SNR).

On ``bench_ns_peers``'s cases (same seeds, talkers and noises) it prints, per case, DNSMOS
SIG / BAK / OVRL (``speechmos.dnsmos``, 16 kHz, the speech part after the lead-in) of the
input and their changes for:

``out``        the processor's output (latency removed);
``out@sp``     the output where the clean talker is active, the input in the pauses;
``out@pa``     the input where the talker is active, the output in the pauses;
``att N``      the oracle: the clean speech plus the true noise attenuated by N dB (no
               speech distortion, no residual-noise artefacts: what a perfect suppressor
               with that attenuation scores); ``att inf`` is the clean speech alone.

The talker is active in a 10 ms frame within 35 dB of the loudest frame, with 100 ms of
hangover either side.  The oracle rows show what the metric itself rewards: at 20 dB SNR a
distortion-free 12 dB attenuation scores below the input on some draws (the espeak-ng
voices), so dOVRL >= 0 there is not a property of the suppressor alone.

``PYTHONPATH=src nice python bench/ns_dnsmos_parts.py --seeds 2 --snrs 20``
(``--rates``, ``--noises``, ``--peers``, ``--att``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import bench_ns_peers as B
from _reference import peers

F64 = npt.NDArray[np.float64]


def dnsmos3(x: F64) -> tuple[float, float, float]:
    """(SIG, BAK, OVRL) of a 16 kHz signal."""
    from speechmos import dnsmos

    r = dnsmos.run(np.clip(np.asarray(x, np.float32), -1.0, 1.0), 16000)
    return float(r["sig_mos"]), float(r["bak_mos"]), float(r["ovrl_mos"])


def active(clean: F64, hang: int = 10, below_db: float = 35.0) -> npt.NDArray[np.bool_]:
    """Per sample: the clean talker is active (10 ms frames at 16 kHz)."""
    n = 160
    f = clean[: clean.size // n * n].reshape(-1, n)
    e = 10.0 * np.log10(np.mean(f**2, axis=1) + 1e-12)
    a = e > e.max() - below_db
    h = a.copy()
    for k in range(1, hang + 1):
        h[k:] |= a[:-k]
        h[:-k] |= a[k:]
    return np.resize(np.repeat(h, n), clean.size)


def parts(label: str, snr: float, seed: int, rate: int, names: list[str], att: list[float]):
    c = B.case(label, snr, seed, rate)
    i0 = round(B.LEAD_S * 16000)
    ref = B._to16k(c.clean, rate)[i0:]
    x = B._to16k(c.noisy, rate)[i0:]
    v = active(ref)
    base = dnsmos3(x)
    rows: list[tuple[str, tuple[float, float, float]]] = []
    for k in names:
        y = B._to16k(peers.run_ns(k, c.noisy, rate), rate)[i0:]
        rows += [
            (f"{k} out", dnsmos3(y)),
            (f"{k} out@sp", dnsmos3(np.where(v, y, x))),
            (f"{k} out@pa", dnsmos3(np.where(v, x, y))),
        ]
    for a in att:
        g = 0.0 if a == np.inf else 10.0 ** (-a / 20.0)
        rows.append((f"att {a:g}", dnsmos3(ref + g * (x - ref))))
    head = (
        f"{rate // 1000}k {c.name()} #{seed} talker {c.talker} (pauses {100 * np.mean(~v):.0f} %): "
        f"input SIG {base[0]:.2f} BAK {base[1]:.2f} OVRL {base[2]:.2f}"
    )
    body = [
        f"    {n:28s} dSIG {m[0] - base[0]:+.2f} dBAK {m[1] - base[1]:+.2f} "
        f"dOVRL {m[2] - base[2]:+.2f}"
        for n, m in rows
    ]
    return "\n".join([head, *body])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--rates", type=int, nargs="+", default=[16000, 48000])
    ap.add_argument("--snrs", type=float, nargs="+", default=[20.0])
    ap.add_argument("--noises", nargs="+", default=list(B.NOISES), choices=list(B.NOISES))
    ap.add_argument("--peers", nargs="+", default=["callaudio"], choices=list(B.ORDER))
    ap.add_argument("--att", type=float, nargs="+", default=[6.0, 12.0, np.inf])
    a = ap.parse_args(argv)
    names = [k for k in a.peers if k not in peers.unavailable()]
    for rate in a.rates:
        for label in a.noises:
            for snr in a.snrs:
                for seed in range(a.seeds):
                    print(parts(label, snr, seed, rate, names, a.att), flush=True)


if __name__ == "__main__":
    main()
