from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engram_datasets.movielens import (
    GENRES,
    generate_movielens,
    head_by_time,
    item_embeddings,
    load_movielens,
    movielens,
    movielens_available,
    movielens_dir,
    structure,
)
from engram_datasets.movielens.schema import TIMESTAMP_MAX, TIMESTAMP_MIN
from engram_datasets.movielens.structure import REAL as REAL_STRUCTURE

REAL = movielens_available()
needs_real = pytest.mark.skipif(not REAL, reason="ml-100k files are absent")


@pytest.fixture(scope="module")
def synthetic():
    return generate_movielens(seed=7)


@pytest.fixture(scope="module")
def real():
    return load_movielens()


@needs_real
def test_real_files_invariants(real) -> None:
    r = real.ratings
    assert len(r) == 100_000
    assert r["user_id"].nunique() == 943 and r["user_id"].min() == 1 and r["user_id"].max() == 943
    assert r["item_id"].nunique() == 1682 and r["item_id"].max() == 1682
    assert r["rating"].value_counts().sort_index().tolist() == [6_110, 11_370, 27_145, 34_174, 21_201]
    assert (r["timestamp"].min(), r["timestamp"].max()) == (874_724_710, 893_286_638)
    assert r.groupby("user_id").size().min() == 20
    assert not r.duplicated(["user_id", "item_id"]).any()
    assert real.genres == GENRES
    assert len(real.items) == 1682 and len(real.users) == 943
    assert (real.genre_matrix().sum(axis=1) >= 1).all()
    unknown = real.items.set_index("item_id").loc[267]
    assert unknown["title"] == "unknown" and pd.isna(unknown["release_date"])
    assert real.items["video_release_date"].isna().all()
    assert real.items["title"].str.contains("é").any()  # latin-1 decoded
    assert real.users["gender"].value_counts().to_dict() == {"M": 670, "F": 273}
    digest = hashlib.sha256((movielens_dir() / "u.data").read_bytes()).hexdigest()
    assert digest == "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"


@needs_real
def test_generator_schema_matches_real_files(real, synthetic) -> None:
    for a, b in (
        (real.ratings, synthetic.ratings),
        (real.items, synthetic.items),
        (real.users, synthetic.users),
    ):
        assert list(a.columns) == list(b.columns)
        assert a.dtypes.astype(str).tolist() == b.dtypes.astype(str).tolist()
    assert (synthetic.n_users, synthetic.n_items, len(synthetic.ratings)) == (
        real.n_users,
        real.n_items,
        100_000,
    )


def test_generator_shape_and_statistics(synthetic) -> None:
    r = synthetic.ratings
    assert synthetic.source == "synthetic"
    assert len(r) == 100_000 and synthetic.n_users == 943 and synthetic.n_items == 1682
    assert sorted(r["user_id"].unique()) == list(range(1, 944))
    assert sorted(r["item_id"].unique()) == list(range(1, 1683))  # every item rated at least once
    assert r.groupby("user_id").size().min() >= 20
    assert not r.duplicated(["user_id", "item_id"]).any()
    assert set(r["rating"].unique()) == {1, 2, 3, 4, 5}
    assert abs(r["rating"].mean() - 3.53) < 0.05
    assert r["timestamp"].min() >= TIMESTAMP_MIN and r["timestamp"].max() <= TIMESTAMP_MAX
    assert r["timestamp"].max() - r["timestamp"].min() > 0.9 * (TIMESTAMP_MAX - TIMESTAMP_MIN)
    assert (synthetic.genre_matrix().sum(axis=1) >= 1).all()
    assert synthetic.items["title"].is_unique


def test_generator_popularity_is_zipf_like(synthetic) -> None:
    counts = np.sort(synthetic.ratings["item_id"].value_counts().to_numpy())[::-1]
    ranks = np.arange(1, counts.size + 1)
    slope = np.polyfit(np.log(ranks[9:]), np.log(counts[9:]), 1)[0]
    assert slope < -1.0  # heavy head, long tail
    assert counts[: counts.size // 10].sum() / counts.sum() > 0.3  # top 10 % of items >= 30 % of ratings
    assert counts[0] < 0.8 * synthetic.n_users  # the head does not saturate (real: 583 of 943)
    assert (counts <= 5).sum() > 50  # a long tail of rarely rated items (real: 384)


def test_generator_users_have_the_real_sets_genre_taste(synthetic) -> None:
    # popularity alone gives 0.077 (see the generator's docstring)
    assert abs(structure.genre_concentration(synthetic) - REAL_STRUCTURE["genre_concentration"]) < 0.03
    assert (
        structure.genre_concentration(generate_movielens(seed=0, taste_strength=0.0, latent_scale=0.0)) < 0.1
    )


def test_generator_co_rating_structure_matches_the_real_spectrum(synthetic) -> None:
    got = structure.co_rating_spectrum(synthetic)
    assert got[0] == pytest.approx(1.0)
    np.testing.assert_allclose(got[1:6], REAL_STRUCTURE["co_rating_spectrum_2_to_6"], rtol=0.12)
    # popularity and genre taste alone leave the second value near the noise bulk (~0.3)
    flat = structure.co_rating_spectrum(generate_movielens(seed=7, latent_scale=0.0))
    assert flat[1] < 0.8 * REAL_STRUCTURE["co_rating_spectrum_2_to_6"][0]


def test_generator_neighbouring_ratings_are_of_similar_films(synthetic) -> None:
    assert abs(structure.consecutive_lift(synthetic) - REAL_STRUCTURE["consecutive_lift"]) < 0.05
    shuffled = generate_movielens(seed=7, browse_temperature=1e9, browse_popular_first=0.0)  # random order
    assert abs(structure.consecutive_lift(shuffled) - 1.0) < 0.03


def test_generator_users_rate_well_known_films_first(synthetic) -> None:
    got = structure.popularity_by_position(synthetic)
    drop = REAL_STRUCTURE["popularity_first_tenth"] - REAL_STRUCTURE["popularity_last_tenth"]
    assert abs((got[0] - got[-1]) - drop) < 0.25
    assert got[0] > got[4] > got[-1]


def test_generator_sessions_match_the_real_set(synthetic) -> None:
    got, want = structure.session_profile(synthetic), REAL_STRUCTURE
    assert abs(got.single_session_users - want["single_session_users"]) < 0.06
    assert abs(got.first_session_share - want["first_session_share"]) < 0.06
    assert abs(got.ratings_per_timestamp - want["ratings_per_timestamp"]) < 0.2
    assert abs(got.tied_neighbours - want["tied_neighbours"]) < 0.05
    assert 25.0 <= got.median_gap_s <= 55.0


@needs_real
def test_real_structure_constants(real) -> None:
    """The reference values the generator is held to are the real files' own."""
    assert structure.genre_concentration(real) == pytest.approx(
        REAL_STRUCTURE["genre_concentration"], abs=1e-3
    )
    np.testing.assert_allclose(
        structure.co_rating_spectrum(real)[1:6], REAL_STRUCTURE["co_rating_spectrum_2_to_6"], atol=1e-3
    )
    assert structure.consecutive_lift(real) == pytest.approx(REAL_STRUCTURE["consecutive_lift"], abs=0.01)
    by_position = structure.popularity_by_position(real)
    assert by_position[0] == pytest.approx(REAL_STRUCTURE["popularity_first_tenth"], abs=0.01)
    assert by_position[-1] == pytest.approx(REAL_STRUCTURE["popularity_last_tenth"], abs=0.01)
    got = structure.session_profile(real)
    assert got.single_session_users == pytest.approx(REAL_STRUCTURE["single_session_users"], abs=1e-3)
    assert got.first_session_share == pytest.approx(REAL_STRUCTURE["first_session_share"], abs=1e-3)
    assert got.ratings_per_timestamp == pytest.approx(REAL_STRUCTURE["ratings_per_timestamp"], abs=0.01)
    assert got.tied_neighbours == pytest.approx(REAL_STRUCTURE["tied_neighbours"], abs=1e-3)
    assert got.median_gap_s == REAL_STRUCTURE["median_gap_s"]


def test_generator_is_deterministic() -> None:
    a, b = (
        generate_movielens(seed=3, n_users=120, n_items=200, n_ratings=4_000),
        generate_movielens(seed=3, n_users=120, n_items=200, n_ratings=4_000),
    )
    pd.testing.assert_frame_equal(a.ratings, b.ratings)
    pd.testing.assert_frame_equal(a.items, b.items)
    pd.testing.assert_frame_equal(a.users, b.users)
    c = generate_movielens(seed=4, n_users=120, n_items=200, n_ratings=4_000)
    assert not a.ratings.equals(c.ratings)


def test_small_generator_keeps_the_invariants() -> None:
    g = generate_movielens(seed=1, n_users=300, n_items=400, n_ratings=12_000)
    r = g.ratings
    assert len(r) == 12_000 and r["user_id"].nunique() == 300 and r["item_id"].nunique() == 400
    assert r.groupby("user_id").size().min() >= 20


def test_generator_rejects_impossible_sizes() -> None:
    with pytest.raises(ValueError):
        generate_movielens(n_users=100, n_items=50, n_ratings=1_000)  # < 20 per user


def test_fallback_when_files_absent(tmp_path: Path) -> None:
    assert not movielens_available(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_movielens(tmp_path)
    g = movielens(tmp_path, seed=5, n_users=100, n_items=150, n_ratings=3_000)
    assert g.source == "synthetic" and len(g.ratings) == 3_000


def test_item_embeddings_are_deterministic_unit_vectors(synthetic) -> None:
    items = synthetic.items.head(300)
    e = item_embeddings(items)
    assert e.shape == (300, 384) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(e, item_embeddings(items))
    assert not np.allclose(e, item_embeddings(items, seed=1))


@needs_real
def test_item_embeddings_reflect_genres(real) -> None:
    e = item_embeddings(real.items)
    g = real.genre_matrix().astype(bool)
    sims = e @ e.T
    same = (g[:, None, :] == g[None, :, :]).all(axis=2)
    disjoint = ~(g[:, None, :] & g[None, :, :]).any(axis=2)
    np.fill_diagonal(same, False)
    assert sims[same].mean() > sims[disjoint].mean() + 0.3


def test_temporal_holdout(synthetic) -> None:
    from engram_datasets.movielens import temporal_holdout

    train, test = temporal_holdout(synthetic.ratings, n_test=5)
    assert len(train) + len(test) == len(synthetic.ratings)
    assert (test.groupby("user_id").size() == 5).all() and test["user_id"].nunique() == synthetic.n_users
    last_train = train.groupby("user_id")["timestamp"].max()
    first_test = test.groupby("user_id")["timestamp"].min()
    assert (last_train <= first_test.loc[last_train.index]).all()
    assert set(train.index).isdisjoint(test.index)


def test_head_by_time(synthetic) -> None:
    h = head_by_time(synthetic.ratings, 1_000)
    assert len(h) == 1_000 and h["timestamp"].is_monotonic_increasing
    assert h["timestamp"].max() <= synthetic.ratings["timestamp"].drop(h.index).min()
