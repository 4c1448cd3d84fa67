"""Compatibility alias: the interruption module lives in :mod:`callaudio.session.interruption`."""

from .session.interruption import (
    APPLICATION_SOURCE,
    GraceTimer,
    Interruption,
    InterruptionPolicy,
    InterruptionReason,
)

__all__ = [
    "APPLICATION_SOURCE",
    "GraceTimer",
    "Interruption",
    "InterruptionPolicy",
    "InterruptionReason",
]
