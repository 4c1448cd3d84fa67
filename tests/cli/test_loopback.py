"""``callaudio loopback`` fails (exit 1, one line) when the device carries no echo back."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import pytest

from callaudio.cli import loopback
from callaudio.devices.simulated import SimulatedBackend

from .conftest import Run, one_error_line


class _Room(SimulatedBackend):
    """A simulated device that names itself as PortAudio's backends do."""

    def resolve(self, mode: str) -> tuple[str, str]:
        return "simulated mic", "simulated speaker"


@pytest.mark.parametrize("echo", [True, False], ids=["loopback", "no-echo-path"])
def test_loopback_exits_non_zero_when_no_echo_path_is_found(
    run: Run, monkeypatch: pytest.MonkeyPatch, echo: bool
) -> None:
    ir = np.zeros(480)
    ir[240] = 0.5 if echo else 0.0  # 5 ms after the 10 ms device delay, or no echo

    def room(args: argparse.Namespace) -> Any:
        return _Room(48000, delay_ms=10.0, impulse_response=ir, realtime=True)

    monkeypatch.setattr(loopback, "open_device", room)
    argv = ["loopback", "--seconds", "1", "--signal", "noise", "--priority", "0"]
    code, out, err = run(*argv)
    if echo:
        assert code == 0, err
        assert "echo path delay: 720 samples = 15.00 ms" in out
    else:
        one_error_line(code, err, "no echo path found", "--device")


@pytest.mark.parametrize("priority", ["-5", "100", "1000"])
def test_a_priority_out_of_range_is_refused_before_the_device_opens(
    run: Run, monkeypatch: pytest.MonkeyPatch, priority: str
) -> None:
    """``--priority -5`` ran (as "no priority") while 1000 was refused by the engine."""

    def never(args: argparse.Namespace) -> Any:
        raise AssertionError("the device was opened")

    monkeypatch.setattr(loopback, "open_device", never)
    code, _, err = run("loopback", "--seconds", "1", "--priority", priority)
    one_error_line(code, err, "priority", "0 (none) or 1..99", priority)
