"""Batch runs: a corpus of recordings through callaudio and its peers, side by side, on one
machine or a Dask cluster (``callaudio batch``, :func:`run`).

- :mod:`.items`: manifests (CSV/JSONL) and AEC Challenge folder layouts;
- :mod:`.processors`: callaudio and the optional peers (WebRTC, SpeexDSP) on the same frames;
- :mod:`.worker`: one item on a worker: read, process, measure, write; errors become rows;
- :mod:`.results`: the results table, Parquet parts written atomically;
- :mod:`.runner`: :func:`run`, items to Dask tasks (or this process), resume, progress;
- :mod:`.report`: ``summary.md`` and the plots.

Dask (``dask.distributed``) and pyarrow come with the ``batch`` extra and are imported only
when a run needs them.

May import: ``processing``, ``config``, ``errors``, ``simulation`` (metrics, resampling)
and the command line's file helpers (``cli.files``). Never the session layer, the client,
the engine, the audio service or a device.
"""

from __future__ import annotations

from .items import Item, detect_layout, load_items
from .processors import PROCESSORS, available
from .results import COLUMNS, KEY, VOLATILE, ResultsStore
from .runner import make_jobs, run
from .worker import Job, process_item

__all__ = [
    "COLUMNS",
    "KEY",
    "PROCESSORS",
    "VOLATILE",
    "Item",
    "Job",
    "ResultsStore",
    "available",
    "detect_layout",
    "load_items",
    "make_jobs",
    "process_item",
    "run",
]
