"""API v2 beside v1 (docs/api-versions.md, issue 16): version negotiation by path and by
Accept-Version, clear errors for unknown or contradictory versions, v1's deprecation headers (RFC
9745, RFC 8594) with a Link to the migration notes the server serves, and v2's memory ids as
strings in every answer (taken as strings or integers in requests by both versions)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from .conftest import Tenants, vectors

A1 = "/api/v1/spaces/tenant-a"
A2 = "/api/v2/spaces/tenant-a"


def _h(t: Tenants, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {t.keys['admin']}", **extra}


def test_the_path_names_the_version(tenants: Tenants) -> None:
    for version in ("1", "2"):
        r = httpx.get(tenants.url + f"/api/v{version}/spaces", headers=_h(tenants))
        assert r.status_code == 200 and r.headers["engram-api-version"] == version


@pytest.mark.parametrize(("header", "want"), [(None, "2"), ("2", "2"), ("v2", "2"), ("1", "1"), ("V1", "1")])
def test_an_unversioned_path_takes_the_header_or_the_newest(
    tenants: Tenants, header: str | None, want: str
) -> None:
    extra = {} if header is None else {"Accept-Version": header}
    r = httpx.get(tenants.url + "/api/spaces", headers=_h(tenants, **extra))
    assert r.status_code == 200 and r.headers["engram-api-version"] == want
    assert ("deprecation" in r.headers) is (want == "1")


@pytest.mark.parametrize(
    ("path", "header", "code"),
    [
        ("/api/v3/spaces", None, "unsupported_api_version"),
        ("/api/v0/spaces", None, "unsupported_api_version"),
        ("/api/v2x/spaces", None, "unsupported_api_version"),
        ("/api/spaces", "3", "unsupported_api_version"),
        ("/api/spaces", "latest", "unsupported_api_version"),
        ("/api/spaces", "", "unsupported_api_version"),
        ("/api/v1/spaces", "2", "api_version_conflict"),
        ("/api/v2/spaces", "v1", "api_version_conflict"),
    ],
)
def test_unknown_or_contradictory_versions_are_refused_clearly(
    tenants: Tenants, path: str, header: str | None, code: str
) -> None:
    extra = {} if header is None else {"Accept-Version": header}
    r = httpx.get(tenants.url + path, headers=_h(tenants, **extra))
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == code and "v2" in err["message"], err
    if code == "unsupported_api_version":
        assert "serves API v1" in err["message"]


def test_v1_answers_are_deprecated_with_sunset_and_a_link_the_server_serves(tenants: Tenants) -> None:
    r = httpx.get(tenants.url + A1, headers=_h(tenants))
    assert r.status_code == 200
    assert r.headers["deprecation"] == "@1796601600"  # RFC 9745: a structured-field date
    assert r.headers["sunset"].endswith(" GMT")  # RFC 8594: an HTTP date
    link = r.headers["link"]
    assert 'rel="deprecation"' in link
    target = link[link.index("<") + 1 : link.index(">")]
    notes = httpx.get(tenants.url + target)
    assert notes.status_code == 200 and notes.headers["content-type"].startswith("text/markdown")
    assert "# Engram HTTP API versions" in notes.text and "Accept-Version" in notes.text
    v2 = httpx.get(tenants.url + A2, headers=_h(tenants))
    assert v2.status_code == 200 and not {"deprecation", "sunset"} & set(v2.headers)
    # errors of v1 are deprecated answers too
    missing = httpx.get(tenants.url + "/api/v1/spaces/nope", headers=_h(tenants))
    assert missing.status_code == 404 and "deprecation" in missing.headers


def _ids_are_strings(value: Any, keys: tuple[str, ...]) -> list[Any]:
    """Every value under an id-bearing key, recursively (to check they are all strings)."""
    found: list[Any] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k in keys:
                found.extend(v if isinstance(v, list) else [v])
            else:
                found.extend(_ids_are_strings(v, keys))
    elif isinstance(value, list):
        for v in value:
            found.extend(_ids_are_strings(v, keys))
    return found


ID_KEYS = ("id", "ids", "members", "sources", "source", "formed", "updated", "forgotten")


def test_v2_writes_every_memory_id_as_a_string_and_reads_both_forms(tenants: Tenants) -> None:
    h = _h(tenants)
    vs = vectors(12, seed=1601)
    batch = httpx.post(tenants.url + A2 + "/memories/batch", headers=h,
                       json={"items": [{"embedding": v.tolist(), "content": f"m{i}"} for i, v in enumerate(vs)]})  # fmt: skip
    assert batch.status_code == 201, batch.text
    ids = batch.json()["ids"]
    assert all(isinstance(i, str) and i.isdigit() for i in ids)
    v1_get = httpx.get(tenants.url + A1 + f"/memories/{ids[0]}", headers=h).json()
    assert v1_get["id"] == int(ids[0])  # the same memory, as v1 writes it
    # requests take the string (v2's form) and the integer, in both versions
    for path, src in ((A2, ids[0]), (A1, ids[0]), (A2, int(ids[0]))):
        r = httpx.post(
            tenants.url + path + "/links", headers=h, json={"src": src, "dst": ids[1], "weight": 0.5}
        )
        assert r.status_code == 200, r.text
    partial = vs[0].tolist()[:4] + [None] * (len(vs[0]) - 4)
    answers = [
        httpx.get(tenants.url + A2 + f"/memories/{ids[0]}", headers=h),
        httpx.post(tenants.url + A2 + "/search", headers=h, json={"embedding": vs[0].tolist(), "k": 3}),
        httpx.post(tenants.url + A2 + "/recall", headers=h, json={"cue": vs[0].tolist(), "k": 3}),
        httpx.post(tenants.url + A2 + "/spread", headers=h, json={"seeds": [ids[0]]}),
        httpx.post(tenants.url + A2 + "/complete", headers=h, json={"partial": partial}),
        httpx.get(tenants.url + A2 + f"/memories/{ids[0]}/neighbors", headers=h),
        httpx.post(tenants.url + A2 + "/neighbors", headers=h, json={"ids": ids[:2], "records": True}),
        httpx.post(tenants.url + A2 + "/consolidate", headers=h, json={}),
        httpx.get(tenants.url + A2 + "/concepts", headers=h),
        httpx.delete(tenants.url + A2 + f"/memories/{ids[-1]}", headers=h),
    ]
    seen = 0
    for r in answers:
        assert r.status_code == 200, (r.request.url, r.text)
        found = _ids_are_strings(r.json(), ID_KEYS)
        assert all(isinstance(i, str) and i.lstrip("-").isdigit() for i in found), (r.request.url, found)
        seen += len(found)
    assert seen >= 20  # the answers did carry ids


def test_v2_stream_acks_carry_string_ids(tenants: Tenants) -> None:
    ws_url = tenants.url.replace("http://", "ws://") + A2 + "/stream"
    with connect(ws_url, additional_headers=_h(tenants)) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        v = vectors(1, seed=1602)[0].tolist()
        ws.send(json.dumps({"type": "observation", "seq": 1, "embedding": v, "content": "s"}))
        ack = json.loads(ws.recv(timeout=10))
    assert ack["type"] == "ack" and isinstance(ack["id"], str) and ack["id"].isdigit()


def test_the_document_lists_both_versions(tenants: Tenants) -> None:
    doc = httpx.get(tenants.url + "/openapi.json").json()
    v1 = {p for p in doc["paths"] if p.startswith("/api/v1/")}
    v2 = {p for p in doc["paths"] if p.startswith("/api/v2/")}
    assert {p.replace("/api/v1/", "/api/v2/") for p in v1 if p != "/api/v1/memories/remember"} == v2
    for path in v1:
        assert all(op.get("deprecated") is True for op in doc["paths"][path].values()), path
    for path in v2:
        assert not any(op.get("deprecated") for op in doc["paths"][path].values()), path
    src = doc["components"]["schemas"]["LinkV2"]["properties"]["src"]
    assert {f.get("type") for f in src["anyOf"]} == {"string", "integer"}
    param = doc["paths"]["/api/v2/spaces/{space}/memories/{memory_id}"]["get"]["parameters"][1]
    assert param["schema"]["type"] == "string"


def test_v2_lists_are_paged_by_cursor_without_repeats_or_gaps(tenants: Tenants) -> None:
    h = _h(tenants)
    vs = vectors(9, seed=1603)
    ids = httpx.post(tenants.url + A2 + "/memories/batch", headers=h,
                     json={"items": [{"embedding": v.tolist()} for v in vs]}).json()["ids"]  # fmt: skip
    hub = ids[0]
    links = [{"src": hub, "dst": d, "weight": 0.5} for d in ids[1:]]
    assert httpx.post(tenants.url + A2 + "/links/batch", headers=h, json={"edges": links}).status_code == 200
    whole = httpx.get(tenants.url + A1 + f"/memories/{hub}/neighbors", headers=h).json()
    assert "next_cursor" not in whole and len(whole["neighbors"]) >= 8  # v1: the whole list
    got: list[str] = []
    cursor: str | None = None
    for _ in range(20):  # bounded: 8+ neighbours in pages of 3
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = httpx.get(tenants.url + A2 + f"/memories/{hub}/neighbors", headers=h, params=params).json()
        assert len(page["neighbors"]) <= 3
        got += [n["id"] for n in page["neighbors"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert got == sorted({str(n["id"]) for n in whole["neighbors"]}, key=int)  # ordered by id, each once
    spaces = httpx.get(tenants.url + "/api/v2/spaces", headers=h, params={"limit": "1"}).json()
    assert len(spaces["spaces"]) == 1 and isinstance(spaces["next_cursor"], str)
    rest = httpx.get(
        tenants.url + "/api/v2/spaces", headers=h, params={"cursor": spaces["next_cursor"]}
    ).json()
    assert spaces["spaces"][0] not in rest["spaces"] and rest["next_cursor"] is None


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x", "cursor=zz", "cursor=6e6f", "page=2"])
def test_bad_paging_parameters_are_refused(tenants: Tenants, query: str) -> None:
    r = httpx.get(tenants.url + A2 + "/concepts?" + query, headers=_h(tenants))
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_input", r.text


def test_v2_errors_have_one_shape_with_the_field(tenants: Tenants) -> None:
    h = _h(tenants)
    bad = {"items": [{"embedding": [0.0] * 8}, {"embedding": "not base64!"}]}
    r2 = httpx.post(tenants.url + A2 + "/memories/batch", headers=h, json=bad)
    assert r2.status_code == 400
    err = r2.json()["error"]
    assert set(err) == {"code", "message", "status", "request_id", "field", "retry_after_ms"}
    assert err["field"] == "/items/1/embedding" and err["retry_after_ms"] is None
    missing = httpx.get(tenants.url + "/api/v2/spaces/nope", headers=h).json()["error"]
    assert set(missing) == set(err) and missing["field"] is None  # not about one field: null, still present
    r1 = httpx.post(tenants.url + A1 + "/memories/batch", headers=h, json=bad)
    assert r1.status_code == 400 and "field" not in r1.json()["error"]  # v1 unchanged
    k = httpx.post(tenants.url + A2 + "/search", headers=h, json={"embedding": [0.0] * 8, "k": 10**6}).json()
    assert k["error"]["code"] == "limit_exceeded" and k["error"]["field"] == "/k"
