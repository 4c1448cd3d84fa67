"""The results table: its columns, written to ``DIR/results.parquet`` in parts.

``results.parquet`` is a folder of Parquet files (``part-NNNNNNNN.parquet``, read by any
Parquet reader as one table). A part is written to a hidden temporary file and renamed,
so a part is either whole or absent: an interrupted run loses no finished item. When a
run ends, its parts are merged into one. Reading keeps the last row per (id, processor,
config), so a merge interrupted half-way leaves no duplicates either.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import stat
from collections.abc import Iterable
from typing import Any

from ..errors import ConfigError, install_hint
from .items import natural_key

__all__ = ["COLUMNS", "KEY", "VOLATILE", "ResultsStore", "pyarrow_modules"]

COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "string"),
    ("processor", "string"),
    ("config", "string"),
    ("status", "string"),  # "ok" or "error"
    ("error", "string"),  # one line, for status "error"
    ("mic", "string"),
    ("far", "string"),  # the item's other files (None when not given)
    ("near", "string"),
    ("echo", "string"),
    ("rate", "int64"),  # processing rate, Hz
    ("duration_s", "float64"),
    ("frames", "int64"),
    ("seconds", "float64"),  # time in the processor
    ("rtf", "float64"),  # seconds / duration_s
    ("us_per_frame", "float64"),
    ("delay_ms", "float64"),  # the processor's echo-delay estimate
    ("erle_db", "float64"),
    ("erle_source", "string"),  # "echo" or "mic"
    ("output_level_dbfs", "float64"),
    ("pesq", "float64"),
    ("stoi", "float64"),
    ("dnsmos_sig", "float64"),  # DNSMOS P.835 (speechmos, with mos=True)
    ("dnsmos_bak", "float64"),
    ("dnsmos_ovrl", "float64"),
    ("aecmos_echo", "float64"),  # AECMOS, scenario-less 16 kHz model
    ("aecmos_deg", "float64"),
    ("output", "string"),  # processed audio, relative to DIR
    ("worker", "string"),  # host:pid of the worker that ran it
)
"""Every column of the results, with its Arrow type, in order."""

KEY = ("id", "processor", "config")
"""Columns that identify a row: one row per item, processor and configuration."""

VOLATILE = ("seconds", "rtf", "us_per_frame", "worker")
"""Columns that differ between two runs of the same batch (timings, where it ran)."""

_PART = re.compile(r"^part-(\d{8,})\.parquet$")  # 8 digits, more past 99999999
# An audio file a killed writer left half-written: cli.files.OutputFile's temporary name,
# ".<name>.wav." and tempfile's eight random characters.
_AUDIO_TMP = re.compile(r"^\..+\.wav\.[a-z0-9_]{8}$")


def pyarrow_modules() -> tuple[Any, Any]:
    """``(pyarrow, pyarrow.parquet)``, or a ConfigError naming the extra to install."""
    try:
        pa = importlib.import_module("pyarrow")
        pq = importlib.import_module("pyarrow.parquet")
    except ImportError as exc:
        raise ConfigError(
            "batch", f"results need pyarrow (the batch extra): {install_hint('batch')}"
        ) from exc
    return pa, pq


def _schema() -> Any:
    pa, _ = pyarrow_modules()
    types = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64()}
    return pa.schema([(name, types[kind]) for name, kind in COLUMNS])


class ResultsStore:
    """The parts folder ``DIR/results.parquet``: append rows, read them back, merge."""

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.path = os.path.join(os.fspath(out_dir), "results.parquet")
        self.appended = 0  # rows appended through this object (merges not counted)

    def _parts(self) -> list[tuple[int, str]]:
        if not os.path.isdir(self.path):
            return []
        found = []
        for name in os.listdir(self.path):
            m = _PART.match(name)
            if m:
                found.append((int(m.group(1)), os.path.join(self.path, name)))
        return sorted(found)

    def exists(self) -> bool:
        """True when at least one part has been written."""
        return bool(self._parts())

    def append(self, rows: Iterable[dict[str, Any]]) -> None:
        """Write ``rows`` as a new part (atomically); nothing for no rows."""
        rows = list(rows)
        if not rows:
            return
        pa, pq = pyarrow_modules()
        schema = _schema()
        table = pa.Table.from_pylist(
            [{name: row.get(name) for name in schema.names} for row in rows], schema=schema
        )
        os.makedirs(self.path, exist_ok=True)
        parts = self._parts()
        seq = parts[-1][0] + 1 if parts else 1
        final = os.path.join(self.path, f"part-{seq:08d}.parquet")
        tmp = os.path.join(self.path, f".part-{seq:08d}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:  # a file object: pyarrow encodes str paths strictly
                pq.write_table(table, fh)
                fh.flush()
                os.fsync(fh.fileno())  # on disk before it has its name (power loss)
            os.replace(tmp, final)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        self.appended += len(rows)

    def read(self) -> Any:
        """Every row as a ``pyarrow.Table``, one per key (the last written), sorted by key."""
        pa, pq = pyarrow_modules()
        schema = _schema()
        tables = []
        for _, path in self._parts():
            try:
                with _open_part(path) as fh:  # (a name that is not UTF-8 is valid here)
                    table = _conform(_read_part(pq, fh), schema)
                empty = [k for k in KEY if table.column(k).null_count]
                if empty:
                    raise OSError(f"rows without {' and '.join(empty)}")
                tables.append(table)
            except (OSError, KeyError, ValueError, pa.ArrowException) as exc:
                raise ConfigError(
                    "out",
                    f"{path}: a damaged results part ({_one_line(exc)}); move it out of the "
                    "folder (its items run again with resume)",
                ) from exc
        if not tables:
            return schema.empty_table()
        rows = pa.concat_tables(tables).to_pylist()
        latest: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in rows:
            latest[tuple(row[k] for k in KEY)] = row
        ordered = [latest[k] for k in sorted(latest, key=_sort_key)]
        return pa.Table.from_pylist(ordered, schema=schema)

    def keys(self) -> set[tuple[str, str, str]]:
        """The (id, processor, config) of every row written so far."""
        table = self.read()
        cols = [table.column(k).to_pylist() for k in KEY]
        return {(a, b, c) for a, b, c in zip(*cols, strict=True)}

    def remove_debris(self) -> None:
        """Remove what a killed run left half-written: the temporary files of its parts
        and of its processed audio (``DIR/audio``). Only while no other run writes here
        (the runner holds the folder's lock)."""
        if os.path.isdir(self.path):
            for name in os.listdir(self.path):
                if name.startswith(".part-") and name.endswith(".tmp"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(self.path, name))
        audio = os.path.join(os.path.dirname(self.path), "audio")
        for folder, _, names in os.walk(audio):
            for name in names:
                if _AUDIO_TMP.match(name):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(folder, name))

    def compact(self) -> None:
        """Merge every part into one (written first, then the old parts removed), and
        remove the temporary files of parts whose writer was killed."""
        self.remove_debris()
        parts = self._parts()
        if len(parts) <= 1:
            return
        rows = self.read().to_pylist()
        appended = self.appended
        self.append(rows)
        self.appended = appended
        for _, path in parts:
            os.unlink(path)


def _open_part(path: str) -> Any:
    """A part opened for reading; OSError for anything but a regular file (a FIFO put
    there must not block the read)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("not a regular file")
        os.set_blocking(fd, True)
        return open(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_part(pq: Any, fh: Any) -> Any:
    """The part's table, read in this thread. pyarrow's thread pools (``read_table``
    starts them, and ``pre_buffer`` its I/O pool) leave worker threads that, at
    interpreter exit, abort the process about once in 20-40 runs ("terminate called
    without an active exception", status 134; apache/arrow#34314): a refused
    ``batch --resume`` printed its error line, then aborted."""
    return pq.ParquetFile(fh, pre_buffer=False).read(use_threads=False)


def _conform(table: Any, schema: Any) -> Any:
    """``table`` in ``schema`` as ``read_table(schema=...)`` gives it: a missing column
    null, another one dropped, each cast to its type (ArrowInvalid when it cannot be)."""
    pa, _ = pyarrow_modules()
    names = table.column_names
    columns = [
        table.column(f.name).cast(f.type) if f.name in names else pa.nulls(len(table), f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return (natural_key(key[0]), key[1], key[2])
