"""The compiled voice-processing core (built from csrc/callaudio/_dsp/*.pyx).

Kernels, stage types and the chain; see csrc/README.md for the layout. May import: NumPy and
its own modules (``cimport`` between stages). Never anything else of callaudio: validation
lives in :mod:`callaudio.config` and :mod:`callaudio.processing`, which the stages trust.
"""
