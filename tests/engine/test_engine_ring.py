"""The lock-free single-producer/single-consumer frame ring."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from callaudio.engine import FrameRing
from callaudio.errors import ConfigError, FrameError


def test_push_pop_in_order_until_full_and_empty():
    ring = FrameRing(3, 4)
    frames = [np.full((4, 1), i, np.float32) for i in range(4)]
    assert [ring.push(f) for f in frames] == [True, True, True, False]
    assert len(ring) == 3 and ring.free() == 0
    out = np.empty((4, 1), np.float32)
    got = []
    while ring.pop_into(out):
        got.append(out[0, 0])
    assert got == [0.0, 1.0, 2.0]
    # A failed pop leaves ``out`` untouched.
    out[:] = 7.0
    assert not ring.pop_into(out)
    assert np.all(out == 7.0)


def test_write_any_length_publishes_whole_frames_and_flush_pads():
    ring = FrameRing(10, 4)
    x = np.arange(10, dtype=np.float32)
    assert ring.write(x[:3]) == 3
    assert len(ring) == 0  # a partial frame is not published
    assert ring.write(x[3:10]) == 7
    assert len(ring) == 2
    assert ring.flush()
    y = ring.read()
    np.testing.assert_array_equal(y, np.r_[x, 0.0, 0.0])


def test_write_stops_when_full_and_accepts_the_rest_later():
    ring = FrameRing(2, 4)
    x = np.arange(14, dtype=np.float32)
    k = ring.write(x)
    assert k == 8  # two whole frames; nothing of the rest
    assert len(ring) == 2
    first = ring.read(1)
    np.testing.assert_array_equal(first, x[:4])
    k2 = ring.write(x[k:])
    assert k2 == 6  # one whole frame published, two samples held as a partial frame
    np.testing.assert_array_equal(ring.read(), x[4:12])
    assert ring.flush()
    np.testing.assert_array_equal(ring.read(), [12.0, 13.0, 0.0, 0.0])


def test_int16_is_scaled_and_bad_shapes_are_refused():
    ring = FrameRing(2, 2)
    ring.write(np.array([16384, -32768], dtype=np.int16))
    np.testing.assert_array_equal(ring.read(), [0.5, -1.0])
    with pytest.raises(FrameError, match="shape"):
        ring.write(np.zeros((4, 2), np.float32))
    with pytest.raises(FrameError, match="dtype"):
        ring.write(np.array(["a"]))
    with pytest.raises(ConfigError, match="capacity"):
        FrameRing(0, 4)


def test_multichannel_frames_keep_their_layout():
    ring = FrameRing(4, 3, channels=2)
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    assert ring.write(x) == 6
    np.testing.assert_array_equal(ring.read(), x)


def test_threaded_producer_and_consumer_lose_and_reorder_nothing():
    """One producer thread, one consumer thread, no lock: every sample arrives, in order."""
    ring = FrameRing(8, 16)
    total_frames = 2000
    x = np.arange(total_frames * 16, dtype=np.float32)
    received: list[np.ndarray] = []

    def produce() -> None:
        pos = 0
        while pos < x.size:
            k = ring.write(x[pos : pos + 40])
            pos += k
            if k == 0:
                time.sleep(0)  # let the consumer run

    def consume() -> None:
        out = np.empty((16, 1), np.float32)
        n = 0
        while n < total_frames:
            if ring.pop_into(out):
                received.append(out[:, 0].copy())
                n += 1
            else:
                time.sleep(0)

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    np.testing.assert_array_equal(np.concatenate(received), x)
