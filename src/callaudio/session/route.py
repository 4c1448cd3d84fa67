"""The audio route: ports, the route value and why it changed (Apple's names)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..errors import ConfigError

__all__ = ["Port", "Route", "RouteChangeReason", "check_route"]


class Port:
    """Names of the built-in ports (a route uses these or a device name)."""

    BUILT_IN_MIC = "built_in_mic"
    BUILT_IN_RECEIVER = "built_in_receiver"
    BUILT_IN_SPEAKER = "built_in_speaker"
    HEADPHONES = "headphones"
    HEADSET_MIC = "headset_mic"
    BLUETOOTH_HFP = "bluetooth_hfp"


@dataclass(frozen=True)
class Route:
    """The current input and output ports."""

    input: str = Port.BUILT_IN_MIC
    output: str = Port.BUILT_IN_RECEIVER

    def __str__(self) -> str:
        return f"{self.input}->{self.output}"


class RouteChangeReason(enum.Enum):
    """Why the route changed (Apple's ``AVAudioSession.RouteChangeReason``)."""

    UNKNOWN = "unknown"
    NEW_DEVICE_AVAILABLE = "new_device_available"
    OLD_DEVICE_UNAVAILABLE = "old_device_unavailable"
    CATEGORY_CHANGE = "category_change"
    OVERRIDE = "override"
    WAKE_FROM_SLEEP = "wake_from_sleep"
    NO_SUITABLE_ROUTE_FOR_CATEGORY = "no_suitable_route_for_category"
    ROUTE_CONFIGURATION_CHANGE = "route_configuration_change"

    @property
    def is_device_change(self) -> bool:
        """A device was added or lost: this clears a transient speaker override."""
        return self in (
            RouteChangeReason.NEW_DEVICE_AVAILABLE,
            RouteChangeReason.OLD_DEVICE_UNAVAILABLE,
        )


def check_route(route: object) -> Route:
    """Return ``route`` if it is a :class:`Route` of two non-empty port names.

    Raises
    ------
    ConfigError
        For anything else (``"headphones"``, None, a Route with a non-string port).
    """
    if not isinstance(route, Route):
        raise ConfigError("route", f"must be a Route(input, output), got {route!r}")
    for name in ("input", "output"):
        port = getattr(route, name)
        if not isinstance(port, str) or not port:
            raise ConfigError("route", f"{name} port must be a non-empty str, got {port!r}")
    return route
