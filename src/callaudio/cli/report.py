"""The demo's report: the printed event log and metrics table, the report folder's files
and its plots (spectrograms.png, erle_gain.png, timeline.png; matplotlib, optional).

Audio time (what the plots of audio use) stops while the call is interrupted; the call
clock runs on. The audio plots mark both interruptions at the audio instant they happened,
labelled with their call-clock span; the timeline is drawn on the call clock.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import SoundFileError
from .common import fmt, on_interrupt
from .demo_call import GRACE_PERIOD_S, DemoRun, aligned_output
from .files import write_audio

__all__ = ["print_report", "write_folder"]

F64 = npt.NDArray[np.float64]


def print_report(run: DemoRun, metrics: dict[str, Any]) -> None:
    """The event log and the metrics table on stdout."""
    print(f"callaudio demo: an outgoing call on the simulated room at {run.rate} Hz")
    print(f"  chain: {metrics['stages']}")
    print()
    print("event log (t = call clock, s):")
    for t, line in run.log.lines:
        print(f"  {t:7.2f}  {line}")
    print()
    print("metrics:")
    m = metrics
    rows = [
        (
            "ERLE, far end only (canceller's estimate)",
            fmt(m["erle_db_reported_far_end_only"], " dB"),
        ),
        (
            "echo attenuation at the output, far end only",
            fmt(m["echo_attenuation_db_far_end_only"], " dB"),
        ),
        (
            "echo attenuation 1-3 s after the interruption",
            fmt(m["echo_attenuation_db_after_resume"], " dB"),
        ),
        (
            "near-end level change in double talk, whole chain",
            fmt(m["near_end_level_change_db_double_talk"], " dB"),
        ),
        (
            "echo delay: true / estimated",
            f"{m['echo_delay_true_ms']:.1f} ms / {fmt(m['echo_delay_estimate_ms'], ' ms')}",
        ),
        ("output speech level", fmt(m["output_speech_level_dbfs"], " dBFS")),
        (
            "callback cost per 10 ms frame",
            f"{fmt(m['callback_us_per_frame_mean'], ' us')} mean, "
            f"{fmt(m['callback_us_per_frame_max'], ' us')} max",
        ),
        ("added latency", f"{m['added_latency_ms']:.2f} ms"),
        ("xruns", str(m["xruns"])),
        ("call end cause", m["end_cause"] or "n/a"),
    ]
    w = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"  {name:<{w}}  {value}")
    print("  (output measurements: echo and near end vs their clean components at the")
    print("   microphone, through the whole chain: the near-end level change includes the")
    print("   gain control steering the talker to its target level, not only the canceller)")
    print(f"  session after the call: {run.session_after}")


def write_folder(outdir: Path, run: DemoRun, metrics: dict[str, Any], *, plots: bool) -> list[str]:
    """WAV files, metrics.json, events.txt and the plots; returns the file names written.

    They are written to a temporary folder beside ``outdir``, which becomes ``outdir`` at
    the end (or in an existing ``outdir``, whose files they then replace): a demo stopped
    while writing (Ctrl-C, SIGTERM) leaves no partial report, and an earlier report there
    stays whole."""
    final = Path(os.path.abspath(outdir))
    with _staged(final) as tmp:
        try:
            return _write(tmp, run, metrics, plots)
        except SoundFileError as exc:  # named as the user will find it
            name, why = os.path.basename(exc.path), str(exc).rsplit(": ", 1)[-1]
            raise SoundFileError(str(outdir / name), "unwritable", why) from exc
        except OSError as exc:
            name, why = os.path.basename(str(exc.filename or "")), exc.strerror or str(exc)
            raise SoundFileError(str(outdir / name), "unwritable", f"cannot write ({why})") from exc


@contextlib.contextmanager
def _staged(outdir: Path) -> Iterator[Path]:
    """A temporary folder for the report, beside ``outdir`` (whose missing parents are
    made) or in it if it exists (a folder the user can write in, maybe not its parent);
    committed to ``outdir`` when the block ends, else removed with the parents made."""
    made: list[Path] = []
    parent = outdir.parent
    while not parent.exists():
        made.append(parent)
        parent = parent.parent
    home = outdir if outdir.is_dir() else outdir.parent
    try:
        home.mkdir(parents=True, exist_ok=True)
        tmp = _new_folder(home, _staging_prefix(outdir.name, home), ".partial")
        try:
            yield tmp
            _commit(tmp, outdir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # (gone after a rename, empty after moves)
    except BaseException:
        for folder in made:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _staging_prefix(name: str, home: Path) -> str:
    """``.NAME.`` for the staging folder, NAME cut where the whole (with the 8 random
    characters and ``.partial``) would pass the folder's longest name: a report folder
    named up to that length is written (it failed after the whole call was run)."""
    try:
        longest = os.pathconf(home, "PC_NAME_MAX")
    except (OSError, ValueError):
        longest = 255
    return "." + os.fsdecode(os.fsencode(name)[: max(1, longest - 18)]) + "."


def _new_folder(home: Path, prefix: str, suffix: str) -> Path:
    """A new folder of a name no other has, with the mode the user's umask gives a folder
    (``tempfile.mkdtemp`` makes it 0700, and the report folder is this one renamed)."""
    for _ in range(100):
        path = home / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free temporary name in {home}")


def _commit(tmp: Path, outdir: Path) -> None:
    """The report's files from ``tmp`` to ``outdir``: one rename when there is no ``outdir``
    yet, else file by file (finished even when the run's signal comes in between: the CLI
    raises one per run)."""
    if not os.path.lexists(outdir):  # (a signal just after the rename: the report is there)
        done = f"the report in {outdir} is complete"
        on_interrupt(lambda: done if outdir.exists() else "nothing written")
        os.rename(tmp, outdir)
        return
    for name in sorted(os.listdir(tmp)):  # checked before the first file is moved
        if os.path.isdir(outdir / name) and not os.path.islink(outdir / name):
            raise SoundFileError(
                str(outdir / name),
                "unwritable",
                "is a folder; the report was not written (the folder's other files are "
                "left as they were)",
            )
    try:
        for name in sorted(os.listdir(tmp)):
            os.replace(tmp / name, outdir / name)
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM, SIGHUP: the report whole, then the stop
        for name in sorted(os.listdir(tmp)):
            os.replace(tmp / name, outdir / name)
        on_interrupt(lambda: f"the report in {outdir} is complete")
        raise


def _write(outdir: Path, run: DemoRun, metrics: dict[str, Any], plots: bool) -> list[str]:
    rec = run.recording
    audio = {
        "mic.wav": rec["mic"],
        "far.wav": rec["played"],
        "out.wav": np.clip(run.out, -1, 1),
        "near.wav": rec["near"],
        "echo.wav": rec["echo"],
    }
    for name, x in audio.items():
        write_audio(outdir / name, x, run.rate)
    (outdir / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n")
    (outdir / "events.txt").write_text("".join(f"{t:.2f}\t{line}\n" for t, line in run.log.lines))
    written = [*audio, "metrics.json", "events.txt"]
    if not plots:
        return written
    if importlib.util.find_spec("matplotlib") is None:
        print("  (plots skipped: matplotlib is not installed; pip install matplotlib)")
        return written
    return written + _plots(outdir, run)


def _interruptions(run: DemoRun) -> list[tuple[float, float | None]]:
    """(began, ended) on the call clock; ended is None if it never ended."""
    spans: list[tuple[float, float | None]] = []
    for t, line in run.log.lines:
        if line.startswith("interruption_began"):
            spans.append((t, None))
        elif line.startswith("interruption_ended") and spans and spans[-1][1] is None:
            spans[-1] = (spans[-1][0], t)
    return spans


def _audio_time_of_interruptions(run: DemoRun) -> list[float]:
    """Audio instants at which each interruption began (the audio stops there)."""
    out = []
    for began, _ in _interruptions(run):
        at = 0.0
        for (start_audio, start_clock), (_name, _a, b) in zip(
            run.audio_at_clock, run.marks, strict=True
        ):
            if start_clock <= began:
                at = min(start_audio + (began - start_clock), b / 100.0)
        out.append(at)
    return out


def _mark_audio_axes(ax: Any, run: DemoRun, *, text_color: str) -> None:
    """Segment starts (dashed, names inside the plot) and interruptions (red)."""
    for name, a, _b in run.marks:
        ax.axvline(a / 100.0, color=text_color, lw=0.8, ls="--", alpha=0.7)
        ax.text(
            a / 100.0 + 0.08,
            0.97,
            name,
            color=text_color,
            fontsize=7,
            va="top",
            rotation=90,
            transform=ax.get_xaxis_transform(),
        )
    for (began, ended), at in zip(
        _interruptions(run), _audio_time_of_interruptions(run), strict=True
    ):
        span = f"{began:.0f}-{ended:.0f} s" if ended is not None else f"from {began:.0f} s"
        ax.axvline(at, color="red", lw=1.5)
        ax.text(
            at - 0.08,
            0.03,
            f"interruption (call clock {span})",
            color="red",
            fontsize=7,
            bbox={"facecolor": "white", "alpha": 0.75, "linewidth": 0, "pad": 1.0},
            ha="right",
            va="bottom",
            rotation=90,
            transform=ax.get_xaxis_transform(),
        )


def _spectrogram_db(x: F64, rate: int) -> tuple[F64, F64, F64]:
    nfft, hop = 1024, 512
    frames = max(1, 1 + (x.size - nfft) // hop)
    idx = np.arange(nfft)[None, :] + hop * np.arange(frames)[:, None]
    win = np.hanning(nfft)
    spec = np.abs(np.fft.rfft(x[np.minimum(idx, x.size - 1)] * win, axis=1)) ** 2
    spec /= np.sum(win) ** 2 / 4.0  # a full-scale sine reads about 0 dB
    t = (hop * np.arange(frames) + nfft / 2) / rate
    f = np.fft.rfftfreq(nfft, 1.0 / rate).astype(np.float64)
    return t, f, np.asarray(10.0 * np.log10(spec.T + 1e-15), dtype=np.float64)


def _plots(outdir: Path, run: DemoRun) -> list[str]:
    from matplotlib.figure import Figure  # no pyplot: the caller's backend is left alone

    rate = run.rate
    mic = run.recording["mic"]
    t_end = mic.size / rate
    files = []

    # Spectrograms on one colour scale, with one colour bar.
    fig = Figure(figsize=(12, 6.5), constrained_layout=True)
    axes = fig.subplots(2, 1, sharex=True)
    t, f, s_mic = _spectrogram_db(mic, rate)
    _, _, s_out = _spectrogram_db(run.out, rate)
    vmax = float(np.percentile(s_mic, 99.9))
    vmin = vmax - 90.0
    image: Any = None
    for ax, s, title in (
        (axes[0], s_mic, "microphone (before)"),
        (axes[1], s_out, "output (after)"),
    ):
        image = ax.pcolormesh(t, f / 1000.0, s, vmin=vmin, vmax=vmax, cmap="magma", shading="auto")
        ax.set_ylabel("kHz")
        ax.set_title(title)
        _mark_audio_axes(ax, run, text_color="white")
    ring = run.marks[0]
    axes[1].text(
        (ring[1] + ring[2]) / 200.0 + 0.1,
        0.3,
        "no call audio yet\n(ringing: capture\nstarts on answer)",
        color="white",
        fontsize=7,
        ha="center",
        va="center",
        transform=axes[1].get_xaxis_transform(),
    )
    axes[1].set_xlabel("audio time (s); audio pauses while the call is interrupted")
    fig.colorbar(image, ax=axes, label="power (dB re full-scale sine)")
    fig.savefig(outdir / "spectrograms.png", dpi=110)
    files.append("spectrograms.png")

    # ERLE where it is defined (duplex stream, near end silent) and the gain: no lines
    # drawn across stretches without data.
    from ..simulation.metrics import erle_db

    aligned = aligned_output(run)
    near = run.recording["near"]
    mask = np.zeros(mic.size, dtype=bool)
    for name, a, b in run.marks:
        if not name.startswith("ringing"):
            mask[a * rate // 100 : b * rate // 100] = True
    mask &= np.abs(near) == 0.0
    per, _ = erle_db(run.recording["echo"], aligned, rate, frame_ms=100.0, mask=mask)
    per = np.asarray(per, dtype=np.float64)
    step = rate // 10
    defined = np.array([mask[i * step : (i + 1) * step].any() for i in range(per.size)])
    per = np.where(defined, per, np.nan)
    t_erle = (np.arange(per.size) + 0.5) * 0.1
    t_gain = np.asarray(run.stats_t)
    gain = np.asarray(run.stats_gain, dtype=np.float64)
    if t_gain.size > 1:
        gaps = np.nonzero(np.diff(t_gain) > 0.11)[0]
        t_gain = np.insert(t_gain, gaps + 1, t_gain[gaps] + 0.05)
        gain = np.insert(gain, gaps + 1, np.nan)
    fig = Figure(figsize=(12, 4.5), constrained_layout=True)
    ax1 = fig.subplots()
    ax1.plot(t_erle, per, color="C0", lw=1.0, label="ERLE (measured per 100 ms)")
    ax1.set_ylabel("ERLE (dB)", color="C0")
    ax1.set_xlabel("audio time (s)")
    ax1.set_xlim(0, t_end)
    ax2 = ax1.twinx()
    ax2.plot(t_gain, gain, color="C1", lw=1.0, label="gain control's gain")
    ax2.set_ylabel("gain (dB)", color="C1")
    _mark_audio_axes(ax1, run, text_color="0.35")
    lines = ax1.get_lines()[:1] + ax2.get_lines()[:1]
    ax1.legend(
        lines,
        [str(ln.get_label()) for ln in lines],
        loc="upper center",
        bbox_to_anchor=(0.525, 1.0),
        fontsize=8,
    )
    ax1.set_title(
        "echo return loss enhancement and gain over time\n"
        "(ERLE is drawn only where it is defined: call audio running, near end silent)",
        fontsize=10,
    )
    fig.savefig(outdir / "erle_gain.png", dpi=110)
    files.append("erle_gain.png")

    files.append(_timeline(outdir, run))
    return files


def _timeline(outdir: Path, run: DemoRun) -> str:
    from matplotlib.figure import Figure

    order = ["INITIATING", "PROGRESSING", "RINGING", "ANSWERED", "ESTABLISHED", "ENDED"]
    fig = Figure(figsize=(12, 4), constrained_layout=True)
    ax = fig.subplots()
    ts = [t for t, _ in run.log.states]
    ys = [order.index(label.split(" ")[0]) for _, label in run.log.states]
    t_last = max([t for t, _ in run.log.lines] + ts + [0.0]) + 3.0
    if ts:
        ax.step([*ts, t_last], [*ys, ys[-1]], where="post", color="C2", label="call state")
        ax.plot(ts, ys, "o", color="C2", ms=4)  # every transition, ANSWERED included
    spans = _interruptions(run)
    for i, (began, ended) in enumerate(spans):
        end = ended if ended is not None else t_last
        ax.axvspan(
            began,
            end,
            color="red",
            alpha=0.15,
            label="audio session interrupted" if i == 0 else None,
        )
    if spans:
        began = spans[-1][0]
        ax.axvspan(
            began,
            began + GRACE_PERIOD_S,
            fill=False,
            hatch="//",
            edgecolor="0.4",
            lw=0.0,
            label=f"grace period ({GRACE_PERIOD_S:.0f} s) of the last interruption",
        )
    if run.end_cause is not None and ts:
        ax.annotate(
            f"ENDED: {run.end_cause}",
            xy=(ts[-1], order.index("ENDED")),
            xytext=(-10, -18),
            textcoords="offset points",
            ha="right",
            fontsize=8,
            color="C3",
        )
    ax.set_yticks(range(len(order)), order)
    ax.set_ylim(-0.5, len(order) - 0.3)
    ax.set_xlim(0, t_last)
    ax.set_xlabel("call clock (s)")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("the call's states, its interruptions and the grace period", fontsize=10)
    fig.savefig(outdir / "timeline.png", dpi=110)
    return "timeline.png"
