"""Helpers shared by the production workflows (acceptance/workflows, tasks 101-103).

One concept per module; nothing here starts an engine or a server. The workflow suites pass a
memory space (in-process :class:`engram.Space` or the HTTP client's mirror of it) to the
functions that need one, so the same code runs in process and against ``engram serve``.

- :mod:`~engram.workflows.arrivals`: seeded Poisson arrival offsets.
- :mod:`~engram.workflows.latency`: latency samples and their P99.
- :mod:`~engram.workflows.prometheus`: parse the text exposition, compare two scrapes.
- :mod:`~engram.workflows.purity`: concept purity against labels, and its chance level.
- :mod:`~engram.workflows.ranking`: hit rate@k and NDCG@k for held-out items.
- :mod:`~engram.workflows.popularity`: the most-popular recommendation baseline.
- :mod:`~engram.workflows.paired`: a paired bootstrap test of "A is better than B".
- :mod:`~engram.workflows.streaming`: stream documents into a space at scheduled times.
- :mod:`~engram.workflows.fraud`: fraud detection over a transaction graph stored in the engine.
"""
