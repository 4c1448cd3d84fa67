"""The engine's subcommands of the ``callaudio`` command: ``devices``, ``loopback``,
``process`` and ``demo``.

Each command is a pair: ``add_<name>_arguments(parser)`` declares its options and
``cmd_<name>(args) -> int`` runs it (exit status). :func:`register` adds all four to the
``callaudio`` parser's subcommands. Errors the user can act on are raised as
:class:`~callaudio.errors.CallAudioError` (the CLI prints them as one line).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import os
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from .config import SAMPLE_RATES, ProcessingConfig
from .errors import ConfigError

__all__ = [
    "add_demo_arguments",
    "add_devices_arguments",
    "add_loopback_arguments",
    "add_process_arguments",
    "cmd_demo",
    "cmd_devices",
    "cmd_loopback",
    "cmd_process",
    "register",
]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


# --- shared helpers ----------------------------------------------------------------------------


class Progress:
    """A one-line progress bar on a stream (stderr by default); silent when disabled."""

    def __init__(
        self, total: int, label: str, *, enabled: bool = True, stream: TextIO | None = None
    ):
        self._total = max(int(total), 1)
        self._label = label
        self._enabled = enabled
        self._stream = stream if stream is not None else sys.stderr
        self._shown = -1
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())

    def update(self, done: int) -> None:
        """Show ``done`` of ``total`` (redrawn per percent on a terminal, per 10 % else)."""
        if not self._enabled:
            return
        pct = min(100, int(100 * done / self._total))
        step = 1 if self._tty else 10
        if pct // step == self._shown // step and self._shown >= 0:
            return
        self._shown = pct
        width = 30
        fill = width * pct // 100
        bar = "#" * fill + "." * (width - fill)
        end = "" if self._tty and pct < 100 else "\n"
        prefix = "\r" if self._tty else ""
        self._stream.write(f"{prefix}{self._label} [{bar}] {pct:3d}%{end}")
        self._stream.flush()

    def close(self) -> None:
        """Finish the line."""
        if self._enabled and self._shown < 100:
            self.update(self._total)


def write_wav(path: Path, x: npt.ArrayLike, rate: int) -> None:
    """Write float audio (mono or (n, channels)) as 16-bit PCM, atomically."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    pcm = np.clip(np.round(a * 32767.0), -32768, 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh, wave.open(fh, "wb") as w:
            w.setnchannels(int(a.shape[1]))
            w.setsampwidth(2)
            w.setframerate(int(rate))
            w.writeframes(pcm.tobytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def full_config(**wanted: bool | None) -> ProcessingConfig:
    """Every stage on, with ``stage=True/False`` forcing one on or off.

    ``wanted`` keys: ``high_pass``, ``echo_canceller``, ``noise_suppressor``,
    ``gain_control``; None leaves the stage at its default (on).
    """
    cfg = ProcessingConfig()
    for name, want in wanted.items():
        if want is not None:
            stage = getattr(cfg, name)
            cfg = dataclasses.replace(cfg, **{name: dataclasses.replace(stage, enabled=want)})
    return cfg


def _stages(cfg: ProcessingConfig) -> str:
    on = [
        n
        for n in ("high_pass", "echo_canceller", "noise_suppressor", "gain_control")
        if getattr(cfg, n).enabled
    ]
    return ", ".join(on) if on else "none (bypass)"


def _fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}{unit}"


def _db(power: float) -> float:
    return 10.0 * math.log10(max(power, 1e-20))


# --- devices -----------------------------------------------------------------------------------


def add_devices_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``callaudio devices``."""
    p.add_argument("--hostapi", help="only devices of host APIs whose name contains this")


def cmd_devices(args: argparse.Namespace) -> int:
    """List PortAudio's devices: name, host API, input/output channels, default rate."""
    from .devices.sounddevice_backend import list_devices, portaudio_version

    devs = list_devices()
    if args.hostapi:
        devs = [d for d in devs if args.hostapi.lower() in d.hostapi.lower()]
    print(portaudio_version())
    if not devs:
        print("no devices")
        return 0
    wn = max(len("name"), *(len(d.name) for d in devs))
    wh = max(len("host API"), *(len(d.hostapi) for d in devs))
    print(f"{'name':<{wn}}  {'host API':<{wh}}  {'in':>3}  {'out':>3}  {'rate':>6}")
    for d in devs:
        print(
            f"{d.name:<{wn}}  {d.hostapi:<{wh}}  {d.max_input_channels:>3}  "
            f"{d.max_output_channels:>3}  {d.default_samplerate:>6.0f}"
        )
    return 0


# --- process -----------------------------------------------------------------------------------


def add_process_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``callaudio process``."""
    p.add_argument("mic", help="microphone WAV file (PCM, mono or stereo, any rate)")
    p.add_argument("--far", help="what the loudspeaker played (WAV): the echo reference")
    p.add_argument("-o", "--output", required=True, help="processed WAV file to write")
    for name, flag, what in (
        ("echo_canceller", "aec", "acoustic echo canceller (needs --far)"),
        ("noise_suppressor", "ns", "noise suppressor"),
        ("gain_control", "agc", "automatic gain control"),
        ("high_pass", "hpf", "high-pass filter"),
    ):
        p.add_argument(
            f"--{flag}",
            dest=name,
            action=argparse.BooleanOptionalAction,
            default=None,
            help=f"{what} (default: on when this build has it)",
        )
    p.add_argument(
        "--rate",
        type=int,
        choices=SAMPLE_RATES,
        help="processing rate in Hz (default: the supported rate nearest the file's)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _nearest_rate(rate: int) -> int:
    if rate in SAMPLE_RATES:
        return rate
    if not 8000 <= rate <= 192000:
        raise ConfigError("rate", f"{rate} Hz is not a rate callaudio can resample (8-192 kHz)")
    return min(SAMPLE_RATES, key=lambda r: (abs(r - rate), -r))


def _resample(x: F64, rate_in: int, rate_out: int) -> F64:
    """One channel: the polyphase bank for a rational ratio it can hold (e.g. 44100 ->
    48000), band-limited interpolation at the exact ratio otherwise (e.g. 15873 -> 16000)."""
    import math
    from fractions import Fraction

    from .simulation.resample import resample, resample_ratio

    ratio = Fraction(rate_out, rate_in)
    if max(ratio.numerator, ratio.denominator) <= 4096:
        return resample(x, rate_in, rate_out)
    n_out = math.ceil(x.size * rate_out / rate_in)
    return resample_ratio(x, rate_out / rate_in, n_out=n_out)


def _to_rate(x: F64, rate_in: int, rate_out: int) -> F64:
    if rate_in == rate_out:
        return x
    if x.ndim == 1:
        return _resample(x, rate_in, rate_out)
    return np.stack([_resample(x[:, c], rate_in, rate_out) for c in range(x.shape[1])], axis=1)


def cmd_process(args: argparse.Namespace) -> int:
    """Process a microphone WAV (and its far-end reference) through the chain."""
    from .processing import VoiceProcessor
    from .wavfile import read_wav

    mic_wav = read_wav(args.mic)
    far_wav = read_wav(args.far) if args.far else None
    if args.echo_canceller and far_wav is None:
        raise ConfigError("aec", "the echo canceller needs the far-end signal: give --far FAR.wav")
    wanted = {
        "high_pass": args.high_pass,
        "echo_canceller": False if far_wav is None else args.echo_canceller,
        "noise_suppressor": args.noise_suppressor,
        "gain_control": args.gain_control,
    }
    cfg = full_config(**wanted)
    rate_in = mic_wav.sample_rate
    rate = args.rate or _nearest_rate(rate_in)
    mic = mic_wav.samples.astype(np.float64)
    channels = mic.shape[1]
    mic = _to_rate(mic, rate_in, rate)
    far: F64 | None = None
    if far_wav is not None:
        f = far_wav.samples.astype(np.float64).mean(axis=1)
        far = _to_rate(f, far_wav.sample_rate, rate)
    vp = VoiceProcessor(rate, channels=channels, config=cfg)
    n = vp.frame_size
    total = mic.shape[0]
    frames = -(-total // n)
    pad = np.zeros((frames * n, channels), dtype=np.float32)
    pad[:total] = mic
    ref = np.zeros(frames * n, dtype=np.float32)
    if far is not None:
        k = min(total, far.size)
        ref[:k] = far[:k]
    out = np.empty_like(pad)
    shape = (n,) if channels == 1 else (n, channels)
    src = pad[:, 0] if channels == 1 else pad
    dst = out[:, 0] if channels == 1 else out
    if channels == 1:
        src = np.ascontiguousarray(src)
        dst_buf = np.empty(frames * n, dtype=np.float32)
    else:
        dst_buf = dst
    progress = Progress(frames, "processing", enabled=not args.quiet)
    t0 = time.perf_counter()
    for i in range(frames):
        sl = slice(i * n, (i + 1) * n)
        if far is not None:
            vp.process_render(ref[sl])
        vp.process_capture(src[sl].reshape(shape), out=dst_buf[sl].reshape(shape))
        if i % 50 == 0:
            progress.update(i)
    elapsed = time.perf_counter() - t0
    progress.close()
    y = (dst_buf[:, None] if channels == 1 else dst_buf)[:total].astype(np.float64)
    y = _to_rate(y, rate, rate_in)[: mic_wav.samples.shape[0]]
    write_wav(Path(args.output), np.clip(y, -1.0, 1.0), rate_in)
    st = vp.stats
    print(f"callaudio process: {args.mic} -> {args.output}")
    print(f"  stages: {_stages(cfg)}")
    resampled = f" (resampled from {rate_in} Hz and back)" if rate != rate_in else ""
    print(f"  rate: {rate} Hz{resampled}, {channels} channel(s), {total / rate:.2f} s")
    print(f"  input level: {_fmt(_db(float(np.mean(mic**2))) + 3.0103, ' dBFS')}")
    print(f"  output level: {_fmt(_db(float(np.mean(y**2))) + 3.0103, ' dBFS')}")
    print(f"  ERLE: {_fmt(st.erle_db, ' dB')}, delay estimate: {_fmt(st.delay_ms, ' ms')}")
    print(f"  speech level: {_fmt(st.speech_level_dbfs, ' dBFS')}, gain: {_fmt(st.gain_db, ' dB')}")
    print(f"  added latency: {st.latency_ms:.2f} ms")
    print(f"  cost: {1e6 * elapsed / max(frames, 1):.1f} us per 10 ms frame")
    return 0


# --- loopback ----------------------------------------------------------------------------------


def add_loopback_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``callaudio loopback``."""
    p.add_argument(
        "--device", help="device name (default: $CALLAUDIO_DEVICE, else the host default)"
    )
    p.add_argument("--hostapi", help="host API name part (JACK, ALSA ...)")
    p.add_argument("--seconds", type=float, default=6.0, help="test length (default 6)")
    p.add_argument(
        "--rate", type=int, default=48000, choices=SAMPLE_RATES, help="sample rate (48000)"
    )
    p.add_argument(
        "--signal", choices=("speech", "noise"), default="speech", help="test signal (speech)"
    )
    p.add_argument("--level", type=float, default=-20.0, help="test signal level, dBFS (-20)")
    p.add_argument("--no-processing", action="store_true", help="bypass the chain")
    p.add_argument(
        "--priority",
        type=int,
        default=20,
        help="SCHED_FIFO priority of the audio thread when allowed (0: none; default 20)",
    )


def _xcorr_lag(y: F64, x: F64, max_lag: int) -> tuple[int, float]:
    """Lag (samples) at which ``x`` best matches ``y``, and the normalised peak (0..1)."""
    size = 1 << int(np.ceil(np.log2(y.size + x.size)))
    c = np.fft.irfft(np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size)), size)[: max_lag + 1]
    lag = int(np.argmax(np.abs(c)))
    norm = math.sqrt(float(np.sum(y * y)) * float(np.sum(x * x))) or 1.0
    return lag, float(abs(c[lag]) / norm)


def cmd_loopback(args: argparse.Namespace) -> int:
    """A live echo test on a real device: play, record, measure delay and ERLE."""
    from .devices.sounddevice_backend import SounddeviceBackend
    from .engine import AudioEngine
    from .processing import VoiceProcessor
    from .simulation import load_talker

    rate = args.rate
    n = rate // 100
    if not 1.0 <= args.seconds <= 600.0:
        raise ConfigError("seconds", f"must be within [1, 600], got {args.seconds}")
    if args.signal == "speech":
        far = load_talker(0, rate, args.seconds, seed=1, level_dbfs=args.level)
    else:
        rng = np.random.default_rng(1)
        far = (10 ** (args.level / 20) * rng.standard_normal(int(args.seconds * rate))).astype(
            np.float32
        )
    cfg = ProcessingConfig.bypass() if args.no_processing else full_config()
    vp = None if args.no_processing else VoiceProcessor(rate, config=cfg)
    backend = SounddeviceBackend(args.device, hostapi=args.hostapi)
    din, dout = backend.resolve("duplex")
    engine = AudioEngine(
        backend,
        rate,
        vp,
        capture_buffer_ms=int(1000 * args.seconds) + 2000,
        monitor=True,
        realtime_priority=args.priority if args.priority > 0 else None,
    )
    print(f"callaudio loopback on {din} -> {dout}")
    print(
        f"  {args.signal} at {args.level:.0f} dBFS for {args.seconds:.1f} s; stages: {_stages(cfg)}"
    )
    pos = engine.write_far(far)
    engine.start()
    played: list[F32] = []
    mic: list[F32] = []
    out: list[F32] = []
    t0 = time.monotonic()
    next_report = 0.5
    try:
        while time.monotonic() - t0 < args.seconds + 0.5:
            if pos < far.size:
                pos += engine.write_far(far[pos:])
            p, m = engine.read_monitor()
            played.append(p)
            mic.append(m)
            out.append(engine.read_capture())
            t = time.monotonic() - t0
            if t >= next_report and sum(x.size for x in mic) > n:
                recent_m = np.concatenate(mic)[-rate // 2 :].astype(np.float64)
                recent_o = np.concatenate(out)[-rate // 2 :].astype(np.float64)
                st = vp.stats if vp is not None else None
                print(
                    f"  t={t:5.1f} s  mic {_db(float(np.mean(recent_m**2))):6.1f} dBFS  "
                    f"out {_db(float(np.mean(recent_o**2))):6.1f} dBFS  "
                    f"ERLE {_fmt(None if st is None else st.erle_db, ' dB')}  "
                    f"delay {_fmt(None if st is None else st.delay_ms, ' ms')}"
                )
                next_report += 0.5
            time.sleep(0.05)
    finally:
        stats = engine.stop()
    p, m = engine.read_monitor()
    played.append(p)
    mic.append(m)
    out.append(engine.read_capture())
    x = np.concatenate(played).astype(np.float64)
    y = np.concatenate(mic).astype(np.float64)
    o = np.concatenate(out).astype(np.float64)
    k = min(x.size, y.size, o.size)
    x, y, o = x[:k], y[:k], o[:k]
    lag, peak = _xcorr_lag(y, x, min(k - 1, rate))
    half = slice(k // 2, k)
    active = np.abs(x[half]) > 0
    erle = _db(float(np.mean(y[half] ** 2))) - _db(float(np.mean(o[half] ** 2)))
    print()
    print(f"  echo path delay: {lag} samples = {1000 * lag / rate:.2f} ms (correlation {peak:.2f})")
    if peak < 0.3:
        print("  (weak correlation: the device may not carry the output back to the input)")
    print(f"  ERLE over the second half: {erle:.1f} dB" + ("" if active.any() else " (silent)"))
    st = vp.stats if vp is not None else None
    if st is not None:
        print(
            f"  processor: delay estimate {_fmt(st.delay_ms, ' ms')}, "
            f"ERLE {_fmt(st.erle_db, ' dB')}, latency {st.latency_ms:.2f} ms"
        )
    print(
        f"  frames {stats.frames}, xruns {stats.xruns}, underruns {stats.underruns}, callback "
        f"{_fmt(stats.cost_us_mean, ' us')} mean / {_fmt(stats.cost_us_max, ' us')} max, "
        f"thread {stats.thread_priority}"
    )
    return 0


# --- demo --------------------------------------------------------------------------------------


def add_demo_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``callaudio demo``."""
    p.add_argument("--out", default="callaudio-demo", help="report folder (./callaudio-demo)")
    p.add_argument(
        "--rate", type=int, default=48000, choices=SAMPLE_RATES, help="sample rate (48000)"
    )
    p.add_argument("--seed", type=int, default=1, help="random seed of the scenario (1)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@dataclasses.dataclass
class _Segment:
    name: str
    seconds: float
    far: bool
    near: bool
    noise: bool = False


# The call's audio, in order (seconds of audio actually running).
_RING_S = 3.0
_SEGMENTS = (
    _Segment("far end only", 6.0, far=True, near=False),
    _Segment("double talk", 5.0, far=True, near=True),
    _Segment("noise burst", 3.0, far=False, near=True, noise=True),
)
_RESUMED = (
    _Segment("resumed: far end only", 3.0, far=True, near=False),
    _Segment("resumed: double talk", 2.0, far=True, near=True),
)
_FIRST_INTERRUPTION_S = 10.0
_SECOND_INTERRUPTION_S = 35.0


class _EventLog:
    """Observer: every session, call and controller event with the demo clock's time."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.lines: list[tuple[float, str]] = []
        self.states: list[tuple[float, str]] = []

    def on_event(self, event: Any) -> None:
        t = float(self.clock.now())
        self.lines.append((t, str(event)))
        call = event.data.get("call") if hasattr(event, "data") else None
        if call is not None:
            label = call.state.name + (" (interrupted)" if call.is_interrupted else "")
            self.states.append((t, label))


def cmd_demo(args: argparse.Namespace) -> int:
    """A whole outgoing call on the simulated room, with the event log, metrics and a report."""
    from .audio.service import EngineBackend
    from .call import CallState
    from .client import VoiceClient
    from .clock import ManualClock
    from .devices.simulated import SimulatedBackend
    from .events import SynchronousDispatcher
    from .session import AudioSession, InterruptionPolicy
    from .simulation import active_level_dbfs, load_talker
    from .simulation.metrics import erle_db, near_end_loss_db
    from .simulation.noise import babble_noise, pink_noise

    rate = int(args.rate)
    n = rate // 100
    seed = int(args.seed)
    outdir = Path(args.out)
    cfg = full_config()
    audio_s = _RING_S + sum(s.seconds for s in (*_SEGMENTS, *_RESUMED)) + 0.5
    total_frames = round(audio_s * 100)

    # The world: a room 0.6 m from the loudspeaker, 60 ms of converter/buffer delay.
    room = SimulatedBackend(
        rate, delay_ms=60.0, rt60_s=0.3, distance_m=0.6, echo_gain_db=-6.0, record=True, seed=seed
    )
    far_speech = load_talker(0, rate, audio_s + 2.0, seed=seed, level_dbfs=-20.0)
    near_speech = load_talker(1, rate, audio_s + 2.0, seed=seed + 1, level_dbfs=-26.0)
    floor = pink_noise(audio_s + 2.0, rate, level_dbfs=-65.0, seed=seed)
    burst = babble_noise(_SEGMENTS[2].seconds, rate, level_dbfs=-35.0, seed=seed)
    room.set_noise(floor)

    clock = ManualClock()
    log = _EventLog(clock)
    session = AudioSession(dispatcher=SynchronousDispatcher(), preferred_sample_rate=rate)
    backend = EngineBackend(room, processing=cfg, poll_interval=None, capture_buffer_ms=2000)
    client = VoiceClient(
        backend,
        session=session,
        policy=InterruptionPolicy(clock=clock),
        tone_plan="US",
    )
    client.add_observer(log)

    out_frames: list[F32] = []
    marks: list[tuple[str, int, int]] = []  # (segment, first frame, end frame)
    stats_t: list[float] = []
    stats_gain: list[float] = []
    stats_erle: list[float] = []
    progress = Progress(total_frames, "demo", enabled=not args.quiet)
    frames_run = 0
    far_pos = 0
    near_pos = 0

    last_delay: list[float | None] = [None]

    def run(seconds: float, *, far: bool, near: bool, noise: F32 | None = None) -> None:
        """Run ``seconds`` of audio: far-end speech queued, near-end talker, extra noise."""
        nonlocal frames_run, far_pos, near_pos
        batch = 5
        frames = round(seconds * 100)
        room.set_near(near_speech[near_pos:] if near else None)
        base = floor[frames_run * n :]
        if noise is not None:
            base = base.copy()
            base[: noise.size] += noise[: base.size]
        room.set_noise(base)
        done = 0
        while done < frames:
            k = min(batch, frames - done)
            if far and backend.stream_kind == "duplex":
                backend.write_far(far_speech[far_pos : far_pos + k * n])
                far_pos += k * n
            room.run_frames(k)
            clock.advance(k / 100.0)
            if backend.stream_kind == "duplex":
                y = backend.read_capture()
                y = np.concatenate([y, np.zeros(k * n - y.size, np.float32)])[: k * n]
                engine = backend.engine
                vp = engine.processor if engine is not None else None
                if vp is not None:
                    st = vp.stats
                    stats_t.append(frames_run / 100.0)
                    stats_gain.append(np.nan if st.gain_db is None else st.gain_db)
                    stats_erle.append(np.nan if st.erle_db is None else st.erle_db)
                    if st.delay_ms is not None:
                        last_delay[0] = st.delay_ms
            else:
                y = np.zeros(k * n, np.float32)
            out_frames.append(y)
            done += k
            frames_run += k
            progress.update(frames_run)
        if near:
            near_pos += frames * n
        room.set_noise(floor[frames_run * n :])

    # 1. An outgoing hands-free call (loudspeaker: the strong echo path): progress tone
    #    while it rings.
    client.audio_controller.enable_speaker()
    call = client.start_call("alice")
    call.progress()
    client.audio_controller.start_progress_tone()
    call.ring()
    start = frames_run
    run(_RING_S, far=False, near=False)
    marks.append(("ringing (progress tone)", start, frames_run))
    # 2. Answered and established: the session goes active, duplex audio with the chain.
    call.answer()
    call.establish()
    for seg in _SEGMENTS:
        start = frames_run
        run(seg.seconds, far=seg.far, near=seg.near, noise=burst if seg.noise else None)
        marks.append((seg.name, start, frames_run))
    # 3. A 10-second interruption (a PSTN call) that ends in time: the call resumes.
    session.begin_interruption("pstn")
    clock.advance(_FIRST_INTERRUPTION_S)
    session.end_interruption("pstn")
    for seg in _RESUMED:
        start = frames_run
        run(seg.seconds, far=seg.far, near=seg.near)
        marks.append((seg.name, start, frames_run))
    # 4. A second interruption that outlasts the 30-second grace period: the call ends.
    session.begin_interruption("pstn")
    grace_end = clock.now() + _SECOND_INTERRUPTION_S
    while clock.now() < grace_end:
        clock.advance(1.0)
    session.end_interruption("pstn")
    progress.close()
    restored = session.configuration
    end_cause = call.details.end_cause if call.state is CallState.ENDED else None
    client.close()

    # --- measurements --------------------------------------------------------------------
    rec = room.recording()
    out = np.concatenate(out_frames).astype(np.float64)
    k = min(out.size, rec["mic"].size)
    out = out[:k]
    mic = rec["mic"][:k].astype(np.float64)
    echo = rec["echo"][:k].astype(np.float64)
    near = rec["near"][:k].astype(np.float64)
    played = rec["played"][:k].astype(np.float64)
    duplex_stats = [s for kind, s in backend.history if kind == "duplex"]
    from .processing import VoiceProcessor

    probe = VoiceProcessor(rate, config=cfg)
    vp_latency_ms = probe.stats.latency_ms
    latency = probe.latency_samples
    aligned = np.r_[out[latency:], np.zeros(latency)]

    def seg_mask(name: str, skip_s: float = 0.0) -> npt.NDArray[np.bool_]:
        m = np.zeros(k, dtype=bool)
        for seg_name, a, b in marks:
            if seg_name == name:
                m[min((a + int(skip_s * 100)) * n, k) : min(b * n, k)] = True
        return m

    far_only = seg_mask("far end only", skip_s=3.0)
    _, erle = erle_db(echo, aligned, rate, mask=far_only)
    dt = seg_mask("double talk") & (np.abs(near) > 0)
    loss = near_end_loss_db(aligned[dt], near[dt]) if dt.any() else float("nan")
    resumed = seg_mask(_RESUMED[0].name, skip_s=1.0)
    _, erle_resumed = erle_db(echo, aligned, rate, mask=resumed)
    t_stats = np.asarray(stats_t)
    far_only_t = np.zeros(t_stats.size, dtype=bool)
    for seg_name, a, b in marks:
        if seg_name == "far end only":
            far_only_t |= (t_stats >= a / 100.0 + 3.0) & (t_stats < b / 100.0)
    reported = np.asarray(stats_erle)[far_only_t]
    reported = reported[np.isfinite(reported)]
    erle_reported = float(np.median(reported)) if reported.size else None
    speech_out = seg_mask("double talk") | seg_mask("noise burst")
    out_level = active_level_dbfs(aligned[speech_out], rate) if speech_out.any() else float("nan")
    true_delay_ms = 1000.0 * room.delay_samples / rate + 1000.0 * 0.6 / 343.0
    delay_est = last_delay[0]
    cost = [s.cost_us_mean for s in duplex_stats if s.cost_us_mean is not None]
    cost_max = [s.cost_us_max for s in duplex_stats if s.cost_us_max is not None]
    xruns = sum(s.xruns for s in duplex_stats)
    cost_mean = float(np.mean(cost)) if cost else None
    cost_top = float(np.max(cost_max)) if cost_max else None
    metrics: dict[str, Any] = {
        "stages": _stages(cfg),
        "echo_attenuation_db_far_end_only": erle,
        "erle_db_reported_far_end_only": erle_reported,
        "echo_attenuation_db_after_resume": erle_resumed,
        "near_end_level_change_db_double_talk": loss,
        "echo_delay_true_ms": true_delay_ms,
        "echo_delay_estimate_ms": delay_est,
        "output_speech_level_dbfs": out_level,
        "callback_us_per_frame_mean": cost_mean,
        "callback_us_per_frame_max": cost_top,
        "added_latency_ms": vp_latency_ms,
        "xruns": xruns,
        "end_cause": None if end_cause is None else end_cause.name,
    }

    # --- report --------------------------------------------------------------------------
    print(f"callaudio demo: an outgoing call on the simulated room at {rate} Hz")
    print(f"  chain: {_stages(cfg)}")
    print()
    print("event log (t = call clock, s):")
    for t, line in log.lines:
        print(f"  {t:7.2f}  {line}")
    print()
    print("metrics:")
    rows = [
        ("ERLE, far end only (canceller's estimate)", _fmt(erle_reported, " dB")),
        ("echo attenuation at the output, far end only", _fmt(erle, " dB")),
        ("echo attenuation 1-3 s after the interruption", _fmt(erle_resumed, " dB")),
        ("near-end level change in double talk", _fmt(loss, " dB", digits=1)),
        ("echo delay: true / estimated", f"{true_delay_ms:.1f} ms / {_fmt(delay_est, ' ms')}"),
        ("output speech level", _fmt(out_level, " dBFS")),
        (
            "callback cost per 10 ms frame",
            f"{_fmt(cost_mean, ' us')} mean, {_fmt(cost_top, ' us')} max",
        ),
        ("added latency", f"{vp_latency_ms:.2f} ms"),
        ("xruns", str(xruns)),
        ("call end cause", metrics["end_cause"] or "n/a"),
    ]
    w = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"  {name:<{w}}  {value}")
    print("  (output measurements: echo and near end vs their clean components at the")
    print("   microphone, through the whole chain: gain control and comfort noise included)")
    print(f"  session after the call: {restored}, active={session.is_active}")
    outdir.mkdir(parents=True, exist_ok=True)
    write_wav(outdir / "mic.wav", mic, rate)
    write_wav(outdir / "far.wav", played, rate)
    write_wav(outdir / "out.wav", np.clip(out, -1, 1), rate)
    write_wav(outdir / "near.wav", near, rate)
    write_wav(outdir / "echo.wav", echo, rate)
    (outdir / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n")
    (outdir / "events.txt").write_text("".join(f"{t:.2f}\t{line}\n" for t, line in log.lines))
    written = [
        "mic.wav",
        "far.wav",
        "out.wav",
        "near.wav",
        "echo.wav",
        "metrics.json",
        "events.txt",
    ]
    if args.no_plots:
        pass
    elif importlib.util.find_spec("matplotlib") is None:
        print("  (plots skipped: matplotlib is not installed; pip install matplotlib)")
    else:
        written += _plots(
            outdir, rate, mic, out, echo, aligned, near, marks, log, stats_t, stats_gain
        )
    print()
    print(f"report: {outdir}/ ({', '.join(written)})")
    return 0


def _plots(
    outdir: Path,
    rate: int,
    mic: F64,
    out: F64,
    echo: F64,
    aligned: F64,
    near: F64,
    marks: list[tuple[str, int, int]],
    log: _EventLog,
    stats_t: list[float],
    stats_gain: list[float],
) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .simulation.metrics import erle_db

    files = []
    t_end = mic.size / rate
    fig, axes = plt.subplots(2, 1, figsize=(11, 6), sharex=True, constrained_layout=True)
    for ax, x, title in ((axes[0], mic, "microphone (before)"), (axes[1], out, "output (after)")):
        with np.errstate(divide="ignore"):  # exact digital silence has no level
            ax.specgram(x, NFFT=1024, Fs=rate, noverlap=512, cmap="magma", vmin=-150)
        ax.set_ylabel("Hz")
        ax.set_title(title)
        for name, a, _b in marks:
            ax.axvline(a / 100.0, color="w", lw=0.8, ls="--")
            ax.text(a / 100.0 + 0.05, rate * 0.45, name, color="w", fontsize=8, va="top")
    axes[1].set_xlabel("audio time (s)")
    fig.savefig(outdir / "spectrograms.png", dpi=110)
    plt.close(fig)
    files.append("spectrograms.png")

    # ERLE where it means something: the call's stream runs and the near end is silent.
    mask = np.zeros(mic.size, dtype=bool)
    for name, a, b in marks:
        if not name.startswith("ringing"):
            mask[a * rate // 100 : b * rate // 100] = True
    mask &= np.abs(near) == 0.0
    per, _ = erle_db(echo, aligned, rate, frame_ms=100.0, mask=mask)
    t_erle = (np.arange(per.size) + 0.5) * 0.1
    fig, ax1 = plt.subplots(figsize=(11, 4), constrained_layout=True)
    ax1.plot(t_erle, per, color="C0", lw=1.0, label="ERLE (measured, 100 ms)")
    ax1.set_ylabel("ERLE (dB)", color="C0")
    ax1.set_xlabel("audio time (s)")
    ax1.set_xlim(0, t_end)
    ax2 = ax1.twinx()
    ax2.plot(stats_t, stats_gain, color="C1", lw=1.0, label="AGC gain")
    ax2.set_ylabel("gain (dB)", color="C1")
    for name, a, _b in marks:
        ax1.axvline(a / 100.0, color="0.6", lw=0.8, ls="--")
        ax1.text(a / 100.0 + 0.05, ax1.get_ylim()[1], name, fontsize=8, va="top")
    ax1.set_title("echo return loss enhancement and gain over time")
    fig.savefig(outdir / "erle_gain.png", dpi=110)
    plt.close(fig)
    files.append("erle_gain.png")

    fig, ax = plt.subplots(figsize=(11, 3.5), constrained_layout=True)
    order = ["INITIATING", "PROGRESSING", "RINGING", "ANSWERED", "ESTABLISHED", "ENDED"]
    ys = []
    ts = []
    for t, label in log.states:
        base = label.split(" ")[0]
        ts.append(t)
        ys.append(order.index(base) if base in order else -1)
    if ts:
        ts.append(max(ts) + 2.0)
        ys.append(ys[-1])
        ax.step(ts, ys, where="post", color="C2")
        for t, label in log.states:
            if "interrupted" in label:
                ax.plot([t], [order.index("ESTABLISHED")], "rv")
    for t, line in log.lines:
        if line.startswith("interruption_began"):
            ax.axvline(t, color="r", lw=0.8, ls=":")
        elif line.startswith("interruption_ended"):
            ax.axvline(t, color="g", lw=0.8, ls=":")
    ax.set_yticks(range(len(order)), order)
    ax.set_xlabel("call clock (s)")
    ax.set_title("call state (red: interruption began, green: ended)")
    fig.savefig(outdir / "timeline.png", dpi=110)
    plt.close(fig)
    files.append("timeline.png")
    return files


# --- registration ------------------------------------------------------------------------------


_COMMANDS: tuple[tuple[str, str, Callable[[argparse.ArgumentParser], None], Any], ...] = (
    ("devices", "list PortAudio devices", add_devices_arguments, cmd_devices),
    ("loopback", "live echo test on a real device", add_loopback_arguments, cmd_loopback),
    ("process", "process WAV files offline", add_process_arguments, cmd_process),
    ("demo", "a whole call on the simulated room, with a report", add_demo_arguments, cmd_demo),
)


def register(subparsers: Any, only: tuple[str, ...] | None = None) -> None:
    """Add the engine's subcommands to ``subparsers`` (from ``add_subparsers()``)."""
    for name, help_text, add_args, func in _COMMANDS:
        if only is not None and name not in only:
            continue
        p = subparsers.add_parser(name, help=help_text, description=func.__doc__)
        add_args(p)
        p.set_defaults(func=func)
