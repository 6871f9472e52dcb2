"""Benchmarks that record numbers (``engram-harness bench ...``); nothing here asserts speed."""
