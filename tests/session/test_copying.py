"""Copying and pickling: the live objects (session, holds, calls, client, controller,
engine, backends, dispatchers, clocks) refuse with InvalidStateError and stay as they
were; the value objects (configurations, policies, events' fields) round-trip."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import copy
import pickle
import queue
from collections.abc import Callable
from typing import Any

import pytest

import callaudio as ca
from callaudio.audio.recording import MemoryBackend
from callaudio.call import CallState, EndCause
from callaudio.client import VoiceClient
from callaudio.clock import ManualClock
from callaudio.errors import InvalidStateError
from callaudio.events import (
    ExecutorDispatcher,
    QueueDispatcher,
    SynchronousDispatcher,
    ThreadDispatcher,
)
from callaudio.integrations.loop_clock import LoopClock
from callaudio.session import AudioSession, InterruptionPolicy

HOW: dict[str, Callable[[Any], Any]] = {
    "pickle": lambda o: pickle.loads(pickle.dumps(o)),
    "copy": copy.copy,
    "deepcopy": copy.deepcopy,
}


def _established() -> tuple[AudioSession, VoiceClient, Any]:
    session = AudioSession(dispatcher=SynchronousDispatcher())
    client = VoiceClient(
        MemoryBackend(), session=session, policy=InterruptionPolicy(clock=ManualClock())
    )
    call = client.start_call("bob")
    call.progress()
    call.answer()
    call.establish()
    return session, client, call


def _hold() -> Any:
    return AudioSession(dispatcher=SynchronousDispatcher()).activate()


FACTORIES: dict[str, Callable[[], Any]] = {
    "AudioSession": lambda: _established()[0],
    "SessionHold": _hold,
    "Call": lambda: _established()[2],
    "VoiceClient": lambda: _established()[1],
    "AudioController": lambda: _established()[1].audio_controller,
    "MemoryBackend": MemoryBackend,
    "EngineBackend": lambda: ca.make_backend("simulated", sample_rate=16000, realtime=False),
    "SimulatedBackend": lambda: ca.SimulatedBackend(16000),
    "AudioEngine": lambda: ca.AudioEngine(
        ca.SimulatedBackend(16000), 16000, ca.VoiceProcessor(16000)
    ),
    "ManualClock": ManualClock,
    "LoopClock": lambda: LoopClock(asyncio.new_event_loop()),
    "ThreadDispatcher": ThreadDispatcher,
    "QueueDispatcher": lambda: QueueDispatcher(queue.SimpleQueue()),
    "ExecutorDispatcher": lambda: ExecutorDispatcher(cf.ThreadPoolExecutor(1)),
}


@pytest.mark.parametrize("how", sorted(HOW))
@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_a_live_object_refuses_pickling_and_copying(name, how):
    obj = FACTORIES[name]()
    before = repr(obj)
    with pytest.raises(InvalidStateError, match="live state"):
        HOW[how](obj)
    assert repr(obj) == before


@pytest.mark.parametrize("how", ["copy", "deepcopy"])
def test_a_copied_call_cannot_end_the_session_under_the_original(how):
    # copy.copy(call).hangup() released the session's hold while the original call
    # stayed ESTABLISHED with no audio (and deepcopy failed on a raw TypeError)
    session, _client, call = _established()
    with pytest.raises(InvalidStateError):
        HOW[how](call)
    assert call.state is CallState.ESTABLISHED and session.is_active
    call.hangup()
    assert call.details.end_cause is EndCause.HUNG_UP and not session.is_active


def test_a_copied_session_is_refused_so_the_one_session_keeps_its_configuration():
    session, _, _ = _established()
    with pytest.raises(InvalidStateError, match="an AudioSession"):
        copy.copy(session)
    assert str(session.configuration).startswith("PLAY_AND_RECORD/VOICE_CHAT")


@pytest.mark.parametrize("how", sorted(HOW))
def test_an_interruption_policy_round_trips(how):
    policy = InterruptionPolicy(grace_period=5.0, causes={"voip-app": EndCause.VOIP_CALL_DETECTED})
    got = HOW[how](policy)
    assert got.grace_period == 5.0 and dict(got.causes) == dict(policy.causes)
    assert got.default_cause is EndCause.GSM_CALL_DETECTED
    with pytest.raises(TypeError):  # still read-only
        got.causes["x"] = EndCause.ERROR  # type: ignore[index]


def test_a_policy_on_a_manual_clock_copies_with_the_same_clock_and_refuses_a_deep_copy():
    clock = ManualClock()
    policy = InterruptionPolicy(clock=clock)
    assert copy.copy(policy).clock is clock
    with pytest.raises(InvalidStateError, match="ManualClock"):
        copy.deepcopy(policy)
