"""Loader for ``wikipedia-dbpedia/dbpedia_wiki_sample.jsonl.gz`` (real DBpedia abstracts)."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..paths import dataset_path
from .schema import COLUMNS, SAMPLE_FILE, TOPICAL_DOMAINS


def wikipedia_path(root: str | os.PathLike[str] | None = None) -> Path:
    """``<data dir>/wikipedia-dbpedia/dbpedia_wiki_sample.jsonl.gz``."""
    return dataset_path("wikipedia-dbpedia", SAMPLE_FILE, root=root)


def wikipedia_available(root: str | os.PathLike[str] | None = None) -> bool:
    return wikipedia_path(root).is_file()


def load_wikipedia(
    root: str | os.PathLike[str] | None = None, *, domains: Iterable[str] | None = None
) -> pd.DataFrame:
    """All records (file order) as a frame with columns ``id, title, text, label, domain, source``.

    ``title`` is always missing (``None``) in the real data. ``domains`` filters rows, e.g.
    ``TOPICAL_DOMAINS`` for the 8,132 science/history/arts records. Raises ``FileNotFoundError``.
    """
    path = wikipedia_path(root)
    if not path.is_file():
        raise FileNotFoundError(f"wikipedia-dbpedia sample missing: {path}")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df["title"] = df["title"].astype(object)
    if domains is not None:
        df = df[df["domain"].isin(list(domains))].reset_index(drop=True)
    return df


def sample_per_domain(
    records: pd.DataFrame,
    per_domain: int | dict[str, int],
    *,
    seed: int = 0,
    domains: Iterable[str] = TOPICAL_DOMAINS,
) -> pd.DataFrame:
    """A seeded sample of up to ``per_domain`` records from each domain, kept in input order.

    A domain with fewer records than asked contributes all of them (``history`` has 1,345 in the
    real data, so balanced samples cap at about 1,300 per domain).
    """
    rng = np.random.default_rng(seed)
    keep: list[np.ndarray] = []
    for d in domains:
        want = per_domain[d] if isinstance(per_domain, dict) else per_domain
        idx = np.flatnonzero(records["domain"].to_numpy() == d)
        keep.append(idx if want >= idx.size else rng.choice(idx, size=want, replace=False))
    sel = np.sort(np.concatenate(keep)) if keep else np.array([], dtype=int)
    return records.iloc[sel]
