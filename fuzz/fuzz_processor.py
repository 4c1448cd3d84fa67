"""atheris harness: VoiceProcessor / process_arrays / the configs, from fuzzer bytes.

Every call must return finite output of the right shape and dtype or raise one of
callaudio's documented errors (ConfigError, FrameError); anything else
(another exception, a crash, a sanitizer report) is a finding.

    python fuzz/fuzz_processor.py [corpus_dir] -max_total_time=60
"""

from __future__ import annotations

import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

with atheris.instrument_imports(include=["callaudio"]):
    import numpy as np

    import callaudio as ca
    from callaudio.config import (
        EchoCancellerConfig,
        GainControlConfig,
        HighPassConfig,
        NoiseSuppressorConfig,
        ProcessingConfig,
    )

with atheris.instrument_imports():
    import _decode as dec

RATES = (16000, 32000, 48000)
DOCUMENTED = (ca.ConfigError, ca.FrameError)


@atheris.instrument_func
def config(fdp: atheris.FuzzedDataProvider) -> ProcessingConfig:
    return ProcessingConfig(
        high_pass=HighPassConfig(
            enabled=fdp.ConsumeBool(),
            cutoff_hz=dec.number(fdp, 20.0, 500.0),
            order=[2, 4, 3, 2.0][fdp.ConsumeIntInRange(0, 3)],
        ),
        echo_canceller=EchoCancellerConfig(
            enabled=fdp.ConsumeBool(),
            tail_ms=dec.number(fdp, 32.0, 500.0),
            max_delay_ms=dec.number(fdp, 0.0, 2000.0),
        ),
        noise_suppressor=NoiseSuppressorConfig(
            enabled=fdp.ConsumeBool(), level_db=dec.number(fdp, 0.0, 30.0)
        ),
        gain_control=GainControlConfig(
            enabled=fdp.ConsumeBool(),
            target_level_dbfs=dec.number(fdp, -40.0, -3.0),
            max_gain_db=dec.number(fdp, 0.0, 50.0),
            limiter_threshold_dbfs=dec.number(fdp, -20.0, -0.1),
        ),
    )


@atheris.instrument_func
def check(y: object, x: np.ndarray) -> None:
    assert isinstance(y, np.ndarray), type(y)
    assert y.shape == x.shape and y.dtype == x.dtype, (y.shape, y.dtype, x.shape, x.dtype)
    assert np.all(np.isfinite(y)), "non-finite output"


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    rate = RATES[fdp.ConsumeIntInRange(0, 2)]
    channels = fdp.ConsumeIntInRange(1, 3)
    try:
        vp = ca.VoiceProcessor(rate, channels=channels, config=config(fdp))
    except DOCUMENTED:
        return
    n = vp.frame_size
    for _ in range(fdp.ConsumeIntInRange(1, 12)):
        op = fdp.ConsumeIntInRange(0, 5)
        if op <= 1:
            x = dec.frame(fdp, n, fdp.ConsumeIntInRange(1, 3))
            try:
                vp.process_render(x)
            except ca.FrameError:
                pass
        elif op <= 3:
            x = dec.frame(fdp, n, channels)
            out = None
            if fdp.ConsumeBool():
                out = x if fdp.ConsumeBool() else np.empty_like(x, order="C")
            try:
                y = vp.process_capture(x, out=out)
            except ca.FrameError:
                continue
            check(y, x)
        elif op == 4:
            st = vp.stats
            assert st.capture_frames >= 0 and st.latency_ms >= 0.0
        else:
            m = dec.frame(fdp, fdp.ConsumeIntInRange(0, 3 * n), 1)
            f = dec.frame(fdp, fdp.ConsumeIntInRange(0, 3 * n), 1) if fdp.ConsumeBool() else None
            try:
                with np.errstate(all="ignore"):
                    y = ca.process_arrays(m, f, sample_rate=rate)
            except DOCUMENTED:
                continue
            assert y.shape == m.shape and np.all(np.isfinite(y))


def main() -> None:
    # The compiled stages carry no coverage instrumentation (gcc, no libFuzzer pass); the
    # harness's own branches and callaudio's Python layer guide the search.
    atheris.instrument_func(TestOneInput)
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
