"""Deterministic workflow code only: no I/O, no clocks, no randomness (see README.md)."""
