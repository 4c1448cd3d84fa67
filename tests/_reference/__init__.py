"""Slow NumPy reference models of the compiled kernels (used by the tests)."""
