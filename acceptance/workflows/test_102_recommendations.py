"""Workflow 102: a recommendation engine on MovieLens 100K (requirements section 10, 102).

Write phase: ratings in time order become timestamped episodes linked to their user and item
(engram_harness.workflows.recommendations.movie_graph), with the engine clock anchored at the data's last timestamp.
Read phase: a seeded mix of 60 % recommendations (user-based spreading and hybrid, half each),
35 % item-based vector search and 5 % new ratings, sent back to back (unpaced, rates reported).
Then quality on a temporal hold-out (each user's last rating) against a most-popular baseline on
the same split, and the temporal bias of recall.

Quick: the first 20,000 ratings by time (5,000 leave only ~50 users to evaluate, too few to test
significance; see docs/acceptance.md), 10,000 queries. Full: 50,000 ratings, 100,000 queries.
The real ml-100k files are used when present, the same-shape generator otherwise.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pandas as pd
import pytest

from engram_datasets import movielens as ml
from engram_harness.suite import CheckRecorder, Profile
from engram_harness.workflows.backend import Backend
from engram_harness.workflows.latency import LatencyLog
from engram_harness.workflows.prometheus import moved, parse_prometheus
from engram_harness.workflows.recommendations.movie_graph import MovieGraph
from engram_harness.workflows.recommendations.paired import compare_paired
from engram_harness.workflows.recommendations.popularity import MostPopular
from engram_harness.workflows.recommendations.ranking import per_user_scores
from engram_harness.workflows.recommendations.recommend import Recommender

pytestmark = pytest.mark.workflow
BACKEND = "server"  # a real `engram serve` process through engram.client (acceptance/workflows/conftest.py)

DIM = 384
SEED = 102
DAY = 86_400.0
RECALL_K = 1000  # the server's largest k
MIX = {"recommend_user": 0.30, "recommend_hybrid": 0.30, "search": 0.35, "store": 0.05}


def _data(profile: Profile) -> tuple[ml.MovieLens, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Data set, the ratings written (train), the hold-out, and spare ratings for read-phase stores."""
    data = ml.movielens(seed=SEED)
    n = profile.pick(quick=20_000, full=50_000)
    ordered = data.ratings.sort_values(["timestamp", "user_id", "item_id"], kind="stable")
    written = ordered.head(n)
    train, test = ml.temporal_holdout(written, n_test=1, min_train=4)
    spare = ordered.iloc[n:]
    spare = spare[
        ~spare.set_index(["user_id", "item_id"]).index.isin(written.set_index(["user_id", "item_id"]).index)
    ]
    return data, train.sort_values(["timestamp", "user_id", "item_id"], kind="stable"), test, spare


def test_recommendation_workflow(profile: Profile, checks: CheckRecorder, backend: Backend) -> None:
    data, train, test, spare = _data(profile)
    eng = backend.engine
    errors: list[str] = []
    anchor = float(train["timestamp"].max())  # "now" for recall: the end of the written data
    vectors = ml.item_embeddings(data.items, dim=DIM)
    store = MovieGraph(
        eng.create_space("movies", dim=DIM), eng.create_space("ratings", dim=DIM), vectors, seed=SEED
    )
    metrics_before = parse_prometheus(backend.metrics_text())

    # --- write phase --------------------------------------------------------------------------
    t0 = time.perf_counter()
    store.add_items(data.items["item_id"].to_numpy())
    rows = [(int(u), int(i), int(r), float(ts))
            for u, i, r, ts in train[["user_id", "item_id", "rating", "timestamp"]].itertuples(index=False)]  # fmt: skip
    store.add_ratings(rows)
    write_s = time.perf_counter() - t0
    metrics_mid = parse_prometheus(backend.metrics_text())
    checks.check("write throughput", len(train) / write_s, ">=", 80.0, "ratings/s",
                 note=f"{len(train)} ratings (episode + 2 links each), {data.source} data, {backend.kind}")  # fmt: skip

    # --- quality on the temporal hold-out (before the read phase adds later ratings) ----------
    rec = Recommender(store)
    held = test[test["user_id"].isin(list(store.history))]
    relevant = [{int(i)} for i in held["item_id"]]
    eval_users = [int(u) for u in held["user_id"]]
    popular = MostPopular(train["item_id"].to_numpy())
    pop_hit, pop_ndcg = per_user_scores([popular.recommend(store.seen(u)) for u in eval_users], relevant)
    for name, fn in (("hybrid", rec.hybrid), ("user-based", rec.user_based)):
        hit, ndcg = per_user_scores([[i for i, _ in fn(u)] for u in eval_users], relevant)
        h, n = compare_paired(hit, pop_hit, confidence=0.95), compare_paired(ndcg, pop_ndcg, confidence=0.95)
        if name == "hybrid":  # the production recommender: its gain must be significant
            checks.check("hybrid hit rate@10 gain over most-popular (95% CI low)", h.low, ">", 0.0,
                         note=f"hit rate {h.mean_a:.4f} vs {h.mean_b:.4f} on {len(eval_users)} users")  # fmt: skip
            checks.check("hybrid NDCG@10 gain over most-popular (95% CI low)", n.low, ">", 0.0,
                         note=f"NDCG {n.mean_a:.4f} vs {n.mean_b:.4f}")  # fmt: skip
        else:
            print(f"user-based: hit rate {h.mean_a:.4f} (CI of gain {h.low:+.4f}..{h.high:+.4f}), "
                  f"NDCG {n.mean_a:.4f} (CI {n.low:+.4f}..{n.high:+.4f})")  # fmt: skip

    # --- temporal bias: decayed recall strength of recent vs old ratings ----------------------
    recent, old, missed = _recall_strength_by_age(
        eng, store, anchor, np.random.default_rng(SEED + 1), profile.pick(quick=200, full=500), errors
    )
    checks.check("sampled ratings recalled by their own vector", len(missed), "==", 0,
                 note="episodic recall at the anchor time, k covering the probe space")  # fmt: skip
    checks.check("recent (< 7 d) / old (> 30 d) mean recall strength", np.mean(recent) / np.mean(old), "in", (1.8, 2.2),
                 note=f"{len(recent)} recent and {len(old)} old ratings, two-component decay 7 d / 90 d")  # fmt: skip

    # --- read phase: seeded mix, unpaced ------------------------------------------------------
    rng = np.random.default_rng(SEED)
    n_queries = profile.pick(quick=10_000, full=100_000)
    ops = rng.choice(list(MIX), size=n_queries, p=list(MIX.values()))
    users = np.array(sorted(store.history))
    logs = {op: LatencyLog(op) for op in MIX}
    sorted_violations = 0
    spare_rows = spare[["user_id", "item_id", "rating", "timestamp"]].itertuples(index=False)
    t0 = time.perf_counter()
    for op in ops:
        user = int(users[rng.integers(len(users))])
        try:
            with logs[op].time():
                if op == "recommend_user":
                    res = rec.user_based(user)
                    acts = [a for _, a in res]
                    sorted_violations += any(b > a for a, b in itertools.pairwise(acts))
                elif op == "recommend_hybrid":
                    res = rec.hybrid(user)
                    scores = [s for _, s in res]
                    sorted_violations += any(b > a for a, b in itertools.pairwise(scores))
                elif op == "search":
                    last_item = store.recent(user, 1)[0][1]
                    store.catalog.search(vectors[last_item - 1], k=10)
                else:
                    row = next(spare_rows, None)
                    if row is not None and int(row.item_id) in store.item_node:
                        store.add_rating(
                            int(row.user_id), int(row.item_id), int(row.rating), float(row.timestamp)
                        )
        except Exception as exc:  # counted by the zero-errors check
            errors.append(f"{op}: {type(exc).__name__}: {exc}")
    read_s = time.perf_counter() - t0
    checks.check("read throughput", n_queries / read_s, ">=", 80.0, "queries/s",
                 note=", ".join(f"{op} {len(lg)}" for op, lg in logs.items()))  # fmt: skip
    rec_log = LatencyLog("recommendation", logs["recommend_user"].samples + logs["recommend_hybrid"].samples)
    checks.check("recommendation p99", rec_log.p99_ms(), "<", 100.0, "ms")
    checks.check("search p99", logs["search"].p99_ms(), "<", 20.0, "ms")
    checks.check("result lists not sorted by activation/score", sorted_violations, "==", 0)

    # --- memory: what the links cost over the stored memories ---------------------------------
    from engram_harness.workflows.footprint import edge_bytes, stats_bytes

    links = edge_bytes(store.catalog) + edge_bytes(store.graph)
    memories = stats_bytes(store.catalog) + stats_bytes(store.graph) - links
    # No edge bytes at all means the links were not stored, not that they are free: NaN fails the check.
    overhead = 100.0 * links / memories if links > 0 else float("nan")
    checks.check("link overhead over stored memories", overhead, "<", 15.0, "%",
                 note="edge bytes as the engine measures them (stats()['memory_bytes']['edges'])")  # fmt: skip

    # --- metrics moved ------------------------------------------------------------------------
    after = parse_prometheus(backend.metrics_text())
    checks.check(
        "memories gauge increase during writes",  # batched writes count as remember_batch ops
        moved(metrics_before, metrics_mid, "engram_memories_total"),
        ">=",
        len(train),
    )
    checks.check(
        "spread latency samples added",
        moved(metrics_mid, after, "engram_operation_duration_seconds_count", op="spread"),
        ">",
        0,
    )
    checks.check(
        "search latency samples added",
        moved(metrics_mid, after, "engram_operation_duration_seconds_count", op="search"),
        ">=",
        len(logs["search"]),
    )
    checks.check(
        "recall latency samples added",
        moved(metrics_before, after, "engram_operation_duration_seconds_count", op="recall"),
        ">",
        0,
    )
    checks.check("errors", len(errors), "==", 0, note="; ".join(errors[:5]))
    checks.assert_all()


def _recall_strength_by_age(
    eng: object, store: MovieGraph, anchor: float, rng: np.random.Generator, per_group: int, errors: list[str]
) -> tuple[list[float], list[float], list[int]]:
    """The decay factor the engine applies to recent and old ratings at ``now = anchor``.

    The sampled ratings are copied (same vectors and timestamps) into a probe space and each is
    recalled by its own vector with k covering the whole probe, so it is always returned; its
    score over its cosine is the decay factor. (In the full ratings space an old rating's own
    vector ranks below hundreds of fresher ratings of similar films and falls out of any top k.)
    Returns the factors of recent and old ratings, and the ratings not returned.
    """
    episodes = [(u, i, ts) for u, hist in store.history.items() for ts, i in hist]
    ages = np.array([anchor - ts for _, _, ts in episodes])
    groups = [rng.choice(idx, size=min(per_group, idx.size), replace=False)
              for idx in (np.flatnonzero(ages < 7 * DAY), np.flatnonzero(ages > 30 * DAY))]  # fmt: skip
    picked = [episodes[int(j)] for g in groups for j in g]
    probe = eng.create_space("ratings-decay-probe", dim=DIM)  # type: ignore[attr-defined]
    vecs = np.stack([store.episode_vector(u, i) for u, i, _ in picked])
    ids = probe.remember_batch(vecs, timestamps=np.array([ts for _, _, ts in picked], dtype=np.float64))
    out: tuple[list[float], list[float]] = ([], [])
    missed: list[int] = []
    for n, (mid, v) in enumerate(zip(ids, vecs, strict=True)):
        try:
            res = probe.recall(v, k=min(len(ids), RECALL_K), mode="episodic", now=anchor)
        except Exception as exc:
            errors.append(f"recall: {type(exc).__name__}: {exc}")
            continue
        hit = [r for r in res if r.id == int(mid)]
        if not hit or hit[0].episodic <= 0:
            missed.append(int(mid))
            continue
        out[0 if n < len(groups[0]) else 1].append(hit[0].score / hit[0].episodic)
    return out[0], out[1], missed
