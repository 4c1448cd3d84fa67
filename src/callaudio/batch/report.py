"""``DIR/summary.md`` (a table per processor and configuration: means, medians, worst items;
what was not measured, and why) and ``DIR/plots/`` (metric distributions per processor,
ERLE against the delay estimate; written when matplotlib is installed)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError, install_hint

__all__ = [
    "METRICS",
    "NOT_MEASURED_KEY",
    "Skipped",
    "not_measured",
    "skipped_in",
    "with_not_measured",
    "write_plots",
    "write_summary",
    "write_text",
]

METRICS: tuple[tuple[str, str, bool | None], ...] = (
    ("erle_db", "ERLE (dB)", True),
    ("pesq", "PESQ", True),
    ("stoi", "STOI", True),
    ("dnsmos_ovrl", "DNSMOS OVRL", True),
    ("dnsmos_sig", "DNSMOS SIG", True),
    ("dnsmos_bak", "DNSMOS BAK", True),
    ("aecmos_echo", "AECMOS echo", True),
    ("aecmos_deg", "AECMOS degradation", True),
    ("delay_ms", "delay (ms)", None),
    ("output_level_dbfs", "output level (dBFS)", None),
    ("rtf", "real-time factor", False),
    ("us_per_frame", "us/frame", False),
)
"""(column, title, higher is better) of every summarised metric; None: no better
direction (no worst items listed)."""


@dataclasses.dataclass(frozen=True)
class Skipped:
    """A metric, the plots or a processor the results leave out, and why."""

    what: str
    """``"PESQ"``, ``"plots"``, ``"webrtc"`` ..."""
    reason: str
    """Why, with what to do about it."""
    installable: bool
    """True when a package missing in this environment is the reason (a remote cluster's
    workers may differ: the hint is for this machine)."""


NOT_MEASURED_KEY = b"callaudio.not_measured"
"""The key of the returned table's schema metadata listing the :class:`Skipped` entries
(JSON: a list of objects with ``what``, ``reason`` and ``installable``)."""

_PACKAGES = (  # (what, result column or None for the plots, module, install hint)
    ("PESQ", "pesq", "pesq", "pip install pesq"),
    ("STOI", "stoi", "pystoi", "pip install pystoi"),
    ("plots", None, "matplotlib", "pip install matplotlib"),
)
_PEER_HINT = install_hint("peers")


def not_measured(
    table: Any, *, plots: bool = True, absent: Sequence[str] = (), mos: bool = False
) -> list[Skipped]:
    """What the results in ``table`` leave out, and why: a metric no row has a value for
    (its package missing here, not asked for, or no item it applies to), the plots
    without matplotlib, and the ``absent`` processors (not installed here)."""
    cols = set(table.column_names)

    def measured(col: str) -> bool:
        return col in cols and table.column(col).null_count < len(table)

    ok = "status" in cols and "ok" in table.column("status").to_pylist()
    out: list[Skipped] = []
    for what, col, module, hint in _PACKAGES:
        missing = importlib.util.find_spec(module) is None
        if col is None and not plots:
            continue
        if col is not None and measured(col) and not (missing and table.column(col).null_count):
            continue  # (missing with some values: rows of an earlier run, or other workers)
        if missing:
            out.append(Skipped(what, f"{module} is not installed: {hint}", True))
        elif col is not None:
            why = "it needs items with near-end speech (near)" if ok else "every item failed"
            out.append(Skipped(what, f"no value: {why}", False))
    out += [Skipped(p, f"its library is not installed: {_PEER_HINT}", True) for p in absent]
    for what, col, needs in (
        ("DNSMOS", "dnsmos_ovrl", ""),
        ("AECMOS", "aecmos_echo", " with a far end"),
    ):
        if not measured(col):
            why = f"no item{needs} gave one" if ok else "every item failed"
            why = f"no value: {why}" if mos else "not asked (--mos, mos=True)"
            out.append(Skipped(what, why, False))
    return out


def with_not_measured(table: Any, skipped: Sequence[Skipped]) -> Any:
    """``table`` with ``skipped`` in its schema metadata (:data:`NOT_MEASURED_KEY`)."""
    meta = dict(table.schema.metadata or {})
    meta[NOT_MEASURED_KEY] = json.dumps([dataclasses.asdict(s) for s in skipped]).encode()
    return table.replace_schema_metadata(meta)


def skipped_in(table: Any) -> list[Skipped]:
    """The :class:`Skipped` entries of a table :func:`callaudio.batch.run` returned;
    ConfigError for another table (``results.parquet`` read back does not hold them,
    ``summary.md`` does): an empty list said nothing was left out."""
    try:
        raw = (table.schema.metadata or {})[NOT_MEASURED_KEY]
        return [Skipped(**entry) for entry in json.loads(raw)]
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            "table",
            "not a table callaudio.batch.run returned: what was not measured is in its "
            "schema metadata (and in summary.md), not in results.parquet",
        ) from exc


def _groups(rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[(r["processor"], r["config"])].append(r)
    return dict(sorted(out.items()))


def _values(rows: list[dict[str, Any]], col: str) -> list[tuple[float, str]]:
    return [
        (float(r[col]), r["id"])
        for r in rows
        if r["status"] == "ok" and r[col] is not None and math.isfinite(r[col])
    ]


def _median(v: list[float]) -> float:
    s = sorted(v)
    m = len(s) // 2
    return s[m] if len(s) % 2 else 0.5 * (s[m - 1] + s[m])


def _num(v: float) -> str:
    """Two decimals, or three significant digits below 0.1 (a real-time factor of 0.0123
    read "0.01")."""
    return f"{v:.3g}" if abs(v) < 0.1 else f"{v:.2f}"


def write_summary(table: Any, out_dir: str, skipped: Sequence[Skipped] = ()) -> str:
    """Write ``out_dir/summary.md`` from the results ``table`` (and what was ``skipped``,
    :func:`not_measured`); returns its path."""
    rows = table.to_pylist()
    lines = ["# Batch summary", ""]
    ids = {r["id"] for r in rows}
    failed = sorted({r["id"] for r in rows if r["status"] != "ok"})
    lines.append(f"{len(ids)} items, {len(failed)} with errors.")
    if skipped:
        lines += ["", "Not measured:", ""]
        lines += [f"- {s.what}: {s.reason}" for s in skipped]
    for (proc, cfg), group in _groups(rows).items():
        ok = [r for r in group if r["status"] == "ok"]
        audio_s = sum(r["duration_s"] or 0.0 for r in ok)
        lines += ["", f"## {proc} ({cfg})", ""]
        lines.append(f"{len(ok)} ok, {len(group) - len(ok)} failed, {audio_s:.1f} s of audio.")
        lines += ["", "| metric | n | mean | median | worst 5 items |", "|---|---|---|---|---|"]
        for col, title, higher in METRICS:
            vals = _values(group, col)
            if not vals:
                continue
            nums = [v for v, _ in vals]
            worst_text = "-"
            if higher is not None:
                worst = sorted(vals, key=lambda t: (t[0] if higher else -t[0], t[1]))[:5]
                worst_text = ", ".join(f"{i} ({_num(v)})" for v, i in worst)
            lines.append(
                f"| {title} | {len(nums)} | {_num(sum(nums) / len(nums))} | "
                f"{_num(_median(nums))} | {worst_text} |"
            )
        errors = [r for r in group if r["status"] != "ok"]
        if errors:
            lines += ["", "Errors:", ""]
            lines += [f"- {r['id']}: {r['error']}" for r in errors[:20]]
            if len(errors) > 20:
                lines.append(f"- ... and {len(errors) - 20} more (see results.parquet)")
    path = os.path.join(out_dir, "summary.md")
    write_text(path, "\n".join(lines) + "\n")
    return path


def write_text(path: str, text: str) -> None:
    """``text`` to ``path`` whole or not at all: written beside it (``path.tmp``) and
    renamed over it; the temporary file is removed when that fails (a full disk)."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.isfile(tmp):
            os.unlink(tmp)
        raise


def write_plots(table: Any, out_dir: str) -> list[str]:
    """Histograms per metric (one series per processor and configuration) and ERLE
    against the delay estimate, as PNG in ``out_dir/plots``; [] without matplotlib."""
    try:  # figures of their own: the caller's pyplot state and backend stay as they were
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return []
    rows = table.to_pylist()
    groups = _groups(rows)
    folder = os.path.join(out_dir, "plots")
    os.makedirs(folder, exist_ok=True)
    written = []
    for col, title, _ in METRICS:
        series = {f"{p} ({c})": [v for v, _ in _values(g, col)] for (p, c), g in groups.items()}
        series = {k: v for k, v in series.items() if v}
        if not series:
            continue
        fig = Figure(figsize=(6, 3.5))
        ax = fig.subplots()
        ax.hist(list(series.values()), bins=20, label=list(series), histtype="step")
        ax.set_xlabel(title)
        ax.set_ylabel("items")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # no half items
        ax.legend(fontsize="small")
        fig.tight_layout()
        path = os.path.join(folder, f"{col}.png")
        fig.savefig(path, dpi=100)
        written.append(path)
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    plotted = False
    for (p, c), g in groups.items():
        pts = [
            (r["delay_ms"], r["erle_db"])
            for r in g
            if r["status"] == "ok" and r["delay_ms"] is not None and r["erle_db"] is not None
        ]
        if pts:
            ax.scatter([x for x, _ in pts], [y for _, y in pts], s=10, label=f"{p} ({c})")
            plotted = True
    if plotted:
        ax.set_xlabel("delay estimate (ms)")
        ax.set_ylabel("ERLE (dB)")
        ax.legend(fontsize="small")
        fig.tight_layout()
        path = os.path.join(folder, "erle_vs_delay.png")
        fig.savefig(path, dpi=100)
        written.append(path)
    return written
