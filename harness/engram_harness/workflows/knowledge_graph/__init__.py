"""Workflow 101 (knowledge graph from Wikipedia abstracts).

- :mod:`.streaming`: stream documents into a space at scheduled (Poisson) times.
- :mod:`.consolidation_monitor`: observe background consolidation runs and their durations.
- :mod:`.purity`: concept purity against labels, and its chance level.
"""
