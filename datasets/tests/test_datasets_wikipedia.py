from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engram_datasets.wikipedia import (
    COLUMNS,
    TOPICAL_DOMAINS,
    domain_of,
    embed_texts,
    generate_wikipedia,
    load_wikipedia,
    sample_per_domain,
    wikipedia_available,
    wikipedia_corpus,
    wikipedia_path,
)

REAL = wikipedia_available()
needs_real = pytest.mark.skipif(not REAL, reason="wikipedia-dbpedia sample is absent")


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return load_wikipedia()


@needs_real
def test_real_sample_invariants(real: pd.DataFrame) -> None:
    assert list(real.columns) == list(COLUMNS)
    assert len(real) == 20_888 and real["id"].is_unique
    assert real["title"].isna().all()
    assert real["domain"].value_counts().to_dict() == {
        "other": 12_756,
        "arts": 4_036,
        "science": 2_751,
        "history": 1_345,
    }
    assert real["source"].value_counts().to_dict() == {"dbpedia_l2": 10_912, "dbpedia14": 9_976}
    assert (real["label"].map(domain_of) == real["domain"]).all()
    assert real["text"].str.len().between(9, 3_597).all()
    digest = hashlib.sha256(wikipedia_path().read_bytes()).hexdigest()
    assert digest == "ae70a8692120a2f25dd570a07b927e968b141e1b1628bc6b39ef9c1640565cd3"
    assert len(load_wikipedia(domains=TOPICAL_DOMAINS)) == 8_132


@needs_real
def test_generator_schema_matches_real(real: pd.DataFrame) -> None:
    g = generate_wikipedia(20)
    assert list(g.columns) == list(real.columns)
    assert g.dtypes.astype(str).tolist() == real.dtypes.astype(str).tolist()


def test_generator_shape_and_determinism() -> None:
    g = generate_wikipedia(50, seed=2)
    assert len(g) == 150 and g["id"].is_unique
    assert g["domain"].value_counts().to_dict() == dict.fromkeys(TOPICAL_DOMAINS, 50)
    assert (g["label"].map(domain_of) == g["domain"]).all()
    assert g["title"].isna().all() and (g["source"] == "synthetic").all()
    pd.testing.assert_frame_equal(g, generate_wikipedia(50, seed=2))
    assert not g["text"].equals(generate_wikipedia(50, seed=3)["text"])


def test_sample_per_domain_is_balanced_and_seeded() -> None:
    g = generate_wikipedia(80, seed=0)
    s = sample_per_domain(g, 30, seed=1)
    assert s["domain"].value_counts().to_dict() == dict.fromkeys(TOPICAL_DOMAINS, 30)
    assert s.index.equals(sample_per_domain(g, 30, seed=1).index)
    assert not s.index.equals(sample_per_domain(g, 30, seed=2).index)
    assert len(sample_per_domain(g, 500, seed=1)) == 240  # a short domain contributes all it has


def test_small_corpus_is_padded_and_rotated_honestly() -> None:
    texts = generate_wikipedia(40, seed=0)["text"].tolist()  # 120 docs: at most 119 SVD components
    z, info = embed_texts(texts, dim=768, seed=0, cache=False)
    assert z.shape == (120, 768) and z.dtype == np.float32
    assert info.effective_rank == 119 and info.method == "svd"
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
    assert (np.abs(z).max(axis=0) > 0).all()  # the rotation leaves no dead coordinate
    z2, _ = embed_texts(texts, dim=768, seed=0, cache=False)
    np.testing.assert_allclose(z, z2, atol=1e-6)


def test_full_rank_svd_and_domain_structure() -> None:
    # The full-rank path at a test-sized dimension (768 needs > 768 documents, which is slow here).
    g = generate_wikipedia(70, seed=0)  # 210 docs > 128 components
    z, info = embed_texts(g["text"].tolist(), dim=128, seed=0, cache=False)
    assert info.effective_rank == 128 and z.shape == (210, 128)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
    sims = z @ z.T
    np.fill_diagonal(sims, -1)
    nn_same = (g["domain"].to_numpy()[sims.argmax(axis=1)] == g["domain"].to_numpy()).mean()
    assert nn_same > 0.9


def test_random_projection_method() -> None:
    texts = generate_wikipedia(20, seed=0)["text"].tolist()
    z, info = embed_texts(texts, dim=768, seed=0, method="random_projection", cache=False)
    assert z.shape == (60, 768) and info.effective_rank == 768
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)


def test_cache_roundtrip(tmp_path: Path) -> None:
    texts = generate_wikipedia(15, seed=0)["text"].tolist()
    z1, i1 = embed_texts(texts, dim=64, cache_root=tmp_path)
    z2, i2 = embed_texts(texts, dim=64, cache_root=tmp_path)
    assert not i1.from_cache and i2.from_cache and i1.cache_key == i2.cache_key
    np.testing.assert_array_equal(z1, z2)
    assert len(list((tmp_path / "embeddings").glob("*.npy"))) == 1
    _, i3 = embed_texts(texts, dim=64, seed=1, cache_root=tmp_path)  # another parameter -> another key
    assert i3.cache_key != i1.cache_key and not i3.from_cache


@needs_real
def test_real_corpus_embeddings_separate_domains() -> None:
    c = wikipedia_corpus(per_domain=150, seed=0, fit_on="selection")  # capped: 450 docs
    assert c.source == "real" and c.embeddings.shape == (450, 768)
    assert c.records["domain"].value_counts().to_dict() == dict.fromkeys(TOPICAL_DOMAINS, 150)
    sims = c.embeddings @ c.embeddings.T
    np.fill_diagonal(sims, -1)
    dom = c.records["domain"].to_numpy()
    assert (dom[sims.argmax(axis=1)] == dom).mean() > 0.75


def test_corpus_falls_back_to_synthetic(tmp_path: Path) -> None:
    c = wikipedia_corpus(tmp_path, per_domain=30, synthetic_per_domain=40, seed=0, fit_on="domains")
    assert c.source == "synthetic" and c.embeddings.shape == (90, 768)
    assert c.info.n_docs == 120  # fitted on every generated record, then sampled
    with pytest.raises(FileNotFoundError):
        wikipedia_corpus(tmp_path, allow_synthetic=False)
