"""Limits: body size (413), batch size (413), k (400), and overload (429 with Retry-After)."""

from __future__ import annotations

import concurrent.futures as cf

import httpx
import numpy as np
import pytest

from engram.client import Client, RetryPolicy
from engram.client import errors as CE
from engram_harness.server import running_server_process

from .conftest import DIM, Tenants, vectors


def _h(t: Tenants) -> dict[str, str]:
    return {"Authorization": f"Bearer {t.keys['admin']}"}


def test_body_too_large(tenants: Tenants) -> None:
    big = {"embedding": [0.1] * DIM, "content": "x" * (70 * 1024)}  # limit is 64 KiB in this fixture
    r = httpx.post(tenants.url + "/api/v1/spaces/tenant-a/memories", json=big, headers=_h(tenants))
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert "65536" in r.json()["error"]["message"]


def test_chunked_body_too_large(tenants: Tenants) -> None:
    def chunks():  # no Content-Length: the server must count while reading
        yield b'{"embedding": [0.1], "content": "'
        for _ in range(80):
            yield b"y" * 1024
        yield b'"}'

    r = httpx.post(tenants.url + "/api/v1/spaces/tenant-a/memories", content=chunks(), headers=_h(tenants))
    assert r.status_code == 413


def test_batch_too_large(tenants: Tenants) -> None:
    items = [{"embedding": [0.1] * DIM} for _ in range(51)]  # limit 50
    r = httpx.post(
        tenants.url + "/api/v1/spaces/tenant-a/memories/batch", json={"items": items}, headers=_h(tenants)
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "batch_too_large"
    with Client(tenants.url, api_key=tenants.keys["admin"]) as c, pytest.raises(CE.PayloadTooLarge):
        c.space("tenant-a").remember_batch(vectors(51))


@pytest.mark.parametrize("route", ["search", "recall"])
def test_k_too_large(tenants: Tenants, route: str) -> None:
    field = "embedding" if route == "search" else "cue"
    r = httpx.post(f"{tenants.url}/api/v1/spaces/tenant-a/{route}", json={field: [0.1] * DIM, "k": 101},
                   headers=_h(tenants))  # fmt: skip
    assert r.status_code == 400 and r.json()["error"]["code"] == "limit_exceeded"
    assert "101" in r.json()["error"]["message"] and "100" in r.json()["error"]["message"]


@pytest.mark.slow
def test_overload_429_with_retry_after_and_client_retries(tmp_path) -> None:
    with running_server_process(None, log_dir=tmp_path, no_auth=True, dim=64, max_inflight=2) as sp:
        c = Client(sp.url, retry=RetryPolicy(attempts=1))
        space = c.create_space("load")
        space.remember_batch(np.random.default_rng(0).normal(size=(500, 64)))
        q = np.random.default_rng(1).normal(size=64).tolist()

        partial = [None if i % 2 else x for i, x in enumerate(q)]

        # completion, not search: engramd answers short searches inline on its I/O threads, so
        # at most io_threads of them are ever in flight; completions queue for its worker pool
        def one(_: int) -> httpx.Response:
            return httpx.post(
                sp.url + "/api/v1/spaces/load/complete", json={"partial": partial, "neighbors": 256}
            )

        with cf.ThreadPoolExecutor(16) as pool:
            responses = list(pool.map(one, range(80)))
        refused = [r for r in responses if r.status_code == 429]
        assert refused, "80 concurrent completions against max_inflight=2 never saw a 429"
        assert all(
            r.json()["error"]["code"] == "overloaded" and int(r.headers["retry-after"]) >= 1 for r in refused
        )
        assert all(r.status_code in (200, 429) for r in responses)
        metrics = httpx.get(sp.url + "/metrics").text
        assert "engram_server_overload_rejections_total" in metrics
        # the client retries 429s (with backoff) until it gets through
        patient = Client(sp.url, retry=RetryPolicy(attempts=50, base_s=0.01, max_s=0.05, deadline_s=60))
        with cf.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: patient.space("load").search(q, k=10), range(20)))
        assert all(len(ids) == 10 for ids, _ in results)
