"""Fixtures: a fresh session with synchronous events, a manual clock, a memory backend."""

from __future__ import annotations

import pytest

from callaudio.audio.recording import MemoryBackend
from callaudio.client import VoiceClient
from callaudio.clock import ManualClock
from callaudio.events import SynchronousDispatcher
from callaudio.session import AudioSession, InterruptionPolicy

from .helpers import EventLog


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def session() -> AudioSession:
    return AudioSession(dispatcher=SynchronousDispatcher())


@pytest.fixture
def log(session: AudioSession) -> EventLog:
    events = EventLog()
    session.add_observer(events)
    return events


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()


@pytest.fixture
def client(session: AudioSession, backend: MemoryBackend, clock: ManualClock) -> VoiceClient:
    return VoiceClient(backend, session=session, policy=InterruptionPolicy(clock=clock))
