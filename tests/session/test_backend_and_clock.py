"""The backend interface's in-memory implementation and the manual clock."""

from __future__ import annotations

import numpy as np
import pytest

from callaudio.audio import (
    ArraySource,
    AudioBackend,
    BackendFault,
    FaultKind,
    MemoryBackend,
    StreamConfig,
)
from callaudio.clock import ManualClock
from callaudio.errors import BackendError, ConfigError

CONFIG = StreamConfig(16000, 0.02, True, "mic", "speaker")


def test_memory_backend_satisfies_the_protocol() -> None:
    assert isinstance(MemoryBackend(), AudioBackend)
    assert CONFIG.block_size == 320


def test_memory_backend_records_every_request_in_order() -> None:
    b = MemoryBackend()
    src = ArraySource(np.zeros(10), 16000)
    b.start_duplex(CONFIG)
    b.start_record(CONFIG)
    b.start_playback(src)
    b.set_muted(True)
    b.set_speaker(True)
    b.reset_echo_canceller()
    assert b.is_running and b.duplex_running and b.record_running and b.playback_running
    b.stop_playback()
    b.stop_record()
    b.stop_duplex()
    b.stop_duplex()  # stopping a stopped stream does nothing (but is recorded)
    assert not b.is_running
    assert b.calls == [
        ("start_duplex", CONFIG),
        ("start_record", CONFIG),
        ("start_playback", src),
        ("set_muted", True),
        ("set_speaker", True),
        ("reset_echo_canceller",),
        ("stop_playback",),
        ("stop_record",),
        ("stop_duplex",),
        ("stop_duplex",),
    ]
    assert b.echo_resets == 1 and b.muted and b.speaker
    b.clear()
    assert b.names == []


@pytest.mark.parametrize("method", ["start_duplex", "start_record"])
def test_starting_a_running_stream_is_an_error(method: str) -> None:
    b = MemoryBackend()
    getattr(b, method)(CONFIG)
    with pytest.raises(BackendError, match="already running") as info:
        getattr(b, method)(CONFIG)
    assert info.value.operation == method


def test_playback_twice_is_an_error_and_finish_calls_back() -> None:
    b = MemoryBackend()
    done: list[str] = []
    b.start_playback(ArraySource(np.ones(4), 8000), lambda: done.append("done"))
    with pytest.raises(BackendError, match="already running"):
        b.start_playback(ArraySource(np.ones(4), 8000))
    np.testing.assert_array_equal(b.pull(6)[:, 0], [1, 1, 1, 1, 0, 0])
    b.finish_playback()
    assert done == ["done"] and not b.playback_running
    assert not b.pull(3).any()
    b.finish_playback()  # nothing playing: no callback
    assert done == ["done"]


def test_fail_next_and_faults() -> None:
    b = MemoryBackend()
    b.fail_next("start_duplex")
    with pytest.raises(BackendError, match="simulated failure"):
        b.start_duplex(CONFIG)
    assert not b.duplex_running
    b.start_duplex(CONFIG)  # only the next call fails
    faults: list[BackendFault] = []
    b.inject_fault(FaultKind.DEVICE_LOST)  # no handler: nothing
    b.set_fault_handler(faults.append)
    b.inject_fault(FaultKind.MEDIA_SERVICES_RESET, "host error -9999", device="hw:0")
    assert faults == [BackendFault(FaultKind.MEDIA_SERVICES_RESET, "host error -9999", "hw:0")]


def test_manual_clock_fires_due_timers_in_order_at_their_deadlines() -> None:
    clock = ManualClock(10.0)
    seen: list[tuple[str, float]] = []
    clock.call_at(15.0, lambda: seen.append(("b", clock.now())))
    clock.call_at(12.0, lambda: seen.append(("a", clock.now())))
    late = clock.call_at(40.0, lambda: seen.append(("late", clock.now())))
    clock.call_at(15.0, lambda: clock.call_at(16.0, lambda: seen.append(("chained", clock.now()))))
    cancelled = clock.call_at(13.0, lambda: seen.append(("cancelled", clock.now())))
    cancelled.cancel()
    assert clock.pending == 4
    clock.advance(10.0)
    assert seen == [("a", 12.0), ("b", 15.0), ("chained", 16.0)]
    assert clock.now() == 20.0 and clock.pending == 1
    late.cancel()
    clock.advance_to(50.0)
    assert seen[-1] == ("chained", 16.0) and clock.pending == 0
    with pytest.raises(ConfigError):
        clock.advance(-1.0)
    with pytest.raises(ConfigError):
        clock.advance_to(49.0)
    assert clock.now() == 50.0


def test_a_far_deadline_on_the_monotonic_clock_waits_and_cancels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # InterruptionPolicy(grace_period=1e10): threading.Timer died with OverflowError
    # ("timestamp out of range") in its thread, and the call was never ended by the rule
    import threading
    import time

    from callaudio.clock import MonotonicClock

    died: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: died.append(args.exc_value))
    clock = MonotonicClock()
    before = set(threading.enumerate())
    far = clock.call_at(time.monotonic() + 1e12, lambda: None)
    (thread,) = [
        t for t in threading.enumerate() if t not in before and t.name == "callaudio-timer"
    ]
    fired = threading.Event()
    clock.call_at(time.monotonic() + 0.01, fired.set)
    assert fired.wait(10)
    assert thread.is_alive() and died == []
    far.cancel()
    thread.join(10)
    assert not thread.is_alive() and died == []
    with pytest.raises(ConfigError, match="deadline"):
        clock.call_at(float("nan"), lambda: None)


def test_the_clocks_refuse_a_bad_time_or_callback_when_asked_not_when_due() -> None:
    """ManualClock took a NaN deadline (it broke the timer heap's order: the timer fired at
    the next advance, whatever its time), a callback that is not callable (a TypeError out
    of a later advance(); a MonotonicClock timer thread died of it), a NaN start, and
    advance('1') failed as a raw TypeError. Each is a ConfigError now, nothing scheduled."""
    import math

    from callaudio.clock import MonotonicClock

    clock = ManualClock()
    fired: list[float] = []
    for bad in (
        lambda: clock.call_at(math.nan, lambda: fired.append(-1.0)),
        lambda: clock.call_at("1", lambda: fired.append(-1.0)),
        lambda: clock.call_at(1.0, 5),
        lambda: clock.advance("1"),
        lambda: clock.advance(math.nan),
        lambda: clock.advance_to("2"),
        lambda: ManualClock(math.nan),
        lambda: ManualClock(math.inf),
        lambda: MonotonicClock().call_at(1.0, 5),
        lambda: MonotonicClock().call_at(math.nan, lambda: None),
    ):
        with pytest.raises(ConfigError):
            bad()
    assert clock.pending == 0 and clock.now() == 0.0
    clock.call_at(5.0, lambda: fired.append(clock.now()))
    clock.call_at(math.inf, lambda: fired.append(math.inf))  # never due: accepted
    clock.advance(np.float64(2.0))
    assert fired == [] and type(clock.now()) is float
    clock.advance(3.0)
    assert fired == [5.0] and clock.pending == 1


class _RaisingFloat(float):
    def __float__(self) -> float:
        raise RuntimeError("no float")


def test_manual_clock_takes_huge_and_odd_numbers_as_library_errors() -> None:
    """10**400 raised OverflowError from float(); a float subclass's __float__ its own error."""
    with pytest.raises(ConfigError, match="start"):
        ManualClock(10**400)
    with pytest.raises(ConfigError, match="start"):
        ManualClock(_RaisingFloat(1.0))
    clock = ManualClock()
    fired: list[int] = []
    timer = clock.call_at(10**400, lambda: fired.append(1))  # never due: an infinite deadline
    assert timer.deadline == float("inf")
    for bad in (10**400, -(10**400), _RaisingFloat(1.0)):
        with pytest.raises(ConfigError):
            clock.advance(bad)
        with pytest.raises(ConfigError):
            clock.advance_to(bad)
    assert clock.now() == 0.0 and clock.pending == 1
    clock.advance(1e300)
    assert fired == []


def test_the_memory_backend_checks_what_tests_hand_it() -> None:
    """pull(None/-1/10**400): TypeError/ValueError; fail_next with an array: TypeError
    (unhashable), with a non-exception error: a TypeError later, when it was raised."""
    b = MemoryBackend()
    for bad in (None, -1, 10**400, 2.5, np.zeros(2)):
        with pytest.raises(ConfigError, match="frames"):
            b.pull(bad)  # type: ignore[arg-type]
    assert b.pull(np.int64(3)).shape == (3, 1)
    with pytest.raises(ConfigError, match="operation"):
        b.fail_next(np.array(["start_duplex"]))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="error"):
        b.fail_next("start_duplex", "boom")  # type: ignore[arg-type]
