"""MovieLens 100K: loader, same-shape generator, item embeddings and splits."""

from __future__ import annotations

import os

from .embeddings import DEFAULT_DIM, item_embeddings
from .generator import generate_movielens
from .loader import load_movielens, movielens_available, movielens_dir
from .schema import GENRES, MovieLens
from .split import head_by_time, temporal_holdout


def movielens(
    root: str | os.PathLike[str] | None = None, *, seed: int = 0, **generator_kwargs: object
) -> MovieLens:
    """The real ``ml-100k`` files when present, otherwise :func:`generate_movielens` (same shape)."""
    if movielens_available(root):
        return load_movielens(root)
    return generate_movielens(seed=seed, **generator_kwargs)  # type: ignore[arg-type]


__all__ = [
    "DEFAULT_DIM",
    "GENRES",
    "MovieLens",
    "generate_movielens",
    "head_by_time",
    "item_embeddings",
    "load_movielens",
    "movielens",
    "movielens_available",
    "movielens_dir",
    "temporal_holdout",
]
