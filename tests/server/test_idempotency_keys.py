"""Idempotency keys over HTTP, kept by the engine (issue 13, defects 1 and 2): per space and
bounded per space, and durable across a server restart. The retry after a write answered 503 on a
full disk: tests/server/test_memories_defects.py (a fault plan given to engramd)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from engram_harness.server import running_server_process

from .conftest import DIM, vectors

P = "/api/v1/spaces"


def _post(url: str, space: str, key: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{url}{P}/{space}/memories", json=body, headers={"Idempotency-Key": key})


def test_keys_are_per_space_and_another_spaces_flood_never_evicts_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENGRAM_SERVER_IDEMPOTENCY_CAPACITY", "25")
    v = vectors(1, seed=3)[0].tolist()
    with running_server_process(None, log_dir=tmp_path, no_auth=True, dim=DIM) as sp:
        for s in ("a", "b"):
            assert httpx.post(sp.url + P, json={"name": s}).status_code == 201
        first = _post(sp.url, "a", "mine", {"embedding": v, "content": "a"})
        assert first.status_code == 201
        # The same key in another space is another request.
        assert _post(sp.url, "b", "mine", {"embedding": v, "content": "a"}).status_code == 201
        for i in range(200):  # b's flood of new keys, far beyond the per-space capacity
            assert _post(sp.url, "b", f"flood-{i}", {"embedding": v}).status_code == 201
        retry = _post(sp.url, "a", "mine", {"embedding": v, "content": "a"})
        assert retry.status_code == 200 and retry.json() == {"id": first.json()["id"], "replayed": True}
        # b keeps its newest keys only.
        assert _post(sp.url, "b", "flood-199", {"embedding": v}).json()["replayed"] is True
        assert _post(sp.url, "b", "flood-0", {"embedding": v}).json()["replayed"] is False
        assert httpx.get(f"{sp.url}{P}/a/stats").json()["stats"]["episodes"] == 1


def test_keys_survive_a_durable_server_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    v = vectors(2, seed=4)
    body = {"embedding": v[0].tolist(), "content": "once"}
    batch = {"items": [{"embedding": v[1].tolist()}] * 3}
    with running_server_process(data, log_dir=tmp_path, no_auth=True, dim=DIM, durability="fsync") as sp:
        assert httpx.post(sp.url + P, json={"name": "d"}).status_code == 201
        first = _post(sp.url, "d", "k1", body).json()
        b1 = httpx.post(f"{sp.url}{P}/d/memories/batch", json=batch, headers={"Idempotency-Key": "kb"}).json()
    with running_server_process(data, log_dir=tmp_path, no_auth=True, dim=DIM) as sp2:
        again = _post(sp2.url, "d", "k1", body)
        assert again.status_code == 200 and again.json() == {"id": first["id"], "replayed": True}
        b2 = httpx.post(f"{sp2.url}{P}/d/memories/batch", json=batch, headers={"Idempotency-Key": "kb"})
        assert b2.status_code == 200 and b2.json()["ids"] == b1["ids"]
        other = _post(sp2.url, "d", "k1", {**body, "content": "else"})
        assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict"
        assert httpx.get(f"{sp2.url}{P}/d/stats").json()["stats"]["episodes"] == 4
