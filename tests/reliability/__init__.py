"""Reliability tests: bad input, faults and long runs lose nothing (issue 8)."""
