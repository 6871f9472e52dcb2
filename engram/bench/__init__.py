"""Benchmarks that record numbers (``engram bench ...``); nothing here asserts speed."""
