"""Property-based fuzzing of the engine's real-time callback as a (buggy) backend calls it.

Backends are other people's code (PortAudio, a simulated room, a test double): the callback
may get wrong block sizes, wrong shapes or dtypes, NaN-filled input, odd status objects.
Contract (engine module docstring): it always writes all of ``outdata`` (silence for a frame
that failed), never lets an exception escape, counts each failure, and
:meth:`AudioEngine.stop` raises CallbackError exactly when something failed. Valid frames
keep being processed: what the application gets is finite.
"""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given

import callaudio as ca
from callaudio.devices.simulated import CallbackFlags, SimulatedBackend
from callaudio.engine import AudioEngine, CallbackError

from ._support import full_config, fuzz_settings

RATE = 16000
N = RATE // 100


@st.composite
def callback_args(draw: st.DrawFn, channels: int) -> tuple[Any, Any, int, Any, bool]:
    """(indata, outdata, frames, status, well_formed)."""
    frames = draw(st.sampled_from([N, N, N, N - 1, N + 1, 0, 2 * N]))
    kind_in = draw(st.sampled_from(["ok", "ok", "nan", "int16", "short", "3d", "none"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    if kind_in == "none":
        indata = None
    elif kind_in == "int16":
        indata = (rng.standard_normal((N, channels)) * 1000).astype(np.int16)
    elif kind_in == "short":
        indata = np.zeros((N // 2, channels), np.float32)
    elif kind_in == "3d":
        indata = np.zeros((N, channels, 1), np.float32)
    else:
        indata = (0.1 * rng.standard_normal((N, channels))).astype(np.float32)
        if kind_in == "nan":
            indata[rng.integers(0, N, 5), 0] = np.nan
    kind_out = draw(st.sampled_from(["ok", "ok", "none", "stereo", "short"]))
    outdata = {
        "ok": np.full((N, 1), 7.0, np.float32),
        "none": None,
        "stereo": np.full((N, 2), 7.0, np.float32),
        "short": np.full((N // 2, 1), 7.0, np.float32),
    }[kind_out]
    status = draw(st.sampled_from([CallbackFlags(), CallbackFlags(0x2 | 0x4), None, 0, 3]))
    # A stereo outdata takes the mono frame by broadcasting (as sounddevice would): fine.
    # A truthy status that is not a CallbackFlags (outside sounddevice's contract) fails
    # the flag accumulation: the engine counts it as an error and plays silence (reported).
    ok = (
        frames == N
        and kind_in in ("ok", "nan", "none")
        and kind_out in ("ok", "none", "stereo")
        and not (isinstance(status, int) and status)
    )
    return indata, outdata, frames, status, ok


@fuzz_settings(120)
@given(data=st.data(), channels=st.sampled_from([1, 2]))
def test_the_callback_never_raises_and_always_fills_its_output(
    data: st.DataObject, channels: int
) -> None:
    room = SimulatedBackend(RATE, realtime=False)
    vp = ca.VoiceProcessor(RATE, channels=channels, config=full_config())
    engine = AudioEngine(room, RATE, vp, channels=channels, capture_buffer_ms=2000)
    engine.write_far(np.full(20 * N, 0.05, np.float32))
    engine.start()
    cb = engine.callback
    calls = data.draw(st.lists(callback_args(channels), min_size=1, max_size=12))
    for indata, outdata, frames, status, _ in calls:
        cb(indata, outdata, frames, None, status)  # must not raise
        if outdata is not None:
            assert np.all(np.isfinite(outdata))
            assert not np.any(outdata == 7.0), "outdata not (fully) written"
    errors = engine.stats.callback_errors
    assert errors == sum(1 for *_, ok in calls if not ok)  # each failure counted, once
    if errors:
        with pytest.raises(CallbackError) as info:
            engine.stop()
        assert info.value.count == errors
    else:
        engine.stop()
    got = engine.read_capture()
    assert np.all(np.isfinite(got))
    assert engine.stats.frames == len(calls)
