"""The JACK server's own scheduling, watched from another process (real-audio tests).

A callback xrun on a shared machine has two causes: the client was late (what the tests
are about: a callback that waits for the GIL, allocates, blocks), or the whole host
stalled and JACK's own cycles came late (nothing a client can change: a fresh-clone run
once saw JACK's period interval reach 35.7 ms with nothing of ours running). ``JackWatch``
tells them apart from outside the test's process:

- a process of its own (so the test's GIL, its load and its callbacks cannot delay it),
  SCHED_FIFO when allowed, opens a JACK client through libjack that is never activated:
  it has no process callback, no ports, is not in the graph, so it can neither cause nor
  suffer a client xrun;
- it polls the server's frame time (``jack_last_frame_time``: the driver advances it at
  the start of every cycle, whether or not the clients finished theirs; JACK2 runs the
  clients asynchronously) every 0.5 ms and records the wall-clock interval between
  successive cycles: a late client leaves them at 10 ms, a stalled host does not;
- it reads the driver's own xrun report (``jack_get_max_delayed_usecs``, reset when the
  watch starts: the dummy driver sets it only when its timer thread woke a whole period
  late).

A stall is a cycle interval above ``STALL_FACTOR`` periods, with its time. The tests use
it only for what coincides with it: an xrun reported during or just after a stall is the
server's; xruns anywhere else are the client's and fail the test. (A client that misses
its cycles all the time can itself delay the server now and then: each xrun is a
notification the server's real-time thread sends to every client. Its other xruns still
fail the test; that is why nothing is excused for a stall elsewhere in the window.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from types import TracebackType

# A cycle interval above this many periods is a server-side stall: the cycle came more
# than half a period late (normal jitter: std under 1 ms, about 1.4 ms on loaded cores).
STALL_FACTOR = 1.5

_WATCHER = textwrap.dedent(
    """
    import ctypes, json, os, sys, threading, time

    jack = ctypes.CDLL("libjack.so.0")
    jack.jack_client_open.restype = ctypes.c_void_p
    jack.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    for name, res in (("jack_last_frame_time", ctypes.c_uint32),
                      ("jack_get_sample_rate", ctypes.c_uint32),
                      ("jack_get_buffer_size", ctypes.c_uint32),
                      ("jack_get_max_delayed_usecs", ctypes.c_float),
                      ("jack_reset_max_delayed_usecs", None),
                      ("jack_client_close", ctypes.c_int)):
        getattr(jack, name).restype = res
        getattr(jack, name).argtypes = [ctypes.c_void_p]
    status = ctypes.c_int(0)
    # JackNoStartServer (0x01); the server is $JACK_DEFAULT_SERVER
    client = jack.jack_client_open(b"callaudio-watch", 0x01, ctypes.byref(status))
    if not client:
        print(json.dumps({"error": f"jack_client_open failed, status {status.value:#x}"}),
              flush=True)
        sys.exit(2)
    rate = jack.jack_get_sample_rate(client)
    period = jack.jack_get_buffer_size(client)
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(int(sys.argv[1])))
        fifo = True
    except (OSError, ValueError):
        fifo = False
    jack.jack_reset_max_delayed_usecs(client)
    threshold = float(sys.argv[2]) * period / rate
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    cycles, longest, stalls = 0, 0.0, []
    prev_f = jack.jack_last_frame_time(client)
    prev_t = time.monotonic()
    print(json.dumps({"ready": True}), flush=True)
    while not stop.is_set():
        time.sleep(0.0005)
        f = jack.jack_last_frame_time(client)
        if f == prev_f:
            continue
        t = time.monotonic()
        cycles += (f - prev_f) % 2**32 // period
        gap = t - prev_t
        longest = max(longest, gap)
        if gap > threshold:
            stalls.append((prev_t, t))
        prev_f, prev_t = f, t
    print(json.dumps({
        "rate": rate, "period": period, "fifo": fifo, "cycles": cycles,
        "longest_s": longest, "stalls": stalls,
        "driver_delay_us": jack.jack_get_max_delayed_usecs(client),
    }), flush=True)
    jack.jack_client_close(client)
    """
)


@dataclass
class WatchReport:
    """What the watcher saw: cycles, the longest cycle interval, the stalls (monotonic
    start and end of each interval over the threshold), the driver's largest reported
    delay (us; 0: no driver xrun)."""

    rate: int = 0
    period: int = 0
    fifo: bool = False
    cycles: int = 0
    longest_s: float = 0.0
    stalls: list[tuple[float, float]] = field(default_factory=list)
    driver_delay_us: float = 0.0

    def stalled(self, t0: float = float("-inf"), t1: float = float("inf")) -> bool:
        """A late cycle of the server overlapped [t0, t1] (time.monotonic). (A driver xrun
        is a late cycle too; its report, ``driver_delay_us``, has no time.)"""
        return any(b > t0 and a < t1 for a, b in self.stalls)

    def summary(self) -> str:
        return (
            f"server: {self.cycles} cycles, longest interval {1000 * self.longest_s:.1f} ms, "
            f"{len(self.stalls)} late (> {STALL_FACTOR:g} periods), driver xrun delay "
            f"{self.driver_delay_us:.0f} us, watcher {'SCHED_FIFO' if self.fifo else 'normal'}"
        )


class JackWatch:
    """``with JackWatch() as w: ...``; then ``w.report`` (a ``WatchReport``).

    Start it before the stream it watches and stop it after (opening a JACK client while
    a stream runs is a change of the server's client table).
    """

    def __init__(self, rt_priority: int = 20) -> None:
        self._rt_priority = rt_priority
        self._proc: subprocess.Popen[str] | None = None
        self.report = WatchReport()

    def __enter__(self) -> JackWatch:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _WATCHER, str(self._rt_priority), str(STALL_FACTOR)],
            env={**os.environ, "JACK_NO_START_SERVER": "1"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if json.loads(line or "{}").get("ready") is not True:
            out, err = self._proc.communicate(timeout=10)
            raise RuntimeError(f"the JACK watcher did not start: {line}{out}{err}")
        time.sleep(0.05)  # a first cycle seen, so the first interval is a whole one
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._proc is not None
        out, err = self._proc.communicate(timeout=30)  # closes stdin: the watcher reports
        if self._proc.returncode != 0:
            raise RuntimeError(f"the JACK watcher failed ({self._proc.returncode}): {out}{err}")
        d = json.loads(out.strip().splitlines()[-1])
        d["stalls"] = [tuple(s) for s in d["stalls"]]
        self.report = WatchReport(**d)
