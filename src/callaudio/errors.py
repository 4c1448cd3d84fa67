"""callaudio's exceptions: one base class, subclasses with structured fields (and
:func:`install_hint`, the text their messages give for a missing optional extra; and
:class:`LiveObject`, the base of the objects whose copying and pickling raise one)."""

from __future__ import annotations

from typing import Any, NoReturn


class CallAudioError(Exception):
    """Base class of every error callaudio raises on purpose.

    Every subclass pickles and copies (a process pool or a Dask worker sends it back to
    the caller): it is rebuilt from its message and its attributes, not by calling the
    subclass's ``__init__``, whose arguments are not the exception's ``args``.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args), self.__dict__ or None)


def _rebuild(cls: type[CallAudioError], args: tuple[Any, ...]) -> CallAudioError:
    """An exception of ``cls`` with ``args`` as it was raised (its fields come back with
    ``__setstate__``); the subclass's ``__init__`` is not called."""
    return cls.__new__(cls, *args)


class ConfigError(CallAudioError, ValueError):
    """A configuration field is out of range; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class ConfigTypeError(ConfigError, TypeError):
    """An argument has the wrong type (also a ``TypeError``, as Python's own checks raise)."""


class FrameError(CallAudioError, ValueError):
    """An audio frame has the wrong shape, dtype or length; the processor is unchanged."""


class InvalidStateError(CallAudioError):
    """An event is not allowed in the current state; nothing was changed.

    The message names both, e.g. ``"can't establish when ENDED"`` (like asyncio's
    ``Future.set_result`` raising ``InvalidStateError``).

    Attributes
    ----------
    event : str
        The refused event (``"establish"``, ``"ring"``, ...).
    state : str
        The name of the state the object was in.
    """

    def __init__(self, event: str, state: str, detail: str = "") -> None:
        message = f"can't {event} when {state}"
        if detail:
            message = f"{message} ({detail})"
        super().__init__(message)
        self.event = event
        self.state = state


class InvalidCategoryOptionsError(ConfigError):
    """A category, mode and options combination that Apple's rules forbid; nothing changed.

    Attributes
    ----------
    category : str
        The requested category's name.
    invalid : str
        The names of the offending options (or of the mode), joined by ``|``.
    """

    def __init__(self, field: str, category: str, invalid: str, message: str) -> None:
        super().__init__(field, message)
        self.category = category
        self.invalid = invalid


class ActivationError(CallAudioError):
    """The session could not be activated; ``holder`` names what holds the device."""

    def __init__(self, message: str, holder: str | None = None) -> None:
        super().__init__(message)
        self.holder = holder


class SessionBusyError(CallAudioError):
    """The session was deactivated while audio I/O was running.

    As on iOS (``AVAudioSessionErrorCodeIsBusy``) the deactivation still happened: the
    session is inactive and the I/O has been stopped when this is raised.
    """


class BackendError(CallAudioError):
    """The audio backend refused or failed a request; ``operation`` names it."""

    def __init__(self, operation: str, message: str) -> None:
        super().__init__(f"{operation}: {message}")
        self.operation = operation


class SoundFileError(CallAudioError):
    """A sound file is missing, corrupt, truncated, not a WAV file or not supported.

    Attributes
    ----------
    path : str
        The file as given.
    reason : str
        One of ``"missing"``, ``"not_wav"``, ``"corrupt"``, ``"truncated"``,
        ``"unsupported"``.
    """

    def __init__(self, path: str, reason: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = reason


class DeviceError(BackendError):
    """PortAudio, the device or the stream failed; the message carries PortAudio's text.

    Attributes
    ----------
    operation : str
        What was attempted (``"import"``, ``"open"``, ``"start"`` ...).
    device : str or None
        The device name concerned, if any.
    hostapi : str or None
        The host API concerned, if any.
    host_error : str
        PortAudio's error text (with the host API's message when it gave one).
    """

    def __init__(
        self,
        operation: str,
        message: str,
        *,
        device: str | None = None,
        hostapi: str | None = None,
        host_error: str = "",
    ) -> None:
        super().__init__(operation, message)
        self.device = device
        self.hostapi = hostapi
        self.host_error = host_error


def _text(exc: object) -> str:
    """``str(exc)``, or a placeholder when the application's ``__str__`` raises."""
    try:
        return str(exc)
    except Exception:
        return "<str() of the exception failed>"


class CallbackError(BackendError):
    """Exceptions were raised inside the real-time audio callback while the engine ran.

    The callback never lets an exception escape (that would kill the stream silently): it
    plays silence for that frame, counts the error and keeps the first few.
    ``AudioEngine.stop()`` raises this error after the stream is closed; the first exception
    is the ``__cause__``. A ``KeyboardInterrupt`` or ``SystemExit`` raised in the callback is
    kept the same way and also stops the stream (see ``AudioEngine``).

    Attributes
    ----------
    count : int
        How many callbacks raised.
    errors : list of BaseException
        The first few exceptions (at most 8), in order.
    tracebacks : list of str
        Their formatted tracebacks.
    """

    def __init__(self, count: int, errors: list[BaseException], tracebacks: list[str]) -> None:
        first = errors[0] if errors else None
        super().__init__(
            "callback",
            f"{count} audio callback(s) raised; first: {type(first).__name__}: "
            f"{_text(first)}\n"
            + (tracebacks[0] if tracebacks else ""),
        )
        self.count = count
        self.errors = errors
        self.tracebacks = tracebacks


class AudioDropWarning(UserWarning):
    """Audio was dropped because a queue was full (the application read too late).

    A warning, not an error: the stream goes on. The engine's stats count what was dropped.
    """


class LiveObject:
    """Base of the objects that hold live state: the session, its holds and calls, the
    client and its controller, engines, backends, dispatchers and clocks with threads or
    timers. Pickling or copying one raises InvalidStateError and changes nothing: a copy
    shared half of its state and forked the rest (a copied call's hang-up released the
    session under the original call, which stayed ESTABLISHED with no audio). Pass the
    object itself, or build a new one."""

    def _copy_refused(self, how: str) -> InvalidStateError:
        name = type(self).__name__
        return InvalidStateError(
            f"{how} {'an' if name[0] in 'AEIOU' else 'a'} {name}",
            "LIVE",
            "it is live state shared with the session, its calls or the audio thread; a "
            "copy would share or fork it: pass the object itself, or build a new one",
        )

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise self._copy_refused("pickle")

    def __copy__(self) -> NoReturn:
        raise self._copy_refused("copy")

    def __deepcopy__(self, memo: Any) -> NoReturn:
        raise self._copy_refused("copy")


def install_hint(extra: str) -> str:
    """How to install callaudio's optional ``extra`` (callaudio is not on PyPI: from a
    checkout, or from a wheel built with ``make wheel``), for an error message."""
    return (
        f'pip install ".[{extra}]" in a checkout, or '
        f'pip install "callaudio-<version>-<tags>.whl[{extra}]" for a wheel'
    )
