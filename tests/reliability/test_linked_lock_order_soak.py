"""Linked groups over the same chains in opposite orders (``c1.link([c0])`` beside the
processor's ``c0``-led group) under two threads: the linked block took its render locks in
its own channel order while ``process_render`` (``render_shared``) took them in the
processor's, and the two deadlocked (about one run in two at 100 000 frames). A hang
fails through the subprocess timeout. make soak only (CALLAUDIO_SOAK=1); the capture
locks' cycle has a cheap deterministic test in tests/test_processor_entry.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ._support import soak_only

pytestmark = soak_only

_RENDER_AGAINST_REVERSED_BLOCK = """
import threading, numpy as np, callaudio as ca
vp = ca.VoiceProcessor(16000, channels=2)
c0, c1 = vp.chains()
assert c1.link([c0])
mic, far = np.zeros((160, 2), np.float32), np.zeros(160, np.float32)
def render():
    for _ in range(100_000):
        vp.process_render(far)
def block():
    out = mic.copy()
    for _ in range(100_000):
        c1.process_block_linked(mic, out, far)
threads = [threading.Thread(target=f) for f in (render, block)]
[t.start() for t in threads]
[t.join() for t in threads]
print("done")
"""


@pytest.mark.parametrize("run", range(3))
def test_a_reversed_linked_block_and_the_render_path_do_not_deadlock(run: int) -> None:
    try:
        r = subprocess.run(
            [sys.executable, "-c", _RENDER_AGAINST_REVERSED_BLOCK],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the linked block and the render path deadlocked")
    assert r.returncode == 0, r.stderr[-500:]
    assert r.stdout.split() == ["done"]
