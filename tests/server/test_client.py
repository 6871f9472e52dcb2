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
