"""The Python client and API versions (docs/api-versions.md): it speaks v2 by default, v1 on
request, warns once per deprecated route, and follows v2's list pages."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from engram.client import Client, versions

from .conftest import Tenants, vectors


def test_v2_by_default_and_ids_are_ints_either_way(tenants: Tenants) -> None:
    for seed, version in ((1611, "v2"), (1615, "v1")):
        with Client(tenants.url, api_key=tenants.keys["admin"], api_version=version) as c:  # type: ignore[arg-type]
            sp = c.space("tenant-a")
            mid = sp.remember(vectors(1, seed=seed)[0], content=version)
            assert isinstance(mid, int) and sp.get(mid).content == version
            ids, _ = sp.search(vectors(1, seed=seed)[0], k=1)
            assert ids.dtype == np.int64 and int(ids[0]) == mid
    assert Client(tenants.url).api_version == "v2"
    with pytest.raises(ValueError, match="api_version='v3'; expected one of v1, v2"):
        Client(tenants.url, api_version="v3")  # type: ignore[arg-type]


def test_a_v1_client_is_warned_once_per_route(tenants: Tenants) -> None:
    versions._warned.clear()
    with warnings.catch_warnings(record=True) as seen, Client(tenants.url, api_key=tenants.keys["admin"],
                                                              api_version="v1") as c:  # fmt: skip
        warnings.simplefilter("always")
        for _ in range(3):
            c.spaces()
            c.space("tenant-a").search(vectors(1, seed=1612)[0], k=1)
    deprecations = [
        w for w in seen if issubclass(w.category, DeprecationWarning) and "deprecates" in str(w.message)
    ]
    routes = sorted(str(w.message).split(" (")[0] for w in deprecations)
    assert routes == [
        "the server deprecates GET /api/v1/spaces",
        "the server deprecates GET /api/v1/spaces/{space}",  # space(): the client checks it exists
        "the server deprecates POST /api/v1/spaces/{space}/search",
    ], routes
    assert all(
        "/api/migration/v1-to-v2" in str(w.message) and "sunset" in str(w.message) for w in deprecations
    )
    with (
        warnings.catch_warnings(record=True) as seen2,
        Client(tenants.url, api_key=tenants.keys["admin"]) as c2,
    ):
        warnings.simplefilter("always")
        c2.spaces()
    assert not [w for w in seen2 if issubclass(w.category, DeprecationWarning)]


def test_v2_lists_are_followed_through_their_pages(tenants: Tenants, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(versions, "PAGE_LIMIT", 2)  # several pages from a few items
    with (
        Client(tenants.url, api_key=tenants.keys["admin"]) as c,
        Client(tenants.url, api_key=tenants.keys["admin"], api_version="v1") as old,
    ):
        for i in range(5):
            c.create_space(f"paged-{i}")
        assert sorted(c.spaces()) == sorted(old.spaces())  # v1: one answer; v2: pages of 2, merged
        sp = c.space("tenant-a")
        ids = sp.remember_batch(vectors(7, seed=1613))
        sp.link_batch([{"src": int(ids[0]), "dst": int(d)} for d in ids[1:]])
        assert sorted(n.id for n in sp.neighbors(int(ids[0]))) == sorted(int(d) for d in ids[1:])
        for i in range(5):
            c.drop_space(f"paged-{i}")


def test_the_stream_speaks_the_clients_version(tenants: Tenants) -> None:
    for version in ("v1", "v2"):
        with Client(tenants.url, api_key=tenants.keys["admin"], api_version=version) as c:  # type: ignore[arg-type]
            with c.stream("tenant-a") as st:
                assert f"/api/{version}/spaces/tenant-a/stream" in st.url
                i = st.send(vectors(1, seed=1614)[0], content=f"stream-{version}")
                acked = st.flush()
            assert (
                isinstance(acked[i], int) and c.space("tenant-a").get(acked[i]).content == f"stream-{version}"
            )
