"""Benchmarks: each script measures one part against a baseline taken in the same run."""
