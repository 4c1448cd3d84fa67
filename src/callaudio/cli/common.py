"""Helpers the ``callaudio`` subcommands share: progress bar, stage names, number format,
the line an interrupted command prints."""

from __future__ import annotations

import dataclasses
import math
import signal
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from ..config import ProcessingConfig

__all__ = [
    "STAGES",
    "Interruption",
    "Progress",
    "db",
    "fmt",
    "full_config",
    "on_interrupt",
    "stage_names",
    "stages_text",
    "start_command",
]

STAGES = ("high_pass", "echo_canceller", "noise_suppressor", "gain_control")
"""The chain's stages in processing order (ProcessingConfig's fields)."""


class Progress:
    """A one-line progress bar on a stream (stderr by default); silent when disabled."""

    def __init__(
        self, total: int, label: str, *, enabled: bool = True, stream: TextIO | None = None
    ):
        self._total = max(int(total), 1)
        self._label = label
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = enabled and self._stream is not None  # None: stderr closed (2>&-)
        self._shown = -1
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())

    def update(self, done: int) -> None:
        """Show ``done`` of ``total`` (redrawn per percent on a terminal, per 10 % else)."""
        if not self._enabled:
            return
        pct = min(100, int(100 * done / self._total))
        step = 1 if self._tty else 10
        if pct // step == self._shown // step and self._shown >= 0:
            return
        self._shown = pct
        width = 30
        fill = width * pct // 100
        bar = "#" * fill + "." * (width - fill)
        end = "" if self._tty and pct < 100 else "\n"
        prefix = "\r" if self._tty else ""
        self._stream.write(f"{prefix}{self._label} [{bar}] {pct:3d}%{end}")
        self._stream.flush()

    def close(self) -> None:
        """Finish the line."""
        if self._enabled and self._shown < 100:
            self.update(self._total)


def full_config(**wanted: bool | None) -> ProcessingConfig:
    """Every stage on, with ``stage=True/False`` forcing one on or off.

    ``wanted`` keys: ``high_pass``, ``echo_canceller``, ``noise_suppressor``,
    ``gain_control``; None leaves the stage at its default (on).
    """
    cfg = ProcessingConfig()
    for name, want in wanted.items():
        if want is not None:
            stage = getattr(cfg, name)
            cfg = dataclasses.replace(cfg, **{name: dataclasses.replace(stage, enabled=want)})
    return cfg


def stage_names(cfg: ProcessingConfig) -> list[str]:
    """The enabled stages of ``cfg``, in processing order."""
    return [n for n in STAGES if getattr(cfg, n).enabled]


def stages_text(cfg: ProcessingConfig) -> str:
    """The enabled stages as one phrase (``"none (bypass)"`` when there are none)."""
    return ", ".join(stage_names(cfg)) or "none (bypass)"


def fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    """``value`` with ``digits`` decimals and ``unit``; ``"n/a"`` for None or non-finite."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}{unit}"


def db(power: float) -> float:
    """10 log10 of a power, floored at -200 dB."""
    return 10.0 * math.log10(max(power, 1e-20))


class Interruption:
    """The one line a command stopped by a signal prints on stderr, once (from the main
    thread's clean-up or from the signal watcher's thread, whichever comes first):
    ``callaudio: <command> interrupted (SIGINT): <what was kept>``."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.kept: Callable[[], str] = lambda: "nothing written"
        self._lock = threading.Lock()
        self._said = False
        self.signum: int | None = None
        """The signal the line was said for (the first: it gives the exit status)."""

    def say(self, signum: int) -> None:
        """Print the line (the first call only; later ones return at once)."""
        if not self._lock.acquire(timeout=2.0):  # the other thread is printing it
            return
        try:
            if self._said:
                return
            self._said, self.signum = True, signum
            try:
                kept = self.kept()
            except Exception:  # (what was kept cannot be told: the line without it)
                kept = "see the output"
            try:
                name = signal.Signals(signum).name
            except ValueError:
                name = f"signal {signum}"
            if sys.stderr is not None:  # closed (2>&-): the exit status alone tells
                try:
                    print(
                        f"callaudio: {self.command} interrupted ({name}): {kept}",
                        file=sys.stderr,
                        flush=True,
                    )
                except (OSError, ValueError):
                    pass
        finally:
            self._lock.release()


_current: list[Interruption] = []  # the running command's (main() sets it)


def on_interrupt(kept: Callable[[], str]) -> None:
    """Say what a signal that stops the running command now leaves: ``kept()`` ends its
    one line (default ``"nothing written"``); called from the clean-up after the signal."""
    if _current:
        _current[0].kept = kept


def start_command(command: str) -> Interruption:
    """The running command's :class:`Interruption`, new (for :func:`on_interrupt`)."""
    _current[:] = [Interruption(command)]
    return _current[0]
