"""Benchmarks for botree (run as modules, e.g. ``python -m benchmarks.foundation``)."""
