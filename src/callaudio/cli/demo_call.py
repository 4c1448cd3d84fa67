"""The demo's call: the script it plays on the simulated room and the metrics it measures.

:func:`run_call` plays the call's script (ringing with a progress tone, far end only, double
talk, a noise burst, an interruption the call survives, one that outlasts the grace period
and ends it) and returns a :class:`DemoRun` with everything recorded; :func:`measure` turns it
into the metrics. :mod:`callaudio.cli.report` prints and draws them; :mod:`callaudio.cli.demo`
is the command.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt

from ..config import ProcessingConfig
from .common import Progress, full_config, stages_text

__all__ = ["DemoRun", "Segment", "aligned_output", "measure", "run_call", "segment_mask"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclasses.dataclass(frozen=True)
class Segment:
    """A stretch of the call's audio: who talks, and whether a noise burst plays."""

    name: str
    seconds: float
    far: bool
    near: bool
    noise: bool = False


# The call's audio, in order (seconds of audio actually running).
RING_S = 3.0
SEGMENTS = (
    Segment("far end only", 6.0, far=True, near=False),
    Segment("double talk", 5.0, far=True, near=True),
    Segment("noise burst", 3.0, far=False, near=True, noise=True),
)
RESUMED = (
    Segment("resumed: far end only", 3.0, far=True, near=False),
    Segment("resumed: double talk", 2.0, far=True, near=True),
)
FIRST_INTERRUPTION_S = 10.0
SECOND_INTERRUPTION_S = 35.0
GRACE_PERIOD_S = 30.0


class EventLog:
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


@dataclasses.dataclass
class DemoRun:
    """What one demo call recorded.

    ``marks`` are ``(segment, first frame, end frame)`` in 10 ms frames of audio time;
    ``audio_at_clock`` maps audio time to the call clock: ``(audio s, clock s)`` pairs at
    each segment start (audio stops while the call is interrupted, the clock runs on).
    ``stats_*`` hold the chain's reports every 50 ms of audio while the duplex stream runs.
    """

    rate: int
    cfg: ProcessingConfig
    out: F64
    recording: dict[str, F64]
    marks: list[tuple[str, int, int]]
    audio_at_clock: list[tuple[float, float]]
    log: EventLog
    stats_t: list[float]
    stats_gain: list[float]
    stats_erle: list[float]
    delay_ms: float | None
    """The canceller's delay estimate: the median of its 50 ms reports while the call ran."""
    true_delay_ms: float
    duplex_stats: list[Any]
    session_after: str
    end_cause: str | None


class _Audio:
    """The simulated room, its talkers and noise, and what the call's stream delivered.

    :meth:`play` runs one segment of audio time in 50 ms steps: far-end speech queued to
    the call's stream (while a duplex stream runs), the near-end talker and the noise in
    the room, the clock advanced, the processed capture and the chain's figures kept.
    """

    def __init__(self, rate: int, seed: int, clock: Any, *, quiet: bool) -> None:
        from ..devices.simulated import SimulatedBackend
        from ..simulation import load_talker
        from ..simulation.noise import babble_noise, pink_noise

        self.n = rate // 100
        self.clock = clock
        audio_s = RING_S + sum(s.seconds for s in (*SEGMENTS, *RESUMED)) + 0.5
        # A room 0.6 m from the loudspeaker, 60 ms of converter/buffer delay.
        self.room = SimulatedBackend(
            rate,
            delay_ms=60.0,
            rt60_s=0.3,
            distance_m=0.6,
            echo_gain_db=-6.0,
            record=True,
            seed=seed,
        )
        self.far_speech = load_talker(0, rate, audio_s + 2.0, seed=seed, level_dbfs=-20.0)
        self.near_speech = load_talker(1, rate, audio_s + 2.0, seed=seed + 1, level_dbfs=-26.0)
        self.floor = pink_noise(audio_s + 2.0, rate, level_dbfs=-65.0, seed=seed)
        self.burst = babble_noise(SEGMENTS[2].seconds, rate, level_dbfs=-35.0, seed=seed)
        self.room.set_noise(self.floor)
        self.backend: Any = None  # the EngineBackend on the room, set by run_call
        self.frames = 0
        self._far_pos = 0
        self._near_pos = 0
        self.out: list[F32] = []
        self.marks: list[tuple[str, int, int]] = []
        self.audio_at_clock: list[tuple[float, float]] = []
        self.stats_t: list[float] = []
        self.stats_gain: list[float] = []
        self.stats_erle: list[float] = []
        self.delays_ms: list[float] = []
        self.progress = Progress(round(audio_s * 100), "demo", enabled=not quiet)

    def play(self, seg: Segment) -> None:
        """Run one segment of the call's audio."""
        n, room, start = self.n, self.room, self.frames
        self.audio_at_clock.append((start / 100.0, float(self.clock.now())))
        frames = round(seg.seconds * 100)
        room.set_near(self.near_speech[self._near_pos :] if seg.near else None)
        base = self.floor[start * n :]
        if seg.noise:
            base = base.copy()
            base[: self.burst.size] += self.burst[: base.size]
        room.set_noise(base)
        for done in range(0, frames, 5):
            k = min(5, frames - done)
            duplex = self.backend.stream_kind == "duplex"
            if seg.far and duplex:
                self.backend.write_far(self.far_speech[self._far_pos : self._far_pos + k * n])
                self._far_pos += k * n
            room.run_frames(k)
            self.clock.advance(k / 100.0)
            self.out.append(self._capture(k) if duplex else np.zeros(k * n, np.float32))
            self.frames += k
            self.progress.update(self.frames)
        if seg.near:
            self._near_pos += frames * n
        if seg.far and self.backend.engine is not None:
            self.backend.engine.flush_far()  # the far talker stops: no underrun
        room.set_noise(self.floor[self.frames * n :])
        self.marks.append((seg.name, start, self.frames))

    def _capture(self, k: int) -> F32:
        """The processed capture of the last ``k`` frames, and the chain's figures."""
        y = self.backend.read_capture()
        y = np.concatenate([y, np.zeros(k * self.n - y.size, np.float32)])[: k * self.n]
        engine = self.backend.engine
        vp = engine.processor if engine is not None else None
        if vp is not None:
            st = vp.stats
            self.stats_t.append(self.frames / 100.0)
            self.stats_gain.append(np.nan if st.gain_db is None else st.gain_db)
            self.stats_erle.append(np.nan if st.erle_db is None else st.erle_db)
            if st.delay_ms is not None:
                self.delays_ms.append(st.delay_ms)
        return np.asarray(y, dtype=np.float32)


def run_call(rate: int, seed: int, *, quiet: bool = True) -> DemoRun:
    """Play the demo call's script on a simulated room; see the module docstring."""
    from .. import (
        AudioSession,
        CallState,
        InterruptionPolicy,
        ManualClock,
        SynchronousDispatcher,
        VoiceClient,
    )
    from ..audio.service import EngineBackend

    cfg = full_config()
    clock = ManualClock()
    audio = _Audio(rate, seed, clock, quiet=quiet)
    log = EventLog(clock)
    session = AudioSession(dispatcher=SynchronousDispatcher(), preferred_sample_rate=rate)
    backend = EngineBackend(audio.room, processing=cfg, poll_interval=None, capture_buffer_ms=2000)
    audio.backend = backend
    client = VoiceClient(
        backend, session=session, policy=InterruptionPolicy(clock=clock), tone_plan="US"
    )
    client.add_observer(log)

    # 1. An outgoing hands-free call (loudspeaker: the strong echo path): progress tone
    #    while it rings.
    client.audio_controller.enable_speaker()
    call = client.start_call("alice")
    call.progress()
    client.audio_controller.start_progress_tone()
    call.ring()
    audio.play(Segment("ringing (progress tone)", RING_S, far=False, near=False))
    # 2. Answered and established: the session goes active, duplex audio with the chain.
    call.answer()
    call.establish()
    for seg in SEGMENTS:
        audio.play(seg)
    # 3. A 10-second interruption (a PSTN call) that ends in time: the call resumes.
    session.begin_interruption("pstn")
    clock.advance(FIRST_INTERRUPTION_S)
    session.end_interruption("pstn")
    for seg in RESUMED:
        audio.play(seg)
    # 4. A second interruption that outlasts the 30-second grace period: the call ends.
    session.begin_interruption("pstn")
    grace_end = clock.now() + SECOND_INTERRUPTION_S
    while clock.now() < grace_end:
        clock.advance(1.0)
    session.end_interruption("pstn")
    audio.progress.close()
    restored = f"{session.configuration}, active={session.is_active}"
    end_cause = call.details.end_cause if call.state is CallState.ENDED else None
    client.close()

    rec = audio.room.recording()
    out = np.concatenate(audio.out).astype(np.float64)
    k = min(out.size, rec["mic"].size)
    return DemoRun(
        rate=rate,
        cfg=cfg,
        out=out[:k],
        recording={name: rec[name][:k].astype(np.float64) for name in rec},
        marks=audio.marks,
        audio_at_clock=audio.audio_at_clock,
        log=log,
        stats_t=audio.stats_t,
        stats_gain=audio.stats_gain,
        stats_erle=audio.stats_erle,
        delay_ms=float(np.median(audio.delays_ms)) if audio.delays_ms else None,
        true_delay_ms=1000.0 * audio.room.delay_samples / rate + 1000.0 * 0.6 / 343.0,
        duplex_stats=[s for kind, s in backend.history if kind == "duplex"],
        session_after=restored,
        end_cause=None if end_cause is None else end_cause.name,
    )


def segment_mask(run: DemoRun, name: str, skip_s: float = 0.0) -> npt.NDArray[np.bool_]:
    """Samples of the segments called ``name``, their first ``skip_s`` seconds left out."""
    n, k = run.rate // 100, run.out.size
    m = np.zeros(k, dtype=bool)
    for seg_name, a, b in run.marks:
        if seg_name == name:
            m[min((a + int(skip_s * 100)) * n, k) : min(b * n, k)] = True
    return m


def aligned_output(run: DemoRun) -> F64:
    """The output advanced by the chain's latency, so it lines up with the microphone."""
    from ..processing import VoiceProcessor

    latency = VoiceProcessor(run.rate, config=run.cfg).latency_samples
    return np.concatenate([run.out[latency:], np.zeros(latency)])


def measure(run: DemoRun) -> dict[str, Any]:
    """The demo's metrics (what metrics.json holds)."""
    from ..processing import VoiceProcessor
    from ..simulation import active_level_dbfs
    from ..simulation.metrics import erle_db, near_end_loss_db

    rec = run.recording
    echo, near = rec["echo"], rec["near"]
    aligned = aligned_output(run)
    _, erle = erle_db(echo, aligned, run.rate, mask=segment_mask(run, "far end only", 3.0))
    dt = segment_mask(run, "double talk") & (np.abs(near) > 0)
    loss = near_end_loss_db(aligned[dt], near[dt]) if dt.any() else float("nan")
    resumed = segment_mask(run, RESUMED[0].name, skip_s=1.0)
    _, erle_resumed = erle_db(echo, aligned, run.rate, mask=resumed)
    t_stats = np.asarray(run.stats_t)
    far_only_t = np.zeros(t_stats.size, dtype=bool)
    for seg_name, a, b in run.marks:
        if seg_name == "far end only":
            far_only_t |= (t_stats >= a / 100.0 + 3.0) & (t_stats < b / 100.0)
    reported = np.asarray(run.stats_erle)[far_only_t]
    reported = reported[np.isfinite(reported)]
    speech_out = segment_mask(run, "double talk") | segment_mask(run, "noise burst")
    out_level = (
        active_level_dbfs(aligned[speech_out], run.rate) if speech_out.any() else float("nan")
    )
    cost = [s.cost_us_mean for s in run.duplex_stats if s.cost_us_mean is not None]
    cost_max = [s.cost_us_max for s in run.duplex_stats if s.cost_us_max is not None]
    return {
        "stages": stages_text(run.cfg),
        "echo_attenuation_db_far_end_only": erle,
        "erle_db_reported_far_end_only": float(np.median(reported)) if reported.size else None,
        "echo_attenuation_db_after_resume": erle_resumed,
        "near_end_level_change_db_double_talk": loss,
        "echo_delay_true_ms": run.true_delay_ms,
        "echo_delay_estimate_ms": run.delay_ms,
        "output_speech_level_dbfs": out_level,
        "callback_us_per_frame_mean": float(np.mean(cost)) if cost else None,
        "callback_us_per_frame_max": float(np.max(cost_max)) if cost_max else None,
        "added_latency_ms": VoiceProcessor(run.rate, config=run.cfg).stats.latency_ms,
        "xruns": sum(s.xruns for s in run.duplex_stats),
        "end_cause": run.end_cause,
    }
