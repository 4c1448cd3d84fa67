"""The voice client: calls, the session rules and the audio side, wired together.

A :class:`VoiceClient` owns its calls, an :class:`~callaudio.controller.AudioController`
and a :class:`~callaudio.rules.SessionRules`, which applies the session's transition
table (rows 1-9, written out in :mod:`callaudio.rules`) for this client's calls on this client's
backend. Several clients may share one session; each acts only for its own calls.

The backend: ``"simulated"`` (the default: the engine on the built-in simulated room,
the embedded audio the README promises), ``"sounddevice"`` (the engine on PortAudio),
``"memory"`` (the recording test double, which plays nothing), or any
:class:`~callaudio.audio.base.AudioBackend`. The duplex stream opens at the backend's
fixed rate when it declares one (``backend.sample_rate``: the simulated room's rate, for
instance), else at the session's ``preferred_sample_rate``; a rate the device or the
processing chain refuses makes ``establish()`` raise a
:class:`~callaudio.errors.BackendError` that says what to change.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from types import TracebackType

from .audio.base import AudioBackend, Dropout, StreamConfig
from .audio.recording import MemoryBackend
from .call import Call, CallDirection
from .controller import AudioController
from .errors import ConfigError, InvalidStateError, LiveObject
from .rules import SessionRules
from .session import (
    AudioSession,
    Category,
    CategoryOptions,
    InterruptionPolicy,
    Mode,
    SessionConfiguration,
    validate_configuration,
)

__all__ = ["VoiceClient"]


log = logging.getLogger(__name__)


def _resolve_backend(backend: AudioBackend | str) -> AudioBackend:
    if isinstance(backend, str):
        if backend == "memory":
            return MemoryBackend()
        if backend in ("simulated", "sounddevice"):
            # The engine on a device; imported here so that importing the client does not
            # load the audio I/O modules.
            from .audio.service import make_backend

            return make_backend(backend)
        raise ConfigError(
            "backend",
            f"unknown backend {backend!r} (available: 'simulated', 'sounddevice', 'memory')",
        )
    if not isinstance(backend, AudioBackend):
        raise ConfigError("backend", f"must be an AudioBackend or a backend name, got {backend!r}")
    return backend


class VoiceClient(LiveObject):
    """Calls plus the audio session rules.

    Parameters
    ----------
    backend : AudioBackend or str
        The audio side: ``"simulated"`` (the default: the engine on the built-in simulated
        room, paced in real time), ``"sounddevice"`` (the engine on PortAudio through
        python-sounddevice), ``"memory"`` (a
        :class:`~callaudio.audio.recording.MemoryBackend` that records what was asked of
        it, for tests), or any :class:`AudioBackend`.
    session : AudioSession, optional
        ``AudioSession.shared()`` by default; tests pass their own.
    policy : InterruptionPolicy, optional
        Grace period, end causes and the clock; the default is 30 s on the monotonic clock.
    call_options : CategoryOptions
        The options set with PLAY_AND_RECORD while calls run (``ALLOW_BLUETOOTH``).
    call_mode : Mode
        The mode while calls run (``VOICE_CHAT``: the voice-processing chain is on).
    tone_plan : str
        The controller's default regional tone plan.
    """

    def __init__(
        self,
        backend: AudioBackend | str = "simulated",
        *,
        session: AudioSession | None = None,
        policy: InterruptionPolicy | None = None,
        call_options: CategoryOptions = CategoryOptions.ALLOW_BLUETOOTH,
        call_mode: Mode = Mode.VOICE_CHAT,
        tone_plan: str = "US",
    ) -> None:
        self.call_options = validate_configuration(
            Category.PLAY_AND_RECORD, call_mode, call_options
        )
        self.call_mode = call_mode
        if policy is not None and not isinstance(policy, InterruptionPolicy):
            raise ConfigError("policy", f"must be an InterruptionPolicy, got {policy!r}")
        if session is not None and not isinstance(session, AudioSession):
            raise ConfigError("session", f"must be an AudioSession, got {session!r}")
        self.backend = _resolve_backend(backend)
        self.session = session if session is not None else AudioSession.shared()
        self.policy = policy if policy is not None else InterruptionPolicy()
        self.audio_controller = AudioController(
            self.session, self.backend, tone_plan, in_call=lambda: self.rules.holds_calls
        )
        self.rules = SessionRules(
            self.session,
            self.backend,
            self.audio_controller,
            self.policy,
            call_mode,
            self.call_options,
        )
        self._ids = itertools.count(1)
        self.session.attach(self.rules)
        self.backend.set_fault_handler(self.rules.backend_fault)
        self._set_dropout_handler(self.rules.backend_dropout)

    def __repr__(self) -> str:
        return f"<VoiceClient calls={[c.call_id for c in self.calls]} session={self.session!r}>"

    def __enter__(self) -> VoiceClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """End every live call (HUNG_UP), detach from the session and the backend.

        Closing twice does nothing; a closed client refuses new calls.
        """
        with self.session.lock:
            if self.rules.closed:
                return
            self.rules.close()
            self.session.detach(self.rules)
            self.backend.set_fault_handler(None)
            self._set_dropout_handler(None)

    def _set_dropout_handler(self, handler: Callable[[Dropout], None] | None) -> None:
        # optional for a backend (see callaudio.audio.base): EngineBackend has it
        setter = getattr(self.backend, "set_dropout_handler", None)
        if callable(setter):
            setter(handler)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self.rules.closed

    # -- calls ---------------------------------------------------------------------------

    @property
    def calls(self) -> tuple[Call, ...]:
        """The live calls, oldest first."""
        return tuple(c for c in self.rules.calls if c.is_live)

    @property
    def snapshot(self) -> SessionConfiguration | None:
        """The configuration to restore when the last call ends (None between calls)."""
        return self.session.call_snapshot

    @property
    def grace_deadline(self) -> float | None:
        """When interrupted calls will be ended (clock seconds), None when no timer runs."""
        return self.rules.grace_deadline_at

    @property
    def is_duplex_running(self) -> bool:
        """Whether the client has the duplex stream running."""
        return self.rules.duplex_running

    def stream_config(self) -> StreamConfig:
        """The configuration this client's duplex stream opens with now."""
        return self.rules.stream_config()

    def start_call(self, remote: str | None = None) -> Call:
        """Create an outgoing call (INITIATING), numbered ``"call-<n>"`` per client.

        Raises
        ------
        InvalidStateError
            When the client is closed.
        """
        return self._new_call(CallDirection.OUTGOING, remote)

    def incoming_call(self, remote: str | None = None) -> Call:
        """Create an incoming call (INITIATING); ``answer()`` then ``establish()`` it."""
        return self._new_call(CallDirection.INCOMING, remote)

    def _new_call(self, direction: CallDirection, remote: str | None) -> Call:
        session = self.session
        with session.lock:
            if self.rules.closed:
                raise InvalidStateError("start a call", "CLOSED", "the client is closed")
            calls = self.rules.calls
            calls[:] = [c for c in calls if c.is_live]
            call = Call(
                direction,
                call_id=f"call-{next(self._ids)}",
                remote=remote,
                clock=self.policy.clock,
                listener=self.rules,
                lock=lambda: session.lock,
            )
            calls.append(call)
            return call

    def add_observer(self, observer: object) -> None:
        """Register an observer of every event (the session's observers)."""
        self.session.add_observer(observer)

    def remove_observer(self, observer: object) -> None:
        """Unregister an observer."""
        self.session.remove_observer(observer)
