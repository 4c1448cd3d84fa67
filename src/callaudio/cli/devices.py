"""``callaudio devices``: PortAudio's devices, one line each."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``callaudio devices``."""
    p.add_argument("--hostapi", help="only devices of host APIs whose name contains this")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """List PortAudio's devices: name, host API, input/output channels, default rate."""
    from ..devices.sounddevice_backend import list_devices, portaudio_version

    devs = list_devices()
    if args.hostapi:
        devs = [d for d in devs if args.hostapi.lower() in d.hostapi.lower()]
    print(portaudio_version())
    if not devs:
        print("no devices")
        return 0
    wn = max(len("name"), *(len(d.name) for d in devs))
    wh = max(len("host API"), *(len(d.hostapi) for d in devs))
    print(f"{'name':<{wn}}  {'host API':<{wh}}  {'in':>3}  {'out':>3}  {'rate':>6}")
    for d in devs:
        print(
            f"{d.name:<{wn}}  {d.hostapi:<{wh}}  {d.max_input_channels:>3}  "
            f"{d.max_output_channels:>3}  {d.default_samplerate:>6.0f}"
        )
    return 0
