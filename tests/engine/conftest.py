"""Fixtures of the engine tests: the JACK loopback server that `make test` starts.

The server is started outside the pytest process by ``scripts/with-jack.sh`` (PortAudio
must see it when it initialises, and it must outlive this process). A real-audio test fails
when ``CI=true`` and the server is not there, and is skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def _missing(why: str) -> None:
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(f"real-audio test without its JACK server (CI=true): {why}")
    pytest.skip(f"no JACK loopback server: {why} (run through scripts/with-jack.sh)")


@pytest.fixture(scope="session")
def jack_server() -> str:
    """The name of the running JACK server whose PortAudio device `loopback` tests use."""
    name = os.environ.get("JACK_DEFAULT_SERVER", "")
    if not name:
        _missing("JACK_DEFAULT_SERVER is not set")
    if shutil.which("jack_lsp") is None:
        _missing("jack_lsp is not installed (jackd2)")
    env = {**os.environ, "JACK_NO_START_SERVER": "1"}
    try:
        r = subprocess.run(
            ["jack_lsp", "-s", name], env=env, capture_output=True, text=True, timeout=10
        )
    except subprocess.TimeoutExpired:
        _missing(f"jack_lsp -s {name} did not answer")
    if r.returncode != 0 or "loopback:capture_1" not in r.stdout:
        _missing(f"server {name!r} not running or without a loopback pair: {r.stderr.strip()}")
    from callaudio.devices.sounddevice_backend import DeviceError, find_device

    try:
        find_device("loopback", "JACK", "duplex")
    except DeviceError as exc:
        _missing(str(exc))
    return name
