"""The compiled chains' path locks (internal API, ``callaudio._dsp.pipeline``).

Several locks at a time (``Chain.link``, the linked captures, ``render_shared``: one
try-and-retake helper), a thread that holds a chain's capture lock inside ``Chain.locked``
calling back into the chains, and claims that belong to the chain's shared state (a second
``Chain`` built on a claimed state is claimed too). A hang fails through a join timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import callaudio as ca
from callaudio._dsp.pipeline import Chain, ChainLockHeld

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


def _shadow(ch: Chain) -> Chain:
    """A second chain on ``ch``'s state with its stages (as a rebuild adopts them)."""
    return Chain(
        RATE,
        high_pass=ch.high_pass,
        echo_canceller=ch.echo_canceller,
        noise_suppressor=ch.noise_suppressor,
        gain_control=ch.gain_control,
        state=ch.state,
        split_bands=ch.split_bands,
        shared_analysis=ch.shared_analysis,
    )


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


def test_link_inside_locked_is_refused_instead_of_waiting_for_itself() -> None:
    """``a.locked(lambda _: b.link([a]))`` spun for ever (it retried a lock its own thread
    held); ``a.link`` and ``a.locked`` in there waited for ever. They raise ChainLockHeld,
    change nothing and hold nothing afterwards."""
    vp = ca.VoiceProcessor(RATE, channels=2, link_channels=False)
    a, b = vp.chains()
    for call in (
        lambda _: b.link([a]),
        lambda _: a.link([b]),
        lambda _: a.link([]),
        lambda _: a.locked(lambda c: 0),
    ):
        with pytest.raises(ChainLockHeld, match="inside Chain"):
            _bounded(lambda call=call: a.locked(call))
    assert (a.linked_channels, b.linked_channels) == (0, 0)
    assert _bounded(lambda: b.link([a])) and b.linked_channels == 2
    mic = np.zeros((RATE // 100, 2), np.float32)
    with pytest.raises(ChainLockHeld):  # a follower's lock, held, in a linked capture
        _bounded(lambda: a.locked(lambda _: b.capture_linked(mic, mic.copy())))
    assert _bounded(lambda: b.capture_linked(mic, mic.copy())) == 0


@pytest.mark.parametrize("channels", [1, 2])
def test_a_chain_or_processor_call_inside_locked_raises_instead_of_waiting_for_itself(
    channels: int,
) -> None:
    """Inside ``Chain.locked`` (its thread holds the capture lock) the chain's ``capture``,
    ``process_block``, ``reset``, ``reset_echo_path``, ``claim`` and ``release``, and the
    processor's reset and frame calls that take that lock, waited for ever; the processor's
    ``claim`` raised after recording its owner (the processor stayed IN USE for good). Each
    now raises ChainLockHeld, an InvalidStateError, and changes nothing."""
    vp = ca.VoiceProcessor(RATE, channels=channels, link_channels=False)
    ch = vp.chains()[0]
    n = RATE // 100
    x = np.zeros(n if channels == 1 else (n, channels), np.float32)
    strided = np.zeros((2 * n, channels), np.float32)[::2]  # the checked (copying) path
    for call in (
        lambda c: c.capture(x, x.copy(), 0, channels),
        lambda c: c.process_block(x, x.copy(), None, 0, channels, 1),
        lambda c: c.reset(),
        lambda c: c.reset_echo_path(),
        lambda c: c.claim("key"),
        lambda c: c.release("key"),
        lambda c: vp.reset(),
        lambda c: vp.reset_echo_path(),
        lambda c: vp.process_capture(x),
        lambda c: vp.process_capture(strided if channels > 1 else strided[:, 0]),
        lambda c: vp.claim(object()),
    ):
        with pytest.raises(ca.InvalidStateError, match=r"inside Chain\.locked"):
            _bounded(lambda call=call: ch.locked(call))
    assert not ch.claimed and vp.stats.capture_frames == 0
    assert vp.process_capture(x).shape == x.shape
    vp.reset()
    vp.close()  # not IN USE: the refused claim recorded no owner


def test_link_waits_for_another_threads_locked_section() -> None:
    """Only the thread inside ``locked`` is refused: another one waits its turn."""
    a, b = ca.VoiceProcessor(RATE, channels=2, link_channels=False).chains()
    inside, leave = threading.Event(), threading.Event()
    holder = threading.Thread(target=a.locked, args=(lambda _: (inside.set(), leave.wait(10)),))
    holder.start()
    assert inside.wait(10)
    done: list[bool] = []
    linker = threading.Thread(target=lambda: done.append(b.link([a])))
    linker.start()
    linker.join(0.05)
    assert done == []  # waiting for a's lock (refusing would end the thread with nothing)
    leave.set()
    holder.join(10)
    linker.join(10)
    assert done == [True] and b.linked_channels == 2


def test_a_chain_built_on_a_claimed_state_is_claimed_too() -> None:
    """The claim was the chain object's: a second chain on a running chain's state, with
    its stages, was linked (rewiring the running cancellers' delay sharing under the
    callback) and could release the state. Now the claim is the state's, with its key."""
    vp = ca.VoiceProcessor(RATE, channels=2, link_channels=False)
    c0, c1 = vp.chains()
    owner = object()
    vp.claim(owner)
    s0, s1 = _shadow(c0), _shadow(c1)
    assert s0.claimed and s1.claimed
    for lead, followers in ((s0, [s1]), (s0, []), (s1, [c0]), (c0, [s1])):
        with pytest.raises(ValueError, match="claimed"):
            lead.link(followers)
    assert (c0.linked_channels, s0.linked_channels, s1.linked_channels) == (0, 0, 0)
    assert s0.release() is False and c0.claimed  # not the claim's key: still claimed
    assert c0.release(object()) is False and c0.claimed
    vp.release(owner)
    assert not s0.claimed and s0.link([s1]) and s0.linked_channels == 2
