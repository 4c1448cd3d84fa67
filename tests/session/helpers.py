"""Shared helpers for the session-layer tests."""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import numpy as np

from callaudio.call import Call, CallState
from callaudio.client import VoiceClient
from callaudio.events import Event
from callaudio.session import AudioSession


class EventLog:
    """An observer that keeps every event as a short string: ``name(field=value, ...)``."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)

    @property
    def lines(self) -> list[str]:
        return [str(e) for e in self.events]

    def take(self) -> list[str]:
        """Return the events so far and forget them."""
        out = self.lines
        self.events.clear()
        return out

    def names(self) -> list[str]:
        return [e.name for e in self.events]


def established(client: VoiceClient, *, incoming: bool = False) -> Call:
    """A call taken through its whole forward path to ESTABLISHED."""
    if incoming:
        call = client.incoming_call()
    else:
        call = client.start_call()
        call.progress()
        call.ring()
    call.answer()
    call.establish()
    assert call.state is CallState.ESTABLISHED
    return call


def check_invariants(
    session: AudioSession, client: VoiceClient | None = None, *, quiescent: bool = True
) -> None:
    """The issue's invariants, plus the client's bookkeeping.

    ``quiescent=False`` (a check from one of several running threads) skips "no call is
    interrupted at or past its deadline": another thread may have moved the clock to the
    deadline and be about to take the lock to end the calls.
    """
    assert session.activation_count >= 0
    assert session.activation_count == len(session.holds)
    assert session.is_active == (session.activation_count > 0 and not session.is_interrupted)
    if client is None:
        return
    live_established = [c for c in client.calls if c.state is CallState.ESTABLISHED]
    assert session.call_hold_count == len(live_established)
    if session.call_hold_count == 0:
        assert client.snapshot is None
    running = session.call_hold_count > 0 and not session.is_interrupted
    assert client.is_duplex_running == running
    interrupted = [c for c in client.calls if c.is_interrupted]
    if interrupted:
        assert client.grace_deadline is not None
        if quiescent:
            assert client.policy.clock.now() < client.grace_deadline
    for c in client.calls:
        assert c.is_interrupted == (c.state is CallState.ESTABLISHED and session.is_interrupted)


def wav_bytes(frames: np.ndarray, *, rate: int = 16000, width: int = 2, channels: int = 1) -> bytes:
    """Integer samples ``frames`` (already in the width's integer range) as a PCM WAV."""
    data = np.asarray(frames).reshape(-1)
    if width == 1:
        raw = (data + 128).astype(np.uint8).tobytes()
    elif width == 2:
        raw = data.astype("<i2").tobytes()
    elif width == 3:
        ints = data.astype(np.int64) & 0xFFFFFF
        raw = b"".join(struct.pack("<I", int(v))[:3] for v in ints)
    else:
        raw = data.astype("<i4").tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(raw)
    return buf.getvalue()


def write_wav(path: Path, frames: np.ndarray, **kw: int) -> Path:
    path.write_bytes(wav_bytes(frames, **kw))
    return path
