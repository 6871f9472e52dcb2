"""Engram's test and benchmark data sets.

- :mod:`engram_datasets.movielens`: MovieLens 100K loader, same-shape generator, 384-d item
  embeddings, temporal hold-out split.
- :mod:`engram_datasets.wikipedia`: DBpedia/Wikipedia abstracts loader, synthetic fallback,
  offline 768-d TF-IDF + SVD embeddings (cached outside the repository).
- :mod:`engram_datasets.fraud`: seeded transactions with injected, labelled fraud patterns.

The shared data are read from ``$ENGRAM_DATA_DIR`` or ``../shared/datasets`` relative to the
repository root (for an editable install; set ``ENGRAM_DATA_DIR`` otherwise) and are never copied
into the repository. Install with ``pip install -e ./datasets`` (distribution ``engram-datasets``; a
package named ``datasets`` would shadow HuggingFace's).
"""

from __future__ import annotations

from . import fraud, movielens, wikipedia
from .paths import cache_dir, data_dir, dataset_path

__all__ = ["cache_dir", "data_dir", "dataset_path", "fraud", "movielens", "wikipedia"]
