"""Every API v1 route against a real server, through the client and raw HTTP."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

import engram
from engram.client import errors as CE

from .conftest import DIM, Tenants, vectors


def test_spaces_lifecycle(tenants: Tenants) -> None:
    with tenants.client("admin") as c:
        sp = c.create_space("scratch", dim=4)
        assert "scratch" in c.spaces()
        assert len(sp) == 0
        with pytest.raises(engram.SpaceExists):
            c.create_space("scratch")
        c.drop_space("scratch")
        assert "scratch" not in c.spaces()
        with pytest.raises(engram.SpaceNotFound):
            c.space("scratch")


def test_memories_roundtrip(tenants: Tenants) -> None:
    v = vectors(20, seed=1)
    with tenants.client("writer_a") as c:
        sp = c.space("tenant-a")
        mid = sp.remember(v[0], content="hello", confidence=0.8, metadata={"src": "t"})
        m = sp.get(mid)
        assert (m.id, m.content, m.metadata) == (mid, "hello", {"src": "t"})
        assert m.confidence == pytest.approx(0.8)
        np.testing.assert_allclose(m.embedding, v[0], atol=1e-6)
        ids = sp.remember_batch(v[1:], contents=[f"m{i}" for i in range(1, 20)])
        assert len(ids) == 19 and len(set(ids.tolist())) == 19
        found, scores = sp.search(v[5], k=3)
        assert found[0] == ids[4] and scores[0] == pytest.approx(1.0, abs=1e-5)
        assert sp.link(int(ids[0]), int(ids[1]), 0.9) is True
        act = sp.spread([int(ids[0])], max_hops=2, threshold=0.01)
        assert {a.id for a in act} >= {int(ids[0]), int(ids[1])}
        sp.forget(mid)
        with pytest.raises(engram.MemoryNotFound):
            sp.get(mid)
        assert mid not in sp.search(v[0], k=20)[0].tolist()
        st = sp.stats()
        assert st["forgotten"] >= 1 and st["episodes"] >= 19 and st["space"] == "tenant-a"


@pytest.mark.parametrize("mode", ["blended", "episodic", "semantic"])
def test_recall_each_mode(tenants: Tenants, mode: str) -> None:
    v = vectors(30, seed=20 + ["blended", "episodic", "semantic"].index(mode))
    with tenants.client("writer_a") as c:
        sp = c.space("tenant-a")
        ids = sp.remember_batch(v)
        rows = sp.recall(v[3], k=5, mode=mode)
        assert all(isinstance(r, engram.Recollection) for r in rows)
        if mode != "semantic":  # no concepts yet: the semantic pathway has nothing to return
            assert rows and rows[0].id == ids[3]


def test_complete_and_consolidate(tenants: Tenants) -> None:
    v = vectors(10, seed=3)
    with tenants.client("writer_a") as c:
        sp = c.space("tenant-a")
        sp.remember_batch(v)
        partial = v[2].copy()
        partial[1::2] = np.nan
        comp = sp.complete(partial)
        assert comp.vector.shape == (DIM,) and comp.known_dims == DIM // 2
        np.testing.assert_allclose(comp.vector[0::2], v[2][0::2], atol=1e-5)
        rep = sp.consolidate(min_cluster_size=3)
        assert isinstance(rep, engram.ConsolidationReport) and rep.episodes_considered >= 10


def test_admin_routes(tenants: Tenants) -> None:
    with tenants.client("admin") as c:
        status = c.consolidation_status()
        assert "state" in status
        c.pause_consolidation()
        c.resume_consolidation()
        before = c.features()
        after = c.set_features(fan_effect=not before["fan_effect"])
        assert after["fan_effect"] is (not before["fan_effect"])
        c.set_features(fan_effect=before["fan_effect"])
        st = c.stats()
        assert set(st["spaces"]) >= {"tenant-a", "tenant-b"} and "metrics" in st


def test_error_format_request_id_and_version(tenants: Tenants) -> None:
    h = {"Authorization": f"Bearer {tenants.keys['admin']}", "X-Request-Id": "my-req-1"}
    r = httpx.get(tenants.url + "/api/v1/spaces/nope", headers=h)
    assert r.status_code == 404
    assert r.headers["x-request-id"] == "my-req-1"
    assert r.headers["engram-api-version"] == "1"
    err = r.json()["error"]
    assert err["code"] == "space_not_found" and err["request_id"] == "my-req-1" and "nope" in err["message"]
    ok = httpx.get(tenants.url + "/health/live")
    assert ok.status_code == 200 and len(ok.headers["x-request-id"]) == 32


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/api/v1/spaces/tenant-a/search", b"{not json", 400, "invalid_json"),
        ("POST", "/api/v1/spaces/tenant-a/search", b'{"embedding": [1, 2], "k": 0}', 400, "invalid_input"),
        ("POST", "/api/v1/spaces/tenant-a/search", b'{"embedding": [1, 2]}', 400, "dimension_mismatch"),
        (
            "POST",
            "/api/v1/spaces/tenant-a/search",
            b'{"embedding": [1,0,0,0,0,0,0,0], "x": 1}',
            400,
            "invalid_input",
        ),
        (
            "POST",
            "/api/v1/spaces/tenant-a/memories",
            b'{"embedding": [NaN,0,0,0,0,0,0,0]}',  # NaN is not JSON
            400,
            "invalid_json",
        ),
        (
            "POST",
            "/api/v1/spaces/tenant-a/memories",
            b'{"embedding": [1e39,0,0,0,0,0,0,0]}',
            400,
            "invalid_input",
        ),
        ("GET", "/api/v1/spaces/tenant-a/memories/abc", None, 400, "invalid_input"),
        ("GET", "/api/v1/spaces/tenant-a/memories/99999999999999999999", None, 404, "memory_not_found"),
        ("GET", "/api/v1/nowhere", None, 404, "route_not_found"),
        ("POST", "/api/v1/spaces", b'{"name": ".."}', 400, "invalid_input"),  # unreachable by URL
        ("POST", "/api/v1/spaces", b'{"name": "..."}', 400, "invalid_input"),
        ("PATCH", "/api/v1/spaces", None, 405, "method_not_allowed"),
    ],
)
def test_error_codes(
    tenants: Tenants, method: str, path: str, body: bytes | None, status: int, code: str
) -> None:
    h = {"Authorization": f"Bearer {tenants.keys['admin']}", "Content-Type": "application/json"}
    r = httpx.request(method, tenants.url + path, content=body, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    assert r.json()["error"]["message"]


def test_client_maps_codes_to_typed_errors(tenants: Tenants) -> None:
    with tenants.client("admin") as c:
        sp = c.space("tenant-a")
        with pytest.raises(engram.DimensionError) as ei:
            sp.search(np.ones(3), k=1)
        assert isinstance(ei.value, CE.RemoteError) and ei.value.status == 400 and ei.value.request_id
        with pytest.raises(ValueError):  # InvalidInputError is also a ValueError, as in process
            sp.search(np.ones(DIM), k=0)


def test_openapi_lists_every_route(tenants: Tenants) -> None:
    spec = httpx.get(tenants.url + "/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    ops = {(m.upper(), p) for p, item in spec["paths"].items() for m in item}
    for needed in [("POST", "/api/v1/spaces"), ("POST", "/api/v1/spaces/{space}/recall"),
                   ("GET", "/api/v1/spaces/{space}/memories/{memory_id}"), ("PUT", "/api/v1/admin/features")]:  # fmt: skip
        assert needed in ops
    assert spec["paths"]["/api/v1/memories/remember"]["post"]["deprecated"] is True


def test_idempotent_remember_over_http(tenants: Tenants) -> None:
    h = {"Authorization": f"Bearer {tenants.keys['writer_a']}", "Idempotency-Key": "once-only-1"}
    body = {"embedding": vectors(1, seed=60)[0].tolist(), "content": "exactly once"}
    url = tenants.url + "/api/v1/spaces/tenant-a/memories"
    first = httpx.post(url, json=body, headers=h)
    again = httpx.post(url, json=body, headers=h)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] and again.json()["replayed"] is True
    other = httpx.post(url, json={**body, "content": "something else"}, headers=h)
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict"
    batch = {"items": [{"embedding": vectors(1, seed=61)[0].tolist()}] * 3}
    b1 = httpx.post(url + "/batch", json=batch, headers={**h, "Idempotency-Key": "batch-1"})
    b2 = httpx.post(url + "/batch", json=batch, headers={**h, "Idempotency-Key": "batch-1"})
    assert b1.json()["ids"] == b2.json()["ids"] and b2.status_code == 200


def test_inline_engine_calls_mode(tmp_path) -> None:
    from engram.client import Client
    from engram_harness.server import running_server_process

    v = vectors(20, seed=70)
    with running_server_process(
        None, log_dir=tmp_path, no_auth=True, dim=DIM, inline_engine_calls=True
    ) as sp:
        assert sp.events("config")[0]["inline_engine_calls"] is True
        s = Client(sp.url).create_space("inline")
        ids = [s.remember(x) for x in v]
        assert s.search(v[7], k=1)[0][0] == ids[7] and s.get(ids[3]).id == ids[3]
        assert s.recall(v[5], k=1, mode="episodic")[0].id == ids[5]
