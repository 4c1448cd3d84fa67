"""Batch's error rows say what batch needs, not what ``callaudio process`` does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from callaudio.batch import run

soundfile = pytest.importorskip("soundfile")
pytest.importorskip("pyarrow")


def test_rate_errors_are_true_for_batch(tmp_path: Path) -> None:
    """The far file at another rate is refused by batch (``process`` accepts it): the row
    said only "rates differ"; a 7999 Hz file's row named "the range callaudio process
    accepts"."""
    tone = 0.1 * np.sin(np.arange(1600) * 0.3)
    soundfile.write(str(tmp_path / "mic.wav"), tone, 16000)
    soundfile.write(str(tmp_path / "far48.wav"), np.repeat(tone, 3), 48000)
    soundfile.write(str(tmp_path / "low.wav"), tone, 7999)
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,mic,far\npair,mic.wav,far48.wav\nlow,low.wav,\n")
    table = run(manifest, tmp_path / "o", workers=0, plots=False, audio=False)
    rows = {r["id"]: r for r in table.to_pylist()}
    pair, low = rows["pair"]["error"], rows["low"]["error"]
    assert "rates differ (mic 16000 Hz, far 48000 Hz)" in pair
    assert "batch needs an item's files at one rate" in pair
    assert "7999 Hz is outside 8000..192000 Hz" in low
    assert "process" not in low
