"""Loud speech, then digital silence, then -120 dBFS noise through the compiled chain.

Shared by test_denormals.py; bench/bench_denormals.py carries its own copy of the
measurement (bench/ does not import the test package).

Cost is CPU time of this process (``time.process_time_ns``) per 10 ms frame, measured over
blocks of ``BLOCK`` frames run by ``Chain.process_block`` (render + capture, one GIL-free
loop, no Python per frame, so a slowdown inside the kernels is not diluted by wrapper
overhead). On a shared machine every block can be slowed by other processes, never sped
up, so each phase's cost is the minimum over its blocks (for silence and noise: over the
last quarter of the phase, where any decay into subnormals has had the most time).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from callaudio._dsp.pipeline import Chain

BLOCK = 50
F32 = npt.NDArray[np.float32]


def compiled_chain(rate: int) -> Chain:
    """A Chain with every stage it accepts, at their default configurations."""
    from ._support import chain_stage_kwargs

    return Chain(rate, **chain_stage_kwargs())


@dataclass
class Phase:
    name: str
    costs_us: list[float] = field(default_factory=list)
    subnormal_outputs: int = 0
    out_peak: float = 0.0

    def cost(self, tail: bool) -> float:
        c = np.asarray(self.costs_us)
        if tail:
            c = c[3 * c.size // 4 :]
        return float(np.min(c))


def run_phase(chain: Chain, name: str, mic: F32, far: F32) -> Phase:
    n = chain.frame_size
    ph = Phase(name)
    out = np.empty(BLOCK * n, dtype=np.float32)
    tiny = np.finfo(np.float32).tiny
    for k in range(0, mic.size // n - BLOCK + 1, BLOCK):
        sl = slice(k * n, (k + BLOCK) * n)
        m, f = mic[sl], far[sl]
        t0 = time.process_time_ns()
        chain.process_block(m, out, f, 0, 1, 1)
        ph.costs_us.append((time.process_time_ns() - t0) / BLOCK / 1000.0)
        a = np.abs(out)
        ph.subnormal_outputs += int(np.count_nonzero((a > 0) & (a < tiny)))
        ph.out_peak = max(ph.out_peak, float(a.max()))
    return ph


def speech_then_quiet(
    rate: int, speech_s: float, silence_s: float, noise_s: float, seed: int = 7
) -> dict[str, Any]:
    """Run the three phases on one fresh chain; return the phases and the chain."""
    from callaudio.simulation import speech_like

    rng = np.random.default_rng(seed)
    far = speech_like(speech_s, rate, level_dbfs=-16.0, seed=seed, talker=0)
    near = speech_like(speech_s, rate, level_dbfs=-20.0, seed=seed + 1, talker=1)
    d = rate // 20  # 50 ms echo delay, 6 dB ERL
    echo = np.concatenate([np.zeros(d, np.float32), 0.5 * far[:-d]])
    mic = (near + echo).astype(np.float32)
    chain = compiled_chain(rate)
    phases = [run_phase(chain, "speech", mic, far.astype(np.float32))]
    zeros = np.zeros(round(silence_s * rate), dtype=np.float32)
    phases.append(run_phase(chain, "silence", zeros, zeros))
    m = round(noise_s * rate)
    tiny_mic = (rng.standard_normal(m) * 1e-6).astype(np.float32)  # -120 dBFS
    tiny_far = (rng.standard_normal(m) * 1e-6).astype(np.float32)
    phases.append(run_phase(chain, "noise", tiny_mic, tiny_far))
    return {"phases": {p.name: p for p in phases}, "chain": chain}
