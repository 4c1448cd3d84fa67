"""``callaudio process``: a microphone file (and its far-end reference) through the chain.

The file streams: blocks are read, resampled to the processing rate
(:class:`~callaudio.cli.resample.StreamResampler`), run through a
:class:`~callaudio.processing.VoiceProcessor` frame by frame, resampled back and written,
so memory stays flat for a file of any length. The output has the input's rate, channels
and length. By default it is aligned with the input: the chain's latency
(``VoiceProcessor.latency_samples``) is removed, so a click in the input lands on the same
output sample; ``--no-align`` writes the raw stream (delayed, its last samples cut).

Stage settings come from the defaults, then ``--config FILE`` (TOML, one table per stage
of :class:`~callaudio.config.ProcessingConfig`), then the flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from ..config import SAMPLE_RATES, ProcessingConfig
from ..errors import ConfigError, SoundFileError
from ..processing import VoiceProcessor
from .common import Progress, fmt, on_interrupt, stage_names
from .files import InputFile, OutputTarget, output_format, output_subtype, text_lines
from .resample import StreamResampler
from .summary import EchoFigures, SpeechLevel

__all__ = ["add_arguments", "load_config", "nearest_rate", "processing_config", "run"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

_STAGES = (
    ("echo_canceller", "aec", "acoustic echo canceller (default: on with --far)"),
    ("noise_suppressor", "ns", "noise suppressor (default: on)"),
    ("gain_control", "agc", "automatic gain control (default: on)"),
    ("high_pass", "hpf", "high-pass filter (default: on)"),
)
# Tuning flags: (flag, stage, field, metavar, help); the ranges are ProcessingConfig's.
_TUNING = (
    ("--ns-level", "noise_suppressor", "level_db", "DB", "largest noise attenuation (dB)"),
    (
        "--agc-target",
        "gain_control",
        "target_level_dbfs",
        "DBFS",
        "speech level the gain control steers to (dBFS)",
    ),
    ("--agc-max-gain", "gain_control", "max_gain_db", "DB", "largest gain (dB)"),
    ("--aec-tail", "echo_canceller", "tail_ms", "MS", "echo canceller filter length (ms)"),
    (
        "--aec-max-delay",
        "echo_canceller",
        "max_delay_ms",
        "MS",
        "largest echo delay searched, a delay hint (ms)",
    ),
    ("--hpf-cutoff", "high_pass", "cutoff_hz", "HZ", "high-pass corner frequency (Hz)"),
)
_BLOCK_S = 1.0  # seconds per read/resample/write block


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``callaudio process``."""
    p.add_argument("mic", help="microphone file (WAV, FLAC, OGG, AIFF ...; mono or stereo)")
    p.add_argument("--far", help="what the loudspeaker played: the echo canceller's reference")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="file to write (format by extension; '-' for stdout, the summary then on stderr)",
    )
    p.add_argument(
        "--subtype",
        help="output sample format: PCM_16, PCM_24, PCM_32, FLOAT ... (default: the input's)",
    )
    p.add_argument(
        "--no-align",
        dest="align",
        action="store_false",
        help="keep the chain's latency in the output (default: removed)",
    )
    for name, flag, what in _STAGES:
        p.add_argument(
            f"--{flag}",
            dest=name,
            action=argparse.BooleanOptionalAction,
            default=None,
            help=what,
        )
    for flag, _stage, fld, metavar, what in _TUNING:
        p.add_argument(flag, dest=f"tune_{fld}", type=float, metavar=metavar, help=what)
    p.add_argument("--config", metavar="FILE", help="stage settings from a TOML file")
    p.add_argument(
        "--rate",
        type=int,
        choices=SAMPLE_RATES,
        help="processing rate in Hz (default: the supported rate nearest the file's)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def nearest_rate(rate: int) -> int:
    """The processing rate for a file at ``rate`` Hz: the nearest supported (higher on a tie)."""
    return min(SAMPLE_RATES, key=lambda r: (abs(r - rate), -r))


CONFIG_MAX_BYTES = 64 * 1024
"""Largest ``--config`` file read (a full configuration is under 2 KB)."""
CONFIG_MAX_LINE = 1024
"""Longest line of a ``--config`` file (characters)."""


def load_config(path: str) -> ProcessingConfig:
    """A ProcessingConfig from a TOML file: one table per stage, keys the stage's fields.

    Example::

        [noise_suppressor]
        level_db = 18
        [echo_canceller]
        tail_ms = 256
    """
    try:  # the standard library's since Python 3.11, the tomli package before
        tomllib: Any = importlib.import_module("tomllib")
    except ImportError:
        try:
            tomllib = importlib.import_module("tomli")
        except ImportError:
            raise ConfigError("--config", "reading TOML needs Python 3.11 or tomli") from None
    try:
        lines = list(text_lines(path, limit=CONFIG_MAX_BYTES, what="--config", newline=""))
    except OSError as exc:
        raise ConfigError("--config", f"{path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("--config", f"{path}: not valid TOML ({exc})") from exc
    for n, line in enumerate(lines, start=1):
        if len(line) > CONFIG_MAX_LINE:  # tomllib is quadratic in a dotted key's length
            raise ConfigError("--config", f"{path}:{n}: longer than {CONFIG_MAX_LINE} characters")
    try:
        data = tomllib.loads("".join(lines))
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError; an int of > 4300 digits
        why = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise ConfigError("--config", f"{path}: not valid TOML ({why})") from None
    cfg = ProcessingConfig()
    stages = [f.name for f in dataclasses.fields(ProcessingConfig)]
    for key, table in data.items():
        if key not in stages:
            raise ConfigError("--config", f"{path}: unknown table [{key}] (tables: {stages})")
        if not isinstance(table, dict):
            raise ConfigError("--config", f"{path}: {key} must be a table ([{key}])")
        stage = getattr(cfg, key)
        known = [f.name for f in dataclasses.fields(stage)]
        for field in table:
            if field not in known:
                raise ConfigError(
                    "--config", f"{path}: unknown key {key}.{field} (keys: {', '.join(known)})"
                )
        try:
            cfg = dataclasses.replace(cfg, **{key: dataclasses.replace(stage, **table)})
        except ConfigError as exc:
            raise ConfigError("--config", f"{path}: {exc}") from exc
    return cfg


def processing_config(args: argparse.Namespace, *, have_far: bool) -> ProcessingConfig:
    """The chain's configuration: defaults, then ``--config``, then the flags."""
    cfg = load_config(args.config) if args.config else ProcessingConfig()
    if args.echo_canceller and not have_far:
        raise ConfigError("aec", "the echo canceller needs the far-end signal: give --far FILE")
    for name, _flag, _what in _STAGES:
        want = getattr(args, name)
        if name == "echo_canceller" and not have_far:
            want = False
        if want is not None:
            stage = getattr(cfg, name)
            cfg = dataclasses.replace(cfg, **{name: dataclasses.replace(stage, enabled=want)})
    for flag, stage_name, fld, _metavar, _what in _TUNING:
        value = getattr(args, f"tune_{fld}")
        if value is None:
            continue
        stage = getattr(cfg, stage_name)
        try:
            cfg = dataclasses.replace(
                cfg, **{stage_name: dataclasses.replace(stage, **{fld: value})}
            )
        except ConfigError as exc:
            raise ConfigError(flag, str(exc)) from exc
    return cfg


class _Resampled:
    """A file's blocks at the processing rate, handed out in runs of whole frames.

    After the file's end it hands out silence. ``finished`` tells whether the end has been
    reached; from then on ``length`` is the file's exact length at the processing rate
    (before, an estimate from the header, or 0 for a stream of unknown length).
    """

    def __init__(self, infile: InputFile, rate: int, *, mono: bool) -> None:
        self.channels = 1 if mono else infile.channels
        self._file = infile
        self._rate = rate
        self._mono = mono
        self._blocks = infile.blocks(max(1, int(_BLOCK_S * infile.rate)))
        self._rs = StreamResampler(infile.rate, rate, self.channels)
        self._buf = np.zeros((0, self.channels), dtype=np.float32)
        self._handed = 0  # samples handed out, silence after the end included
        self.finished = False
        self.real = 0  # samples of the file (not the silence after it) in the last take

    @property
    def length(self) -> int:
        frames = self._file.frames_read if self.finished else self._file.frames
        if not (self.finished or self._file.length_known):
            return 0
        return -(-frames * self._rate // self._file.rate)

    def _more(self) -> None:
        block = next(self._blocks, None)
        if block is None:
            y = self._rs.flush()
            self.finished = True
        else:
            if not np.isfinite(block).all():  # silence, as the chain would (before the
                block = np.where(np.isfinite(block), block, np.float32(0.0))  # resampler)
            x = block.mean(axis=1, keepdims=True) if self._mono else block
            y = self._rs.process(x)
        self._buf = np.concatenate([self._buf, y.astype(np.float32)])

    def take(self, count: int) -> F32:
        """The next ``count`` samples, shape ``(count, channels)``; silence after the end."""
        while self._buf.shape[0] < count and not self.finished:
            self._more()
        out = self._buf[:count]
        self._buf = self._buf[count:]
        self.real = out.shape[0]
        if self.finished:
            self.real = min(self.real, max(0, self.length - self._handed))
        self._handed += count
        if out.shape[0] < count:
            out = np.concatenate([out, np.zeros((count - out.shape[0], self.channels), np.float32)])
        return out


class _Sink:
    """Processed samples at the processing rate -> aligned, resampled back, written.

    What belongs to the file is known once the microphone source is finished (which
    happens before the samples past its end reach the sink): its length at the processing
    rate, and the number of frames to write at the file's own rate.
    """

    def __init__(
        self,
        writer: Any,
        src: _Resampled,
        mic: InputFile,
        rate: int,
        *,
        skip: int,
        clip: bool,
        meter: SpeechLevel,
    ) -> None:
        self._writer = writer
        self._src = src
        self._mic = mic
        self._rs = StreamResampler(rate, mic.rate, mic.channels)
        self._skip = skip  # leading samples dropped (the chain's latency when aligning)
        self._kept = 0  # samples at the processing rate passed on
        self._written = 0  # frames written at the file's rate
        self._clip = clip
        self._meter = meter

    def push(self, y: F32) -> None:
        if self._skip:
            cut = min(self._skip, y.shape[0])
            y, self._skip = y[cut:], self._skip - cut
        if self._src.finished:
            y = y[: max(0, self._src.length - self._kept)]
        self._kept += y.shape[0]
        if y.shape[0]:
            self._meter.add(y[:, 0])
            self._write(self._rs.process(y))

    def finish(self) -> None:
        self._write(self._rs.flush())
        left = self._mic.frames_read - self._written
        if left > 0:  # cannot happen with exact lengths; keep the length promise
            self._write(np.zeros((left, self._mic.channels)))

    def _write(self, y: F64) -> None:
        if self._src.finished:
            y = y[: max(0, self._mic.frames_read - self._written)]
        self._written += y.shape[0]
        if y.shape[0]:
            if self._clip:
                y = np.clip(y, -1.0, 1.0)
            self._writer.write(y.astype(np.float32))


def _frames(data: F32, n: int, channels: int) -> Iterator[F32]:
    """Frames of ``n`` samples: 1-D for mono, ``(n, channels)`` otherwise."""
    shaped = data.reshape(-1, n) if channels == 1 else data.reshape(-1, n, channels)
    yield from shaped


def _stream(
    vp: VoiceProcessor,
    src: _Resampled,
    ref: _Resampled | None,
    sink: _Sink,
    skip: int,
    level_in: SpeechLevel,
    echo: EchoFigures | None,
    *,
    quiet: bool,
) -> tuple[int, float]:
    """Run ``src`` (and ``ref``) through ``vp`` into ``sink`` until the microphone's end
    plus ``skip`` samples; returns the frames run and the seconds spent in the processor."""
    n, channels = vp.frame_size, vp.channels
    per_chunk = max(1, round(_BLOCK_S * 100))
    estimate = -(-(src.length + skip) // n)
    progress = Progress(estimate, "processing", enabled=not quiet and estimate > 0)
    elapsed = 0.0
    done = 0
    while True:
        needed = -(-(src.length + skip) // n) if src.finished else done + per_chunk
        if done >= needed:
            break
        k = min(per_chunk, needed - done)
        x = src.take(k * n)
        y = np.empty_like(x)
        pairs = zip(_frames(x, n, channels), _frames(y, n, channels), strict=True)
        t0 = time.perf_counter()
        if ref is None:
            for m_frame, o_frame in pairs:
                vp.process_capture(m_frame, out=o_frame)
        else:
            far_frames = _frames(np.ascontiguousarray(ref.take(k * n)[:, 0]), n, 1)
            for (m_frame, o_frame), r_frame in zip(pairs, far_frames, strict=True):
                vp.process_render(r_frame)
                vp.process_capture(m_frame, out=o_frame)
                if echo is not None and echo.far_active(r_frame):
                    st = vp.stats
                    echo.add(st.erle_db, st.delay_ms)
        elapsed += time.perf_counter() - t0
        level_in.add(x[: src.real, 0])  # the file only, not the silence after it
        sink.push(y)
        done += k
        progress.update(done)
    progress.close()
    return done, elapsed


def run(args: argparse.Namespace) -> int:
    """Process a microphone file (and its far-end reference) through the chain."""
    with InputFile(args.mic, "mic") as mic:
        far = InputFile(args.far, "far") if args.far else None
        try:
            return _run(args, mic, far)
        finally:
            if far is not None:
                far.close()


def _to_stdout(path: str) -> bool:
    """True when ``path`` is this process's standard output."""
    if path == "-":
        return True
    try:
        return os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):
        return False


def _run(args: argparse.Namespace, mic: InputFile, far: InputFile | None) -> int:
    summary_to = sys.stderr if _to_stdout(args.output) else sys.stdout
    cfg = processing_config(args, have_far=far is not None)
    rate = args.rate or nearest_rate(mic.rate)
    fmt = output_format(args.output, mic.format)
    subtype = output_subtype(fmt, args.subtype, mic.subtype, args.output, mic.rate)
    channels = mic.channels
    level_in, level_out = SpeechLevel(rate), SpeechLevel(rate)
    echo = EchoFigures(0.01)
    with OutputTarget(args.output) as target:  # the path is checked before any processing
        where = "stdout" if target.kind == "stdout" else args.output
        if target.written_through:
            on_interrupt(lambda: f"{where} got part of the audio")
        vp = VoiceProcessor(rate, channels=channels, config=cfg)
        skip = vp.latency_samples if args.align else 0
        src = _Resampled(mic, rate, mono=False)
        ref = _Resampled(far, rate, mono=True) if far is not None else None
        sink = _Sink(
            target.open(mic.rate, channels, fmt, subtype),
            src,
            mic,
            rate,
            skip=skip,
            clip=not subtype.startswith(("FLOAT", "DOUBLE")),
            meter=level_out,
        )
        track_echo = cfg.echo_canceller.enabled and ref is not None
        frames, elapsed = _stream(
            vp, src, ref, sink, skip, level_in, echo if track_echo else None, quiet=args.quiet
        )
        sink.finish()
        summary = {  # before the output is put in place: a figure cannot fail the command
            "input": args.mic,
            "far": args.far,
            "output": args.output,
            "format": f"{fmt} {subtype}",
            "stages": stage_names(cfg),
            "input_rate": mic.rate,
            "processing_rate": rate,
            "channels": channels,
            "duration_s": mic.frames_read / mic.rate,
            "aligned": bool(args.align),
            "latency_ms": 1000.0 * vp.latency_samples / rate,
            "input_speech_level_dbfs": level_in.level_dbfs(),
            "output_speech_level_dbfs": level_out.level_dbfs(),
            "erle_db_mean": echo.erle_db if track_echo else None,
            "far_active_s": echo.far_active_s if track_echo else None,
            "delay_ms": echo.delay_ms if track_echo else None,
            "cost_us_per_frame": 1e6 * elapsed / max(frames, 1),
        }
        if target.kind in ("fifo", "stdout") and not target.written_through:
            on_interrupt(lambda: f"{where} may have got part of the audio")  # (the copy)
        elif target.kind == "regular":  # (a signal just after the rename or link)
            on_interrupt(lambda: f"{where} is complete" if target.in_place() else "nothing written")
        target.commit()
        on_interrupt(lambda: f"{where} is complete")
    try:
        _print_summary(summary, mic, as_json=args.json, stream=summary_to)
    except BrokenPipeError:
        raise
    except OSError as exc:  # (stdout full or gone: "[Errno 28] ..." alone said nothing)
        to = "standard error" if summary_to is sys.stderr else "standard output"
        raise SoundFileError(
            args.output,
            "unwritable",
            f"is complete; its summary could not be written to {to} ({exc.strerror or exc})",
        ) from exc
    return 0


def _print_summary(
    s: dict[str, Any], mic: InputFile, *, as_json: bool, stream: TextIO | None
) -> None:
    if stream is None:  # the stream was closed (2>&-): nothing to print to
        return
    if as_json:
        lines = [json.dumps(s, indent=2)]
    else:
        rate, rate_in = s["processing_rate"], s["input_rate"]
        resampled = f" (resampled from {rate_in} Hz and back)" if rate != rate_in else ""
        lines = [
            f"callaudio process: {s['input']} -> {s['output']}",
            f"  stages: {', '.join(s['stages']) or 'none (bypass)'}",
            f"  rate: {rate} Hz{resampled}, {s['channels']} channel(s), {s['duration_s']:.2f} s",
            f"  file: {mic.format} {mic.subtype} -> {s['format']}",
            f"  speech level (P.56, channel 1): input {fmt(s['input_speech_level_dbfs'], ' dBFS')}"
            f", output {fmt(s['output_speech_level_dbfs'], ' dBFS')}",
        ]
        if s["far_active_s"] is not None:
            lines.append(
                f"  echo: ERLE {fmt(s['erle_db_mean'], ' dB')} mean over "
                f"{s['far_active_s']:.1f} s of far-end activity (double talk included: "
                "the canceller's figure against a mic holding the talker), "
                f"delay estimate: {fmt(s['delay_ms'], ' ms')}"
            )
        if s["aligned"]:
            lines.append(f"  aligned: the chain's {s['latency_ms']:.2f} ms latency removed")
        else:
            lines.append(f"  not aligned: the output lags the input by {s['latency_ms']:.2f} ms")
        lines.append(f"  cost: {s['cost_us_per_frame']:.1f} us per 10 ms frame")
    text = "\n".join(lines) + "\n"  # a file name that is not UTF-8 shows as "\xff"
    stream.write(text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))
    stream.flush()
