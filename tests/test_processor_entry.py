"""VoiceProcessor's compiled per-frame entry (``FrameEntry``) against its checked path.

The usual frame (native float32/int16, C-contiguous) runs in one compiled call; anything
else goes through the Python checks (copy or raise). Both must give the same output and
leave the same state.
"""

from __future__ import annotations

import numpy as np
import pytest

import callaudio as ca
from callaudio.errors import FrameError


def _signal(rate: int, frames: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    n = rate // 100
    far = (0.1 * rng.standard_normal((frames, n))).astype(np.float32)
    mic = 0.3 * np.repeat(far[:, :, None], channels, axis=2)
    mic += (0.05 * rng.standard_normal(mic.shape)).astype(np.float32)
    return mic.astype(np.float32), far


@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (48000, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_entry_and_checked_path_agree(rate: int, channels: int, dtype: type) -> None:
    mic, far = _signal(rate, 12, channels)
    if dtype is np.int16:
        mic = np.round(mic * 32767).astype(np.int16)
        far = np.round(far * 32767).astype(np.int16)
    fast, checked = ca.VoiceProcessor(rate, channels), ca.VoiceProcessor(rate, channels)
    for k in range(mic.shape[0]):
        m = mic[k] if channels > 1 else mic[k, :, 0]
        fast.process_render(far[k])
        a = fast.process_capture(m)  # contiguous: the compiled entry
        # a strided copy of each frame: the entry declines it, the checked path copies
        fw = np.zeros((*far[k].shape, 2), far.dtype)
        fw[:, 0] = far[k]
        checked.process_render(fw[:, 0])
        mw = np.zeros((*m.shape, 2), m.dtype)
        mw[..., 0] = m
        b = checked.process_capture(mw[..., 0])
        assert not mw[..., 0].flags.c_contiguous
        np.testing.assert_array_equal(a, b)
        assert a.dtype == m.dtype and a.shape == m.shape
    assert fast.stats == checked.stats


def test_entry_declines_what_the_checks_refuse() -> None:
    vp = ca.VoiceProcessor(16000)
    x = np.zeros(160, np.float32)
    before = vp.stats
    bad = [
        (np.zeros(160, np.float64), None),
        (np.zeros(161, np.float32), None),
        (np.zeros((160, 2), np.float32), None),
        (np.zeros(160, ">f4"), None),
        (x, np.zeros(160, np.int16)),
        (x, np.zeros(159, np.float32)),
        (x, np.zeros(160, np.float32)[::-1]),
        (x, "out"),
        ([0.0] * 160, None),
    ]
    ro = np.zeros(160, np.float32)
    ro.flags.writeable = False
    bad.append((x, ro))
    for mic, out in bad:
        with pytest.raises(FrameError):
            vp.process_capture(mic, out=out)  # type: ignore[arg-type]
    with pytest.raises(FrameError):
        vp.process_render(np.zeros(160, np.float64))
    assert vp.stats == before
    vp.close()
    with pytest.raises(ca.errors.InvalidStateError):
        vp.process_capture(x)
    with pytest.raises(ca.errors.InvalidStateError):
        vp.process_render(x)


def test_stereo_entry_copies_an_overlapping_out() -> None:
    """An out overlapping mic (not mic itself) is declined by the entry: the checked path
    copies mic first, so the result equals a separate out's."""
    a, b = ca.VoiceProcessor(16000, 2), ca.VoiceProcessor(16000, 2)
    mic, far = _signal(16000, 4, 2)
    for k in range(4):
        a.process_render(far[k])
        b.process_render(far[k])
        ref = a.process_capture(mic[k])
        buf = np.zeros((161, 2), np.float32)
        buf[1:] = mic[k]
        out = b.process_capture(buf[1:], out=buf[:160])
        np.testing.assert_array_equal(ref, out)


def test_linked_stereo_entry_runs_the_linked_capture() -> None:
    """A linked processor's stereo frame in the compiled entry takes the linked capture
    (one common gain, as Chain.capture_linked), never each channel on its own."""
    mic, far = _signal(48000, 12, 2)
    mic[:, :, 1] *= 0.25  # the channels differ: independent gains would differ from linked
    linked, ref, alone = (
        ca.VoiceProcessor(48000, 2),
        ca.VoiceProcessor(48000, 2),
        ca.VoiceProcessor(48000, 2, link_channels=False),
    )
    chains = ref._chains
    assert chains[0].linked_channels == 2
    a, b, c = (np.empty_like(mic) for _ in range(3))
    for k in range(mic.shape[0]):
        for vp in (linked, ref, alone):
            vp.process_render(far[k])
        a[k] = linked.process_capture(mic[k])  # the compiled entry
        chains[0].capture_linked(np.ascontiguousarray(mic[k]), b[k])
        c[k] = alone.process_capture(mic[k])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# The compiled chains a VoiceProcessor hands out (``chains()``, for an engine's callback)
# check their channel counts by division: a product ``frame_size * channels`` overflowed
# for a hostile count (2**62 + 1 passed as 1 channel), and the kernels read or wrote far
# outside the arrays (SIGSEGV) or divided by zero (SIGFPE). Run in a subprocess: before
# the fix each case killed the interpreter.
_HOSTILE_CHAIN_CALLS = """
import numpy as np, callaudio as ca
ch = ca.VoiceProcessor(16000).chains()[0]
m, o = np.zeros(160, np.float32), np.zeros(160, np.float32)
calls = [
    lambda: ch.process_block(m, o, None, 0, 2**62, 1),
    lambda: ch.process_block(m, o, np.zeros(0, np.float32), 0, 1, 2**62),
    lambda: ch.process_block(m, o, None, 0, 1, 0),
    lambda: ch.capture(m, o, 2**62, 2**62 + 1),
    lambda: ch.render(m, 2**62 + 1),
    lambda: ch.render(m, 0),
]
for call in calls:
    try:
        call()
    except ValueError:
        print("refused")
"""


def test_chain_calls_refuse_overflowing_channel_counts() -> None:
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-c", _HOSTILE_CHAIN_CALLS], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr[-500:]
    assert r.stdout.split() == ["refused"] * 6


# A chain built with no stage took any rate (only the stages checked theirs): Chain(0)
# divided by zero in process_block (SIGFPE), Chain(-48000) raised a bare MemoryError.
_ODD_RATE_CHAINS = """
import numpy as np, callaudio as ca
Chain = type(ca.VoiceProcessor(16000).chains()[0])
for rate in (0, -1, -48000, 12345, 22050, 96000, 2**31 - 1):
    try:
        ch = Chain(rate)
        ch.process_block(np.zeros(10, np.float32), np.zeros(10, np.float32), None, 0, 1, 1)
    except ca.ConfigError as e:
        print("refused", e.field)
"""


def test_a_chain_refuses_a_rate_the_chain_does_not_take_even_with_no_stage() -> None:
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-c", _ODD_RATE_CHAINS], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr[-500:]
    assert r.stdout.split() == ["refused", "sample_rate"] * 7
    ch = type(ca.VoiceProcessor(16000).chains()[0])(44100)  # every rate the chain takes
    assert ch.frame_size == 441 and ch.latency_samples == 0


def test_link_refuses_a_chain_twice_and_changes_nothing() -> None:
    # the same follower twice: the linked capture took its lock twice (a deadlock)
    vp = ca.VoiceProcessor(16000, channels=2)
    c0, c1 = vp.chains()
    with pytest.raises(ValueError, match="distinct"):
        c0.link([c1, c1])
    with pytest.raises(ValueError, match="distinct"):
        c0.link([c0])
    with pytest.raises(TypeError):
        c0.link([c1, "x"])
    assert c0.linked_channels == 2  # the refused links left the group as it was
    owner = object()
    vp.claim(owner)  # an engine's compiled callback runs the group without locks
    with pytest.raises(ValueError, match="claimed"):
        c0.link([])
    vp.release(owner)
    assert c0.linked_channels == 2
    ref = ca.VoiceProcessor(16000, channels=2)
    mic = _signal(16000, 3, 2)[0]
    for k in range(3):
        np.testing.assert_array_equal(vp.process_capture(mic[k]), ref.process_capture(mic[k]))


# Two linked groups over the same chains in opposite orders (c0 leads [c0, c1], then
# c1.link([c0]) leads [c1, c0]): each linked call took its leader's lock and waited for the
# other's, so two callers deadlocked. While one call holds both locks, a caller of each
# group waits for its first; when they are let go, each used to hold one lock and wait for
# the other (a hang: run in a subprocess).
_OPPOSITE_GROUPS = """
import threading, time, numpy as np, callaudio as ca
c0, c1 = ca.VoiceProcessor(16000, channels=2).chains()
assert c1.link([c0])
held = np.zeros((160 * 300, 2), np.float32)
mic = np.zeros((160, 2), np.float32)
for _ in range(8):
    holder = threading.Thread(target=c0.process_block_linked, args=(held, held.copy(), None))
    callers = [threading.Thread(target=c.capture_linked, args=(mic, mic.copy())) for c in (c0, c1)]
    holder.start()
    time.sleep(0.002)  # (the holder inside: otherwise the round finds nothing, never fails)
    [t.start() for t in callers]
    [t.join() for t in [holder, *callers]]
print("done")
"""


def test_linked_groups_in_opposite_orders_do_not_deadlock() -> None:
    import subprocess
    import sys

    try:
        r = subprocess.run(
            [sys.executable, "-c", _OPPOSITE_GROUPS], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the linked captures deadlocked")
    assert r.returncode == 0, r.stderr[-500:]
    assert r.stdout.split() == ["done"]


# Two chains feeding each other's far frame from two threads (a.render_shared(b) takes b's
# render lock then a's, b.render_shared(a) a's then b's) deadlocked both for good.
_SHARED_BOTH_WAYS = """
import threading, numpy as np, callaudio as ca
a, b = ca.VoiceProcessor(16000, channels=2, link_channels=False).chains()
def loop(x, y):
    for _ in range(50000):
        x.render_shared(y)
ts = [threading.Thread(target=loop, args=p) for p in ((a, b), (b, a))]
[t.start() for t in ts]; [t.join() for t in ts]
print("done")
"""


def test_render_shared_both_ways_at_once_does_not_deadlock() -> None:
    import subprocess
    import sys

    try:
        r = subprocess.run(
            [sys.executable, "-c", _SHARED_BOTH_WAYS], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail("render_shared deadlocked")
    assert r.returncode == 0, r.stderr[-500:]
    assert r.stdout.split() == ["done"]
