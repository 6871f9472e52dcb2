"""Graph routes against a real server: neighbours (single and batch), batch links, concepts,
and starting/stopping the background consolidator; each with its role rules and limits."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest

import engram
from engram.client import errors as CE

from .conftest import Tenants, vectors


def test_link_batch_and_neighbors(tenants: Tenants) -> None:
    with tenants.client("writer_a") as c:
        sp = c.space("tenant-a")
        ids = [int(i) for i in sp.remember_batch(vectors(4, seed=11), contents=["a", "b", "c", "d"])]
        created = sp.link_batch([{"src": ids[0], "dst": ids[1]}, {"src": ids[0], "dst": ids[2], "weight": 0.5},
                                 {"src": ids[1], "dst": ids[3], "kind": "association"}])  # fmt: skip
        assert created == [True, True, True]
        assert sp.link_batch([{"src": ids[0], "dst": ids[1], "weight": 0.7}]) == [False]  # replaced, not new
        one = sp.neighbors(ids[0])
        assert [(n.id, n.kind) for n in one] == [(ids[1], "association"), (ids[2], "association")]
        assert one[0].weight == pytest.approx(0.7) and one[1].weight == pytest.approx(0.5)
        batch = sp.neighbors_batch([ids[0], ids[1], ids[3]])
        assert batch[ids[0]] == one and [n.id for n in batch[ids[1]]] == [ids[3]] and batch[ids[3]] == []
        edges, records = sp.neighborhood([ids[0], ids[1]])
        assert edges == {ids[0]: one, ids[1]: batch[ids[1]]}
        assert {i: m.content for i, m in records.items()} == {ids[1]: "b", ids[2]: "c", ids[3]: "d"}
        v = sp.validate()
        assert v["ok"] is True, v


def test_graph_route_errors(tenants: Tenants) -> None:
    with tenants.client("writer_a") as c:
        sp = c.space("tenant-a")
        mid, other = (int(i) for i in sp.remember_batch(vectors(2, seed=12)))
        with pytest.raises(engram.MemoryNotFound):
            sp.neighbors(10**12)
        with pytest.raises(engram.MemoryNotFound, match=r"edges\[1\]"):
            sp.link_batch([{"src": mid, "dst": other}, {"src": mid, "dst": 10**12}])
        with pytest.raises(engram.InvalidInputError, match="itself"):
            sp.link_batch([{"src": mid, "dst": mid}])
    too_many = 51  # the fixture's max_batch is 50
    with httpx.Client(
        base_url=tenants.url, headers={"Authorization": f"Bearer {tenants.keys['writer_a']}"}
    ) as h:
        r = h.post(
            "/api/v1/spaces/tenant-a/links/batch", json={"edges": [{"src": mid, "dst": mid}] * too_many}
        )
        assert r.status_code == 413 and r.json()["error"]["code"] == "batch_too_large"
        r = h.post("/api/v1/spaces/tenant-a/neighbors", json={"ids": [mid] * too_many})
        assert r.status_code == 413 and r.json()["error"]["code"] == "batch_too_large"
        r = h.post("/api/v1/spaces/tenant-a/neighbors", json={"ids": []})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_input"
        r = h.get("/api/v1/spaces/tenant-a/memories/x/neighbors")
        assert r.status_code == 400 and "integer" in r.json()["error"]["message"]


def test_graph_roles_and_grants(tenants: Tenants) -> None:
    with tenants.client("reader_a") as c:
        sp = c.space("tenant-a")
        assert isinstance(sp.concepts(), list)  # reads allowed
        with pytest.raises(CE.PermissionDenied):
            sp.link_batch([{"src": 1, "dst": 2}])  # a write
    with tenants.client("writer_b") as c, pytest.raises(CE.PermissionDenied):
        c.space("tenant-a").neighbors_batch([1])  # no grant on tenant-a
    with tenants.client("writer_a") as c, pytest.raises(CE.PermissionDenied):
        c.start_consolidation(60.0)  # admin only


def test_concepts_over_http(tenants: Tenants) -> None:
    rng = np.random.default_rng(13)
    centre = vectors(1, seed=14)[0]
    cluster = centre + 0.02 * rng.normal(size=(12, centre.size)).astype(np.float32)
    with tenants.client("admin") as c:
        sp = c.create_space("concepts", dim=centre.size)
        ids = [int(i) for i in sp.remember_batch(cluster)]
        report = sp.consolidate(similarity_threshold=0.5, coherence_threshold=0.5, min_cluster_size=3)
        assert report.formed, f"the tight cluster formed no concept: {report}"
        found = sp.concepts()
        assert {k.id for k in found} >= set(report.formed)
        k = next(k for k in found if k.id == report.formed[0])
        assert sorted(sp.concept_members(k.id)) == sorted(k.members) and set(k.members) <= set(ids)
        assert k.id in sp.episode_concepts(k.members[0])
        assert k.centroid.shape == centre.shape
        with pytest.raises(engram.MemoryNotFound):
            sp.concept_members(10**12)
        c.drop_space("concepts")


def test_start_stop_consolidation(tenants: Tenants) -> None:
    with tenants.client("admin") as c:
        c.start_consolidation(0.05, min_cluster_size=3)
        try:
            deadline = time.monotonic() + 10.0
            status = c.consolidation_status()
            while status.get("cycles", 0) < 1 and time.monotonic() < deadline:  # bounded wait
                time.sleep(0.05)
                status = c.consolidation_status()
            assert status["state"] == "running" and status["cycles"] >= 1, status
        finally:
            c.stop_consolidation()
        assert c.consolidation_status()["state"] == "stopped"
        with httpx.Client(
            base_url=tenants.url, headers={"Authorization": f"Bearer {tenants.keys['admin']}"}
        ) as h:
            r = h.post("/api/v1/consolidation/start", json={"interval_s": 0})
            assert r.status_code == 400 and "interval_s" in r.json()["error"]["message"]


def test_openapi_lists_graph_routes(tenants: Tenants) -> None:
    spec = httpx.get(tenants.url + "/openapi.json").json()
    ops = {(m.upper(), p) for p, item in spec["paths"].items() for m in item}
    s = "/api/v1/spaces/{space}"
    for needed in [("GET", s + "/memories/{memory_id}/neighbors"), ("POST", s + "/neighbors"),
                   ("POST", s + "/links/batch"), ("GET", s + "/concepts"),
                   ("GET", s + "/concepts/{concept_id}/members"), ("GET", s + "/memories/{memory_id}/concepts"),
                   ("GET", s + "/validate"), ("POST", "/api/v1/consolidation/start"), ("POST", "/api/v1/consolidation/stop")]:  # fmt: skip
        assert needed in ops, needed


def test_spread_direction_weights(tenants: Tenants) -> None:
    with tenants.client("writer_a") as c:
        sp = c.space("tenant-a")
        a, b = (int(i) for i in sp.remember_batch(vectors(2, seed=15)))
        sp.link(a, b, 1.0)

        def act(**kw: object) -> float:
            return next(x.activation for x in sp.spread([a], max_hops=1, threshold=0.0, **kw) if x.id == b)

        low, high = act(direction_weights={"episodic": 0.1}), act(direction_weights={"episodic": 0.9})
        assert high > low > 0.0, (low, high)
        with pytest.raises(engram.InvalidInputError, match="direction_weights"):
            sp.spread([a], direction_weights={"sideways": 1.0})


def test_graph_routes_reject_another_spaces_ids(tenants: Tenants) -> None:
    with tenants.client("writer_b") as cb:
        b_ids = [int(i) for i in cb.space("tenant-b").remember_batch(vectors(2, seed=16))]
        cb.space("tenant-b").link(b_ids[0], b_ids[1])
    with tenants.client("writer_a") as ca:
        sa = ca.space("tenant-a")
        a_id = int(sa.remember(vectors(1, seed=17)[0]))
        for bid in b_ids:
            with pytest.raises(engram.MemoryNotFound):
                sa.neighbors(bid)
            with pytest.raises(engram.MemoryNotFound):
                sa.neighbors_batch([a_id, bid])
            with pytest.raises(engram.MemoryNotFound):
                sa.neighborhood([bid])
            with pytest.raises(engram.MemoryNotFound):
                sa.link_batch([{"src": a_id, "dst": bid}])
            with pytest.raises(engram.MemoryNotFound):
                sa.episode_concepts(bid)
            with pytest.raises(engram.MemoryNotFound):
                sa.concept_members(bid)
        assert sa.neighbors(a_id) == []  # the failed batch linked nothing
