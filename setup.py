"""Build the compiled core: one extension module per csrc/callaudio/_dsp/<name>.pyx.

Everything else (metadata, packages, data) lives in pyproject.toml.  A plain-C helper
named ``csrc/callaudio/_dsp/<name>_impl.c`` is compiled into module ``<name>``.
Set ``CALLAUDIO_BUILD_ONLY=fft,agc`` to rebuild only some modules during development, and
``CALLAUDIO_OPT=0`` (0-3; default 3) for an unoptimised build that compiles ~10x faster, for
checks of the build's plumbing only (the fresh-clone test): its kernels run several times slower.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
CSRC = Path("csrc")
DSP = CSRC / "callaudio" / "_dsp"


def _compile_args() -> list[str]:
    if sys.platform == "win32":
        return ["/O2", "/fp:precise"]
    # -O3: the kernels are tight loops over float32 frames.  No -ffast-math: it would
    # let the compiler drop the NaN/Inf guards.  No -march=native: wheels must run
    # on any CPU of their platform (CALLAUDIO_NATIVE=1 opts in for local builds).
    level = os.environ.get("CALLAUDIO_OPT", "3")
    if level not in ("0", "1", "2", "3"):
        raise SystemExit(f"CALLAUDIO_OPT={level!r}: expected 0, 1, 2 or 3")
    args = [f"-O{level}", "-fno-math-errno", "-fno-trapping-math", "-std=c99"]
    if os.environ.get("CALLAUDIO_NATIVE") == "1":
        args.append("-march=native")
    return args


def _extensions() -> list[Extension]:
    only = {s for s in os.environ.get("CALLAUDIO_BUILD_ONLY", "").split(",") if s}
    exts = []
    for pyx in sorted((HERE / DSP).glob("*.pyx")):
        name = pyx.stem
        if only and name not in only:
            continue
        sources = [str(DSP / pyx.name)]
        impl = HERE / DSP / f"{name}_impl.c"
        if impl.exists():
            sources.append(str(DSP / impl.name))
        exts.append(
            Extension(
                f"callaudio._dsp.{name}",
                sources=sources,
                include_dirs=[np.get_include(), str(DSP)],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                extra_compile_args=_compile_args(),
            )
        )
    return exts


DIRECTIVES = {
    "language_level": "3",
    "embedsignature": True,
    # Safe defaults for the Python-facing code; kernels opt out locally.
    "boundscheck": True,
    "wraparound": False,
    "initializedcheck": True,
    "cdivision": True,
    # The hints only flag the bounds-checked memoryview indexing of the Python-facing
    # wrappers, checked on purpose; the kernels set boundscheck(False) themselves.
    "show_performance_hints": False,
}


class CythonBuildExt(build_ext):
    """Cythonize when the extensions are built, not every time setup.py runs.

    ``sdist`` and ``egg_info`` then neither regenerate C in the source tree nor ship it: the
    sdist carries the ``.pyx`` (MANIFEST.in adds the ``.pxd``/``.h``) and building the
    wheel from it regenerates the C. Modules are cythonized (on Linux, where the worker
    processes fork) and compiled in parallel unless ``-j`` says otherwise.
    """

    def finalize_options(self) -> None:
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def run(self) -> None:
        # cythonize() returns new Extension objects; keep setuptools' own (finalized) ones
        # and only point them at the generated C.
        workers = self.parallel if sys.platform.startswith("linux") else 0
        generated = cythonize(
            self.extensions,
            include_path=[str(CSRC)],
            compiler_directives=DIRECTIVES,
            nthreads=workers if isinstance(workers, int) and workers > 1 else 0,
        )
        c_sources = {ext.name: ext.sources for ext in generated}
        for ext in self.extensions:
            ext.sources = c_sources[ext.name]
        super().run()


setup(ext_modules=_extensions(), cmdclass={"build_ext": CythonBuildExt})
