"""Helpers shared by the test suite and the benchmarks (synthetic vectors, exact ground truth)."""
