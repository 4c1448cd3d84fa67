"""MemoryBackend: a TEST DOUBLE of the audio service that records every request.

It is not an audio backend for applications: nothing is played or recorded.
:attr:`MemoryBackend.calls` lists each request as a tuple ``(method_name, *arguments)`` in
the order made, so a test can assert exactly what the session layer asked of the audio
side. Faults and the end of a playback are simulated with :meth:`MemoryBackend.inject_fault`
and :meth:`MemoryBackend.finish_playback`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import BackendError, ConfigError, LiveObject
from .base import (
    MAX_READ_FRAMES,
    BackendFault,
    FaultHandler,
    FaultKind,
    PlaybackSource,
    StreamConfig,
    plain_int,
)

__all__ = ["MemoryBackend", "RecordingAudioService"]


class MemoryBackend(LiveObject):
    """An :class:`~callaudio.audio.base.AudioBackend` test double: a log instead of audio.

    Attributes
    ----------
    calls : list of tuple
        Every request, e.g. ``("start_duplex", config)``, ``("set_muted", True)``,
        ``("reset_echo_canceller",)``; failed requests are logged too.
    duplex_resumes : list of bool
        The ``resume`` argument of every ``start_duplex`` request, in order.
    echo_resets : int
        ``reset_echo_canceller`` requests.
    audio_threads : set of int
        Thread idents :meth:`on_audio_thread` counts as audio threads (empty: none), for
        tests that play a stream's callback on a thread of their own.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.duplex_config: StreamConfig | None = None
        self.record_config: StreamConfig | None = None
        self.playback_source: PlaybackSource | None = None
        self.muted = False
        self.speaker = False
        self.echo_resets = 0
        self.duplex_resumes: list[bool] = []
        self.audio_threads: set[int] = set()
        self._on_finished: Callable[[], None] | None = None
        self._fault_handler: FaultHandler | None = None
        self._failures: dict[str, BaseException] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<MemoryBackend {len(self.calls)} calls running={self.is_running}>"

    # -- inspection ----------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """The method names of :attr:`calls`, in order."""
        with self._lock:
            return [c[0] for c in self.calls]

    def clear(self) -> None:
        """Forget the log (the running state stays)."""
        with self._lock:
            self.calls.clear()

    @property
    def duplex_running(self) -> bool:
        """Whether the duplex stream runs."""
        return self.duplex_config is not None

    @property
    def playback_running(self) -> bool:
        """Whether a playback runs."""
        return self.playback_source is not None

    @property
    def record_running(self) -> bool:
        """Whether the input-only stream runs."""
        return self.record_config is not None

    @property
    def is_running(self) -> bool:
        """Whether any stream runs."""
        return self.duplex_running or self.playback_running or self.record_running

    @property
    def sample_rate(self) -> int | None:
        """None: the recording double takes any rate (streams use the session's)."""
        return None

    def on_audio_thread(self) -> bool:
        """Whether the calling thread is one of :attr:`audio_threads`."""
        return threading.get_ident() in self.audio_threads

    # -- simulation ----------------------------------------------------------------------

    def fail_next(self, operation: str, error: BaseException | None = None) -> None:
        """Make the next call of ``operation`` raise ``error`` (a BackendError by default)."""
        if not isinstance(operation, str):  # (an array: unhashable)
            raise ConfigError("operation", f"must be a method name (str), got {operation!r:.60}")
        if error is not None and not isinstance(error, BaseException):
            raise ConfigError("error", f"must be an exception or None, got {error!r:.60}")
        with self._lock:
            self._failures[operation] = (
                error if error is not None else BackendError(operation, "simulated failure")
            )

    def inject_fault(self, kind: FaultKind, detail: str = "", device: str | None = None) -> None:
        """Report a fault to the registered handler, on the calling thread."""
        handler = self._fault_handler
        if handler is not None:
            handler(BackendFault(kind, detail, device))

    def pull(self, frames: int) -> npt.NDArray[np.float32]:
        """Read ``frames`` frames from the playing source, as an output callback would.

        Returns a (frames, channels) float32 array, zero-padded after a source's end.
        """
        count = plain_int(frames)  # (None/NaN: TypeError, -1: ValueError before)
        if count is None or not 0 <= count <= MAX_READ_FRAMES:
            raise ConfigError("frames", f"must be an int in 0..{MAX_READ_FRAMES}, got {frames!r}")
        frames = count
        source = self.playback_source
        if source is None:
            return np.zeros((frames, 1), dtype=np.float32)
        block = source.read(frames)
        if block.shape[0] < frames:
            pad = np.zeros((frames - block.shape[0], block.shape[1]), dtype=np.float32)
            block = np.concatenate([block, pad])
        return block

    def finish_playback(self) -> None:
        """Simulate a non-looping source running out: stop it and call ``on_finished``."""
        with self._lock:
            callback, self._on_finished = self._on_finished, None
            self.playback_source = None
        if callback is not None:
            callback()

    # -- the AudioBackend interface --------------------------------------------------------

    def _log(self, *entry: Any) -> None:
        with self._lock:
            self.calls.append(entry)
            failure = self._failures.pop(entry[0], None)
        if failure is not None:
            raise failure

    def start_duplex(self, config: StreamConfig, *, resume: bool = False) -> None:
        """Record the request (``resume`` in :attr:`duplex_resumes`); the duplex stream
        counts as running."""
        self._log("start_duplex", config)
        self.duplex_resumes.append(bool(resume))
        if self.duplex_config is not None:
            raise BackendError("start_duplex", "the duplex stream is already running")
        self.duplex_config = config

    def stop_duplex(self) -> None:
        """Record the request; the duplex stream stops."""
        self._log("stop_duplex")
        self.duplex_config = None

    def start_playback(
        self, source: PlaybackSource, on_finished: Callable[[], None] | None = None
    ) -> None:
        """Record the request; ``source`` plays until stopped or :meth:`finish_playback`."""
        self._log("start_playback", source)
        if self.playback_source is not None:
            raise BackendError("start_playback", "a playback is already running")
        with self._lock:
            self.playback_source = source
            self._on_finished = on_finished

    def stop_playback(self) -> None:
        """Record the request; the playback stops without ``on_finished``."""
        self._log("stop_playback")
        with self._lock:
            self.playback_source = None
            self._on_finished = None

    def start_record(self, config: StreamConfig) -> None:
        """Record the request; the input-only stream counts as running."""
        self._log("start_record", config)
        if self.record_config is not None:
            raise BackendError("start_record", "the input stream is already running")
        self.record_config = config

    def stop_record(self) -> None:
        """Record the request; the input-only stream stops."""
        self._log("stop_record")
        self.record_config = None

    def reset_echo_canceller(self) -> None:
        """Record the request and count it in :attr:`echo_resets`."""
        self._log("reset_echo_canceller")
        self.echo_resets += 1

    def set_muted(self, muted: bool) -> None:
        """Record the request and keep the flag in :attr:`muted`."""
        self._log("set_muted", muted)
        self.muted = muted

    def set_speaker(self, enabled: bool) -> None:
        """Record the request and keep the flag in :attr:`speaker`."""
        self._log("set_speaker", enabled)
        self.speaker = enabled

    def set_fault_handler(self, handler: FaultHandler | None) -> None:
        """Keep the handler :meth:`inject_fault` reports to (not recorded in :attr:`calls`)."""
        self._fault_handler = handler

    def close(self) -> None:
        """Stop every stream (recorded as ``("close",)``)."""
        self._log("close")
        with self._lock:
            self.duplex_config = None
            self.record_config = None
            self.playback_source = None
            self._on_finished = None


RecordingAudioService = MemoryBackend
"""The recording test double under a name that says what it is."""
