"""Callback discipline: the real-time callback takes no lock, allocates no buffer, never
blocks, over a running stream (not a direct call).

An audit wraps the engine's callback (an instance attribute shadowing the bound method,
set before ``start`` hands it to the backend). Inside each callback it

* installs a profile hook on the audio thread (``sys.setprofile`` works on PortAudio's
  foreign thread too) that records any call into threading/queue/logging/asyncio/socket/
  subprocess code and any builtin named acquire/wait/sleep/join/open/print/select/...;
* replaces the engine's, the backend's and the room's locks with recording wrappers that
  log an acquisition made from inside a callback (``with lock:`` on a C lock emits no
  profile event, so the wrappers make those visible);
* measures, with tracemalloc, the peak memory allocated between the callback's entry and
  exit (the main thread only sleeps meanwhile, so nothing else allocates).

Streams: the simulated room paced in real time on its own thread, and, under
``make test`` (scripts/with-jack.sh), a PortAudio duplex stream on JACK's loopback.

Both callbacks are audited: the Python fallback (``compiled=False``), and the compiled one
as the simulated room calls it (``RawDriver.run``: the call into C, the GIL released). On
a native stream the compiled callback runs no Python at all; tests/engine/test_engine_rt.py
runs it on a native thread while the test holds the GIL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import callaudio as ca
from callaudio.engine import AudioEngine

from ._support import full_config

FORBIDDEN_MODULES = {
    "threading",
    "queue",
    "logging",
    "asyncio",
    "socket",
    "subprocess",
    "selectors",
    "concurrent",
    "multiprocessing",
}
FORBIDDEN_BUILTINS = {
    "acquire",
    "acquire_lock",
    "wait",
    "sleep",
    "join",
    "open",
    "print",
    "input",
    "select",
    "poll",
    "recv",
    "send",
    "sendall",
    "fsync",
    "flush",
    "getaddrinfo",
}
ALLOC_LIMIT = 1024  # bytes: a 10 ms frame buffer is 640..1920 bytes; Python ints are 28


class RecordingLock:
    """A lock that records acquisitions made inside an audited callback."""

    def __init__(self, inner: Any, audit: CallbackAudit, name: str) -> None:
        self._inner, self._audit, self._name = inner, audit, name

    def acquire(self, *a: Any, **k: Any) -> bool:
        self._audit.note_lock(self._name)
        return bool(self._inner.acquire(*a, **k))

    def release(self) -> None:
        self._inner.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def locked(self) -> bool:
        return bool(self._inner.locked()) if hasattr(self._inner, "locked") else False


class CallbackAudit:
    def __init__(
        self, engine: AudioEngine, *owners: tuple[object, str], compiled: bool = False
    ) -> None:
        self.violations: list[str] = []
        self.calls = 0
        self.max_alloc = 0
        self.worst_call = -1
        self._tls = threading.local()
        if compiled:  # the compiled callback as the simulated room calls it
            raw = engine._raw
            self._orig = raw.run
            raw.run = self.callback  # type: ignore[method-assign]
        else:
            self._orig = engine._callback
            engine._callback = self.callback  # type: ignore[method-assign]
        for obj, attr in ((engine, "_lock"), *owners):
            lock = getattr(obj, attr, None)
            if lock is not None:
                setattr(obj, attr, RecordingLock(lock, self, f"{type(obj).__name__}.{attr}"))

    def note_lock(self, name: str) -> None:
        if getattr(self._tls, "inside", False):
            self.violations.append(f"lock {name} acquired in the callback")

    def _profile(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            mod = str(frame.f_globals.get("__name__", ""))
            if mod.split(".")[0] in FORBIDDEN_MODULES:
                self.violations.append(f"called {mod}.{frame.f_code.co_name}")
        elif event == "c_call":
            name = getattr(arg, "__name__", "")
            if name in FORBIDDEN_BUILTINS:
                owner = type(getattr(arg, "__self__", None)).__name__
                self.violations.append(f"called builtin {owner}.{name}")

    def callback(self, *args: Any) -> None:
        # The profile hook allocates (strings, frames of its own), so odd callbacks are
        # profiled and even ones measured for allocations, never both at once.
        measure = tracemalloc.is_tracing() and self.calls % 2 == 0
        if measure:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
        else:
            sys.setprofile(self._profile)
        self._tls.inside = True
        try:
            self._orig(*args)
        finally:
            self._tls.inside = False
            if not measure:
                sys.setprofile(None)
        if measure:
            grew = tracemalloc.get_traced_memory()[1] - base
            if grew > self.max_alloc:
                self.max_alloc = grew
                self.worst_call = self.calls
        self.calls += 1


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start(1)
    try:
        yield
    finally:
        tracemalloc.stop()


def _engine(backend: Any, rate: int, **kw: Any) -> AudioEngine:
    vp = ca.VoiceProcessor(rate, config=full_config())
    kw.setdefault("compiled", False)  # the audit wraps the Python callback unless told
    return AudioEngine(backend, rate, vp, **kw)


def _assert_clean(audit: CallbackAudit, min_calls: int) -> None:
    assert audit.calls >= min_calls, f"only {audit.calls} callbacks ran"
    assert not audit.violations, sorted(set(audit.violations))[:10]
    assert audit.max_alloc < ALLOC_LIMIT, (
        f"callback {audit.worst_call} allocated {audit.max_alloc} bytes"
    )


@pytest.mark.parametrize("compiled", [False, True], ids=["python", "compiled"])
def test_callback_discipline_on_the_real_time_simulated_stream(
    traced: None, compiled: bool
) -> None:
    from callaudio.devices.simulated import SimulatedBackend

    rate = 48000
    room = SimulatedBackend(rate, realtime=True, near=np.full(rate, 0.02, np.float32), loop=True)
    engine = _engine(room, rate, far_buffer_ms=2000, capture_buffer_ms=3000, compiled=compiled)
    assert engine.callback_kind == ("compiled" if compiled else "python")
    audit = CallbackAudit(engine, (room, "_lock"), compiled=compiled)
    far = (0.1 * np.random.default_rng(1).standard_normal(rate)).astype(np.float32)
    engine.write_far(far)  # queued before start: the main thread then sleeps
    engine.start()
    time.sleep(1.2)
    stats = engine.stop()
    assert stats.frames >= 60
    _assert_clean(audit, 60)
    got = engine.read_capture()
    assert got.size > 0 and np.all(np.isfinite(got))


def test_the_audit_catches_a_lock_an_allocation_and_a_sleep(traced: None) -> None:
    """The instrument itself: a callback that misbehaves is caught on all three counts."""
    from callaudio.devices.simulated import SimulatedBackend

    rate = 16000
    room = SimulatedBackend(rate, realtime=False)
    engine = _engine(room, rate)
    audit = CallbackAudit(engine)
    inner = audit._orig
    lock = engine._lock

    def naughty(indata: Any, outdata: Any, frames: int, t: Any, status: Any) -> None:
        with lock:
            pass
        np.zeros(4096, np.float32)
        time.sleep(0)
        inner(indata, outdata, frames, t, status)

    audit._orig = naughty
    engine.start()
    room.run_frames(4)
    engine.stop(raise_errors=False)
    kinds = " ".join(audit.violations)
    assert "lock AudioEngine._lock" in kinds and "sleep" in kinds
    assert audit.max_alloc >= 4096 * 4


# -- over a real PortAudio stream (JACK loopback, started by make test) ----------------------


@pytest.fixture
def jack_loopback() -> str:
    name = os.environ.get("JACK_DEFAULT_SERVER", "")
    ci = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")

    def missing(why: str) -> None:
        if ci:
            pytest.fail(f"real-audio test without its JACK server (CI=true): {why}")
        pytest.skip(f"no JACK loopback server: {why} (run through scripts/with-jack.sh)")

    if not name:
        missing("JACK_DEFAULT_SERVER is not set")
    if shutil.which("jack_lsp") is None:
        missing("jack_lsp is not installed")
    r = subprocess.run(
        ["jack_lsp", "-s", name],
        capture_output=True,
        text=True,
        timeout=10,
        env={**os.environ, "JACK_NO_START_SERVER": "1"},
    )
    if r.returncode != 0 or "loopback:capture_1" not in r.stdout:
        missing(f"server {name!r} has no loopback pair")
    return name


@pytest.mark.realaudio
def test_callback_discipline_on_a_real_portaudio_stream(jack_loopback: str, traced: None) -> None:
    from callaudio.devices.sounddevice_backend import SounddeviceBackend

    rate = 48000
    engine = _engine(
        SounddeviceBackend("loopback", hostapi="JACK"),
        rate,
        far_buffer_ms=2000,
        realtime_priority=20,
    )
    audit = CallbackAudit(engine)
    engine.write_far((0.1 * np.random.default_rng(2).standard_normal(rate)).astype(np.float32))
    engine.start()
    time.sleep(1.5)
    stats = engine.stop()
    assert stats.frames >= 100
    _assert_clean(audit, 100)
