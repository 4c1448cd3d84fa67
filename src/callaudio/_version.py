"""The single source of callaudio's version."""

__version__ = "0.1.0"
