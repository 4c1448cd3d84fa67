"""Run the atheris harnesses: a short pass for make test, a long one (under ASan) for soak.

    python fuzz/run.py --runs 3000                 # quick: every harness, N inputs each
    python fuzz/run.py --seconds 600 --asan        # soak: 10 min each, ASan+UBSan build
    python fuzz/run.py --seconds 60 fuzz_stages    # one harness

Options: ``--corpus DIR`` keeps the corpora (default: a fresh temporary directory);
``--artifacts DIR`` where crashing inputs go (default: the corpus directory);
``--include-known`` also generates inputs that hit the defects already reported and not
yet fixed (``KNOWN`` below, passed as ``CALLAUDIO_FUZZ_SKIP`` to the harnesses so a session
looks for new ones).

With ``--asan`` it also runs ``stress_threads.py`` (the processor's threading contract under
concurrent render, capture, resets and configuration changes) on the ASan+UBSan build, for
``--stress-seconds`` (default: the per-harness time, at most 120 s).

Exit status 0 when no harness found anything; otherwise 1, after printing each finding's
log tail and artifact path. Reproduce a finding with ``python fuzz/<harness>.py <artifact>``
(under ``--asan`` with the environment printed by the runner).

Defects this found: ``misaligned`` -- RealFFT.forward/inverse and Chain.capture/render (so
VoiceProcessor) passed misaligned float32/int16 buffers to C code (UBSan: "load of misaligned
address", fuzz_stages under --asan); fixed at 05:37 UTC, so KNOWN is empty again.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
HARNESSES = ("fuzz_processor", "fuzz_stages")
KNOWN = ""          # comma-separated skip tags of open defects (see _decode.SKIP)


def sanitizer_env(overlay: Path) -> dict[str, str]:
    from build_asan import libasan

    return {
        "PYTHONPATH": str(overlay),
        "LD_PRELOAD": libasan(),
        "ASAN_OPTIONS": "detect_leaks=0:allocator_may_return_null=1:abort_on_error=1",
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    }


def run_one(name: str, args: argparse.Namespace, corpus: Path, env: dict[str, str],
            label: str = "", budget: dict[str, int] | None = None) -> bool:
    cdir = corpus / name
    cdir.mkdir(parents=True, exist_ok=True)
    art = (args.artifacts or cdir).resolve()
    art.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(HERE / f"{name}.py"), str(cdir),
           f"-artifact_prefix={art}/{name}-", "-timeout=20", "-rss_limit_mb=4096",
           "-print_final_stats=1", f"-seed={args.seed}"]
    b = budget or {"runs": args.runs, "seconds": args.seconds}
    cmd.append(f"-runs={b['runs']}" if b["runs"] else f"-max_total_time={b['seconds']}")
    r = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
    lines = (r.stdout + r.stderr).splitlines()
    done = [ln for ln in lines if ln.startswith("Done ") or "DONE" in ln]
    ok = r.returncode == 0
    print(f"{name}{label}: {'ok' if ok else 'FINDING'} ({done[-1] if done else 'no summary'})")
    if not ok:
        for stream in (r.stdout, r.stderr):          # the Python traceback is on stdout
            keep = [ln for ln in stream.splitlines() if "NEW" not in ln
                    and "REDUCE" not in ln and "pulse" not in ln and "Instrumenting" not in ln]
            print("\n".join(keep[-30:]))
    return ok


def run_stress(seconds: int, env: dict[str, str]) -> bool:
    """The threading-contract stress (stress_threads.py) as one more finding source."""
    cmd = [sys.executable, str(HERE / "stress_threads.py"), "--seconds", str(seconds)]
    try:
        r = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True,
                           timeout=seconds + 300)
    except subprocess.TimeoutExpired:
        print("stress_threads (ASan+UBSan): FINDING (hung)")
        return False
    ok = r.returncode == 0
    print(f"stress_threads (ASan+UBSan): {'ok' if ok else 'FINDING'}")
    if not ok:
        print("\n".join((r.stdout + r.stderr).splitlines()[-40:]))
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description="run callaudio's atheris harnesses")
    ap.add_argument("harness", nargs="*", default=list(HARNESSES))
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--runs", type=int, default=0, help="inputs per harness")
    g.add_argument("--seconds", type=int, default=20, help="time per harness")
    ap.add_argument("--asan", action="store_true", help="build and use the ASan overlay")
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--artifacts", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--include-known", action="store_true")
    ap.add_argument("--stress-seconds", type=int, default=None)
    args = ap.parse_args()
    env: dict[str, str] = {} if args.include_known else {"CALLAUDIO_FUZZ_SKIP": KNOWN}
    sys.path.insert(0, str(HERE))
    with tempfile.TemporaryDirectory(prefix="callaudio-fuzz-") as tmp:
        corpus = args.corpus or Path(tmp)
        if not args.asan:
            results = [run_one(h, args, corpus, env) for h in args.harness]
            return 0 if all(results) else 1
        # gcc's libasan, preloaded, takes over libFuzzer's coverage hooks, so under ASan
        # the search is blind. Two phases: build a corpus coverage-guided on the normal
        # build (half the budget), then replay and mutate it on the ASan+UBSan build.
        from build_asan import DEFAULT_OUT, build

        half = {"runs": args.runs // 2, "seconds": max(1, args.seconds // 2)}
        results = [run_one(h, args, corpus, env, " (coverage)", half) for h in args.harness]
        overlay = build(DEFAULT_OUT)
        san = {**env, **sanitizer_env(overlay)}
        print("environment:", " ".join(f"{k}={v}" for k, v in san.items()))
        results += [run_one(h, args, corpus, san, " (ASan+UBSan)", half) for h in args.harness]
        stress = args.stress_seconds
        if stress is None:
            stress = min(120, args.seconds or 20)
        if stress > 0:
            results.append(run_stress(stress, san))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
