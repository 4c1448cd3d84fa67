"""Recovery: NaN in either stream, a 40 dB jump, a stalled reference, render/capture drift.

A 48 kHz far-end single-talk call (100 ms bulk delay, pink noise 40 dB below the near
level) runs through three targets (none with the gain control, so the output level
measures the residual echo directly):

* ``aec``: the echo canceller stage alone (EchoCanceller.render/capture);
* ``chain``: the compiled Chain with every stage it accepts but the gain control;
* ``processor``: the public VoiceProcessor with every stage this build enables except the
  gain control (same reason). Echo checks apply once it has an echo canceller.

Faults start at 5 s (the canceller has converged by 2 s). After each: every output frame is
finite (the faulty frame included), and ERLE, measured as ``metrics.erle_db`` of echo +
noise over the output on 250 ms frames, is back at or above ERLE_FLOOR_DB within 2 s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import callaudio as ca
from callaudio.config import EchoCancellerConfig, GainControlConfig
from callaudio.simulation import EchoResult, EchoScenario
from callaudio.simulation.metrics import erle_db

from ._support import chain_stage_kwargs, full_config

RATE = 48000
N = RATE // 100
FAULT_S = 5.0
ERLE_FLOOR_DB = 20.0
WIN_S = 0.25


@pytest.fixture(scope="module")
def scene() -> EchoResult:
    return EchoScenario(
        sample_rate=RATE,
        duration_s=10.0,
        bulk_delay_ms=100.0,
        seed=3,
        noise_kind="pink",
        noise_snr_db=40.0,
    ).build()


class Runner:
    """Drives one target frame by frame under a render schedule."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.vp: Any = None
        self.aec: Any = None
        if kind == "aec":
            from callaudio._dsp.aec import EchoCanceller

            self.aec = EchoCanceller(RATE, **EchoCancellerConfig().kwargs())
            self.chain: Any = None
        elif kind == "chain":
            from callaudio._dsp.pipeline import Chain

            self.chain = Chain(RATE, **chain_stage_kwargs(gain_control=False))
        else:
            cfg = full_config()
            from dataclasses import replace

            cfg = replace(cfg, gain_control=GainControlConfig(enabled=False))
            self.vp = ca.VoiceProcessor(RATE, config=cfg)
            self.chain = self.vp._chains[0]

    @property
    def echo_canceller(self) -> Any:
        return self.aec if self.aec is not None else self.chain.echo_canceller

    @property
    def has_aec(self) -> bool:
        return self.echo_canceller is not None

    @property
    def counters(self) -> Any:
        """Whatever counts frames: the chain, or the echo canceller alone."""
        return self.chain if self.chain is not None else None

    def render(self, far: np.ndarray) -> None:
        if self.aec is not None:
            self.aec.render(far)
        elif self.vp is None:
            self.chain.render(far)
        else:
            self.vp.process_render(far)

    def capture(self, mic: np.ndarray) -> np.ndarray:
        if self.aec is not None:
            return self.aec.capture(mic)
        if self.vp is None:
            out = mic.copy()
            if self.chain.capture(out, out):
                self.chain.reset()
            return out
        return self.vp.process_capture(mic)

    def run(
        self,
        far: np.ndarray,
        mic: np.ndarray,
        renders: Callable[[int], list[int]] | None = None,
    ) -> np.ndarray:
        """``renders(k)``: far frame indices rendered before capture k (default [k])."""
        frames = mic.size // N
        out = np.zeros(frames * N, np.float32)
        for k in range(frames):
            for j in renders(k) if renders else [k]:
                if 0 <= j < far.size // N:
                    self.render(np.ascontiguousarray(far[j * N : (j + 1) * N]))
            y = self.capture(np.ascontiguousarray(mic[k * N : (k + 1) * N]))
            assert np.all(np.isfinite(y)), f"non-finite output in frame {k}"
            out[k * N : (k + 1) * N] = y
        lat = int((self.aec or self.chain).latency_samples)
        return np.concatenate([out[lat:], np.zeros(lat, np.float32)])


@dataclass
class Track:
    per: np.ndarray
    t: np.ndarray

    def median(self, t0: float, t1: float) -> float:
        sel = (self.t >= t0) & (self.t < t1)
        return float(np.nanmedian(self.per[sel]))


def track(ref: np.ndarray, out: np.ndarray) -> Track:
    per, _ = erle_db(ref, out, RATE, frame_ms=WIN_S * 1000)
    return Track(per, np.arange(per.size) * WIN_S)


TARGETS = ["aec", "chain", "processor"]


def _echo_checks(r: Runner) -> bool:
    return r.has_aec


def _assert_recovered(tr: Track, t_back: float) -> None:
    before = tr.median(2.0, FAULT_S)
    after = tr.median(t_back, t_back + 1.5)
    assert before >= ERLE_FLOOR_DB, f"not converged before the fault: {before:.1f} dB"
    assert after >= ERLE_FLOOR_DB, f"ERLE {after:.1f} dB 2 s after the fault"


@pytest.mark.parametrize("kind", TARGETS)
@pytest.mark.parametrize("stream", ["mic", "far"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_nonfinite_samples_mid_call(
    scene: EchoResult, kind: str, stream: str, value: float
) -> None:
    far, mic = scene.far.copy(), scene.mic.copy()
    x = mic if stream == "mic" else far
    i0 = int(FAULT_S * RATE)
    x[i0 : i0 + N // 2 : 3] = value  # half a frame of scattered bad samples
    x[i0 + 3 * N : i0 + 5 * N] = value  # then two whole bad frames
    r = Runner(kind)
    out = r.run(far, mic)  # asserts every frame finite
    counter = r.aec if r.aec is not None else r.chain
    if stream == "mic" or r.aec is not None:
        assert counter.nonfinite_frames >= 3
    if _echo_checks(r):
        _assert_recovered(track(scene.echo + scene.noise, out), FAULT_S + 2.0)


@pytest.mark.parametrize("kind", TARGETS)
@pytest.mark.parametrize("direction", ["up", "down"])
def test_reference_level_jumps_40_db(scene: EchoResult, kind: str, direction: str) -> None:
    """Far end (and so its echo) 40 dB quieter before/after the jump."""
    g = np.ones(scene.far.size, np.float32)
    i0 = int(FAULT_S * RATE)
    if direction == "up":
        g[:i0] = 0.01
    else:
        g[i0:] = 0.01
    far = scene.far * g
    echo = scene.echo * g
    noise = 0.01 * scene.noise  # -92 dBFS: the quiet echo stays measurable
    mic = (echo + scene.near + noise).astype(np.float32)
    r = Runner(kind)
    out = r.run(far.astype(np.float32), mic)
    if _echo_checks(r):
        tr = track(echo + noise, out)
        after = tr.median(FAULT_S + 2.0, FAULT_S + 3.5)
        assert after >= (ERLE_FLOOR_DB if direction == "up" else 10.0), after
        assert tr.median(2.0, FAULT_S) >= 10.0  # converged before the jump


@pytest.mark.parametrize("kind", TARGETS)
def test_reference_stalls_500_ms_then_resumes(scene: EchoResult, kind: str) -> None:
    """No render frames for 500 ms (the loudspeaker still plays); then rendering resumes."""
    k0 = int(FAULT_S * 100)
    r = Runner(kind)
    out = r.run(scene.far, scene.mic, lambda k: [] if k0 <= k < k0 + 50 else [k])
    if _echo_checks(r):
        assert r.echo_canceller.render_underruns >= 50
        _assert_recovered(track(scene.echo + scene.noise, out), FAULT_S + 0.5 + 2.0)


@pytest.mark.parametrize("kind", TARGETS)
def test_bursty_render_ahead_is_the_same_as_interleaving(scene: EchoResult, kind: str) -> None:
    """Render 1..5 frames ahead in bursts (a jittery app): bit-identical output."""
    rng = np.random.default_rng(11)
    sched: list[list[int]] = []
    k = 0
    while k < scene.mic.size // N:
        b = int(rng.integers(1, 6))
        sched.append(list(range(k, k + b)))
        sched.extend([] for _ in range(b - 1))
        k += b
    a = Runner(kind).run(scene.far, scene.mic)
    b_out = Runner(kind).run(scene.far, scene.mic, lambda k: sched[k])
    np.testing.assert_array_equal(a, b_out)


@pytest.mark.parametrize("kind", TARGETS)
@pytest.mark.parametrize("drift", ["lost", "duplicated"])
def test_render_and_capture_counts_drift_apart(scene: EchoResult, kind: str, drift: str) -> None:
    """Every 2 s one render frame is lost (or one is rendered twice): the reference slips
    10 ms against the echo each time; the canceller keeps up and the counters tell."""
    frames = scene.mic.size // N
    shift = 0
    plan: list[list[int]] = []
    for k in range(frames):
        if k % 200 == 199:
            if drift == "lost":
                plan.append([])
                shift += 1
                continue
            plan.append([k - shift, k - shift])
            shift -= 1
            continue
        plan.append([k - shift])
    r = Runner(kind)
    out = r.run(scene.far, scene.mic, lambda k: plan[k])
    rendered = sum(len([j for j in p if 0 <= j < frames]) for p in plan)
    if r.chain is not None:
        assert r.chain.render_frames == rendered and r.chain.capture_frames == frames
    if _echo_checks(r):
        tr = track(scene.echo + scene.noise, out)
        # each slip may cost a dip; the median of every second after the first slip holds
        for t0 in np.arange(2.0, 9.0, 1.0):
            assert tr.median(t0, t0 + 1.0) >= 10.0, (t0, tr.median(t0, t0 + 1.0))


@pytest.mark.parametrize("kind", TARGETS)
def test_capture_stalls_while_render_runs_ahead_by_a_second(scene: EchoResult, kind: str) -> None:
    """The app renders 100 frames with no capture (e.g. a blocked capture thread), then
    both run paired again: the render queue overflows, frames are dropped and counted,
    and the canceller re-converges."""
    frames = scene.mic.size // N
    k0 = int(FAULT_S * 100)
    plan = [[k] for k in range(frames)]
    plan[k0] = list(range(k0, k0 + 101))
    for k in range(k0 + 1, k0 + 101):
        plan[k] = []
    r = Runner(kind)
    out = r.run(scene.far, scene.mic, lambda k: plan[k])
    if _echo_checks(r):
        assert r.echo_canceller.render_overruns >= 1
        tr = track(scene.echo + scene.noise, out)
        assert tr.median(FAULT_S + 1.0 + 2.0, FAULT_S + 4.5) >= 10.0


@pytest.fixture(scope="module")
def near_scene() -> EchoResult:
    """Near-end single talk in pink noise: the gain control has a talker to level."""
    return EchoScenario(
        sample_rate=RATE,
        duration_s=10.0,
        far_intervals=(),
        near_intervals=None,
        seed=4,
        noise_kind="pink",
        noise_snr_db=30.0,
    ).build()


def test_processor_recovers_to_the_fault_free_output_level(near_scene: EchoResult) -> None:
    """Every stage on, a talker at the mic: 3 s after a burst of NaN/Inf/huge frames the
    output level matches a twin that never saw them within 1 dB (100 ms windows).

    (Measured: the NaN/Inf frames change nothing; the clamped +24 dBFS frame enters the
    gain control's speech level, the output dips ~9 dB for a second and settles after
    ~2 s.)"""
    scene = near_scene
    cfg = full_config()
    a, b = ca.VoiceProcessor(RATE, config=cfg), ca.VoiceProcessor(RATE, config=cfg)
    mic_bad = scene.mic.copy()
    i0 = int(FAULT_S * RATE)
    mic_bad[i0 : i0 + N] = np.nan
    mic_bad[i0 + N : i0 + 2 * N] = 3e38
    mic_bad[i0 + 2 * N : i0 + 3 * N] = -np.inf
    ya = np.empty_like(scene.mic)
    yb = np.empty_like(scene.mic)
    for k in range(scene.mic.size // N):
        sl = slice(k * N, (k + 1) * N)
        for vp in (a, b):
            vp.process_render(scene.far[sl])
        ya[sl] = a.process_capture(mic_bad[sl])
        yb[sl] = b.process_capture(scene.mic[sl])
    assert np.all(np.isfinite(ya))
    w = RATE // 10
    sl = slice(int((FAULT_S + 3.0) * RATE), (scene.mic.size // w) * w)
    la = 10 * np.log10(np.mean(ya[sl].reshape(-1, w) ** 2, axis=1) + 1e-12)
    lb = 10 * np.log10(np.mean(yb[sl].reshape(-1, w) ** 2, axis=1) + 1e-12)
    loud = lb > -60
    assert np.max(np.abs(la[loud] - lb[loud])) <= 1.0
