"""The Python client: retries with backoff and jitter, typed errors, and the asyncio client."""

from __future__ import annotations

import asyncio
import random

import httpx
import numpy as np
import pytest

import engram
from engram.client import AsyncClient, Client, RetryPolicy
from engram.client import errors as CE

from .conftest import Tenants, vectors


def _err(status: int, code: str, retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after else {}
    body = {"error": {"code": code, "message": f"{code} for the test", "status": status, "request_id": "r1"}}
    return httpx.Response(status, json=body, headers=headers)


def _client(
    responses: list[httpx.Response | Exception], **policy: float
) -> tuple[Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        r = responses[min(len(seen), len(responses)) - 1]
        if isinstance(r, Exception):
            raise r
        return r

    retry = RetryPolicy(attempts=int(policy.get("attempts", 4)), base_s=0.001, max_s=0.01, deadline_s=5)
    return Client("http://test", transport=httpx.MockTransport(handler), retry=retry), seen


def test_retries_overload_and_unavailable_then_succeeds() -> None:
    c, seen = _client(
        [_err(429, "overloaded", "0"), _err(503, "not_ready"), httpx.Response(200, json={"spaces": ["a"]})]
    )
    assert c.spaces() == ["a"]
    assert len(seen) == 3


def test_gives_up_after_the_policy_and_raises_the_typed_error() -> None:
    c, seen = _client([_err(503, "shutting_down")], attempts=3)
    with pytest.raises(CE.ServiceUnavailable) as ei:
        c.spaces()
    assert len(seen) == 3 and ei.value.code == "shutting_down" and ei.value.request_id == "r1"


def test_client_errors_are_not_retried() -> None:
    c, seen = _client([_err(404, "space_not_found")])
    with pytest.raises(engram.SpaceNotFound):
        c.space("x")
    assert len(seen) == 1


def test_connection_errors_retried_and_writes_keep_their_idempotency_key() -> None:
    from engram.client.sync import RemoteSpace

    ok = httpx.Response(201, json={"id": 7, "replayed": True})
    c, seen = _client([httpx.ReadTimeout("lost"), httpx.ConnectError("refused"), ok])
    assert RemoteSpace(c, "a").remember(np.ones(4)) == 7
    keys = {r.headers["idempotency-key"] for r in seen}
    assert len(seen) == 3 and len(keys) == 1  # every resend carries the same key: no duplicate


def test_unsafe_calls_are_not_resent_after_an_ambiguous_failure() -> None:
    from engram.client.sync import RemoteSpace

    c, seen = _client([httpx.ReadTimeout("lost"), httpx.Response(200, json={})])
    with pytest.raises(CE.TransportError):
        RemoteSpace(c, "a").consolidate()  # not idempotent: the server may have run it
    assert len(seen) == 1


def test_backoff_is_exponential_with_full_jitter_and_honours_retry_after() -> None:
    p = RetryPolicy(base_s=0.1, max_s=1.0)
    rng = random.Random(0)
    caps = [max(p.delay(a, rng=rng) for _ in range(200)) for a in range(5)]
    assert caps[0] <= 0.1 and 0.15 < caps[1] <= 0.2 and 0.3 < caps[2] <= 0.4 and 0.9 < caps[4] <= 1.0
    assert min(p.delay(2, rng=rng) for _ in range(200)) < 0.05  # jitter spreads retries down to ~0
    assert p.delay(0, retry_after_s=2.0, rng=rng) >= 2.0


def test_async_client_end_to_end(tenants: Tenants) -> None:
    v = vectors(10, seed=50)

    async def run() -> None:
        async with AsyncClient(tenants.url, api_key=tenants.keys["admin"]) as c:
            sp = await c.create_space("async-space")
            ids = await sp.remember_batch(v)
            one = await sp.remember(v[0] * -1, content="neg")
            assert (await sp.get(one)).content == "neg"
            found, _ = await sp.search(v[3], k=1)
            assert found[0] == ids[3]
            rows = await sp.recall(v[4], k=2, mode="episodic")
            assert rows[0].id == ids[4]
            assert (await sp.spread([int(ids[0])]))[0].id == ids[0]
            await sp.forget(one)
            with pytest.raises(engram.MemoryNotFound):
                await sp.get(one)
            results = await asyncio.gather(*(sp.search(v[i], k=1) for i in range(10)))
            assert [int(r[0][0]) for r in results] == [int(i) for i in ids]
            async with await c.stream("async-space", window=8) as st:
                for x in v:
                    await st.send(x * 0.5 + 0.1)
                streamed = await st.flush()
            assert len(streamed) == 10 and (await sp.get(streamed[9])).id == streamed[9]
            assert "async-space" in await c.spaces()
            await c.drop_space("async-space")

    asyncio.run(run())


def test_unreachable_server_raises_transport_error_after_retries() -> None:
    from engram_harness.server import free_port

    c = Client(f"http://127.0.0.1:{free_port()}", retry=RetryPolicy(attempts=3, base_s=0.001, max_s=0.01))
    with pytest.raises(CE.TransportError, match="ConnectError"):
        c.spaces()


# ------------------------------------------------- embeddings' encodings, batch search and recall
def _sent(embeddings: str) -> list[httpx.Request]:
    """The requests a client with ``embeddings`` sends for a remember, a search and a recall."""
    from engram.client.sync import RemoteSpace

    answers = iter([httpx.Response(201, json={"id": 1, "replayed": False}), httpx.Response(200, json={"results": []}),
                    httpx.Response(200, json={"results": []})])  # fmt: skip
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers)

    c = Client("http://test", transport=httpx.MockTransport(handler), embeddings=embeddings)  # type: ignore[arg-type]
    s = RemoteSpace(c, "a")
    v = np.array([0.1, -2.5, 3e-8, 1e30], dtype=np.float32)
    s.remember(v)
    s.search(v, k=3, ef=20)
    s.recall(v, k=2)
    return seen


def test_embeddings_travel_as_base64_float32_by_default_json_or_binary_on_request() -> None:
    import base64
    import json

    v = np.array([0.1, -2.5, 3e-8, 1e30], dtype=np.float32)
    exact = base64.b64encode(v.astype("<f4").tobytes()).decode()
    remember, search, recall = _sent("base64")
    assert json.loads(remember.content)["embedding"] == exact
    assert json.loads(search.content)["embedding"] == exact and json.loads(recall.content)["cue"] == exact
    assert remember.headers["content-type"] == "application/json"
    assert Client("http://x").embeddings == "base64"
    remember, search, recall = _sent("json")
    assert np.array_equal(np.asarray(json.loads(remember.content)["embedding"], dtype=np.float32), v)
    assert isinstance(json.loads(recall.content)["cue"], list)
    remember, search, recall = _sent("binary")  # a single search sends the raw vector
    assert json.loads(remember.content)["embedding"] == exact and json.loads(recall.content)["cue"] == exact
    assert search.headers["content-type"] == "application/octet-stream" and search.content == v.tobytes()
    assert search.url.path.endswith("/search") and dict(search.url.params) == {"k": "3", "ef": "20"}
    with pytest.raises(ValueError, match="embeddings='msgpack'; expected one of json, base64, binary"):
        Client("http://x", embeddings="msgpack")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="embeddings='yaml'"):
        AsyncClient("http://x", embeddings="yaml")  # type: ignore[arg-type]


@pytest.mark.parametrize("embeddings", ["json", "base64", "binary"])
def test_every_encoding_gets_the_same_answers_from_engramd(tenants: Tenants, embeddings: str) -> None:
    v = vectors(12, seed=60)
    with tenants.client("admin") as plain, tenants.client("admin", embeddings=embeddings) as c:
        name = f"enc-{embeddings}"
        s = c.create_space(name)
        ids = [int(i) for i in s.remember_batch(v[:10])] + [
            s.remember(v[10]),
            s.remember(v[11], content="last"),
        ]
        ref = plain.space(name)
        for i, mid in enumerate(ids):  # the stored vectors are the ones sent, bit for bit
            assert np.array_equal(ref.get(mid).embedding, v[i].astype(np.float32)), (embeddings, i)
        for q in (v[3], v[7] * 0.5 + 0.01):
            got, want = s.search(q, k=5, ef=40), ref.search(q, k=5, ef=40)
            assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
            assert s.recall(q, k=4, now=2e9) == ref.recall(q, k=4, now=2e9)
        with pytest.raises(engram.DimensionError):
            s.search(v[0][:3])
        with pytest.raises(engram.InvalidInputError):
            s.remember(np.full(v.shape[1], np.nan))
        plain.drop_space(name)


def test_batch_search_and_recall_answer_as_single_calls(tenants: Tenants) -> None:
    v = vectors(20, seed=61)
    queries = vectors(5, seed=62)
    with tenants.client("admin") as c, tenants.client("admin", embeddings="json") as cj:
        s = c.create_space("batches")
        s.remember_batch(v)
        for client in (c, cj):
            sp = client.space("batches")
            batch = sp.search_batch(queries, k=4, ef=30)
            singles = [sp.search(q, k=4, ef=30) for q in queries]
            assert len(batch) == 5
            for (bi, bs), (si, ss) in zip(batch, singles, strict=True):
                assert np.array_equal(bi, si) and np.array_equal(bs, ss) and bi.dtype == np.int64
            rb = sp.recall_batch(queries, k=3, mode="episodic", now=2e9, spreading=False)
            assert rb == [sp.recall(q, k=3, mode="episodic", now=2e9, spreading=False) for q in queries]
        with pytest.raises(ValueError, match="2-d"):
            s.search_batch(queries[0])
        with pytest.raises(engram.InvalidInputError):
            s.search_batch(np.zeros((0, queries.shape[1])))  # at least one query
        with pytest.raises(CE.RemoteError) as ei:  # the tenants server's max_batch is 50
            s.recall_batch(vectors(51, seed=63))
        assert ei.value.status == 413 and ei.value.code == "batch_too_large"
        with pytest.raises(engram.DimensionError, match=r"queries\[0\]"):
            s.search_batch(queries[:, :3])

    async def run() -> None:
        async with AsyncClient(tenants.url, api_key=tenants.keys["admin"]) as ac:
            sp = await ac.space("batches")
            got = await sp.search_batch(queries, k=2)
            assert [list(i) for i, _ in got] == [list((await sp.search(q, k=2))[0]) for q in queries]
            rows = await sp.recall_batch(queries[:2], k=2, now=2e9)
            assert rows == [await sp.recall(q, k=2, now=2e9) for q in queries[:2]]
            await ac.drop_space("batches")

    asyncio.run(run())
