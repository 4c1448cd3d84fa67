"""The streaming resampler of ``callaudio process`` (it lives in
:mod:`callaudio.simulation.stream_resample`, shared with the controller's sound files)."""

from __future__ import annotations

from ..simulation.stream_resample import StreamResampler

__all__ = ["StreamResampler"]
