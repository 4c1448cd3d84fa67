"""The echo canceller's lock-free render queue, rendered and captured on two threads.

Every far frame queued by ``render`` is either taken by exactly one ``capture``, dropped
as an overrun (the queue holds 50), or still queued: none is lost or taken twice, however
the two threads interleave. Deterministic work (frame counts), no timing.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from callaudio._dsp.aec import EchoCanceller

RATE = 8000
N = RATE // 100


@pytest.mark.parametrize("renders, captures", [(3000, 1500), (1500, 3000), (2000, 2000)])
def test_each_far_frame_is_taken_once_dropped_or_still_queued(renders: int, captures: int) -> None:
    aec = EchoCanceller(RATE)
    far = np.full(N, 0.01, np.float32)
    mic = np.zeros(N, np.float32)
    start = threading.Barrier(2)

    def render() -> None:
        start.wait()
        for _ in range(renders):
            aec.render(far)

    thread = threading.Thread(target=render)
    thread.start()
    start.wait()
    for _ in range(captures):
        aec.capture(mic)
    thread.join()
    taken = captures - aec.render_underruns
    remaining = 0  # drain what is still queued: captures until one finds the queue empty
    before = aec.render_underruns
    while aec.render_underruns == before:
        aec.capture(mic)
        remaining += 1
    remaining -= 1
    assert 0 <= remaining <= 50
    assert taken + aec.render_overruns + remaining == renders


def test_a_full_queue_drops_its_oldest_frames() -> None:
    aec = EchoCanceller(RATE)
    for i in range(60):
        aec.render(np.full(N, i / 100.0, np.float32))
    assert aec.render_overruns == 10
    aec.reset_all()
    assert aec.render_overruns == 0
    aec.capture(np.zeros(N, np.float32))
    assert aec.render_underruns == 1  # reset_all emptied the queue
