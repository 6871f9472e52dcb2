"""Records plus 768-d embeddings in one object, with a synthetic fallback."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from .embeddings import DEFAULT_DIM, EmbeddingInfo, Method, embed_texts
from .generator import generate_wikipedia
from .loader import load_wikipedia, sample_per_domain, wikipedia_available
from .schema import TOPICAL_DOMAINS

FitOn = Literal["all", "domains", "selection"]


@dataclass(frozen=True)
class WikipediaCorpus:
    """``records`` (the real or synthetic schema) and ``embeddings`` row-aligned with it."""

    records: pd.DataFrame
    embeddings: np.ndarray
    source: Literal["real", "synthetic"]
    info: EmbeddingInfo


def wikipedia_corpus(
    root: str | os.PathLike[str] | None = None,
    *,
    domains: Iterable[str] = TOPICAL_DOMAINS,
    per_domain: int | None = None,
    seed: int = 0,
    dim: int = DEFAULT_DIM,
    method: Method = "svd",
    fit_on: FitOn = "domains",
    synthetic_per_domain: int = 300,
    allow_synthetic: bool = True,
    cache: bool = True,
    cache_root: Path | None = None,
) -> WikipediaCorpus:
    """Load (or generate) records, embed them, and select a seeded per-domain sample.

    ``fit_on`` picks the corpus the TF-IDF/SVD model is fitted on: ``"all"`` (every record in the
    file, 20,888), ``"domains"`` (every record of ``domains``; the default) or ``"selection"``
    (only the sampled rows). Fitting on more than the selection keeps the embedding space the
    same whatever ``per_domain`` is. When the real file is absent and ``allow_synthetic`` is
    true, ``synthetic_per_domain`` generated records per domain are used instead.
    """
    domains = tuple(domains)
    if wikipedia_available(root):
        everything = load_wikipedia(root)
        source: Literal["real", "synthetic"] = "real"
    elif allow_synthetic:
        everything = generate_wikipedia(synthetic_per_domain, domains=domains, seed=seed)
        source = "synthetic"
    else:
        raise FileNotFoundError("wikipedia-dbpedia sample is absent and allow_synthetic is False")

    in_domains = everything[everything["domain"].isin(domains)]
    selected = (
        in_domains
        if per_domain is None
        else sample_per_domain(in_domains, per_domain, seed=seed, domains=domains)
    )
    fit_frame = {"all": everything, "domains": in_domains, "selection": selected}[fit_on]
    vectors, info = embed_texts(
        fit_frame["text"].tolist(), dim=dim, seed=seed, method=method, cache=cache, cache_root=cache_root
    )
    rows = fit_frame.index.get_indexer(selected.index)
    return WikipediaCorpus(
        records=selected.reset_index(drop=True), embeddings=vectors[rows], source=source, info=info
    )
