"""Batch items of valid but unusual audio are measured, not error rows.

The P.56 meter behind the worker's activity masks and levels raised IndexError on a
near-silent recording (its envelope never reaches the -100 dBFS threshold floor), so such
an item became an 'IndexError' error row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from callaudio.batch.items import Item
from callaudio.batch.worker import Job, process_item
from callaudio.config import ProcessingConfig

soundfile = pytest.importorskip("soundfile")

RATE = 16000


def test_a_near_silent_item_is_an_ok_row_without_figures(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    dither = rng.integers(-2, 3, 2 * RATE) * 2.0**-23  # +-2 LSB of 24-bit
    tone = 0.1 * np.sin(2 * np.pi * 440 * np.arange(2 * RATE) / RATE)
    paths = {}
    for name, x, subtype in (
        ("mic", dither, "PCM_24"),
        ("near", dither, "PCM_24"),
        ("echo", dither, "PCM_24"),
        ("far", tone, "FLOAT"),
    ):
        paths[name] = str(tmp_path / f"{name}.wav")
        soundfile.write(paths[name], x, RATE, subtype=subtype)
    item = Item("quiet", paths["mic"], far=paths["far"], near=paths["near"], echo=paths["echo"])
    (row,) = process_item(item, [Job("callaudio", "default", ProcessingConfig())], str(tmp_path))
    assert row["status"] == "ok", row["error"]
    assert row["erle_db"] is None  # no echo activity to measure over
    assert row["pesq"] is None and row["stoi"] is None  # no near speech
