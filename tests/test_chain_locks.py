"""The compiled chains' path locks (internal API, ``callaudio._dsp.pipeline``).

Several locks at a time (``Chain.link``, the linked captures, ``render_shared``: one
try-and-retake helper). A hang fails through a join timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import callaudio as ca
from callaudio._dsp.pipeline import Chain

RATE = 16000


def _bounded(fn: Callable[[], Any], timeout: float = 20.0) -> Any:
    """``fn()`` in a daemon thread: its result, or its exception raised here; a failure if
    it has not returned after ``timeout`` (a lock it waits for never frees)."""
    box: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            box.append((True, fn()))
        except BaseException as exc:  # handed to the test's thread
            box.append((False, exc))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        pytest.fail("hung: it waits for a lock that never frees")
    ok, value = box[0]
    if not ok:
        raise value
    return value


def test_relinking_both_ways_beside_linked_captures_never_deadlocks() -> None:
    """``c0.link([c1])`` and ``c1.link([c0])`` take the same two capture locks in opposite
    orders, as do the two groups' linked captures: all four at once, then every lock free."""
    c0, c1 = ca.VoiceProcessor(RATE, channels=2).chains()
    mic = np.zeros((RATE // 100, 2), np.float32)

    def links(lead: Chain, other: Chain) -> None:
        for _ in range(200):
            lead.link([other])

    def captures(lead: Chain) -> None:
        for _ in range(200):
            try:
                lead.capture_linked(mic, mic.copy())
            except ValueError:  # not linked just now, or relinked during the call
                pass

    def all_at_once() -> None:
        ts = [
            threading.Thread(target=links, args=(c0, c1)),
            threading.Thread(target=links, args=(c1, c0)),
            threading.Thread(target=captures, args=(c0,)),
            threading.Thread(target=captures, args=(c1,)),
        ]
        [t.start() for t in ts]
        [t.join() for t in ts]

    _bounded(all_at_once)
    assert (c0.linked_channels, c1.linked_channels) == (2, 2)
    assert _bounded(lambda: c0.locked(lambda c: c1.locked(lambda d: d.linked_channels))) == 2
