"""The offline API works without PortAudio; opening a device then fails clearly."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import callaudio

# The callaudio under test (a worktree's src/ on PYTHONPATH, or the installed one).
_PACKAGE_ROOT = str(Path(callaudio.__file__).resolve().parents[1])

_PROBE = textwrap.dedent(
    """
    import numpy as np
    import callaudio
    from callaudio.engine import AudioEngine
    from callaudio.devices.simulated import SimulatedBackend
    from callaudio.devices.sounddevice_backend import DeviceError, SounddeviceBackend

    room = SimulatedBackend(16000, impulse_response=[1.0])
    with AudioEngine(room, 16000, callaudio.VoiceProcessor(16000)) as engine:
        room.run_frames(3)
    assert engine.stats.frames == 3
    try:
        AudioEngine(SounddeviceBackend("loopback"), 48000).start()
    except DeviceError as exc:
        print("DeviceError", exc.operation, "|", exc)
    """
)


@pytest.mark.parametrize(
    ("fake", "expected"),
    [
        ("raise OSError('PortAudio library not found')", "PortAudio is not available"),
        ("raise ImportError('No module named sounddevice')", "python-sounddevice is not installed"),
    ],
    ids=["no-libportaudio", "no-sounddevice"],
)
def test_offline_api_imports_and_runs_and_devices_fail_clearly(tmp_path, fake, expected):
    (tmp_path / "sounddevice.py").write_text(fake + "\n")
    r = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env={
            "PYTHONPATH": os.pathsep.join([str(tmp_path), _PACKAGE_ROOT]),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip().splitlines()[-1]
    assert line.startswith("DeviceError import |")
    assert expected in line
