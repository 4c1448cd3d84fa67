"""A small generated corpus for the batch tests: echo scenarios written as WAV files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from callaudio.cli.files import write_audio
from callaudio.simulation import EchoScenario

RATE = 16000
DURATION_S = 3.0


def scenario(k: int) -> EchoScenario:
    """Item ``k``: 3 s of far speech with echo; the odd ones with near speech from 1.8 s."""
    near = ((1.8, 3.0),) if k % 2 else ()
    return EchoScenario(
        sample_rate=RATE,
        duration_s=DURATION_S,
        bulk_delay_ms=40.0 + 20.0 * (k % 3),
        near_intervals=near,
        seed=k,
    )


def write_item(folder: Path, k: int, names: dict[str, str]) -> None:
    """Render item ``k`` and write its signals as ``names[signal]`` under ``folder``."""
    res = scenario(k).build()
    for sig, name in names.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_audio(path, getattr(res, sig), RATE, "FLOAT")


def make_manifest(
    root: Path, count: int, *, fmt: str = "csv", extra: list[dict] | None = None
) -> Path:
    """``count`` items under ``root/wav`` and a manifest ``root/manifest.<fmt>`` naming
    them with paths relative to it (plus ``extra`` rows, written as given)."""
    rows = []
    for k in range(count):
        names = {s: f"wav/item{k}_{s}.wav" for s in ("mic", "far", "near", "echo")}
        write_item(root, k, names)
        rows.append({"id": f"item{k}", **names})
    rows += extra or []
    if fmt == "csv":
        path = root / "manifest.csv"
        cols = list(dict.fromkeys(c for r in rows for c in r))
        with open(path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=cols)
            w.writeheader()
            w.writerows(rows)
    else:
        path = root / "manifest.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CSV manifest of 6 generated echo items."""
    return make_manifest(tmp_path_factory.mktemp("corpus"), 6)


def synthetic_layout(root: Path, count: int) -> Path:
    """``count`` items in the AEC Challenge synthetic layout (its four sub-folders)."""
    for k in range(count):
        write_item(
            root,
            k,
            {
                "mic": f"nearend_mic_signal/nearend_mic_fileid_{k}.wav",
                "far": f"farend_speech/farend_speech_fileid_{k}.wav",
                "near": f"nearend_speech/nearend_speech_fileid_{k}.wav",
                "echo": f"echo_signal/echo_fileid_{k}.wav",
            },
        )
    return root


def real_layout(root: Path, count: int) -> Path:
    """``count`` items in the AEC Challenge real-recording layout (mic + loopback)."""
    for k in range(count):
        write_item(
            root,
            k,
            {"mic": f"sub/rec{k}_doubletalk_mic.wav", "far": f"sub/rec{k}_doubletalk_lpb.wav"},
        )
    return root


def finite(values: list) -> bool:
    return all(v is not None and np.isfinite(v) for v in values)
