"""Benchmarks: `python -m bench` runs them and prints what they measure."""
