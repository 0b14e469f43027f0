"""Benchmarks of threatfeed; results are written to ``docs/benchmarks.md``."""
