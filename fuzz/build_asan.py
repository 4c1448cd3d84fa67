"""Build an AddressSanitizer + UBSan copy of callaudio for the fuzzers (never touches csrc/).

    python fuzz/build_asan.py [--out DIR]      (default: $TMPDIR/callaudio-asan)

Copies src/callaudio (Python files and stubs) and csrc/ into DIR, cythonizes the copy
there and compiles every stage with gcc's ``-fsanitize=address,undefined -O1 -g``.
fuzz/run.py --asan puts DIR first on PYTHONPATH and preloads gcc's libasan, so the
harnesses import these instrumented modules instead of the editable build.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = Path(tempfile.gettempdir()) / "callaudio-asan"
SAN = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"]

_SETUP = r'''
import sys
from pathlib import Path
import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

root = Path(sys.argv.pop(1))
dsp = root / "csrc" / "callaudio" / "_dsp"
san = sys.argv.pop(1).split()
exts = []
for pyx in sorted(dsp.glob("*.pyx")):
    src = [str(pyx)]
    impl = dsp / f"{pyx.stem}_impl.c"
    if impl.exists():
        src.append(str(impl))
    exts.append(Extension(
        f"callaudio._dsp.{pyx.stem}", sources=src,
        include_dirs=[np.get_include(), str(dsp)],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O1", "-g", "-std=c99", *san],
        extra_link_args=san,
    ))
setup(
    name="callaudio-asan",
    ext_modules=cythonize(exts, include_path=[str(root / "csrc")], quiet=True,
        compiler_directives={"language_level": "3", "boundscheck": True,
                             "wraparound": False, "initializedcheck": True,
                             "cdivision": True}),
)
'''


def libasan() -> str:
    return subprocess.check_output(["gcc", "-print-file-name=libasan.so"], text=True).strip()


def build(out: Path) -> Path:
    """Build the overlay into ``out``; return the directory to put on PYTHONPATH."""
    if out.exists():
        shutil.rmtree(out)
    (out / "src").mkdir(parents=True)
    shutil.copytree(ROOT / "csrc", out / "csrc")
    shutil.copytree(
        ROOT / "src" / "callaudio", out / "src" / "callaudio",
        ignore=shutil.ignore_patterns("*.so", "__pycache__"),
    )
    (out / "asan_setup.py").write_text(_SETUP)
    r = subprocess.run(
        [sys.executable, str(out / "asan_setup.py"), str(out), " ".join(SAN),
         "build_ext", "--build-lib", str(out / "src"), "--build-temp", str(out / "tmp"), "-q"],
        cwd=out, env={**os.environ, "CFLAGS": "", "CC": "gcc"}, capture_output=True, text=True,
    )
    if r.returncode != 0:
        sys.stderr.write(r.stdout[-4000:] + r.stderr[-4000:])
        raise SystemExit(f"build_asan: the sanitizer build failed (exit {r.returncode})")
    return out / "src"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    print(build(args.out))


if __name__ == "__main__":
    main()
