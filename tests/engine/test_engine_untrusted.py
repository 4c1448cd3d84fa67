"""What an application can hand the compiled callback that it must not trust: a sound's
position written from outside, a PreparedSound subclass whose arrays lie. Crash cases run
in a subprocess with a timeout (a wrong pointer is a SIGSEGV, not an exception)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_engine_races import _run  # the subprocess runner with a timeout

from callaudio.devices.simulated import SimulatedBackend
from callaudio.engine import AudioEngine, PreparedSound
from callaudio.errors import ConfigError

RATE = 16000
N = RATE // 100

# -- a sound's position out of range ----------------------------------------------------------

POSITIONS = (1600 + 5, 10**9 + 3, -7, -(10**12), -(2**63), 2**63 - 1)

OUT_OF_RANGE = """
import json, numpy as np
from callaudio.devices.simulated import SimulatedBackend
from callaudio.engine import AudioEngine, PreparedSound
dev = SimulatedBackend(sample_rate=16000, realtime=False)
eng = AudioEngine(dev, 16000, monitor=True)
eng.start()
ramp = (np.arange(1600, dtype=np.float32) + 1) / 2048.0
out = []
for loop in (True, False):
    for pos in json.loads(__import__("sys").argv[1]):
        snd = PreparedSound(ramp, loop=loop)
        eng.play(snd)
        dev.run_frames(1)
        eng.read_monitor()
        snd.core_arrays()[1][0] = pos    # the writable state the callback advances
        dev.run_frames(1)
        played, _ = eng.read_monitor()
        out.append([loop, pos, snd.position, float(played[0])])
eng.stop()
print(json.dumps(out))
"""


def _expected(loop: bool, pos: int, total: int = 1600) -> tuple[int, int]:
    """(first sample index played or -1 for silence, position after one frame)."""
    if 0 <= pos <= total:
        start = pos
    elif loop:
        start = pos % total
    else:
        start = 0 if pos < 0 else total
    if not loop and start >= total:
        return -1, total
    end = start + N
    return start, end % total if loop else min(end, total)


def test_an_out_of_range_position_is_wrapped_or_clamped_by_the_compiled_mixer():
    rows = json.loads(_run(OUT_OF_RANGE, json.dumps(POSITIONS), timeout=60).splitlines()[-1])
    assert len(rows) == 2 * len(POSITIONS)
    for loop, pos, after, first in rows:
        start, end = _expected(loop, pos)
        assert after == end, (loop, pos)
        assert first == pytest.approx(0.0 if start < 0 else (start + 1) / 2048.0), (loop, pos)


@pytest.mark.parametrize("loop", [True, False])
@pytest.mark.parametrize("pos", POSITIONS)
def test_mix_into_wraps_or_clamps_a_position_as_the_compiled_mixer(loop, pos):
    snd = PreparedSound((np.arange(1600, dtype=np.float32) + 1) / 2048.0, loop=loop)
    snd.core_arrays()[1][0] = pos
    buf = np.zeros((N, 1), np.float32)
    snd.mix_into(buf)
    start, end = _expected(loop, pos)
    assert snd.position == end
    assert buf[0, 0] == pytest.approx(0.0 if start < 0 else (start + 1) / 2048.0)


def test_the_public_state_is_a_read_only_view_of_the_live_one():
    snd = PreparedSound(np.full(320, 0.1, np.float32), start=7)
    state = snd.state
    with pytest.raises(ValueError, match="read-only"):
        state[0] = 10**9
    assert state.tolist() == [7, 0]
    snd.stop()  # a view: it follows the live pair
    assert state.tolist() == [7, 1]
    assert snd.stopped


# -- PreparedSound subclasses that lie ---------------------------------------------------------

SUBCLASS_COPIES = """
import gc, numpy as np
from callaudio.devices.simulated import SimulatedBackend
from callaudio.engine import AudioEngine, PreparedSound
class CopyingSamples(PreparedSound):
    @property
    def samples(self):
        return self.core_arrays()[0].copy()      # freed as soon as play() returns
class CopyingArrays(PreparedSound):
    def core_arrays(self):
        x, st = super().core_arrays()
        return x.copy(), st.copy()               # the engine must keep these alive
dev = SimulatedBackend(sample_rate=16000, realtime=False)
eng = AudioEngine(dev, 16000, monitor=True)
eng.start()
for cls in (CopyingSamples, CopyingArrays):
    eng.play(cls(np.full(1_000_000, 0.1, np.float32), loop=True))
    gc.collect()
    junk = [np.full(1_000_000, -0.7, np.float32) for _ in range(3)]  # reuses freed memory
    dev.run_frames(5)
    played, _ = eng.read_monitor()
    assert played.size and np.allclose(played, 0.1), (cls.__name__, set(played.tolist()))
eng.play(None)
dev.run_frames(2)
eng.stop()
print("ok")
"""


def test_play_keeps_the_very_arrays_it_hands_to_the_callback_alive():
    assert _run(SUBCLASS_COPIES, timeout=60).strip().endswith("ok")


class _WrongState(PreparedSound):
    def core_arrays(self):
        return super().core_arrays()[0], np.zeros(3, np.int64)


class _ReadOnlyState(PreparedSound):
    def core_arrays(self):
        return super().core_arrays()[0], self.state


class _Float64(PreparedSound):
    def core_arrays(self):
        x, st = super().core_arrays()
        return x.astype(np.float64), st


@pytest.mark.parametrize("cls", [_WrongState, _ReadOnlyState, _Float64])
def test_a_subclass_handing_over_wrong_arrays_is_refused_and_changes_nothing(cls):
    dev = SimulatedBackend(sample_rate=RATE, realtime=False)
    with AudioEngine(dev, RATE) as eng:
        playing = PreparedSound(np.full(16000, 0.1, np.float32), loop=True)
        eng.play(playing)
        with pytest.raises(ConfigError, match="source"):
            eng.play(cls(np.zeros(160, np.float32)))
        assert eng.source is playing
        dev.run_frames(2)
        assert playing.position == 2 * N


# -- the simulated room's and the rings' arguments ---------------------------------------------


@pytest.mark.parametrize("count", [-1, 1.5, True, "2"])
def test_run_frames_takes_an_int_count_only(count):
    dev = SimulatedBackend(sample_rate=RATE, realtime=False)
    with AudioEngine(dev, RATE) as eng:
        with pytest.raises(ConfigError, match="count"):
            dev.run_frames(count)
        dev.run_frames(np.int64(2))
        assert eng.stats.frames == 2


@pytest.mark.parametrize(
    "options", [{"seed": -1}, {"seed": 1.5}, {"realtime": "no"}, {"record": "no"}]
)
def test_the_simulated_room_refuses_bad_options(options):
    with pytest.raises(ConfigError, match=next(iter(options))):
        SimulatedBackend(sample_rate=RATE, **options)


@pytest.mark.parametrize("timeout", [2**2000, -1.0, float("nan"), True, "1"])
def test_ring_timeouts_refuse_what_is_no_number_of_seconds(timeout):
    with AudioEngine(SimulatedBackend(sample_rate=RATE, realtime=False), RATE) as eng:
        with pytest.raises(ConfigError, match="timeout"):
            eng.write_far(np.zeros(N, np.float32), timeout=timeout)
        with pytest.raises(ConfigError, match="timeout"):
            eng.read_capture(1, timeout=timeout)
        assert eng.far_queued_ms() == 0.0
