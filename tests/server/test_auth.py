"""Authentication and tenant isolation: a key never reads or writes a space it was not granted,
including with another space's memory ids (the upstream cross-tenant leak)."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest

import engram
from engram.client import errors as CE

from .conftest import (
    BAD_AUTHORIZATION,
    Tenants,
    check_key_reload,
    check_unauthenticated,
    vectors,
    wait_status,
)


def _h(t: Tenants, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {t.keys[who]}"}


@pytest.mark.parametrize("header", BAD_AUTHORIZATION)
def test_unauthenticated(tenants: Tenants, header: str | None) -> None:
    check_unauthenticated(tenants.url, header)


def test_public_routes_need_no_key(tenants: Tenants) -> None:
    for path in ("/health/live", "/health/ready", "/metrics", "/openapi.json"):
        assert httpx.get(tenants.url + path).status_code == 200


def test_roles(tenants: Tenants) -> None:
    v = vectors(1, seed=7)[0]
    with tenants.client("reader_a") as c:
        sp = c.space("tenant-a")
        sp.search(v, k=1)  # read is allowed
        with pytest.raises(CE.PermissionDenied) as ei:
            sp.remember(v)
        assert ei.value.status == 403 and "role" in str(ei.value)
    with tenants.client("writer_a") as c:
        with pytest.raises(CE.PermissionDenied):
            c.drop_space("tenant-a")  # admin only
        with pytest.raises(CE.PermissionDenied):
            c.create_space("tenant-a2")
        with pytest.raises(CE.PermissionDenied):
            c.set_features(fan_effect=False)


def test_space_listing_is_filtered(tenants: Tenants) -> None:
    with tenants.client("writer_a") as c:
        assert c.spaces() == ["tenant-a"]
    with tenants.client("admin") as c:
        assert set(c.spaces()) >= {"tenant-a", "tenant-b"}


def test_other_space_is_forbidden_whether_it_exists_or_not(tenants: Tenants) -> None:
    v = vectors(1, seed=8)[0].tolist()
    for space in ("tenant-b", "does-not-exist"):
        for method, path, body in [
            ("GET", f"/api/v1/spaces/{space}", None),
            ("POST", f"/api/v1/spaces/{space}/search", {"embedding": v}),
            ("POST", f"/api/v1/spaces/{space}/memories", {"embedding": v}),
            ("GET", f"/api/v1/spaces/{space}/memories/1", None),
        ]:
            r = httpx.request(method, tenants.url + path, json=body, headers=_h(tenants, "writer_a"))
            assert r.status_code == 403, (method, path, r.text)  # same answer: existence does not leak


def test_adversarial_ids_from_another_space(tenants: Tenants) -> None:
    vb = vectors(5, seed=9)
    with tenants.client("writer_b") as cb:
        b_ids = [
            int(i)
            for i in cb.space("tenant-b").remember_batch(vb, contents=[f"secret-{i}" for i in range(5)])
        ]
    with tenants.client("writer_a") as ca:
        sa = ca.space("tenant-a")
        a_id = sa.remember(vectors(1, seed=10)[0])
        for bid in b_ids:
            with pytest.raises(engram.MemoryNotFound):
                sa.get(bid)
            with pytest.raises(engram.MemoryNotFound):
                sa.forget(bid)
            with pytest.raises(engram.MemoryNotFound):
                sa.link(a_id, bid)
            with pytest.raises(engram.MemoryNotFound):
                sa.spread([bid])
        # the exact vectors of tenant b never bring its memories into tenant a's results
        for v in vb:
            assert not set(sa.search(v, k=50)[0].tolist()) & set(b_ids)
            assert not {r.id for r in sa.recall(v, k=50)} & set(b_ids)
    with tenants.client("writer_b") as cb:
        assert [cb.space("tenant-b").get(i).content for i in b_ids] == [f"secret-{i}" for i in range(5)]


def test_legacy_route_checks_the_resolved_space(tenants: Tenants) -> None:
    body = {"content": "x", "embedding": vectors(1, seed=11)[0].tolist()}
    url = tenants.url + "/api/v1/memories/remember"
    h = _h(tenants, "writer_a")
    # upstream checked one header and routed by another; here every source resolves one space
    assert httpx.post(url, json=body, headers={**h, "X-Memory-Space": "tenant-b"}).status_code == 403
    assert httpx.post(url + "?space=tenant-b", json=body, headers=h).status_code == 403
    assert httpx.post(url, json={**body, "memory_space_id": "tenant-b"}, headers=h).status_code == 403
    r = httpx.post(url + "?space=tenant-b", json=body, headers={**h, "X-Memory-Space": "tenant-a"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "ambiguous_space"
    ok = httpx.post(url, json=body, headers={**h, "X-Memory-Space": "tenant-a"})
    assert ok.status_code == 201 and ok.json()["space"] == "tenant-a"


def test_deprecation_headers_and_log(tenants: Tenants) -> None:
    body = {"content": "x", "embedding": vectors(1, seed=12)[0].tolist()}
    r = httpx.post(
        tenants.url + "/api/v1/memories/remember?space=tenant-a", json=body, headers=_h(tenants, "writer_a")
    )
    assert r.status_code == 201
    assert r.headers["deprecation"].startswith("@") and "GMT" in r.headers["sunset"]
    assert 'rel="successor-version"' in r.headers["link"]
    deadline = time.monotonic() + 5
    while not tenants.proc.events("deprecated_route_used") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tenants.proc.events("deprecated_route_used")
    # since API v2 (issue 16) all of v1 is deprecated, pointing at the migration notes; v2 is not
    v1 = httpx.get(tenants.url + "/api/v1/spaces", headers=_h(tenants, "writer_a"))
    assert v1.headers["deprecation"].startswith("@") and "/api/migration/v1-to-v2" in v1.headers["link"]
    current = httpx.get(tenants.url + "/api/v2/spaces", headers=_h(tenants, "writer_a"))
    assert "deprecation" not in current.headers and current.headers["engram-api-version"] == "2"


def test_keys_added_and_revoked_without_restart(tenants: Tenants) -> None:
    check_key_reload(tenants)


def test_key_file_stores_only_hashes(tenants: Tenants) -> None:
    text = tenants.keys_file.read_text()
    for key in tenants.keys.values():
        # engram_<id>_<secret>: the secret is URL-safe base64 and may itself contain "_"
        secret = key.split("_", 2)[2]
        assert key not in text and secret not in text
    assert np.all(["sha256:" in line for line in text.splitlines() if '"hash"' in line])


def test_keys_cli_adds_a_working_key_and_revokes_it(tenants: Tenants) -> None:
    import subprocess
    import sys

    add = [sys.executable, "-m", "engram", "keys", "add", str(tenants.keys_file), "--id", "cli-made",
           "--spaces", "tenant-a", "--role", "read"]  # fmt: skip
    key = subprocess.run(add, capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    assert key.startswith("engram_cli-made_")
    assert wait_status(tenants.url, key, 200) == 200
    revoke = [sys.executable, "-m", "engram", "keys", "revoke", str(tenants.keys_file), "--id", "cli-made"]
    subprocess.run(revoke, timeout=60, check=True)
    assert wait_status(tenants.url, key, 401) == 401
    again = subprocess.run(revoke, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "no key" in again.stderr
