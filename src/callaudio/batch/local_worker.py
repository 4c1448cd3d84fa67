"""The set-up of a local cluster's Dask worker (a Dask preload: ``dask_setup``).

A local cluster's workers run in this machine's terminal session, so Ctrl-C reaches them
as well as the run: they ignore it and stop when the run closes its cluster (its clean-up
and its one line are the run's), instead of each printing its own traceback. Nor do they
warn of a task cancelled while it ran ("... ended with CancelledError"): the run cancels
its tasks only when it is stopped.
"""

from __future__ import annotations

import logging
import signal
import threading

__all__ = ["dask_setup"]


def _not_a_cancelled_task(record: logging.LogRecord) -> bool:
    return "ended with CancelledError" not in record.getMessage()


def dask_setup(worker: object) -> None:
    """Called by Dask in each worker process as it starts."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("distributed.worker.state_machine").addFilter(_not_a_cancelled_task)
