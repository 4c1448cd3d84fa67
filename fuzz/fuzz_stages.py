"""atheris harness: the compiled stages' Python entry points, from fuzzer bytes.

RealFFT.forward/inverse, HighPass.process, GainControl.process/process_signal,
EchoCanceller.render/capture/set_delay_hint, NoiseSuppressor.process/process_signal and
Chain.capture/render/process_block. Refusals must be ValueError/TypeError (what the stages
document); outputs of stages with an input guard (GainControl, EchoCanceller,
NoiseSuppressor, Chain) must be finite; a crash or sanitizer report is a finding.

    python fuzz/fuzz_stages.py [corpus_dir] -max_total_time=60
"""

from __future__ import annotations

import os
import sys
import warnings

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

with atheris.instrument_imports(include=["callaudio"]):
    import numpy as np

    from callaudio._dsp.aec import EchoCanceller
    from callaudio._dsp.agc import GainControl
    from callaudio._dsp.fft import RealFFT
    from callaudio._dsp.hpf import HighPass
    from callaudio._dsp.ns import NoiseSuppressor
    from callaudio._dsp.pipeline import Chain

with atheris.instrument_imports():
    import _decode as dec

REFUSED = (ValueError, TypeError)
RATES = (16000, 32000, 48000)
warnings.simplefilter("ignore")
np.seterr(all="ignore")


@atheris.instrument_func
def finite(y: np.ndarray) -> None:
    assert np.all(np.isfinite(y)), "non-finite output from a guarded stage"


@atheris.instrument_func
def fuzz_fft(fdp: atheris.FuzzedDataProvider) -> None:
    n = (320, 640, 960, 512, 2, 6)[fdp.ConsumeIntInRange(0, 5)]
    f = RealFFT(n)
    for _ in range(fdp.ConsumeIntInRange(1, 4)):
        x = dec.frame(fdp, n, 1)
        out = np.empty(n // 2 + 1, np.complex64) if fdp.ConsumeBool() else None
        try:
            X = f.forward(x, out=out)
            assert X.shape == (n // 2 + 1,) and X.dtype == np.complex64
            y = f.inverse(X)
            assert y.shape == (n,)
        except REFUSED:
            pass
        try:
            f.inverse(dec.frame(fdp, n // 2 + 1, 1).astype(np.complex64))
        except REFUSED:
            pass


@atheris.instrument_func
def fuzz_frame_stage(fdp: atheris.FuzzedDataProvider, kind: int) -> None:
    rate = RATES[fdp.ConsumeIntInRange(0, 2)]
    n = rate // 100
    try:
        if kind == 1:
            order = (2, 4, 3)[fdp.ConsumeIntInRange(0, 2)]
            st = HighPass(rate, dec.number(fdp, 20.0, 500.0), order)
        elif kind == 2:
            st = GainControl(rate, target_level_dbfs=dec.number(fdp, -40.0, -3.0),
                             limiter_threshold_dbfs=dec.number(fdp, -20.0, -0.1))
        elif kind == 3:
            st = EchoCanceller(rate, tail_ms=dec.number(fdp, 32.0, 500.0),
                               max_delay_ms=dec.number(fdp, 0.0, 2000.0))
        else:
            st = NoiseSuppressor(rate, level_db=dec.number(fdp, 0.0, 30.0),
                                 hops_per_frame=(1, 2, 4, 3)[fdp.ConsumeIntInRange(0, 3)])
    except REFUSED:
        return
    huge_seen = False
    for _ in range(fdp.ConsumeIntInRange(1, 10)):
        x = dec.frame(fdp, n * fdp.ConsumeIntInRange(1, 2), 1)
        try:
            if kind == 1:
                # HighPass: a call with NaN/Inf input returns a non-finite output but its
                # state restarts clean (documented); it does not clamp, so a float32-max
                # input overflows its float32 output to +-inf for a frame or two (the Chain
                # clamps to +-16 first): outputs are checked until a huge sample was seen.
                with np.errstate(all="ignore"):
                    xf = x.astype(np.float64)
                    huge_seen |= bool(np.any(np.abs(xf) >= 1e30))
                y = st.process(x)
                if not huge_seen and np.all(np.isfinite(xf)):
                    finite(y)
                assert np.all(np.isfinite(st.state))
            elif kind == 2:
                sp = fdp.ConsumeFloatInRange(-2.0, 1.5) if fdp.ConsumeBool() else -1.0
                finite(st.process_signal(x, sp) if fdp.ConsumeBool() else st.process(x, sp))
            elif kind == 3:
                op = fdp.ConsumeIntInRange(0, 2)
                if op == 0:
                    st.render(x)
                elif op == 1:
                    finite(st.capture(x))
                else:
                    st.set_delay_hint(dec.number(fdp, 0.0, 2000.0))
                assert np.isfinite(st.erle_db) or st.erle_db != st.erle_db
            else:
                finite(st.process_signal(x) if fdp.ConsumeBool() else st.process(x))
        except REFUSED:
            pass


@atheris.instrument_func
def fuzz_chain(fdp: atheris.FuzzedDataProvider) -> None:
    rate = RATES[fdp.ConsumeIntInRange(0, 2)]
    n = rate // 100
    kw = {}
    if fdp.ConsumeBool():
        kw["high_pass"] = {}
    if fdp.ConsumeBool():
        kw["echo_canceller"] = {"tail_ms": 64.0, "max_delay_ms": 500.0}
    if fdp.ConsumeBool():
        kw["noise_suppressor"] = {}
    if fdp.ConsumeBool():
        kw["gain_control"] = {}
    try:
        ch = Chain(rate, **kw)
    except ValueError:              # "this build has no echo canceller" (until it is wired)
        kw.pop("echo_canceller", None)
        ch = Chain(rate, **kw)
    for _ in range(fdp.ConsumeIntInRange(1, 10)):
        channels = fdp.ConsumeIntInRange(1, 3)
        x = np.ascontiguousarray(dec.frame(fdp, n, channels))
        op = fdp.ConsumeIntInRange(0, 2)
        try:
            if op == 0:
                ch.render(x, channels)
            elif op == 1:
                out = np.empty_like(x, order="C")        # writable (see test_regressions)
                c = fdp.ConsumeIntInRange(0, channels - 1)
                ch.capture(x, out, c, channels)
                if out.dtype == np.float32:
                    finite(out.reshape(-1)[c::channels])
            else:
                frames = fdp.ConsumeIntInRange(0, 3)
                mic = dec.samples(fdp, frames * n, np.dtype(np.float32))
                far = dec.samples(fdp, frames * n, np.dtype(np.float32))
                out = np.empty_like(mic)
                ch.process_block(mic, out, far if fdp.ConsumeBool() else None, 0, 1, 1)
                finite(out)
        except REFUSED:
            pass


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    kind = fdp.ConsumeIntInRange(0, 5)
    if kind == 0:
        fuzz_fft(fdp)
    elif kind == 5:
        fuzz_chain(fdp)
    else:
        fuzz_frame_stage(fdp, kind)


def main() -> None:
    # The compiled stages carry no coverage instrumentation (gcc, no libFuzzer pass); the
    # harness's own branches and callaudio's Python layer guide the search.
    atheris.instrument_func(TestOneInput)
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
