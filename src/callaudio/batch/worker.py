"""One item on a worker: read its files, run every job (processor x configuration) on the
same frames, measure, write the processed audio; return one row per job.

Nothing here raises for a bad item: a file that cannot be read, rates that do not match, a
setting out of range or a processor that fails becomes a row with ``status="error"`` and a
one-line ``error``, so one bad file never stops a run.

Signals are mixed down to mono. Items at a rate the core does not run at are resampled to
the nearest one of ``config.SAMPLE_RATES`` (11.025 kHz runs at 8 kHz) before processing,
and measured and written at that rate.

Metrics (all from the aligned output ``y``):

- ``erle_db``: median over 50 ms frames of ``10 log10(P(e) / P(y))``, frames where only the
  far end is active; ``e`` is the ``echo`` signal when given (``erle_source="echo"``),
  otherwise the microphone (``"mic"``, far activity from ``far``'s P.56 activity). The near
  end counts as inactive where ``near`` is silent, or everywhere when ``near`` is not given.
- ``output_level_dbfs``: ITU-T P.56 active level of ``y``.
- ``pesq`` (ITU-T P.862.2 wide-band, at 16 kHz) and ``stoi`` against ``near``, when it
  holds speech and the ``pesq`` / ``pystoi`` packages are installed.
- with ``mos=True`` (``speechmos``, at 16 kHz): DNSMOS P.835 (``dnsmos_sig``, ``_bak``,
  ``_ovrl``; no reference needed) and, with a far end, the scenario-less AECMOS
  (``aecmos_echo``, ``aecmos_deg``) from the far end, the microphone and the output.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import os
import socket
import stat
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..cli.files import InputFile, write_audio
from ..config import SAMPLE_RATES, ProcessingConfig
from ..errors import CallAudioError, ConfigError, SoundFileError, install_hint
from ..simulation import metrics
from ..simulation.resample import resample
from .items import Item
from .processors import run_processor

#: the modules DNSMOS/AECMOS import (speechmos declares none of them): the ``mos`` extra
MOS_MODULES = ("speechmos", "onnxruntime", "librosa", "requests")
MOS_HINT = f"DNSMOS/AECMOS need the mos extra: {install_hint('mos')}"

__all__ = ["Job", "audio_path", "process_item"]

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Job:
    """One processor with one named configuration (``config`` is None for the peers)."""

    processor: str
    config_name: str
    config: ProcessingConfig | None = None

    @property
    def label(self) -> str:
        """Folder name of its audio: the processor, plus ``-<config>`` unless default."""
        if self.config_name == "default":
            return self.processor
        return f"{self.processor}-{self.config_name}"


def audio_path(out_dir: str, job: Job, item_id: str) -> str:
    """Where ``job``'s output for ``item_id`` goes: ``DIR/audio/<label>/<id>.wav``."""
    return os.path.join(out_dir, "audio", job.label, *f"{item_id}.wav".split("/"))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, CallAudioError | OSError):
        text = f"{type(exc).__name__}: {text}"
    return text[:500]


def _read(path: str, what: str) -> tuple[F32, int]:
    # A corpus holds files: a FIFO in a manifest blocked its worker (and the run) for good
    # waiting for a writer, a device read to no end; `callaudio process` takes pipes.
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        mode = None  # missing or unusable: InputFile says which
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise SoundFileError(path, "missing", "not a regular file (a FIFO or a device)")
    with InputFile(path, what) as f:
        blocks = list(f.blocks(f.rate * 10))
        rate = f.rate
    x = np.concatenate(blocks)
    return np.ascontiguousarray(x.mean(axis=1), dtype=np.float32), rate


@dataclass
class _Signals:
    rate: int
    file_rate: int
    mic: F32
    far: F32 | None
    near: F32 | None
    echo: F32 | None


def _fit(x: F32 | None, n: int) -> F32 | None:
    if x is None:
        return None
    out = np.zeros(n, np.float32)
    out[: min(n, x.size)] = x[:n]
    return out


def _load(item: Item) -> _Signals:
    got: dict[str, tuple[F32, int]] = {}
    for what in ("mic", "far", "near", "echo"):
        path = getattr(item, what)
        if path is not None:
            got[what] = _read(path, what)
    rates = {what: r for what, (_, r) in got.items()}
    file_rate = rates["mic"]
    if len(set(rates.values())) > 1:
        listed = ", ".join(f"{k} {v} Hz" for k, v in rates.items())
        raise ConfigError(
            "rates",
            f"the files' rates differ ({listed}): batch needs an item's files at one rate "
            "(resample them first; callaudio process resamples a far file, batch does not)",
        )
    rate = min(SAMPLE_RATES, key=lambda r: (abs(r - file_rate), -r))
    sig: dict[str, F32] = {}
    for what, (x, _) in got.items():
        if rate != file_rate:
            x = resample(x, file_rate, rate).astype(np.float32)
        sig[what] = x
    n = sig["mic"].size
    return _Signals(
        rate, file_rate, sig["mic"], *(_fit(sig.get(k), n) for k in ("far", "near", "echo"))
    )


def _config(job: Job, item: Item, have_far: bool) -> ProcessingConfig:
    cfg = job.config or ProcessingConfig()
    for key, value in item.settings:
        stage_name, _, fld = key.partition(".")
        stage = getattr(cfg, stage_name)
        try:
            cfg = dataclasses.replace(
                cfg, **{stage_name: dataclasses.replace(stage, **{fld: value})}
            )
        except TypeError:
            raise ConfigError(key, "unknown setting") from None
    if not have_far and cfg.echo_canceller.enabled:
        off = dataclasses.replace(cfg.echo_canceller, enabled=False)
        cfg = dataclasses.replace(cfg, echo_canceller=off)
    return cfg


def _finite(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _erle(s: _Signals, y: F32) -> tuple[float | None, str | None]:
    if s.far is None:
        return None, None
    near_idle = (
        ~metrics.active_mask(s.near, s.rate) if s.near is not None and np.any(s.near) else None
    )
    if s.echo is not None:
        ref, source = s.echo, "echo"
        mask = metrics.active_mask(s.echo, s.rate) if np.any(s.echo) else None
    else:
        ref, source = s.mic, "mic"
        mask = metrics.active_mask(s.far, s.rate) if np.any(s.far) else None
    if mask is None:
        return None, source
    if near_idle is not None:
        mask &= near_idle
    _, med = metrics.erle_db(ref, y, s.rate, mask=mask)
    return _finite(med), source


def _optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _pesq_stoi(s: _Signals, y: F32) -> tuple[float | None, float | None]:
    if s.near is None or metrics.active_fraction(s.near, s.rate) < 0.05:
        return None, None
    pesq_value = stoi_value = None
    pesq_mod, stoi_mod = _optional("pesq"), _optional("pystoi")
    if pesq_mod is not None:
        ref16 = s.near if s.rate == 16000 else resample(s.near, s.rate, 16000)
        out16 = y if s.rate == 16000 else resample(y, s.rate, 16000)
        try:
            pesq_value = float(pesq_mod.pesq(16000, ref16, out16, "wb"))
        except Exception:  # the pesq package's own errors (no utterances ...): no value
            pesq_value = None
    if stoi_mod is not None:
        try:
            stoi_value = float(stoi_mod.stoi(s.near, y, s.rate, extended=False))
        except Exception:  # pystoi refuses too-short signals: no value
            stoi_value = None
    return _finite(pesq_value), _finite(stoi_value)


def _mos(s: _Signals, y: F32) -> dict[str, float | None]:
    """DNSMOS and AECMOS of ``y`` (speechmos; ConfigError when it is not installed)."""
    try:
        dnsmos = importlib.import_module("speechmos.dnsmos")
        aecmos = importlib.import_module("speechmos.aecmos")
    except ImportError as exc:
        raise ConfigError("mos", f"{MOS_HINT} ({exc})") from exc

    def at16(x: F32) -> F32:
        z = x if s.rate == 16000 else resample(x, s.rate, 16000)
        return np.clip(z, -1.0, 1.0).astype(np.float32)

    out16 = at16(y)
    d = dnsmos.run(out16, sr=16000)
    got: dict[str, float | None] = {
        "dnsmos_sig": _finite(float(d["sig_mos"])),
        "dnsmos_bak": _finite(float(d["bak_mos"])),
        "dnsmos_ovrl": _finite(float(d["ovrl_mos"])),
    }
    if s.far is not None:
        a = aecmos.run({"lpb": at16(s.far), "mic": at16(s.mic), "enh": out16}, sr=16000)
        got.update(
            aecmos_echo=_finite(float(a["echo_mos"])), aecmos_deg=_finite(float(a["deg_mos"]))
        )
    return got


def _row(item: Item, job: Job) -> dict[str, Any]:
    return {
        "id": item.id,
        "processor": job.processor,
        "config": job.config_name,
        "status": "error",
        "error": None,
        "mic": item.mic,
        "far": item.far,
        "near": item.near,
        "echo": item.echo,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }


def process_item(
    item: Item, jobs: list[Job], out_dir: str, *, audio: bool = True, mos: bool = False
) -> list[dict[str, Any]]:
    """Run ``jobs`` on ``item``; one row per job (see :mod:`callaudio.batch.results`);
    ``audio``: write the outputs; ``mos``: add DNSMOS and AECMOS."""
    rows = [_row(item, job) for job in jobs]
    try:
        s = _load(item)
    except Exception as exc:  # any failure to read an item is that item's error
        for row in rows:
            row["error"] = _one_line(exc)
        return rows
    duration = s.mic.size / s.rate
    for job, row in zip(jobs, rows, strict=True):
        row.update(duration_s=duration, rate=s.rate)
        try:
            cfg = _config(job, item, s.far is not None) if job.processor == "callaudio" else None
            done = run_processor(job.processor, s.mic, s.far, s.rate, cfg)
            y = done.output
            erle, source = _erle(s, y)
            pesq_value, stoi_value = _pesq_stoi(s, y)
            level = metrics.active_level_dbfs(y, s.rate) if np.any(y) else None
            vals: dict[str, Any] = {
                "seconds": done.seconds,
                "frames": done.frames,
                "rtf": done.seconds / duration if duration > 0 else None,
                "us_per_frame": 1e6 * done.seconds / max(done.frames, 1),
                "delay_ms": _finite(done.delay_ms),
                "erle_db": erle,
                "erle_source": source,
                "output_level_dbfs": _finite(level) if level is not None and level > -199 else None,
                "pesq": pesq_value,
                "stoi": stoi_value,
            }
            if mos:
                vals.update(_mos(s, y))
            if audio:
                path = audio_path(out_dir, job, item.id)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                write_audio(path, y, s.rate, "PCM_16")
                vals["output"] = os.path.relpath(path, out_dir)
            row.update(vals)  # only a job that finished carries measurements
            row["status"] = "ok"
        except Exception as exc:  # one job's failure is its row, never the run's
            row["error"] = _one_line(exc)
    return rows
