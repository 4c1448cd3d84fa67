"""Threads: event delivery off the caller's thread, in order; transitions from many threads."""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import queue
import random
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from callaudio.audio.base import StreamConfig
from callaudio.audio.recording import MemoryBackend
from callaudio.call import Call, CallState, EndCause
from callaudio.client import VoiceClient
from callaudio.clock import ManualClock, MonotonicClock
from callaudio.errors import (
    ActivationError,
    ConfigTypeError,
    InvalidStateError,
    SessionBusyError,
)
from callaudio.events import (
    Event,
    ExecutorDispatcher,
    QueueDispatcher,
    SynchronousDispatcher,
    ThreadDispatcher,
)
from callaudio.session import AudioSession, InterruptionPolicy

from .helpers import EventLog, check_invariants, established


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.threads: set[int] = set()

    def on_event(self, event: Event) -> None:
        self.threads.add(threading.get_ident())
        self.events.append(event)


def test_thread_dispatcher_delivers_on_one_event_thread_in_order(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dispatcher = ThreadDispatcher()
    session = AudioSession(dispatcher=dispatcher)
    order: list[str] = []

    class Broken:
        def on_did_set_active(self, active: bool) -> None:
            order.append("broken")
            raise RuntimeError("observer bug")

    rec = Recorder()
    session.add_observer(Broken())
    session.add_observer(rec)
    with caplog.at_level(logging.ERROR, logger="callaudio.events"):
        for _ in range(50):
            with session.activate():
                pass
        assert dispatcher.flush(timeout=5.0)
    assert rec.threads and threading.get_ident() not in rec.threads and len(rec.threads) == 1
    assert dispatcher.thread is not None and rec.threads == {dispatcher.thread.ident}
    assert [e.data["active"] for e in rec.events if e.name == "did_set_active"] == [
        True,
        False,
    ] * 50
    assert [e.name for e in rec.events[:2]] == ["will_set_active", "did_set_active"]
    assert order.count("broken") == 100 and len(caplog.records) == 100
    dispatcher.close(timeout=5.0)
    assert not dispatcher.thread.is_alive()


def test_the_event_thread_ends_with_its_session_and_when_its_dispatcher_is_replaced() -> None:
    """One event thread per session used to outlive it (and each replaced dispatcher):
    a server making a session per call ran into the thread limit."""
    session = AudioSession()  # the default ThreadDispatcher
    rec = Recorder()
    session.add_observer(rec)
    session.activate().release()
    dispatcher = session.dispatcher
    assert isinstance(dispatcher, ThreadDispatcher) and dispatcher.flush(timeout=5.0)
    first = dispatcher.thread
    assert first is not None and first.is_alive()
    session.dispatcher = ThreadDispatcher()
    first.join(timeout=5.0)
    assert not first.is_alive()
    session.activate().release()  # delivered by the new dispatcher's thread
    second = session.dispatcher.thread
    assert second is not None and second is not first
    session.dispatcher.flush(timeout=5.0)  # type: ignore[attr-defined]
    assert len(rec.events) == 8 and rec.threads == {first.ident, second.ident}
    dispatcher.submit(lambda: None)  # a closed dispatcher used again starts a thread again
    assert dispatcher.flush(timeout=5.0) and dispatcher.thread is not first
    del session, dispatcher
    gc.collect()
    second.join(timeout=5.0)
    assert not second.is_alive()


def test_queue_dispatcher_hands_deliveries_to_the_application() -> None:
    app_queue: queue.Queue[object] = queue.Queue()
    session = AudioSession(dispatcher=QueueDispatcher(app_queue))
    rec = Recorder()
    session.add_observer(rec)
    with session.activate():
        pass
    assert rec.events == []  # nothing runs until the application drains its queue
    while not app_queue.empty():
        delivery = app_queue.get_nowait()
        assert callable(delivery)
        delivery()
    assert [str(e) for e in rec.events] == [
        "will_set_active(active=True)",
        "did_set_active(active=True)",
        "will_set_active(active=False)",
        "did_set_active(active=False)",
    ]
    assert rec.threads == {threading.get_ident()}
    with pytest.raises(TypeError):
        QueueDispatcher(object())


def test_queue_dispatcher_on_an_asyncio_queue_delivers_on_its_loop() -> None:
    """asyncio.Queue.put is a coroutine: calling it dropped every event silently."""
    with pytest.raises(ConfigTypeError, match="running event loop"):
        QueueDispatcher(asyncio.Queue())  # no loop runs: no way to reach the queue

    async def app() -> list[str]:
        app_queue: asyncio.Queue[Callable[[], None]] = asyncio.Queue()
        session = AudioSession(dispatcher=QueueDispatcher(app_queue))
        rec = Recorder()
        session.add_observer(rec)
        worker = threading.Thread(target=lambda: session.activate().release())
        worker.start()  # events from another thread reach the loop's queue too
        await asyncio.get_running_loop().run_in_executor(None, worker.join)
        for _ in range(4):
            (await asyncio.wait_for(app_queue.get(), 5.0))()
        assert rec.threads == {threading.get_ident()} and app_queue.empty()
        return [str(e) for e in rec.events]

    assert asyncio.run(app()) == [
        "will_set_active(active=True)",
        "did_set_active(active=True)",
        "will_set_active(active=False)",
        "did_set_active(active=False)",
    ]


def test_executor_dispatcher_keeps_order_on_a_pool() -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        dispatcher = ExecutorDispatcher(pool)
        seen: list[int] = []
        done = threading.Event()
        for i in range(2000):
            dispatcher.submit(lambda i=i: seen.append(i))
        dispatcher.submit(done.set)
        assert done.wait(10.0)
    assert seen == list(range(2000))


def _worker(
    client: VoiceClient,
    clock: ManualClock,
    seed: int,
    errors: list[BaseException],
    steps: int = 300,
) -> None:
    rng = random.Random(seed)
    session = client.session
    source = f"source-{seed}"
    calls: list[Call] = []
    holds = []
    try:
        for _ in range(steps):
            op = rng.randrange(10)
            try:
                if op == 0:
                    calls.append(
                        client.start_call() if rng.random() < 0.5 else client.incoming_call()
                    )
                elif op in (1, 2) and calls:
                    call = rng.choice(calls)
                    event = rng.choice(["progress", "ring", "answer", "establish", "end"])
                    if event == "end":
                        call.end(rng.choice([EndCause.HUNG_UP, EndCause.CANCELED]))
                    else:
                        getattr(call, event)()
                elif op == 3:
                    session.begin_interruption(source, voip=rng.random() < 0.5)
                elif op == 4:
                    session.end_interruption(source, should_resume=rng.random() < 0.7)
                elif op == 5:
                    holds.append(session.activate(f"app-{seed}"))
                elif op == 6 and holds:
                    session.release(holds.pop(rng.randrange(len(holds))))
                elif op == 7:
                    clock.advance(rng.choice([0.5, 10.0, 31.0]))
                elif op == 8:
                    ctrl = client.audio_controller
                    rng.choice(
                        [ctrl.enable_speaker, ctrl.disable_speaker, ctrl.mute, ctrl.unmute]
                    )()
                elif op == 9:
                    with session.lock:  # a consistent view while other threads run
                        check_invariants(session, client, quiescent=False)
            except (InvalidStateError, ActivationError, SessionBusyError):
                pass
            calls = [c for c in calls if c.is_live]
        session.end_interruption(source)
    except BaseException as exc:  # pragma: no cover - reported below
        errors.append(exc)


def test_transitions_from_many_threads_keep_the_invariants(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dispatcher = ThreadDispatcher()
    session = AudioSession(dispatcher=dispatcher)
    rec = Recorder()
    session.add_observer(rec)
    clock = ManualClock()
    backend = MemoryBackend()
    client = VoiceClient(backend, session=session, policy=InterruptionPolicy(clock=clock))
    errors: list[BaseException] = []
    with caplog.at_level(logging.ERROR):
        threads = [
            threading.Thread(target=_worker, args=(client, clock, seed, errors))
            for seed in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30.0)
    assert not errors, errors
    assert all(not t.is_alive() for t in threads)
    check_invariants(session, client)
    for call in list(client.calls):
        call.end(EndCause.HUNG_UP)
    check_invariants(session, client)
    assert session.call_hold_count == 0 and not backend.duplex_running
    assert dispatcher.flush(timeout=10.0)
    # one event thread, events in a consistent order
    assert len(rec.threads) == 1 and threading.get_ident() not in rec.threads
    flags = [e.data["active"] for e in rec.events if e.name == "did_set_active"]
    assert all(a != b for a, b in itertools.pairwise(flags))
    established = {e.data["call"].call_id for e in rec.events if e.name == "call_established"}
    ended = [e.data["call"].call_id for e in rec.events if e.name == "call_ended"]
    assert len(ended) == len(set(ended))  # every call ends once
    assert established <= set(ended)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    dispatcher.close(timeout=5.0)


def test_grace_timer_racing_with_the_end_of_the_interruption() -> None:
    """A real timer thread and the application race; each round ends in exactly one way."""
    session = AudioSession(dispatcher=SynchronousDispatcher())
    clock = MonotonicClock()
    client = VoiceClient(
        MemoryBackend(),
        session=session,
        policy=InterruptionPolicy(grace_period=0.0005, clock=clock),
    )
    outcomes = {"ended": 0, "resumed": 0}
    rng = random.Random(7)
    for _ in range(40):
        call = client.incoming_call()
        call.answer()
        call.establish()
        session.begin_interruption("pstn")
        deadline = client.grace_deadline
        assert deadline is not None
        # end the interruption within +-0.3 ms of the deadline: a short spin that yields
        # the GIL so the timer thread can run
        target = deadline + rng.uniform(-0.0003, 0.0003)
        while clock.now() < target:
            time.sleep(0)
        session.end_interruption("pstn")
        with session.lock:
            check_invariants(session, client)
            if call.state is CallState.ENDED:
                assert call.details.end_cause is EndCause.GSM_CALL_DETECTED
                outcomes["ended"] += 1
            else:
                assert not call.is_interrupted and session.is_active
                outcomes["resumed"] += 1
                call.hangup()
    assert sum(outcomes.values()) == 40
    assert outcomes["resumed"] > 0  # ended before the deadline at least once
    check_invariants(session, client)
    assert session.activation_count == 0


#: A call's events, in the order observers get them: (state, event) -> next state.
_CALL_EVENT_ORDER = {
    ("new", "call_established"): "established",
    ("established", "call_interrupted"): "interrupted",
    ("interrupted", "call_resumed"): "established",
    ("new", "call_ended"): "ended",
    ("established", "call_ended"): "ended",
    ("interrupted", "call_ended"): "ended",
}


def _check_call_event_order(events: list[Event]) -> None:
    """Per call: established, then interrupted/resumed alternating, then ended."""
    states: dict[str, str] = {}
    for e in events:
        if e.name in ("call_established", "call_interrupted", "call_resumed", "call_ended"):
            cid = e.data["call"].call_id
            state = _CALL_EVENT_ORDER.get((states.get(cid, "new"), e.name))
            assert state is not None, (cid, [str(x) for x in events if x.data.get("call")])
            states[cid] = state


def test_many_threads_with_a_tiny_switch_interval_keep_the_invariants() -> None:
    """The test above, with a thread switch every microsecond and many rounds: an invariant
    broken while the lock is free (a transition done in two steps) shows up in a few rounds,
    and so does a call event announced out of order."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for round_ in range(30):
            session = AudioSession(dispatcher=SynchronousDispatcher())
            rec = Recorder()
            session.add_observer(rec)
            clock = ManualClock()
            client = VoiceClient(
                MemoryBackend(), session=session, policy=InterruptionPolicy(clock=clock)
            )
            errors: list[BaseException] = []
            threads = [
                threading.Thread(target=_worker, args=(client, clock, 4 * round_ + k, errors, 150))
                for k in range(4)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=30.0)
            assert all(not t.is_alive() for t in threads)
            assert not errors, (round_, errors)
            check_invariants(session, client, quiescent=False)
            for call in list(client.calls):
                call.end(EndCause.HUNG_UP)
            _check_call_event_order(rec.events)
    finally:
        sys.setswitchinterval(previous)


class GatedRestart(MemoryBackend):
    """A backend whose next resuming ``start_duplex`` waits until :attr:`go` is set (the
    audio thread is slow to open the device)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.go = threading.Event()

    def start_duplex(self, config: StreamConfig, *, resume: bool = False) -> None:
        if resume and not self.go.is_set():
            self.entered.set()
            assert self.go.wait(10.0)
        super().start_duplex(config, resume=resume)


def test_a_resume_whose_audio_is_still_starting_is_complete_under_the_lock() -> None:
    """Row 6 is one step: while the restarted stream is still opening (the lock is free),
    the call is no longer marked interrupted; an interruption that begins meanwhile marks it
    again, and the late answer of the restart neither clears that mark nor announces a
    resume, so the grace timer still ends the call."""
    session = AudioSession(dispatcher=SynchronousDispatcher())
    log = EventLog()
    session.add_observer(log)
    clock = ManualClock()
    backend = GatedRestart()
    client = VoiceClient(backend, session=session, policy=InterruptionPolicy(clock=clock))
    call = established(client)
    session.begin_interruption("pstn")
    ender = threading.Thread(target=session.end_interruption, args=("pstn",))
    ender.start()
    assert backend.entered.wait(10.0)  # the restart runs, the lock is free
    try:
        with session.lock:
            assert not session.is_interrupted and session.is_active
            assert not call.is_interrupted and client.grace_deadline is None
            check_invariants(session, client)
            session.begin_interruption("alarm")
            assert call.is_interrupted and client.grace_deadline == clock.now() + 30.0
    finally:
        backend.go.set()
        ender.join(10.0)
    assert not ender.is_alive()
    with session.lock:
        check_invariants(session, client)
        assert call.is_interrupted and not client.is_duplex_running
    names = log.names()
    assert names.count("call_interrupted") == 1 and "call_resumed" not in names
    clock.advance(30.0)
    assert call.state is CallState.ENDED
    assert call.details.end_cause is EndCause.GSM_CALL_DETECTED
    check_invariants(session, client)
    assert not backend.duplex_running and session.activation_count == 0
