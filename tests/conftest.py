"""The suite under pytest-xdist (``make test`` runs it on one worker per core).

Without xdist (``make soak``, ``make test TESTS=...``, a plain ``pytest``) nothing here
changes anything. Under xdist, tests that share a resource across processes are kept in
one worker each (``xdist_group``, scheduled with ``--dist loadgroup``):

* ``jack``: the real-audio tests (``realaudio`` marker, or the JACK fixtures). They share
  the one JACK loopback server of ``scripts/with-jack.sh``: two of them at once would sum
  their signals in its loopback, and the GIL test's "no xrun" would count the other
  test's. Every process that initialises PortAudio with the server visible also keeps an
  active JACK client in the server's cycle (PortAudio's JACK host API activates one at
  initialisation), a client whose non-real-time thread a busy process can make late: the
  server's cycle waits for it. So only the worker that runs this group sees the server
  (``JACK_DEFAULT_SERVER``); the other workers run with it hidden, and their PortAudio finds
  no JACK server (``JACK_NO_START_SERVER=1``: none is started either).
* ``static``: ruff, mypy and stubtest (tests/test_static.py) share the checkout's
  ``.mypy_cache``.
* ``aec-sweep``: the canceller's and the suppressor's sweeps assert on the same drawn
  cases, measured once per process (``aec_sweep.measured``); ``ns-sweep``: the noise
  suppressor's sweep and its transient test share ``ns_sweep.measured`` the same way.
* every other test stays with its file: module-scoped fixtures (the long runs of
  reliability/test_long_run.py, the demo's call, ...) and module-level caches are computed
  once, in one worker, as they are in a serial run.

The espeak-ng talkers cached on disk (``aec_sweep._espeak_utterances``) are written to a
temporary name and renamed: two workers drawing the same voice at once are safe.
"""

from __future__ import annotations

import os
import sys

import pytest

_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
# The server with-jack.sh started, hidden from this worker until it runs a `jack` test.
_JACK = os.environ.get("JACK_DEFAULT_SERVER", "")
if _WORKER and _JACK:
    del os.environ["JACK_DEFAULT_SERVER"]

_JACK_FIXTURES = {"jack_server", "jack_loopback"}


# Files whose tests share a per-process cache with another file's (see the module).
_SHARED = {
    "test_aec_sweep.py": "aec-sweep",
    "test_aec_suppressor_sweep.py": "aec-sweep",
    "test_ns_sweep.py": "ns-sweep",
    "test_ns_transient.py": "ns-sweep",
    "test_static.py": "static",
}


# The longest groups of a serial run (seconds per group), handed out first so that no
# long group starts last while the other worker idles (make test passes
# --no-loadscope-reorder: xdist's own order is by number of tests, and test_fresh_clone is
# one test of 50 s). Only the order: a group missing here runs after these, in file order.
_LONG_FIRST = (
    "ns-sweep",
    "tests/test_ns.py",
    "aec-sweep",
    "tests/test_fresh_clone.py",
    "tests/engine/test_engine_races.py",
    "tests/test_wheel.py",
    "tests/batch/test_cluster.py",
    "jack",
    "tests/batch/test_run.py",
    "tests/cli/test_memory.py",
    "tests/reliability/test_long_run.py",
    "tests/integrations/test_aiortc_call.py",
)


def _group(item: pytest.Item) -> str:
    """The xdist group of ``item``: a shared resource's, else its file's."""
    if item.get_closest_marker("realaudio") or _JACK_FIXTURES & set(
        getattr(item, "fixturenames", ())
    ):
        return "jack"
    if item.path.parent.name == "tests" and item.path.name in _SHARED:
        return _SHARED[item.path.name]
    return item.nodeid.split("::", 1)[0]


@pytest.hookimpl(tryfirst=True)  # before xdist's worker hook turns the marks into groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return  # (the marker is xdist's: unknown without it, under --strict-markers)
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item)))
    if _WORKER and config.getvalue("loadgroup"):
        rank = {g: i for i, g in enumerate(_LONG_FIRST)}
        items.sort(key=lambda item: rank.get(_group(item), len(rank)))  # (stable)


@pytest.hookimpl(tryfirst=True)  # before xdist's worker sends the ids to the scheduler
def pytest_collection_finish(session: pytest.Session) -> None:
    """The group as the suffix of the node id (``test_x.py::test_y@jack``), which is what
    xdist's loadgroup scheduler groups by, where xdist could not set it: its worker assigns
    ``item._nodeid``, which pytest 9.2 no longer reads (the id lives in ``item._id``, a
    NodeId), so the marks alone left every test ungrouped (two real-audio tests then ran at
    once: their signals summed in the one loopback)."""
    if not (_WORKER and session.config.getvalue("loadgroup")):
        return
    for item in session.items:
        group = _group(item)
        if item.nodeid.endswith(f"@{group}"):
            continue
        grouped = f"{item.nodeid}@{group}"
        ident = getattr(item, "_id", None)
        if ident is not None and hasattr(ident, "parse"):
            item._id = type(ident).parse(grouped)
        else:
            item._nodeid = grouped
        assert item.nodeid == grouped, (item.nodeid, grouped)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Show the JACK server to this worker before its first `jack` test's fixtures run
    (PortAudio re-scanned if this worker had initialised it without the server)."""
    if not (_WORKER and _JACK) or _group(item) != "jack":
        return
    if os.environ.get("JACK_DEFAULT_SERVER") == _JACK:
        return
    os.environ["JACK_DEFAULT_SERVER"] = _JACK
    if "sounddevice" in sys.modules:
        from callaudio.devices.sounddevice_backend import SounddeviceBackend

        SounddeviceBackend.reinitialize()
