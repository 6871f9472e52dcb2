"""Deterministic 384-d item embeddings from titles and genres.

Each item gets two blocks of features: signed-hashed character n-grams of the lower-cased title
(3- to 5-grams by default, hashed into ``n_buckets`` with BLAKE2b so it is stable across runs) and
the 19 genre flags. Each block is L2-normalised and weighted, the concatenation goes through a
fixed Gaussian random projection drawn from ``seed``, and the result is L2-normalised. Items
sharing genres or title fragments end up close; nothing is learned, so the output depends only on
the inputs and the parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..hashing import stable_hash64
from .schema import GENRES

DEFAULT_DIM = 384


def _title_features(titles: Sequence[str], ngram_range: tuple[int, int], n_buckets: int) -> np.ndarray:
    feats = np.zeros((len(titles), n_buckets), dtype=np.float64)
    memo: dict[str, tuple[int, float]] = {}
    lo, hi = ngram_range
    for row, title in enumerate(titles):
        text = f" {' '.join(str(title).lower().split())} "
        for n in range(lo, hi + 1):
            for i in range(len(text) - n + 1):
                gram = text[i : i + n]
                hit = memo.get(gram)
                if hit is None:
                    h = stable_hash64(gram, salt="title")
                    hit = (h % n_buckets, 1.0 if (h >> 63) & 1 else -1.0)
                    memo[gram] = hit
                feats[row, hit[0]] += hit[1]
    return feats


def _l2(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def item_embeddings(
    items: pd.DataFrame,
    *,
    genres: Sequence[str] = GENRES,
    dim: int = DEFAULT_DIM,
    seed: int = 0,
    ngram_range: tuple[int, int] = (3, 5),
    n_buckets: int = 4096,
    title_weight: float = 1.0,
    genre_weight: float = 1.0,
) -> np.ndarray:
    """``(len(items), dim)`` float32 L2-normalised embeddings, rows in ``items`` order."""
    title_block = _l2(_title_features(items["title"].astype(str).tolist(), ngram_range, n_buckets))
    genre_block = _l2(items[list(genres)].to_numpy(dtype=np.float64))
    x = np.hstack([title_weight * title_block, genre_weight * genre_block])
    proj = np.random.default_rng(seed).standard_normal((x.shape[1], dim)) / np.sqrt(dim)
    return _l2(x @ proj).astype(np.float32)
