"""Coverage-guided fuzzing of the compiled entry points with atheris (fuzz/).

make test: fuzz/run.py gives each harness (fuzz_processor, fuzz_stages) 8 s on the normal
build. make soak (CALLAUDIO_SOAK=1): 10 minutes each, half coverage-guided on the normal
build, half replaying and mutating that corpus on an ASan+UBSan build (fuzz/build_asan.py).
A finding (crash, undocumented exception, non-finite output, sanitizer report) fails the
test with the harness's log tail and the artifact to reproduce it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ._support import soak_only

ROOT = Path(__file__).resolve().parents[2]


def _atheris() -> None:
    try:
        import atheris  # noqa: F401
    except ImportError:
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail("atheris is not installed (pip install atheris; test extra)")
        pytest.skip("atheris is not installed (pip install atheris)")


def _run(*args: str, timeout: float) -> None:
    _atheris()
    r = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / "run.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert r.stdout.count(": ok (") >= 2, r.stdout


@pytest.mark.slow
def test_short_coverage_guided_run_finds_nothing(tmp_path: Path) -> None:
    _run("--seconds", "8", "--artifacts", str(tmp_path), timeout=240)


@soak_only
@pytest.mark.slow
def test_soak_fuzzing_under_asan_and_ubsan(tmp_path: Path) -> None:
    _run("--seconds", "600", "--asan", "--artifacts", str(tmp_path), timeout=3600)


@soak_only
@pytest.mark.slow
def test_soak_property_tests_under_asan_and_ubsan() -> None:
    """The hypothesis fuzzers, recovery and stage test files, run on the ASan+UBSan build.

    (Measured 05:47 UTC: 299 tests, no sanitizer report, about 4 minutes.)
    """
    sys.path.insert(0, str(ROOT / "fuzz"))
    from build_asan import DEFAULT_OUT, build, libasan

    overlay = build(DEFAULT_OUT)
    env = {
        **os.environ,
        "PYTHONPATH": str(overlay),
        "LD_PRELOAD": libasan(),
        "ASAN_OPTIONS": "detect_leaks=0:allocator_may_return_null=1:abort_on_error=1",
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    }
    env.pop("CALLAUDIO_SOAK", None)  # the make-test budget of each file, sanitized
    files = [
        "tests/reliability/test_fuzz_processor.py",
        "tests/reliability/test_fuzz_stages.py",
        "tests/reliability/test_fuzz_engine.py",
        "tests/reliability/test_recovery.py",
        "tests/test_processor.py",
        "tests/test_aec.py",
        "tests/test_ns.py",
        "tests/test_fft.py",
        "tests/test_agc.py",
        "tests/test_hpf.py",
    ]
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *files],
        capture_output=True,
        text=True,
        timeout=3600,
        cwd=ROOT,
        env=env,
    )
    report = r.stdout[-6000:] + r.stderr[-3000:]
    assert "runtime error" not in r.stdout + r.stderr, report
    assert "AddressSanitizer" not in r.stdout + r.stderr, report
    assert r.returncode == 0, report
