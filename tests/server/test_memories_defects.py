"""The memories and legacy routes against the defects of issue 13 they must not carry: strict
types (15), ids beyond int64 (10), a client leaving mid-body (11), and idempotency keys that the
engine keeps per space (1 and 2; also tests/server/test_idempotency_keys.py)."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from engram_harness.server import running_server_process
from tests.durability.helpers import require_test_build

from .conftest import DIM, Tenants, metric, vectors

S = "/api/v1/spaces/tenant-a"
V = [0.5] * DIM


def _h(t: Tenants, who: str = "writer_a") -> dict[str, str]:
    return {"Authorization": f"Bearer {t.keys[who]}"}


def _error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


def _one(t: Tenants) -> int:
    r = httpx.post(t.url + S + "/memories", json={"embedding": V}, headers=_h(t))
    assert r.status_code == 201
    return int(r.json()["id"])


# ----------------------------------------------------------------------------- defect 15
def _strings(n: int) -> list[Any]:
    return ["1"] + [0.0] * (n - 1)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/memories", {"embedding": _strings(DIM)}, "embedding[0]"),  # a string is not a number
        ("/memories", {"embedding": [True] + [0.0] * (DIM - 1)}, "embedding[0]"),  # nor a boolean
        ("/memories", {"embedding": [None] + [0.0] * (DIM - 1)}, "embedding[0]"),
        ("/memories", {"embedding": "0.5"}, "embedding"),
        ("/memories", {"embedding": V, "confidence": "0.5"}, "confidence"),
        ("/memories", {"embedding": V, "confidence": True}, "confidence"),
        ("/memories", {"embedding": V, "content": 5}, "content"),
        ("/memories", {"embedding": V, "timestamp": "1700000000"}, "timestamp"),
        ("/memories", {"embedding": V, "metadata": {"a": 1}}, "metadata.a"),
        ("/memories", {"embedding": V, "idempotency_key": 7}, "idempotency_key"),
        ("/memories/batch", {"items": [{"embedding": _strings(DIM)}]}, "items[0].embedding[0]"),
        (
            "/memories/batch",
            {"items": [{"embedding": V, "idempotency_key": "k"}]},
            "items[0].idempotency_key",
        ),
        ("/memories/batch", {"items": {"embedding": V}}, "items"),
        ("/links", {"src": "one", "dst": 2}, "src"),  # digits in a string are an id (API v2's form)
        ("/links", {"src": 1.5, "dst": 2}, "src"),
        ("/links", {"src": True, "dst": 2}, "src"),
        ("/links", {"src": 1, "dst": 2, "kind": "friend"}, "kind"),
        ("/links", {"src": 1, "dst": 2, "weight": "1"}, "weight"),
    ],
)
def test_strict_types_are_refused_naming_the_field(tenants: Tenants, path: str, body: dict[str, Any],
                                                   field: str) -> None:  # fmt: skip
    before = httpx.get(tenants.url + S, headers=_h(tenants)).json()["memories"]
    r = httpx.post(tenants.url + S + path, json=body, headers=_h(tenants))
    assert _error(r) == (400, "invalid_input"), r.text
    assert field in r.json()["error"]["message"]
    assert httpx.get(tenants.url + S, headers=_h(tenants)).json()["memories"] == before  # nothing stored


@pytest.mark.parametrize("raw_id", ["+1", "1_0", "%EF%BC%91", "%20 1", "1.0", "0x1", "1e3"])
def test_ids_in_paths_are_ascii_decimal_only(tenants: Tenants, raw_id: str) -> None:
    _one(tenants)  # id 1 (or more) exists: a lenient parser would find it
    for method in ("GET", "DELETE"):
        r = httpx.request(method, f"{tenants.url}{S}/memories/{raw_id}", headers=_h(tenants))
        assert _error(r) == (400, "invalid_input"), (method, raw_id, r.text)
        assert "integer memory id" in r.json()["error"]["message"]


def test_duplicate_fields_and_metadata_keys_are_refused(tenants: Tenants) -> None:
    body = b'{"embedding": [' + b",".join([b"0.5"] * DIM) + b'], "metadata": {"a": "x", "a": "y"}}'
    r = httpx.post(tenants.url + S + "/memories", content=body, headers=_h(tenants))
    assert _error(r) == (400, "invalid_input") and "duplicate" in r.text
    body = b'{"embedding": [' + b",".join([b"0.5"] * DIM) + b'], "content": "a", "content": "b"}'
    r = httpx.post(tenants.url + S + "/memories", content=body, headers=_h(tenants))
    assert _error(r) == (400, "invalid_input") and "duplicate" in r.text


# ----------------------------------------------------------------------------- defect 10
@pytest.mark.parametrize("raw_id", [str(2**63), str(-(2**63) - 1), str(10**30)])
def test_ids_beyond_int64_in_paths_name_no_memory(tenants: Tenants, raw_id: str) -> None:
    for method in ("GET", "DELETE"):
        r = httpx.request(method, f"{tenants.url}{S}/memories/{raw_id}", headers=_h(tenants))
        assert _error(r) == (404, "memory_not_found"), (method, r.text)


@pytest.mark.parametrize("big", [str(2**63), str(2**64), str(-(2**63) - 1), str(10**30), "1e300"])
def test_ids_beyond_int64_in_bodies_are_a_typed_400(tenants: Tenants, big: str) -> None:
    a = _one(tenants)
    for body in (f'{{"src": {big}, "dst": {a}}}', f'{{"src": {a}, "dst": {big}}}'):
        r = httpx.post(tenants.url + S + "/links", content=body.encode(), headers=_h(tenants))
        assert r.status_code == 400 and r.json()["error"]["code"] in ("invalid_input", "invalid_json"), r.text
    assert 'status="500"' not in httpx.get(tenants.url + "/metrics").text


# ----------------------------------------------------------------------------- defect 11
def test_client_leaving_mid_body_is_an_abort_not_a_500(tenants: Tenants) -> None:
    port = int(tenants.url.rsplit(":", 1)[1])
    before = metric(tenants.url, "engram_server_client_aborts_total")
    for path in ("/memories", "/memories/batch", "/links"):
        head = (f"POST {S}{path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tenants.keys['writer_a']}\r\n"
                "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n")  # fmt: skip
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(head.encode() + b'{"embedding": [0.1, 0.2')
        time.sleep(0.1)
        s.close()
    deadline = time.monotonic() + 5
    while (
        metric(tenants.url, "engram_server_client_aborts_total") < before + 3 and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert metric(tenants.url, "engram_server_client_aborts_total") == before + 3
    assert 'status="500"' not in httpx.get(tenants.url + "/metrics").text
    assert _one(tenants) > 0  # the server still serves


# ------------------------------------------------------------------ idempotency keys (1, 2)
def test_idempotency_key_rules(tenants: Tenants) -> None:
    url = tenants.url + S + "/memories"
    body = {"embedding": vectors(1, seed=90)[0].tolist(), "idempotency_key": "in-body"}
    r = httpx.post(url, json=body, headers={**_h(tenants), "Idempotency-Key": "in-header"})
    assert _error(r) == (400, "invalid_input") and "differ" in r.text
    for bad in ("", "k" * 201):
        r = httpx.post(url, json={"embedding": V}, headers={**_h(tenants), "Idempotency-Key": bad})
        assert _error(r) == (400, "invalid_input"), r.text
    first = httpx.post(url, json=body, headers=_h(tenants))  # the body's key
    same = httpx.post(
        url, json=body, headers={**_h(tenants), "Idempotency-Key": "in-body"}
    )  # same key, header
    assert (first.status_code, same.status_code) == (201, 200)
    assert same.json() == {"id": first.json()["id"], "replayed": True}
    # a key used by a single remember and then by a batch is another payload: a conflict
    batch = {"items": [{"embedding": V}], "idempotency_key": "in-body"}
    r = httpx.post(url + "/batch", json=batch, headers=_h(tenants))
    assert _error(r) == (409, "idempotency_conflict")


def test_the_same_key_in_another_space_is_another_write(tenants: Tenants) -> None:
    body = {"embedding": vectors(1, seed=91)[0].tolist(), "content": "mine"}
    a = httpx.post(
        tenants.url + S + "/memories", json=body, headers={**_h(tenants), "Idempotency-Key": "shared"}
    )
    b = httpx.post(tenants.url + "/api/v1/spaces/tenant-b/memories", json=body,
                   headers={**_h(tenants, "writer_b"), "Idempotency-Key": "shared"})  # fmt: skip
    assert (a.status_code, b.status_code) == (201, 201)  # a key names a write of its space only
    assert a.json()["replayed"] is False and b.json()["replayed"] is False


def test_memory_round_trip_matches_the_stored_values(tenants: Tenants) -> None:
    v = vectors(1, seed=92)[0].tolist()
    body = {"embedding": v, "content": "ü €", "confidence": 0.7, "timestamp": 1700000000.25,
            "metadata": {"k": "v", "é": "\n"}}  # fmt: skip
    mid = httpx.post(tenants.url + S + "/memories", json=body, headers=_h(tenants)).json()["id"]
    m = httpx.get(f"{tenants.url}{S}/memories/{mid}", headers=_h(tenants, "reader_a")).json()
    assert set(m) == {"id", "kind", "embedding", "content", "confidence", "timestamp", "metadata"}
    assert (m["id"], m["kind"], m["content"], m["metadata"]) == (mid, "episode", "ü €", {"k": "v", "é": "\n"})
    assert m["confidence"] == pytest.approx(0.7) and m["timestamp"] == 1700000000.25
    assert m["embedding"] == pytest.approx(v, abs=1e-6)
    other = _one(tenants)
    r = httpx.post(
        tenants.url + S + "/links", json={"src": mid, "dst": other, "weight": 0.5}, headers=_h(tenants)
    )
    assert r.status_code == 200 and r.json() == {"created": True}
    r = httpx.post(tenants.url + S + "/links", json={"src": mid, "dst": other}, headers=_h(tenants))
    assert r.json() == {"created": False}
    assert httpx.delete(f"{tenants.url}{S}/memories/{mid}", headers=_h(tenants)).json() == {"forgotten": mid}
    r = httpx.get(f"{tenants.url}{S}/memories/{mid}", headers=_h(tenants))
    assert _error(r) == (404, "memory_not_found")


def test_batch_dimension_mismatch(tenants: Tenants) -> None:
    items = [{"embedding": V}, {"embedding": V[:-1]}]
    r = httpx.post(tenants.url + S + "/memories/batch", json={"items": items}, headers=_h(tenants))
    assert _error(r) == (400, "dimension_mismatch") and str(DIM) in r.json()["error"]["message"]


def test_batch_keys_survive_a_restart(tmp_path: Path) -> None:
    """A replay after a restart answers the stored ids with 200, never a second copy."""
    data = tmp_path / "data"
    P = "/api/v1/spaces"
    items = {"items": [{"embedding": v.tolist()} for v in vectors(3, seed=93)]}
    with running_server_process(data, log_dir=tmp_path, no_auth=True, dim=DIM, durability="group") as sp:
        assert httpx.post(sp.url + P, json={"name": "r"}).status_code == 201
        first = httpx.post(f"{sp.url}{P}/r/memories/batch", json=items, headers={"Idempotency-Key": "b"})
        assert first.status_code == 201
    with running_server_process(data, log_dir=tmp_path, no_auth=True, dim=DIM) as sp2:
        again = httpx.post(f"{sp2.url}{P}/r/memories/batch", json=items, headers={"Idempotency-Key": "b"})
        assert again.status_code == 200 and again.json() == {"ids": first.json()["ids"], "replayed": True}
        assert httpx.get(f"{sp2.url}{P}/r").json()["memories"] == 3


def test_retry_after_a_full_disk_replays_instead_of_storing_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 1: the keyed write whose WAL write fails with ENOSPC is answered 503
    storage_unavailable; its retry is answered 200 with the same id, and one memory exists, also
    after a restart. The plan fails the 3rd write to the WAL: the segment header, the space's
    creation, then this write."""
    require_test_build()  # engramd is built with the same flags as this engram._core
    monkeypatch.setenv("ENGRAM_FAULTS", "ioerror=write@*/wal/wal-*.seg:ENOSPC:nth=3:partial")
    data = tmp_path / "data"
    body = {"embedding": vectors(1, seed=94)[0].tolist(), "content": "full disk"}
    h = {"Idempotency-Key": "retry-me"}
    P = "/api/v1/spaces"
    with running_server_process(data, log_dir=tmp_path, no_auth=True, dim=DIM, durability="fsync") as sp:
        assert httpx.post(sp.url + P, json={"name": "s"}).status_code == 201
        first = httpx.post(f"{sp.url}{P}/s/memories", json=body, headers=h)
        assert _error(first) == (503, "storage_unavailable") and first.headers["retry-after"] == "1"
        retry = httpx.post(f"{sp.url}{P}/s/memories", json=body, headers=h)
        assert retry.status_code == 200 and retry.json()["replayed"] is True
        assert httpx.get(f"{sp.url}{P}/s").json()["memories"] == 1
    monkeypatch.delenv("ENGRAM_FAULTS")
    with running_server_process(data, log_dir=tmp_path, no_auth=True, dim=DIM) as sp2:
        again = httpx.post(f"{sp2.url}{P}/s/memories", json=body, headers=h)
        assert again.status_code == 200 and again.json() == retry.json()
        assert httpx.get(f"{sp2.url}{P}/s").json()["memories"] == 1
