"""Denormals: silence and -120 dBFS noise after loud speech cost no more than speech.

After 4 s of loud double talk, 60 s of digital silence and 60 s of -120 dBFS noise run
through every stage the compiled Chain accepts (high-pass, noise suppressor, gain control,
and the echo canceller once the Chain wires it; the echo canceller is also checked alone):
per-frame CPU cost stays within 3x of the speech cost (the product target is 1.5x, reported
by bench/bench_denormals.py; the bound here is loose because the machine is shared), and no
state the stages expose, and no output sample, is subnormal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import callaudio as ca

from ._denormal import speech_then_quiet
from ._support import SOAK, full_config, is_subnormal, soak_only

BOUND = 3.0


@pytest.fixture(scope="module", params=[48000, 16000], ids=["48k", "16k"])
def quiet_run(request: pytest.FixtureRequest) -> dict[str, Any]:
    return speech_then_quiet(request.param, speech_s=4.0, silence_s=60.0, noise_s=60.0)


def test_silence_and_tiny_noise_cost_no_more_than_speech(quiet_run: dict[str, Any]) -> None:
    ph = quiet_run["phases"]
    speech = ph["speech"].cost(tail=False)
    for name in ("silence", "noise"):
        ratio = ph[name].cost(tail=True) / speech
        assert ratio < BOUND, f"{name}: {ratio:.2f}x the speech cost ({speech:.1f} us/frame)"


def test_no_subnormal_outputs_or_exposed_state(quiet_run: dict[str, Any]) -> None:
    ph, chain = quiet_run["phases"], quiet_run["chain"]
    for p in ph.values():
        assert p.subnormal_outputs == 0, p.name
    assert not np.any(is_subnormal(chain.high_pass.state))
    if chain.noise_suppressor is not None:
        assert not np.any(is_subnormal(chain.noise_suppressor.noise_psd))
        assert not np.any(is_subnormal(chain.noise_suppressor.gain))
    agc = chain.gain_control
    for v in (agc.gain_db, agc.noise_level_dbfs, agc.limiter_gain_db):
        assert np.isfinite(v)
    assert np.isfinite(chain.output_power)


def test_silence_decays_to_exact_zero_in_the_high_pass() -> None:
    """A filter fed digital silence ends at exact zeros, not at a subnormal plateau."""
    from callaudio._dsp.hpf import HighPass

    for order in (2, 4):
        hp = HighPass(48000, order=order)
        hp.process(np.full(4800, 0.9, dtype=np.float32))
        hp.process(np.zeros(48000 * 5, dtype=np.float32))
        assert np.all(hp.state == 0.0), hp.state


def test_each_stage_alone_emits_no_subnormals_in_silence() -> None:
    """Stage by stage through the Python methods: no subnormal output after a decay."""
    from callaudio._dsp.aec import EchoCanceller
    from callaudio._dsp.agc import GainControl
    from callaudio._dsp.ns import NoiseSuppressor

    rate, n = 48000, 480
    rng = np.random.default_rng(3)
    loud = (0.5 * rng.standard_normal(200 * n)).astype(np.float32)
    zeros = np.zeros(3000 * n, dtype=np.float32)
    agc, ns = GainControl(rate), NoiseSuppressor(rate)
    for st in (agc, ns):
        st.process_signal(loud)
        y = st.process_signal(zeros)
        assert not np.any(is_subnormal(y)), type(st).__name__
    assert not np.any(is_subnormal(ns.noise_psd)) and not np.any(is_subnormal(ns.gain))
    aec = EchoCanceller(rate)
    worst = 0
    for k in range(200):
        aec.render(loud[k * n : (k + 1) * n])
        aec.capture(0.3 * loud[k * n : (k + 1) * n])
    for _ in range(1500):
        aec.render(zeros[:n])
        worst += int(np.count_nonzero(is_subnormal(aec.capture(zeros[:n]))))
    assert worst == 0


def test_voice_processor_output_after_long_silence_is_not_subnormal() -> None:
    vp = ca.VoiceProcessor(48000, config=full_config())
    rng = np.random.default_rng(4)
    out = np.empty(480, np.float32)
    for _ in range(300):
        vp.process_render((0.3 * rng.standard_normal(480)).astype(np.float32))
        vp.process_capture((0.3 * rng.standard_normal(480)).astype(np.float32), out=out)
    z = np.zeros(480, np.float32)
    bad = 0
    for _ in range(3000):
        vp.process_render(z)
        bad += int(np.count_nonzero(is_subnormal(vp.process_capture(z, out=out))))
    assert bad == 0


@soak_only
@pytest.mark.slow
def test_soak_five_minutes_each() -> None:
    assert SOAK
    run = speech_then_quiet(48000, speech_s=10.0, silence_s=300.0, noise_s=300.0)
    ph = run["phases"]
    speech = ph["speech"].cost(tail=False)
    for name in ("silence", "noise"):
        assert ph[name].cost(tail=True) / speech < 1.5
        assert ph[name].subnormal_outputs == 0
