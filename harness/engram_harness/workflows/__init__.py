"""Helpers of the production workflows (acceptance/workflows, tasks 101-103).

Shared by several workflows (one concept per module); what only one workflow uses lives in that
workflow's package. Nothing here starts an engine or a server: the suites pass a memory space (an
in-process :class:`engram.Space` or the HTTP client's mirror of it) to the functions that need one,
so the same code runs in process and against ``engram serve``.

- :mod:`~engram_harness.workflows.backend`: what a workflow drives (engine and its metrics text).
- :mod:`~engram_harness.workflows.latency`: latency samples and their percentiles.
- :mod:`~engram_harness.workflows.prometheus`: read the text exposition, compare two scrapes.
- :mod:`~engram_harness.workflows.footprint`: memory used per stored item, from the engine's stats.
- :mod:`~engram_harness.workflows.knowledge_graph`: workflow 101 (streaming, consolidation, purity).
- :mod:`~engram_harness.workflows.recommendations`: workflow 102 (movie graph, ranking, baselines).
- :mod:`~engram_harness.workflows.fraud`: workflow 103 (fraud detection over a transaction graph).
"""
