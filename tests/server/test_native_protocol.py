"""engramd's HTTP edges and documents (issue 13's known gaps): HEAD and unsupported methods, the
stream's latency histogram in /metrics, and an OpenAPI document that lists every embedding
encoding each route accepts, checked by sending one request per documented encoding."""

from __future__ import annotations

import base64
import itertools
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from engram.server.launcher import find_engramd

from .conftest import Tenants, serve_tenants, vectors

pytestmark = pytest.mark.skipif(
    find_engramd() is None, reason="engramd is not built (its libraries are missing)"
)

SPACE = "tenant-a"


@pytest.fixture(scope="module")
def nt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    with serve_tenants(tmp_path_factory.mktemp("native-protocol")) as t:
        yield t


def _auth(t: Tenants) -> dict[str, str]:
    return {"Authorization": f"Bearer {t.keys['admin']}"}


def _spec(t: Tenants) -> dict[str, Any]:
    return httpx.get(t.url + "/openapi.json").json()


# ------------------------------------------------------------------------------ HEAD, 405, 404
@pytest.mark.parametrize("path", ["/health/live", "/openapi.json", f"/api/v1/spaces/{SPACE}", "/metrics"])
def test_head_on_a_get_route_has_the_get_headers_and_no_body(nt: Tenants, path: str) -> None:
    get = httpx.get(nt.url + path, headers=_auth(nt))
    head = httpx.head(nt.url + path, headers=_auth(nt))
    assert get.status_code == head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    want_version = "1" if path.startswith("/api/v1/") else "2"  # outside the API: the newest
    assert len(head.headers["x-request-id"]) == 32 and head.headers["engram-api-version"] == want_version
    if path != "/metrics":  # the exposition changes between two scrapes (the first one is counted)
        assert int(head.headers["content-length"]) == len(get.content)


def test_head_sends_no_body_on_a_kept_alive_connection(nt: Tenants) -> None:
    """Two pipelined requests on one connection: were a body sent after HEAD's headers, the second
    response would not start right after them."""
    port = int(nt.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"HEAD /health/live HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")  # fmt: skip
        raw = b""
        while chunk := s.recv(65536):  # bounded by the socket timeout and the server's close
            raw += chunk
    head, rest = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200") and b"content-length: " in head.lower()
    assert rest.startswith(b"HTTP/1.1 200")
    _, get_body = rest.split(b"\r\n\r\n", 1)
    assert json.loads(get_body) == {"status": "live", "phase": "ready"}


def _served(spec: dict[str, Any], path: str) -> set[str]:
    methods = {m.upper() for m in spec["paths"][path]}
    return methods | ({"HEAD"} if "GET" in methods else set())


@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("HEAD", "/api/v1/spaces/{space}/search"),  # a POST-only route
        ("PATCH", "/api/v1/spaces"),
        ("OPTIONS", "/api/v1/spaces/{space}"),
        ("TRACE", "/health/live"),
        ("PUT", "/api/v1/spaces/{space}/memories"),
        ("POST", "/metrics"),
    ],
)
def test_an_unsupported_method_is_405_with_allow(nt: Tenants, method: str, template: str) -> None:
    r = httpx.request(method, nt.url + template.replace("{space}", SPACE), headers=_auth(nt))
    assert r.status_code == 405
    allow = {m.strip() for m in r.headers["allow"].split(",")}
    assert allow == _served(_spec(nt), template)
    rid = r.headers["x-request-id"]
    assert len(rid) == 32
    if method == "HEAD":  # the error's headers, never a body
        assert r.content == b"" and int(r.headers["content-length"]) > 0
        assert r.headers["content-type"] == "application/json"
    else:
        err = r.json()["error"]
        assert (err["code"], err["status"], err["request_id"]) == ("method_not_allowed", 405, rid)
        assert method in err["message"] and r.headers["allow"] in err["message"]


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PATCH", "OPTIONS", "TRACE", "DELETE"])
def test_an_unknown_path_is_404_for_every_method(nt: Tenants, method: str) -> None:
    r = httpx.request(method, nt.url + "/api/v1/nowhere", headers=_auth(nt))
    assert r.status_code == 404 and "allow" not in r.headers
    rid = r.headers["x-request-id"]
    if method == "HEAD":
        assert r.content == b""
    else:
        err = r.json()["error"]
        assert (err["code"], err["status"], err["request_id"]) == ("route_not_found", 404, rid)


def test_unknown_method_names_do_not_become_metric_labels(nt: Tenants) -> None:
    assert httpx.request("BREW", nt.url + "/api/v1/spaces").status_code == 405
    assert httpx.request("BREW", nt.url + "/api/v1/nowhere").status_code == 404
    text = httpx.get(nt.url + "/metrics").text
    assert 'method="BREW"' not in text and 'method="(other)"' in text
    assert 'method="HEAD"' in text  # HEAD is an HTTP method: its own label


# ----------------------------------------------------------------------- stream latency histogram
STREAM_LATENCY = "engram_streaming_observation_latency_seconds"
# the Starlette server's buckets (engram/server/metrics.py LATENCY_BUCKETS_S)
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _histogram(url: str, name: str) -> dict[str, float]:
    """The histogram's samples from /metrics, read with prometheus-client's parser:
    ``le`` bound (or ``sum``/``count``) -> value."""
    for fam in text_string_to_metric_families(httpx.get(url + "/metrics").text):
        if fam.name == name:
            assert fam.type == "histogram"
            out: dict[str, float] = {}
            for s in fam.samples:
                key = s.labels["le"] if s.name == name + "_bucket" else s.name.rsplit("_", 1)[1]
                out[key] = s.value
            return out
    raise AssertionError(f"{name} is not in /metrics")


def _stream(t: Tenants, embeddings: np.ndarray, key_prefix: str) -> list[dict[str, Any]]:
    url = t.url.replace("http", "ws", 1) + f"/api/v1/spaces/{SPACE}/stream"
    with connect(url, additional_headers=_auth(t), proxy=None) as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "ready"
        for i, v in enumerate(embeddings):
            msg = {
                "type": "observation",
                "seq": i + 1,
                "embedding": v.tolist(),
                "idempotency_key": f"{key_prefix}{i}",
            }
            ws.send(json.dumps(msg))
        return [json.loads(ws.recv(timeout=30)) for _ in embeddings]


def test_stream_latency_histogram_counts_each_stored_observation(nt: Tenants) -> None:
    before = _histogram(nt.url, STREAM_LATENCY)
    assert [float(b) for b in before if b not in ("+Inf", "sum", "count")] == list(BUCKETS)
    n = 25
    acks = _stream(nt, vectors(n, seed=71), "hist-")
    assert [a["type"] for a in acks] == ["ack"] * n and not any(a["replayed"] for a in acks)
    after = _histogram(nt.url, STREAM_LATENCY)
    assert after["count"] == before["count"] + n
    assert after["+Inf"] == after["count"] and after["sum"] > before["sum"]
    bounds = [k for k in after if k not in ("sum", "count")]
    assert all(after[a] <= after[b] for a, b in itertools.pairwise(bounds))  # cumulative
    # replays store nothing: not timed again
    again = _stream(nt, vectors(n, seed=71), "hist-")
    assert all(a["replayed"] for a in again)
    assert _histogram(nt.url, STREAM_LATENCY)["count"] == after["count"]
    # one unlabelled series: no space name leaks into the unauthenticated scrape (defect 4)
    assert f'space="{SPACE}"' not in httpx.get(nt.url + "/metrics").text


# ---------------------------------------------------------------------- OpenAPI: every encoding
ROUTES_WITH_EMBEDDINGS = {"remember", "remember_batch", "legacy_remember", "search", "search_batch", "recall",
                          "recall_batch"}  # fmt: skip


def _deref(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _is_embedding(schema: dict[str, Any]) -> bool:
    forms = schema.get("anyOf", [])
    return any(f.get("type") == "array" for f in forms) and any(
        f.get("type") == "string" and f.get("contentEncoding") == "base64" for f in forms
    )


def _has_embedding(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    schema = _deref(spec, schema)
    if _is_embedding(schema):
        return True
    children = [*schema.get("properties", {}).values(), *schema.get("anyOf", [])]
    if "items" in schema:
        children.append(schema["items"])
    return any(_has_embedding(spec, c) for c in children)


def _example(spec: dict[str, Any], schema: dict[str, Any], vec: np.ndarray, encoding: str) -> Any:
    """The smallest body the schema allows: its required fields, one item per array, and the
    embedding in the encoding under test."""
    schema = _deref(spec, schema)
    if _is_embedding(schema):
        if encoding == "base64":
            return base64.b64encode(vec.astype("<f4").tobytes()).decode()
        return vec.tolist()
    kind = schema.get("type")
    if kind == "object":
        return {k: _example(spec, schema["properties"][k], vec, encoding) for k in schema.get("required", [])}
    if kind == "array":
        return [_example(spec, schema["items"], vec, encoding)]
    if kind == "string":
        return "an example"
    raise AssertionError(f"no example for {schema}")


def test_every_documented_embedding_encoding_is_accepted(nt: Tenants) -> None:
    spec = _spec(nt)
    vec = vectors(1, seed=72)[0]
    seen: set[str] = set()
    for template, item in spec["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {})
            requests: list[tuple[str, dict[str, Any]]] = []  # (encoding, httpx arguments)
            js = content.get("application/json")
            if js is not None and _has_embedding(spec, js["schema"]):
                for enc in ("array", "base64"):
                    requests.append((enc, {"json": _example(spec, js["schema"], vec, enc)}))
            octet = content.get("application/octet-stream")
            if octet is not None:
                assert octet["schema"] == {**octet["schema"], "type": "string", "contentEncoding": "binary"}
                requests.append(("octet-stream", {
                    "content": vec.astype("<f4").tobytes(),
                    "headers": {"Content-Type": "application/octet-stream"},
                }))  # fmt: skip
            if not requests:
                continue
            seen.add(op["operationId"])
            url = nt.url + template.replace("{space}", SPACE)
            for enc, kw in requests:
                # X-Memory-Space: the legacy route's space (the others ignore the header)
                headers = {**_auth(nt), "X-Memory-Space": SPACE, **kw.pop("headers", {})}
                r = httpx.request(method.upper(), url, headers=headers, **kw)
                assert 200 <= r.status_code < 300, (op["operationId"], enc, r.status_code, r.text)
    assert seen >= ROUTES_WITH_EMBEDDINGS, ROUTES_WITH_EMBEDDINGS - seen
