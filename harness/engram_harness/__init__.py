"""Engram's acceptance, benchmark and regression harness (its own distribution, ``engram-harness``;
never part of the engine's wheel).

- :mod:`~engram_harness.scenarios`: workloads described in TOML, turned into deterministic schedules.
- :mod:`~engram_harness.driver`: the open-loop driver and its results (latency from intended start).
- :mod:`~engram_harness.vectors`: the one generator of synthetic embeddings, and exact kNN truth.
- :mod:`~engram_harness.checks`: ``Check`` (measured against a threshold) and its recorder.
- :mod:`~engram_harness.suite`: pytest plumbing of the acceptance suites (profiles, session results).
- :mod:`~engram_harness.stats`: statistics (the one percentile definition, bootstrap, comparisons).
- :mod:`~engram_harness.runs`: the results directory (write, load).
- :mod:`~engram_harness.report`: Markdown/HTML reports and the analysis notebook runner.
- :mod:`~engram_harness.gate`: the A/B performance regression gate.
- :mod:`~engram_harness.bench`: benchmarks that record numbers.
- :mod:`~engram_harness.workflows`: helpers of the production workflows, one package per workflow.
- :mod:`~engram_harness.server`: start a real ``engram serve`` for a test or a suite.

Command line: ``engram-harness bench|report|gate``.
"""

from importlib.metadata import version as _version

__version__ = _version("engram-harness")
