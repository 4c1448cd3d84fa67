"""The device layer: sound devices the engine runs its streams on.

- :mod:`.base`: the :class:`Device` and :class:`Stream` protocols, with what a device can do
  declared in :class:`DeviceCapabilities`, and :class:`StreamFault`/:class:`FaultKind`;
- :mod:`.simulated`: :class:`~callaudio.devices.simulated.SimulatedBackend`, streams on the
  simulated room (:mod:`callaudio.simulation.room`);
- :mod:`.sounddevice_backend`: PortAudio devices through python-sounddevice (imported on
  first use, so machines without PortAudio can import the package).

May import: ``config``, ``errors`` and ``simulation``. Never the engine, the audio service or
the session layer: devices know only the callback contract.
"""

from __future__ import annotations

from .base import (
    MODES,
    Device,
    DeviceCapabilities,
    FaultKind,
    Stream,
    StreamCallback,
    StreamFault,
)
from .simulated import SimulatedBackend

__all__ = [
    "MODES",
    "Device",
    "DeviceCapabilities",
    "FaultKind",
    "SimulatedBackend",
    "Stream",
    "StreamCallback",
    "StreamFault",
]
