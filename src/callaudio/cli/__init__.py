"""The ``callaudio`` command (also ``python -m callaudio``): the application layer.

One module per subcommand, each with ``add_arguments(parser)`` and ``run(args) -> int``:
``demo`` (a whole call on the simulated room, its report in :mod:`.report`), ``process``
(files offline, streaming), ``loopback`` (a live echo test on a device), ``devices``,
``bench``, ``batch`` (a corpus on Dask); :mod:`.files` reads and writes audio files
(soundfile; :mod:`.source` opens an input: a file, a pipe relayed or spooled),
:mod:`.resample` is the streaming resampler, :mod:`.summary` the per-file figures,
:mod:`.common` shared helpers.

Layering: this package may import every other callaudio package; nothing in callaudio
imports it (the console script's entry point is :func:`main`).

Errors: every failure a user can act on (a bad file or option value, an output path that
cannot be written, a missing device) is one ``callaudio: error: ...`` line on stderr and a
non-zero exit status (1; 2 for usage errors), with no output file left behind. A closed
stdout (``callaudio process ... | head -1``) ends the command quietly with status 141, as
Unix tools killed by SIGPIPE do. Ctrl-C, SIGTERM and SIGHUP (unless ignored, as under
``nohup``) stop the command the same way: no partial output left, one line on stderr
(``callaudio: process interrupted (SIGINT): nothing written``; a command says what it kept
with :func:`.common.on_interrupt`), status 128 + the signal.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from .._version import __version__
from ..errors import CallAudioError

if TYPE_CHECKING:
    from .common import Interruption

__all__ = ["build_parser", "main"]

_COMMANDS = (
    ("demo", "a whole call on the simulated room, with a report"),
    ("process", "process audio files offline (echo, noise, gain)"),
    ("loopback", "live echo test on a real device"),
    ("devices", "list PortAudio devices"),
    ("bench", "us per 10 ms frame of each stage and the whole chain"),
    ("batch", "a corpus through callaudio and its peers, on Dask"),
)
_EXIT_SIGPIPE = 128 + 13


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, like every other error."""

    _argv: Sequence[str] = ()

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(self._argv, namespace)

    def error(self, message: str) -> NoReturn:
        if message.startswith("the following arguments are required"):
            # a misspelt option (--ouput) is what the user needs to hear about first
            argv = list(self._argv)
            argv = argv[: argv.index("--")] if "--" in argv else argv  # then values only
            typos = [a for a in argv if self._misspelt(a)]
            if typos:
                message = f"unrecognized arguments: {' '.join(typos)}"
        self.exit(2, f"callaudio: error: {message} (see {self.prog} --help)\n")

    def _misspelt(self, arg: str) -> bool:
        """Whether ``arg`` looks like an option but names none of this parser's (nor
        abbreviates one); a negative number is a value."""
        text = arg.split("=")[0]
        if not text.startswith("-") or text == "-" or text.lstrip("-")[:1].isdigit():
            return False
        names = [o for a in self._actions for o in a.option_strings]
        return text not in names and not (
            text.startswith("--") and any(n.startswith(text) for n in names)
        )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``callaudio`` command."""
    from . import batch, bench, demo, devices, loopback, process

    modules = {
        "demo": demo,
        "process": process,
        "loopback": loopback,
        "devices": devices,
        "bench": bench,
        "batch": batch,
    }
    p = _Parser(prog="callaudio", description="callaudio: the audio side of a voice call.")
    p.add_argument("--version", action="version", version=f"callaudio {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, help_text in _COMMANDS:
        module = modules[name]
        sp = sub.add_parser(name, help=help_text, description=module.run.__doc__)
        module.add_arguments(sp)
        sp.set_defaults(command_parser=sp)  # names the command's own --help in usage errors
    return p


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the exit flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file descriptor (tests)
        pass


class _Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the command is, so that the clean-up of Ctrl-C runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _termination_as_interrupt(interruption: Interruption | None = None) -> Iterator[None]:
    """While the command runs, SIGINT (while Python's default handler has it), SIGTERM and
    SIGHUP (while at their default) raise ``KeyboardInterrupt`` / :class:`_Terminated`,
    once: a later signal does not break the clean-up of the first. A handler the calling
    program set, or an ignored signal (``nohup``), is left alone, and so is a wakeup fd it
    set (its event loop's): the watcher of :func:`_exit_if_stuck` then does not run. The
    watcher acts only on the signals taken here. Everything comes back at the end."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised: list[int] = []

    def _raise(signum: int, _frame: FrameType | None) -> None:
        if raised:
            return
        raised.append(signum)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise _Terminated(signum)

    defaults = (
        ("SIGINT", signal.default_int_handler),
        ("SIGTERM", signal.SIG_DFL),
        ("SIGHUP", signal.SIG_DFL),
    )
    old: dict[int, Any] = {}
    done = threading.Event()
    socks: list[socket.socket] = []
    watcher: threading.Thread | None = None
    wakeup_set = False
    try:
        for name, default in defaults:
            sig = getattr(signal, name, None)
            if sig is not None and signal.getsignal(sig) is default:
                old[sig] = signal.signal(sig, _raise)
        if old:
            socks = list(socket.socketpair())
            socks[1].setblocking(False)
            previous = signal.set_wakeup_fd(socks[1].fileno(), warn_on_full_buffer=False)
            wakeup_set = True
            if previous != -1:  # the program's own (an event loop's): keep it, no watcher
                signal.set_wakeup_fd(previous)
                wakeup_set = False
            else:
                watcher = threading.Thread(
                    target=_exit_if_stuck,
                    args=(socks[0], done, frozenset(old), interruption),
                    name="callaudio-signals",
                    daemon=True,
                )
                watcher.start()
        yield
    finally:
        done.set()
        if wakeup_set:
            signal.set_wakeup_fd(-1)
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if socks:
            socks[1].close()
            with contextlib.suppress(OSError):
                socks[0].shutdown(socket.SHUT_RDWR)
            if watcher is not None and watcher.ident is not None:
                watcher.join()
            socks[0].close()


_STUCK_GRACE_S = 1.0  # how long a signal may wait for the main thread before the exit


def _exit_if_stuck(
    rsock: socket.socket,
    done: threading.Event,
    watched: frozenset[int],
    interruption: Interruption | None = None,
) -> None:
    """The signals' second path. Python runs a signal handler in the main thread only
    between bytecodes; a main thread blocked in C (libsndfile reading a pipe that stays
    open, and retrying the read the signal interrupted) never gets there. The signal
    still writes its number to the wakeup socket: if the command has not ended
    :data:`_STUCK_GRACE_S` later, its temporary output is removed here and the process
    exits with 128 + the signal (the status the handler's way gives)."""
    while True:
        try:
            data = rsock.recv(64)
        except OSError:
            return
        if not data:
            return
        for signum in data:
            if signum in watched and not done.wait(_STUCK_GRACE_S):
                from .files import abandon_outputs

                abandon_outputs()
                if interruption is not None:
                    interruption.say(signum)
                os._exit(128 + signum)


def _abandon_outputs() -> None:
    """A signal that came before a command's clean-up could take it (between an output's
    temporary file and the ``with`` around it) leaves no temporary file either."""
    from .files import abandon_outputs

    abandon_outputs()


def _interrupted(exc: KeyboardInterrupt, interruption: Interruption) -> int:
    """The end of a command a signal stopped: its temporary outputs removed, its one line
    said; the exit status (128 + the signal; the first one's when a second came after the
    handlers were restored: the line names the first)."""
    signum = exc.signum if isinstance(exc, _Terminated) else int(signal.SIGINT)
    _abandon_outputs()
    interruption.say(signum)
    return 128 + (interruption.signum or signum)


def _printable_names() -> None:
    """A file name that is not UTF-8 (valid on Linux; Python holds its bytes as lone
    surrogates) is printed escaped (``\\udcff``) rather than failing a finished command:
    standard output and error are set to ``backslashreplace`` where they were strict
    (``PYTHONIOENCODING=utf-8``; the C and UTF-8 locales escape them already)."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            with contextlib.suppress(Exception):  # (a stream that cannot change stays)
                stream.reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``callaudio`` console script; returns the exit status."""
    _printable_names()
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # reported by the command's parser, which points at its own --help
        getattr(args, "command_parser", parser).error(
            f"unrecognized arguments: {' '.join(unknown)}"
        )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from .common import start_command

    interruption = start_command(str(args.command))
    try:
        with _termination_as_interrupt(interruption):
            try:
                return int(args.func(args))
            except KeyboardInterrupt as exc:  # (the clean-up and the line, later signals held)
                return _interrupted(exc, interruption)
    except KeyboardInterrupt as exc:  # came as the command ended
        return _interrupted(exc, interruption)
    except BrokenPipeError:
        _quiet_stdout()
        return _EXIT_SIGPIPE
    except (CallAudioError, OSError, MemoryError) as exc:
        text = str(exc) or type(exc).__name__
        if isinstance(exc, MemoryError):
            text = "out of memory"
        if sys.stderr is not None:  # closed (2>&-): the exit status alone tells
            print(f"callaudio: error: {' '.join(text.split())}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
