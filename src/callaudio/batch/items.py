"""What a batch runs on: a manifest (CSV or JSONL) or a folder in an AEC Challenge layout.

Manifest columns: ``id`` and ``mic`` (required), ``far``, ``near`` (clean near-end speech,
the PESQ/STOI reference), ``echo`` (the echo alone, for ERLE), and per-item stage settings
named ``<stage>.<field>`` (``echo_canceller.tail_ms``, ``noise_suppressor.level_db`` ...)
that override every callaudio configuration of the run for that item. Paths are relative
to the manifest's folder. Empty cells mean "not given".

Folders (found recursively, detected from the file names):

- ICASSP AEC Challenge *synthetic*: ``nearend_mic_fileid_N.wav`` with
  ``farend_speech_fileid_N.wav``, ``nearend_speech_fileid_N.wav`` and
  ``echo_fileid_N.wav`` when present; the id is ``fileid_N``;
- AEC Challenge *real* recordings: ``<id>_mic.wav`` with ``<id>_lpb.wav`` (the
  loopback, i.e. the far end); the id is the path below the folder without ``_mic.wav``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cli.files import text_lines
from ..config import ProcessingConfig
from ..errors import ConfigError

__all__ = ["Item", "detect_layout", "has_control_characters", "load_items", "natural_key"]

MANIFEST_MAX_BYTES = 256 * 1024 * 1024
"""Largest manifest read (a million-item corpus needs about 200 MB)."""
MANIFEST_MAX_ITEMS = 1_000_000
"""Most rows of a manifest: the bytes alone do not bound the memory (a row of a few bytes
costs ~1 KB as a row and an item: 256 MB of them would be ~20 GB)."""
_SIGNALS = ("mic", "far", "near", "echo")
_STAGES = tuple(f.name for f in dataclasses.fields(ProcessingConfig))
_SYNTH = re.compile(r"^nearend_mic_(fileid_\d+)\.wav$", re.IGNORECASE)
_SYNTH_OTHERS = {
    "far": "farend_speech_{}.wav",
    "near": "nearend_speech_{}.wav",
    "echo": "echo_{}.wav",
}
_REAL = re.compile(r"^(.+)_mic\.wav$", re.IGNORECASE)


@dataclass(frozen=True)
class Item:
    """One recording to process: absolute paths (None when not given) and its settings.

    ``settings`` maps ``"<stage>.<field>"`` to a value applied over each callaudio
    configuration (validated by the worker: a bad value makes this item's rows errors).
    """

    id: str
    mic: str
    far: str | None = None
    near: str | None = None
    echo: str | None = None
    settings: tuple[tuple[str, Any], ...] = field(default=())


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key with the digit runs compared as numbers (fileid_2 before fileid_10)."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a character no output name may: a newline, NUL, U+2028 (a
    line break too) or a lone surrogate (no file name can hold it)."""
    return any(unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") for ch in text)


NAME_MAX = 255
"""Bytes of one file name on the usual file systems (ext4, xfs, btrfs, tmpfs)."""


def fits_a_file_name(*names: str) -> bool:
    """Whether each of ``names`` fits in one file name (at most :data:`NAME_MAX` bytes)."""
    return all(len(n.encode("utf-8", "surrogateescape")) <= NAME_MAX for n in names)


def detect_layout(path: str | os.PathLike[str]) -> str:
    """``"csv"``, ``"jsonl"``, ``"aec-synthetic"`` or ``"aec-real"`` for ``path``."""
    p = Path(path)
    if p.is_dir():
        names = [f.name for f in p.rglob("*.wav")]
        if any(_SYNTH.match(n) for n in names):
            return "aec-synthetic"
        if any(_REAL.match(n) for n in names):
            return "aec-real"
        raise ConfigError(
            "input",
            f"{p}: no items found: neither AEC Challenge synthetic files "
            "(nearend_mic_fileid_N.wav) nor real recordings (<id>_mic.wav + <id>_lpb.wav)",
        )
    if not p.exists():
        raise ConfigError("input", f"{p}: no such file or folder")
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise ConfigError("input", f"{p}: a manifest must be .csv or .jsonl, or give a folder")


def load_items(path: str | os.PathLike[str]) -> list[Item]:
    """The items of a manifest or folder, sorted by id (natural order); ids are unique."""
    layout = detect_layout(path)
    p = Path(path).resolve()
    if layout == "aec-synthetic":
        items = _synthetic(p)
    elif layout == "aec-real":
        items = _real(p)
    else:
        rows = _read_csv(p) if layout == "csv" else _read_jsonl(p)
        items = [_from_row(p, n, row) for n, row in rows]
    seen: set[str] = set()
    for it in items:
        parts = it.id.split("/")
        bad = has_control_characters(it.id) or any(q in ("", ".", "..") for q in parts)
        if it.id.startswith("/") or "\\" in it.id or bad:
            raise ConfigError(
                "input",
                f"{path}: id {it.id!r} cannot name an output file (a relative name, "
                "'/' between folders, no '.' or '..', no control characters)",
            )
        if not fits_a_file_name(*parts[:-1], parts[-1] + ".wav"):  # its audio's path
            raise ConfigError(
                "input",
                f"{path}: id {it.id[:60]!r}... cannot name an output file (a part of it is "
                f"longer than a file name holds, {NAME_MAX} bytes with '.wav')",
            )
        if it.id in seen:
            raise ConfigError("input", f"{path}: id {it.id!r} appears more than once")
        seen.add(it.id)
    if not items:
        raise ConfigError("input", f"{path}: no items")
    return sorted(items, key=lambda it: natural_key(it.id))


def _synthetic(root: Path) -> list[Item]:
    """One item per mic file. A set is the folder holding the mic file, or the one above
    it when that is ``nearend_mic_signal`` (the challenge's four sub-folders); the other
    signals are taken from the same set only, and the id is the set's folder below
    ``root`` with ``fileid_N`` (``train/fileid_1``; ``fileid_1`` for a set at the root)."""
    wavs = sorted(root.rglob("*.wav"))
    by_name: dict[str, list[Path]] = {}
    for f in wavs:
        by_name.setdefault(f.name.lower(), []).append(f)
    items = []
    for f in wavs:
        m = _SYNTH.match(f.name)
        if not m:
            continue
        fid = m.group(1).lower()
        home = f.parent.parent if f.parent.name.lower() == "nearend_mic_signal" else f.parent
        if not home.is_relative_to(root):
            home = root
        paths: dict[str, str | None] = {}
        for key, pat in _SYNTH_OTHERS.items():
            found = [g for g in by_name.get(pat.format(fid), []) if g.is_relative_to(home)]
            if len(found) > 1:
                raise ConfigError(
                    "input",
                    f"{f}: its {key} signal is ambiguous ({', '.join(map(str, found))})",
                )
            paths[key] = str(found[0]) if found else None
        rel = home.relative_to(root).as_posix()
        item_id = fid if rel == "." else f"{rel}/{fid}"
        items.append(
            Item(id=item_id, mic=str(f), far=paths["far"], near=paths["near"], echo=paths["echo"])
        )
    return items


def _real(root: Path) -> list[Item]:
    items = []
    for f in root.rglob("*.wav"):
        m = _REAL.match(f.name)
        if not m:
            continue
        lpb = f.with_name(f"{m.group(1)}_lpb.wav")
        rel = f.relative_to(root).as_posix()
        items.append(
            Item(id=rel[: -len("_mic.wav")], mic=str(f), far=str(lpb) if lpb.exists() else None)
        )
    return items


def _lines(p: Path, **kw: Any) -> Iterator[str]:
    return text_lines(p, limit=MANIFEST_MAX_BYTES, what="input", **kw)


def _read_csv(p: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        rows = csv.DictReader(_lines(p, encoding="utf-8-sig", newline=""))
        out: list[tuple[int, dict[str, Any]]] = []
        for n, row in enumerate(rows, start=2):
            _count(p, len(out))
            out.append((n, dict(row)))
        return out
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError("input", f"{p}: cannot read the manifest ({exc})") from exc


def _read_jsonl(p: Path) -> list[tuple[int, dict[str, Any]]]:
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        for n, line in enumerate(_lines(p), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError("input", f"{p}:{n}: not valid JSON ({exc.msg})") from None
            except (ValueError, RecursionError) as exc:  # > 4300 digits; deep nesting
                why = "nested too deeply" if isinstance(exc, RecursionError) else exc
                raise ConfigError("input", f"{p}:{n}: not valid JSON ({why})") from None
            if not isinstance(row, dict):
                raise ConfigError("input", f"{p}:{n}: each line must be a JSON object")
            _count(p, len(rows))
            rows.append((n, row))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("input", f"{p}: cannot read the manifest ({exc})") from exc
    return rows


def _count(p: Path, rows: int) -> None:
    """ConfigError when a manifest holds more than :data:`MANIFEST_MAX_ITEMS` rows."""
    if rows >= MANIFEST_MAX_ITEMS:
        raise ConfigError("input", f"{p}: more than {MANIFEST_MAX_ITEMS:,} items: split the corpus")


def _value(text: Any) -> Any:
    """A CSV cell as a number or bool where it reads as one (JSON values pass through)."""
    if not isinstance(text, str):
        return text
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(low)
    except ValueError:
        pass
    try:
        return float(low)
    except ValueError:
        return text.strip()


def _from_row(manifest: Path, line: int, row: dict[str, Any]) -> Item:
    where = f"{manifest}:{line}"
    clean = {str(k).strip(): v for k, v in row.items() if k is not None}
    given = {k: v for k, v in clean.items() if v is not None and str(v).strip() != ""}
    for key in ("id", "mic"):
        if key not in given:
            raise ConfigError("input", f"{where}: the {key!r} column is required")
    paths: dict[str, str | None] = {}
    for key in _SIGNALS:
        v = given.get(key)
        if v is None:
            paths[key] = None
            continue
        try:
            paths[key] = str((manifest.parent / str(v).strip()).resolve())
        except (OSError, ValueError, RuntimeError) as exc:  # a NUL; a symlink loop (3.11-3.12)
            raise ConfigError("input", f"{where}: bad {key} path {str(v)!r} ({exc})") from exc
    settings = []
    for key in sorted(clean):
        if key in ("id", *_SIGNALS):
            continue
        stage, _, fld = key.partition(".")
        if stage not in _STAGES or not fld:
            raise ConfigError(
                "input",
                f"{where}: unknown column {key!r} (columns: id, mic, far, near, echo, "
                f"and <stage>.<field> settings with stage one of {', '.join(_STAGES)})",
            )
        if key in given:
            settings.append((key, _value(given[key])))
    return Item(
        id=str(given["id"]).strip(),
        mic=str(paths["mic"]),
        far=paths["far"],
        near=paths["near"],
        echo=paths["echo"],
        settings=tuple(settings),
    )
