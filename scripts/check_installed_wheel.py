#!/usr/bin/env python3
"""Install a built callaudio wheel where no compiler exists, and use it as a dependent would.

A fresh virtual environment with no Cython, a ``PATH`` whose C compilers fail (and log that
they were called) and ``CC=false``; pip may install binary wheels only. There, from a
directory outside the source tree: ``import callaudio``; the compiled FFT against
``numpy.fft``; a ``VoiceProcessor`` with every stage the build offers over a generated echo
scenario (``callaudio.simulation``, recorded clips included); the session scenario (one
call, an interruption that resumes and one that outlasts the grace period) whenever the
wheel has ``callaudio/client.py``; the offline API without PortAudio;
``callaudio --version`` / ``--help``; ``python -m mypy.stubtest callaudio``.

Usage::

    python scripts/check_installed_wheel.py dist/callaudio-*.whl

The wheel comes from ``scripts/build_wheel.py`` (``make wheel`` runs both). Needs pip and
network or cache access for the wheel's dependencies. The hidden ``--smoke`` and ``--cached``
options are the parts that run inside the fresh environment (from a copy of this file).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import NoReturn


class CheckFailed(Exception):
    """A check did not pass; the message says what and why."""


def step(msg: str) -> None:
    print(f"check_installed_wheel: {msg}", flush=True)


def fail(msg: str) -> NoReturn:
    raise CheckFailed(msg)


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    what: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 1200.0,
    stdout_only: bool = False,
) -> str:
    """Run ``cmd``; return its stdout+stderr (or stdout), or fail with the tail of both."""
    args = [str(c) for c in cmd]
    try:
        r = subprocess.run(
            args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        fail(f"{what}: timed out after {timeout:.0f} s: {shlex.join(args)}")
    out = r.stdout + r.stderr
    if r.returncode != 0:
        tail = "\n".join(out.splitlines()[-60:])
        fail(f"{what} failed (exit {r.returncode}): {shlex.join(args)}\n{tail}")
    return r.stdout if stdout_only else out


# -- the fresh environment -----------------------------------------------------------------

# Names Cython adds to every module and cdef class (no stub lists them), and the ``python -m``
# entry point (importing it runs the CLI). Everything else a compiled module exposes must be
# in its stub (no --ignore-missing-stub).
STUBTEST_ALLOWLIST = r"""callaudio\._dsp\.\w+\.__test__
callaudio\._dsp\.\w+(\.\w+)?\.__(reduce|setstate)_cython__
callaudio\.__main__
callaudio\.integrations\.aiortc(\..*)?
"""
COMPILERS = ("cc", "gcc", "c++", "g++", "clang", "clang++", "ld", "cython", "cythonize")


def no_compiler_bin(where: Path, log: Path) -> Path:
    """A directory of C compilers (first on PATH) that fail and record that they ran."""
    where.mkdir(parents=True)
    machine = sysconfig.get_config_var("MULTIARCH") or ""
    names = [*COMPILERS, *(f"{machine}-{c}" for c in ("gcc", "g++") if machine)]
    for name in names:
        exe = where / name
        exe.write_text(
            f'#!/bin/sh\necho "{name} $*" >> "{log}"\n'
            f'echo "check_installed_wheel: {name} is not available here" >&2\nexit 1\n'
        )
        exe.chmod(0o755)
    return where


def venv_env(venv: Path, nocc: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "LDSHARED"}
        and not k.startswith(("CFLAGS", "CPPFLAGS", "LDFLAGS", "CALLAUDIO_"))
    }
    env.update(
        PATH=os.pathsep.join([str(nocc), str(venv / "bin"), "/usr/bin", "/bin"]),
        VIRTUAL_ENV=str(venv),
        CC="false",
        CXX="false",
        PIP_ONLY_BINARY=":all:",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PYTHONNOUSERSITE="1",
        MPLBACKEND="Agg",
    )
    return env


def mypy_requirement() -> str:
    """The mypy of the development environment (stubtest's verdicts vary between versions)."""
    try:
        from importlib.metadata import version

        return f"mypy=={version('mypy')}"
    except Exception:
        return "mypy>=1.8"


def check_in_fresh_env(
    wheel: Path, work: Path, version: str, expect_session: bool, stubs: list[str]
) -> None:
    venv, home = work / "venv", work / "elsewhere"
    home.mkdir()
    log = work / "compiler-calls.log"
    nocc = no_compiler_bin(work / "nocc", log)
    step(f"fresh venv {venv} (no Cython, compilers disabled, binary wheels only)")
    run([sys.executable, "-m", "venv", "--without-pip", venv], what="python -m venv")
    py = venv / "bin" / "python"
    env = venv_env(venv, nocc)
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            py,
            "install",
            "-q",
            "--no-compile",  # a throwaway environment: bytecode only for what is imported
            "--only-binary",
            ":all:",
            "--no-warn-script-location",
            wheel,
            mypy_requirement(),
        ],
        what="pip install the wheel",
        env=env,
        cwd=home,
    )
    # The smoke test runs from a copy of this script, outside the source tree, isolated (-I):
    # nothing from the checkout can be imported.
    smoke = home / "smoke_callaudio.py"
    shutil.copy2(Path(__file__), smoke)
    args: list[str | os.PathLike[str]] = [py, "-I", smoke, "--smoke", version]
    if expect_session:
        args.append("--expect-session")
    out = run(args, what="smoke test in the fresh venv", env=env, cwd=home, timeout=600)
    for ln in out.splitlines():
        print(f"    {ln}", flush=True)
    exe = venv / "bin" / "callaudio"
    got = run([exe, "--version"], what="callaudio --version", env=env, cwd=home).strip()
    if got != f"callaudio {version}":
        fail(f"callaudio --version printed {got!r}, expected 'callaudio {version}'")
    helptext = run([exe, "--help"], what="callaudio --help", env=env, cwd=home)
    if not helptext.startswith("usage: callaudio"):
        fail(f"callaudio --help printed:\n{helptext}")
    got = run(
        [py, "-I", "-m", "callaudio", "--version"], what="python -m callaudio", env=env, cwd=home
    ).strip()
    if got != f"callaudio {version}":
        fail(f"python -m callaudio --version printed {got!r}")
    step(f"console script: {got!r}; --help starts with 'usage: callaudio'")
    t0 = time.perf_counter()
    # stubtest cannot compare functools caches (typeshed types their __call__ as
    # (*args: Hashable, **kwargs: Hashable)); the smoke run lists them by name.
    cached = run(
        [py, "-I", smoke, "--cached"],
        what="listing cached functions",
        env=env,
        cwd=home,
        stdout_only=True,
    )
    allow = home / "stubtest-allowlist.txt"
    allow.write_text(STUBTEST_ALLOWLIST + cached)
    # Runtime dependencies without type information (matplotlib for the demo's plots,
    # sounddevice, soundfile): the same override as pyproject.toml's [tool.mypy].
    mypy_cfg = home / "mypy.ini"
    mypy_cfg.write_text(
        "[mypy]\n[mypy-matplotlib.*]\nignore_missing_imports = True\n"
        "[mypy-matplotlib]\nignore_missing_imports = True\n"
        "[mypy-sounddevice]\nignore_missing_imports = True\n"
        "[mypy-soundfile]\nignore_missing_imports = True\n"
        "[mypy-aiortc,aiortc.*,av,av.*]\nignore_missing_imports = True\n"
    )
    out = run(
        [
            py,
            "-I",
            "-m",
            "mypy.stubtest",
            "--mypy-config-file",
            mypy_cfg,
            "--allowlist",
            allow,
            "--ignore-unused-allowlist",
            "callaudio",
        ],
        what="python -m mypy.stubtest callaudio (installed wheel)",
        env=env,
        cwd=home,
        timeout=900,
    )
    step(
        f"stubtest callaudio passed ({len(stubs)} compiled modules with stubs: "
        f"{', '.join(stubs)}) in {time.perf_counter() - t0:.1f} s: {out.strip().splitlines()[-1]}"
    )
    if log.exists():
        fail(f"a compiler was invoked in the fresh environment:\n{log.read_text()}")
    step("no compiler was invoked in the fresh environment")


# -- the smoke test (runs inside the fresh environment) ------------------------------------


def has_module(name: str) -> bool:
    """Whether ``name`` can be imported (False also when a parent package is missing)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def cached_functions() -> list[str]:
    """Allowlist lines (exact names) for the package's functools-cached functions."""
    import pkgutil

    import callaudio

    lines = []
    for info in pkgutil.walk_packages(callaudio.__path__, "callaudio."):
        if info.name.endswith("__main__"):
            continue
        try:
            mod = importlib.import_module(info.name)
        except ModuleNotFoundError as exc:  # a module whose optional extra is not installed
            if exc.name and not exc.name.startswith("callaudio"):
                continue
            raise
        for attr, obj in vars(mod).items():
            if (
                hasattr(obj, "cache_info")
                and hasattr(obj, "__wrapped__")
                and getattr(obj, "__module__", None) == info.name
            ):
                lines.append(re.escape(f"{info.name}.{attr}"))
    return lines


def smoke(version: str, expect_session: bool) -> None:
    """Use the installed package the way a dependent project would."""
    import importlib.metadata
    import importlib.resources
    import pkgutil

    import numpy as np

    def check(cond: object, msg: str) -> None:
        if not cond:
            raise SystemExit(f"smoke: FAILED: {msg}")

    check(importlib.util.find_spec("Cython") is None, "Cython is importable in the fresh venv")
    check(
        importlib.util.find_spec("sounddevice") is None,
        "sounddevice is installed: the offline-API check needs an environment without it",
    )
    import callaudio
    import callaudio._dsp

    where = Path(callaudio.__file__).resolve()
    check(Path(sys.prefix).resolve() in where.parents, f"callaudio imported from {where}")
    check(callaudio.__version__ == version, f"__version__ {callaudio.__version__} != {version}")
    check(
        importlib.metadata.version("callaudio") == version,
        "installed distribution version differs",
    )
    check((where.parent / "py.typed").is_file(), "py.typed not installed")
    mods = sorted(m.name for m in pkgutil.iter_modules(callaudio._dsp.__path__))
    for m in mods:
        mod = importlib.import_module(f"callaudio._dsp.{m}")
        check(str(mod.__file__).endswith((".so", ".pyd")), f"callaudio._dsp.{m} is not compiled")
    print(f"import callaudio {callaudio.__version__} from {where.parent}; compiled: {mods}")

    # The compiled FFT (built with the portable flags) against numpy.fft.
    from callaudio._dsp.fft import RealFFT

    rng = np.random.default_rng(7)
    for n in (320, 640, 960):
        x = rng.standard_normal(n).astype(np.float32)
        ref = np.fft.rfft(x.astype(np.float64))
        got = RealFFT(n).forward(x)
        err = float(np.max(np.abs(got - ref)) / np.max(np.abs(ref)))
        check(err < 1e-5, f"RealFFT({n}) differs from numpy.fft.rfft by {err:.2e}")
        back = RealFFT(n).inverse(got)
        check(float(np.max(np.abs(back - x))) < 1e-4, f"RealFFT({n}) inverse does not invert")
    print("compiled RealFFT agrees with numpy.fft (n = 320, 640, 960)")

    # A VoiceProcessor with every stage this build has, over a generated echo scenario.
    import dataclasses

    from callaudio import ProcessingConfig, VoiceProcessor
    from callaudio.simulation import EchoScenario, level_dbfs

    rate = 16000
    on = [f.name for f in dataclasses.fields(ProcessingConfig)]
    cfg = dataclasses.replace(
        ProcessingConfig(),
        **{s: dataclasses.replace(getattr(ProcessingConfig(), s), enabled=True) for s in on},
    )
    sc = EchoScenario(
        sample_rate=rate,
        duration_s=4.0,
        near_intervals=((2.0, 3.5),),
        noise_kind="white",
        noise_snr_db=25.0,
        seed=3,
    ).build()
    data = importlib.resources.files("callaudio.simulation") / "data"
    check(any(p.name.endswith(".wav") for p in data.iterdir()), "talker clips not installed")
    dc = 0.05  # a DC offset on the mic: the high-pass filter must remove it
    mic = (sc.mic + dc).astype(np.float32)
    vp = VoiceProcessor(rate, config=cfg)
    n = vp.frame_size
    frames = mic.size // n
    out = np.empty(frames * n, dtype=np.float32)
    for i in range(frames):
        sl = slice(i * n, (i + 1) * n)
        vp.process_render(sc.far[sl])
        vp.process_capture(mic[sl], out=out[sl])
    st = vp.stats
    check(np.all(np.isfinite(out)), "non-finite output")
    check(st.capture_frames == frames and st.render_frames == frames, f"frame counts {st}")
    check(st.nonfinite_frames == 0, "finite input counted as non-finite")
    tail = out[-rate:]
    residual_dc = abs(float(np.mean(tail)))
    check(level_dbfs(tail) > -60.0, f"output is silent ({level_dbfs(tail):.1f} dBFS)")
    check(residual_dc < 0.05 * dc, f"DC offset {dc} not removed: {residual_dc:.2e} left")
    extra = ""
    if "echo_canceller" in on:
        # The installed echo canceller ran and found the echo path (100 ms bulk delay plus
        # the loudspeaker-to-mic flight time); its quality is tests/test_aec.py's business.
        check(st.delay_ms is not None, "the echo canceller reports no delay estimate")
        err = abs(float(st.delay_ms or 0.0) - sc.delay_ms)
        check(err < 20.0, f"echo delay {st.delay_ms} ms, the scenario's is {sc.delay_ms:.1f} ms")
        erle = "unknown" if st.erle_db is None else f"{st.erle_db:.1f} dB"
        extra += f"; echo delay {st.delay_ms:.1f} ms (true {sc.delay_ms:.1f}), ERLE {erle}"
    if "noise_suppressor" in on:
        p = st.speech_probability
        check(p is not None and 0.0 <= p <= 1.0, f"speech probability {p}")
        extra += f"; speech probability {p:.2f}"
    print(
        f"VoiceProcessor({rate}) stages {on}: {frames} frames of a 4 s echo scenario "
        f"(recorded talkers, double talk, noise); DC {dc} -> {residual_dc:.1e}; "
        f"output {level_dbfs(tail):.1f} dBFS; latency {st.latency_ms:.2f} ms{extra}"
    )

    # The offline API works without PortAudio; opening a real device says what is missing.
    where_sd = [
        m
        for m in ("callaudio.devices.sounddevice_backend",)
        if has_module(m)
    ]
    if where_sd:
        from callaudio.errors import CallAudioError

        sdb = importlib.import_module(where_sd[0])
        try:
            sdb.list_devices()
        except CallAudioError as exc:
            check("sounddevice" in str(exc), f"unclear error without sounddevice: {exc}")
            print(f"without sounddevice: list_devices() -> {type(exc).__name__}: {exc}")
        else:
            check(False, "list_devices() worked without sounddevice installed")

    # The session scenario: one call, an interruption that resumes, one that does not.
    has_client = has_module("callaudio.client")
    if expect_session:
        check(has_client, "the sdist has callaudio/client.py but the wheel has no callaudio.client")
    if not has_client:
        print("session layer (callaudio.client) not in this build: scenario not run")
        return
    session_scenario(check)


def session_scenario(check: object) -> None:
    """One call through an interruption that resumes and one that outlasts the grace period."""
    from collections.abc import Callable

    from callaudio import (
        AudioSession,
        CallState,
        Category,
        EndCause,
        InterruptionPolicy,
        ManualClock,
        Mode,
        SynchronousDispatcher,
        VoiceClient,
    )

    if not has_module("callaudio.audio.recording"):
        raise SystemExit("smoke: FAILED: no MemoryBackend (callaudio.audio.recording)")
    MemoryBackend = importlib.import_module("callaudio.audio.recording").MemoryBackend

    ok: Callable[[object, str], None] = check  # type: ignore[assignment]
    names: list[str] = []

    class Log:
        def on_event(self, event: object) -> None:
            names.append(str(getattr(event, "name", event)))

    clock = ManualClock()
    session = AudioSession(dispatcher=SynchronousDispatcher())
    session.add_observer(Log())
    session.set_category(Category.PLAYBACK, Mode.SPOKEN_AUDIO)
    before = session.configuration
    backend = MemoryBackend()
    client = VoiceClient(backend, session=session, policy=InterruptionPolicy(clock=clock))
    call = client.start_call("bob")
    call.progress()
    call.ring()
    call.answer()
    call.establish()
    ok(call.state is CallState.ESTABLISHED, f"call state {call.state}")
    ok(session.is_active and client.is_duplex_running, "call established but no audio")
    ok(
        (session.category, session.mode) == (Category.PLAY_AND_RECORD, Mode.VOICE_CHAT),
        f"call configuration {session.category}, {session.mode}",
    )
    session.begin_interruption("pstn")
    ok(call.is_interrupted and not session.is_active, "interruption did not stop the session")
    ok(not client.is_duplex_running, "audio still running during the interruption")
    clock.advance(12.0)
    backend.clear()
    session.end_interruption("pstn")
    ok(not call.is_interrupted and call.state is CallState.ESTABLISHED, "call did not resume")
    ok(session.is_active and client.is_duplex_running, "audio did not restart after 12 s")
    # The echo path is reset on resume: start_duplex(resume=True) (recorded in
    # duplex_resumes), or an explicit reset_echo_canceller() before the start_duplex API
    # had `resume`.
    resumed = True in getattr(backend, "duplex_resumes", [])
    ok(resumed or "reset_echo_canceller" in backend.names, "echo canceller not reset on resume")
    session.begin_interruption("pstn")
    clock.advance(30.0)
    ok(call.state is CallState.ENDED, f"call still {call.state} 30 s into an interruption")
    ok(call.details.end_cause is EndCause.GSM_CALL_DETECTED, f"cause {call.details.end_cause}")
    session.end_interruption("pstn")
    ok(not session.is_active and session.activation_count == 0, "session still held")
    ok(session.configuration == before, f"configuration not restored: {session.configuration}")
    client.close()
    for name in ("interruption_began", "interruption_ended", "configuration_restored"):
        ok(name in names, f"no {name} event (got {names})")
    print(
        "session: call established -> interrupted -> resumed after 12 s (echo canceller reset)"
        f" -> interrupted 30 s -> ended {call.details.end_cause.name}; configuration restored;"
        f" {len(names)} events"
    )


# -- main ------------------------------------------------------------------------------------


def wheel_facts(wheel: Path) -> tuple[str, bool, list[str]]:
    """The wheel's version, whether it has the session layer, its compiled modules."""
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
    parts = wheel.name[:-4].split("-")
    if len(parts) < 5 or parts[0] != "callaudio":
        fail(f"{wheel.name} is not a callaudio wheel (name-version-python-abi-platform.whl)")
    stubs = sorted(
        PurePosixPath(n).name.split(".")[0]
        for n in names
        if re.match(r"^callaudio/_dsp/[^/]+\.(so|pyd)$", n)
    )
    if not stubs:
        fail(f"{wheel.name} has no compiled module (callaudio/_dsp/*.so)")
    return parts[1], "callaudio/client.py" in names, stubs


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("wheel", nargs="?", help="the wheel to install (built by build_wheel.py)")
    p.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    # Internal: what runs inside the fresh environment (from a copy of this file).
    p.add_argument("--smoke", metavar="VERSION", help=argparse.SUPPRESS)
    p.add_argument("--expect-session", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--cached", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.cached:
        print("".join(f"{ln}\n" for ln in cached_functions()), end="")
        return 0
    if args.smoke:
        smoke(args.smoke, args.expect_session)
        return 0
    if not args.wheel:
        p.error("the wheel to check is required")
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="callaudio-installed-"))
    try:
        wheel = Path(args.wheel).resolve()
        if not wheel.is_file():
            fail(f"no such wheel: {wheel}")
        version, expect_session, stubs = wheel_facts(wheel)
        check_in_fresh_env(wheel, work, version, expect_session, stubs)
    except CheckFailed as exc:
        print(f"check_installed_wheel: FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        if args.keep:
            step(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"check_installed_wheel: OK ({wheel.name}, {time.perf_counter() - t0:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
