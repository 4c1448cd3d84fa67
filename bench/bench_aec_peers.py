"""Echo cancellers side by side on the seeded AEC sweep (issue 15): callaudio, WebRTC AEC3
(livekit's APM and pywebrtc-audio) and SpeexDSP, same cases, same metrics.

The cases are ``tests/aec_sweep.py``'s (``draw``/``build``: espeak-ng and recorded talkers,
image-source rooms, 0-1000 ms bulk delay, +-100 ppm drift, SER +10..-10 dB, noise,
saturating loudspeaker, echo-path changes; kinds acq, dt, sat, change), measured with its
``_measure`` (the six quantities of issue 15) plus, per case:

``erle``      median far-only ERLE from 1 s after the first echo to the end (dB);
``echo_mos``  AECMOS echo MOS (``speechmos``, ICASSP AEC Challenge; far-end single talk for
              kinds acq/sat/change, double talk for dt); ``deg_mos`` its degradation MOS
              (double-talk cases only: in single talk there is no near end to degrade);
``us/frame``  median (and p99) time of one 10 ms frame (render + capture, Python call and
              format conversion included), interleaved over the processors.

Every peer runs through ``tests/_reference/peers.py`` (its latency removed, int16 where
native); a peer that is not installed is listed and left out. No delay hint is given to any
processor. SpeexDSP has no delay estimator: its 300 ms tail cannot reach a longer bulk delay;
``speexdsp-mdf+delay`` is SpeexDSP given the case's initial bulk delay (less 10 ms) by
delaying its far-end input: its best case with an external delay estimator (an oracle none
of the others gets; after a delay change it keeps the old one).

Script (markdown table): ``PYTHONPATH=src:tests python bench/bench_aec_peers.py --seeds 4``
(``--rates 16000 48000``, ``--kinds acq dt sat change``, ``--no-mos``, ``--peers ...``,
``--cases`` prints every case). pytest-benchmark (``make bench``): one frame per round for
each processor and rate; ``extra_info`` carries the sweep summary (``BENCH_AEC_SEEDS``
seeds per kind, default 1).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import aec_sweep
from _reference import peers

KINDS = aec_sweep.KINDS
ORDER = (
    "callaudio",
    "webrtc-aec3-livekit",
    "webrtc-aec3-pywebrtc",
    "speexdsp-mdf",
    "speexdsp-mdf+delay",
)
ORACLE = "+delay"  # suffix: the far end pre-delayed by the case's bulk delay less 10 ms
# columns: (key, header, how to summarise over cases, format)
COLUMNS = (
    ("erle", "ERLE med", "median", "{:.1f}"),
    ("erle", "ERLE worst", "min", "{:.1f}"),
    ("acq_s", "acq 20 dB med / worst (s)", "median/max", "{:.2f}"),
    ("lead_db", "lead-in ERLE worst", "min", "{:.1f}"),
    ("post_dt_db", "post-DT ERLE worst", "min", "{:.1f}"),
    ("sat_db", "saturated ERLE worst", "min", "{:.1f}"),
    ("change_s", "path change 20 dB med / worst (s)", "median/max", "{:.2f}"),
    ("dt_loss_db", "DT near loss worst (dB)", "max", "{:.2f}"),
    ("dt_pesq", "DT PESQ med / worst", "median/min", "{:.2f}"),
    ("echo_mos", "AECMOS echo", "mean", "{:.2f}"),
    ("deg_mos", "AECMOS deg (DT)", "mean", "{:.2f}"),
)


def _erle(case: aec_sweep.Case, res: Any, out: np.ndarray) -> float:
    first = float(np.argmax(res.far_active) / res.sample_rate)
    per = aec_sweep._erle(res, out, res.far_only)
    return aec_sweep._median(per, first + 1.0, math.inf)


@cache
def _case(seed: int, rate: int, kind: str) -> tuple[aec_sweep.Case, Any]:
    case = aec_sweep.draw(seed, rate, kind)
    return case, aec_sweep.build(case)


def measure(name: str, seed: int, rate: int, kind: str, mos: bool) -> dict[str, float]:
    """The quantities of one processor on one case."""
    case, res = _case(seed, rate, kind)
    far = res.far
    if name.endswith(ORACLE):
        name = name.removesuffix(ORACLE)
        d = max(0, res.bulk_delay_samples - rate // 100)
        far = np.concatenate([np.zeros(d, np.float32), far[: far.size - d]])
    out = peers.run_aec(name, res.mic, far, rate)
    m = aec_sweep._measure(case, res, out)
    m["erle"] = _erle(case, res, out)
    if mos:
        q = aec_sweep.aecmos(res, out, "dt" if kind == "dt" else "st")
        if q:
            m["echo_mos"] = q["echo_mos"]
            if kind == "dt":
                m["deg_mos"] = q["deg_mos"]
    return m


def time_frames(names: Iterable[str], rate: int, rounds: int = 5, frames: int = 200) -> dict:
    """Median and p99 us per frame of each processor, interleaved: each round runs
    ``frames`` frames of the first dt case through every processor in turn."""
    _, res = _case(0, rate, "dt")
    n = rate // 100
    steps = peers.frame_steps("aec", rate)
    times: dict[str, list[np.ndarray]] = {k: [] for k in names if k in steps}
    for r in range(rounds):
        s = slice(r * frames * n, (r + 1) * frames * n)
        for k in times:
            _, t = peers.process_frames(steps[k], res.mic[s], res.far[s], rate=rate)
            times[k].append(t)
    out = {}
    for k, ts in times.items():
        t = np.concatenate(ts) / 1e3
        out[k] = (float(np.median(t)), float(np.percentile(t, 99)))
    return out


def _summary(vals: list[float], how: str, fmt: str) -> str:
    v = [x for x in vals if not math.isnan(x)]
    if not v:
        return "-"
    f = {"median": np.median, "min": np.min, "max": np.max, "mean": np.mean}
    parts = [fmt.format(float(f[h](v))) for h in how.split("/")]
    return " / ".join(p.replace("inf", "never") for p in parts)


def sweep(
    names: list[str], seeds: int, rates: list[int], kinds: list[str], mos: bool, verbose: bool
) -> dict[int, dict[str, list[dict[str, float]]]]:
    """{rate: {name: [per-case quantities]}}."""
    rows: dict[int, dict[str, list[dict[str, float]]]] = {}
    for rate in rates:
        rows[rate] = {k: [] for k in names}
        for kind in kinds:
            for seed in range(seeds):
                case, _ = _case(seed, rate, kind)
                for k in names:
                    m = measure(k, seed, rate, kind, mos)
                    rows[rate][k].append(m)
                    if verbose:
                        vals = " ".join(f"{a}={b:.2f}" for a, b in m.items())
                        print(f"  {k:22s} {case.label()}: {vals}", file=sys.stderr, flush=True)
                _case.cache_clear()
    return rows


def table(rows: dict[int, dict[str, list[dict[str, float]]]], timing: dict[int, dict]) -> str:
    head = ["rate", "processor"] + [c[1] for c in COLUMNS] + ["us/frame med (p99)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rate, by_name in rows.items():
        for k, ms in by_name.items():
            cells = [f"{rate // 1000} kHz", k]
            for key, _, how, fmt in COLUMNS:
                cells.append(_summary([m[key] for m in ms if key in m], how, fmt))
            t = timing.get(rate, {}).get(k)
            cells.append("-" if t is None else f"{t[0]:.0f} ({t[1]:.0f})")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=2, help="cases per kind and rate")
    ap.add_argument("--rates", type=int, nargs="+", default=[16000, 48000])
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    ap.add_argument("--peers", nargs="+", default=list(ORDER), help="processors to run")
    ap.add_argument("--no-mos", action="store_true", help="skip AECMOS")
    ap.add_argument("--cases", action="store_true", help="print every case (stderr)")
    a = ap.parse_args(argv)
    missing = peers.unavailable()
    names = [k for k in a.peers if k.removesuffix(ORACLE) not in missing]
    t0 = time.time()
    timing = {rate: time_frames(names, rate) for rate in a.rates}
    rows = sweep(names, a.seeds, a.rates, a.kinds, not a.no_mos, a.cases)
    print(
        f"Echo cancellers on aec_sweep ({a.seeds} seed(s) x kinds {','.join(a.kinds)} per rate; "
        f"espeak-ng talkers: {'yes' if aec_sweep.espeak_available() else 'no'}; "
        f"{time.time() - t0:.0f} s)\n"
    )
    print(table(rows, timing))
    for k in a.peers:
        if k.removesuffix(ORACLE) in missing:
            print(f"\n{k}: skipped ({missing[k.removesuffix(ORACLE)]})")


# ----------------------------------------------------------------------------- pytest
try:
    import pytest
except ImportError:  # pragma: no cover - the script needs no pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:
    BENCH_SEEDS = int(os.environ.get("BENCH_AEC_SEEDS", "1"))

    @cache
    def _summary_row(name: str, rate: int) -> dict[str, Any]:
        rows = sweep([name], BENCH_SEEDS, [rate], list(KINDS), mos=True, verbose=False)
        out: dict[str, Any] = {}
        for key, header, how, fmt in COLUMNS:
            out[header] = _summary([m[key] for m in rows[rate][name] if key in m], how, fmt)
        return out

    @pytest.mark.parametrize("rate", [16000, 48000], ids=["16k", "48k"])
    @pytest.mark.parametrize("name", ORDER)
    @pytest.mark.benchmark(group="aec-peers")
    def test_aec_peer(benchmark: Any, name: str, rate: int) -> None:
        reason = peers.unavailable().get(name.removesuffix(ORACLE))
        if reason is not None:
            pytest.skip(reason)
        step = peers.frame_steps("aec", rate)[name.removesuffix(ORACLE)]
        _, res = _case(0, rate, "dt")
        n = rate // 100
        nf = res.mic.size // n
        mic = res.mic[: nf * n].reshape(nf, n)
        far = res.far[: nf * n].reshape(nf, n)
        i = [0]

        def one() -> None:
            k = i[0] % nf
            step(mic[k], far[k])
            i[0] += 1

        benchmark.pedantic(one, rounds=1000, iterations=1, warmup_rounds=50)
        benchmark.extra_info["us_per_frame"] = benchmark.stats.stats.median * 1e6
        benchmark.extra_info.update(_summary_row(name, rate))


if __name__ == "__main__":
    main()
