# callaudio: every target installs what it needs (a virtual environment in .venv).
#   make demo    a demo through the simulated room (report in ./callaudio-demo/)
#   make test    the whole test suite (lint, types, stubs, quality, session, real audio)
#   make bench   pytest-benchmark: us per 10 ms frame, peers side by side
#   make wheel   sdist + manylinux wheel in dist/, checked by installing it with no compiler
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
CSRC := $(shell find csrc -name '*.pyx' -o -name '*.pxd' -o -name '*.c' -o -name '*.h' 2>/dev/null)

.PHONY: all demo test bench lint clean install wheel

all: test

$(VENV)/.deps: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -U pip "setuptools>=77" wheel "Cython>=3.0" "numpy>=2.0"
	$(PIP) install --no-build-isolation -e ".[test]"
	touch $@ $(VENV)/.built   # the editable install has just built every module in place

# Rebuild the extension modules whenever csrc/ changes (editable install, in place).
$(VENV)/.built: $(VENV)/.deps setup.py $(CSRC)
	$(PY) setup.py -q build_ext --inplace
	touch $@

install: $(VENV)/.built

demo: install
	$(VENV)/bin/callaudio demo

test: install
	$(PY) -m pytest -q

# Peer libraries measured side by side (the `peers` extra); a peer that does not install
# on this platform is reported and its benchmarks are skipped.
PEERS := speexdsp-ns webrtc-noise-gain pyrnnoise livekit pywebrtc-audio speexdsp
$(VENV)/.peers: $(VENV)/.deps
	# speexdsp's binding builds against Debian's libspeexdsp with swig
	dpkg -s libspeexdsp-dev swig >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends libspeexdsp-dev swig) || echo "bench: no libspeexdsp-dev"
	for p in $(PEERS); do $(PIP) install $$p || echo "bench: peer $$p did not install"; done
	touch $@

bench: install $(VENV)/.peers
	$(PY) -m pytest bench -q --benchmark-only --benchmark-columns=min,median,mean,stddev,rounds \
		--benchmark-sort=name

# The sdist and the wheel built from it (auditwheel-repaired) into dist/, then the check:
# a fresh venv with no compiler installs the wheel and uses it (scripts/check_wheel.py).
wheel: $(VENV)/.deps
	$(PY) scripts/check_wheel.py --dist dist

lint: install
	$(PY) -m ruff check src tests bench
	$(PY) -m mypy

clean:
	rm -rf build dist wheelhouse .venv src/*.egg-info src/callaudio/_dsp/*.so \
		csrc/callaudio/_dsp/*.c.tmp
	find csrc -name '*.c' ! -name '*_impl.c' -delete
