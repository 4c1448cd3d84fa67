"""``callaudio process`` streams: a 1-hour 48 kHz file in well under 200 MB.

Peak memory is the child's maximum resident set size (``getrusage(RUSAGE_CHILDREN)`` read
in a wrapper process that runs only the command), not a timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import soundfile

RATE = 48000

_WRAPPER = """
import json, resource, subprocess, sys
r = subprocess.run([sys.executable, "-m", "callaudio", *sys.argv[1:]], capture_output=True)
kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
print(json.dumps({"code": r.returncode, "rss_mb": kib / 1024, "err": r.stderr.decode()}))
"""


def _long_file(path: Path, seconds: int) -> Path:
    """A speech-band test signal written one second at a time (never whole in memory).

    Second ``s`` is a 200-690 Hz tone (``s % 50``) under a 3 Hz envelope plus fresh noise;
    the 50 tones are computed once (an hour's file took about half of the test's time)."""
    rng = np.random.default_rng(0)
    t = np.arange(RATE) / RATE
    envelope = 0.025 * (1 + np.sin(6 * np.pi * t))
    tones = [np.sin(2 * np.pi * (200 + 10 * k) * t) * envelope for k in range(min(seconds, 50))]
    with soundfile.SoundFile(str(path), "w", RATE, 1, "PCM_16") as f:
        for s in range(seconds):
            f.write(tones[s % 50] + 1e-3 * rng.standard_normal(RATE))
    return path


def _peak_rss_mb(*argv: str) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=True,
    )
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["code"] == 0, result["err"]
    return float(result["rss_mb"])


@pytest.mark.slow
def test_an_hour_at_48_khz_streams_in_flat_memory(tmp_path: Path) -> None:
    short = _long_file(tmp_path / "short.wav", 10)
    hour = _long_file(tmp_path / "hour.wav", 3600)
    out = tmp_path / "out.wav"
    try:
        base = _peak_rss_mb("process", str(short), "-o", str(out), "--quiet")
        peak = _peak_rss_mb("process", str(hour), "-o", str(out), "--quiet")
        assert soundfile.info(str(out)).frames == 3600 * RATE
    finally:
        for p in (short, hour, out):
            p.unlink(missing_ok=True)
    assert peak < 200.0
    assert peak < base + 30.0, (base, peak)  # flat: an hour costs what 10 seconds cost
