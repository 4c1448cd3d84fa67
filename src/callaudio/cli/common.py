"""Helpers the ``callaudio`` subcommands share: progress bar, stage names, number format."""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import TextIO

from ..config import ProcessingConfig

__all__ = ["STAGES", "Progress", "db", "fmt", "full_config", "stage_names", "stages_text"]

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
