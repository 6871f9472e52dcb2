"""The native server's queries and graph routes (issue 13): the same answers as the deleted
Starlette server gave on the same store (its recorded answers), the v1 additions (base64 and
octet-stream embeddings, batch search and recall), and the defects of issue 13 these routes fixed: 8 (batch neighbours: repeated ids,
unbounded responses), 10 (k = 2**63 and ids beyond int64: typed 400s), 15 (no coercions)."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import engram
from engram_harness.server import ServerProcess, running_server_process

from .conftest import DIM, make_keys, recorded, same, vectors

N = 40
NOW = 2_000_000_000.0  # a fixed clock for recall, so the answers do not depend on the day
BIG_CONTENT = 900 * 1024  # records this large exceed the 32 MiB response cap of batch neighbours at 37


@dataclass
class Pair:
    native: ServerProcess
    keys: dict[str, str]
    ids: list[int]
    wide: list[int]  # ids[0] of space "wide" links to all the others, each with a large record


def _seed(data: Path) -> tuple[list[int], list[int]]:
    e = engram.Engine(data, dim=DIM, durability="fsync")
    a = e.create_space("tenant-a")
    e.create_space("tenant-b")
    rng = np.random.default_rng(3)
    centre = vectors(1, seed=4)[0]
    v = np.vstack([vectors(N // 2, seed=5), centre + 0.05 * rng.normal(size=(N // 2, DIM))]).astype(
        np.float32
    )
    ids = [
        int(i)
        for i in a.remember_batch(
            v, contents=[f"m{i}" for i in range(N)], timestamps=[NOW - 10 * i for i in range(N)]
        )
    ]
    for i in range(N - 1):
        a.link(ids[i], ids[i + 1], weight=0.5 + i / (2 * N))
    a.link(ids[0], ids[5], weight=0.9)
    w = e.create_space("wide", dim=DIM)
    wv = vectors(40, seed=6)
    wide = [int(i) for i in w.remember_batch(wv, contents=["x" * BIG_CONTENT] * 40)]
    for j in wide[1:]:
        w.link(wide[0], j)
    e.close()
    return ids, wide


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    d = tmp_path_factory.mktemp("nq")
    keys_file = d / "keys.json"
    keys = make_keys(keys_file)
    ids, wide = _seed(d / "data")
    opts: dict[str, Any] = dict(api_keys=keys_file, dim=DIM, max_k=100, max_batch=50, max_body_bytes=1 << 20)
    with running_server_process(d / "data", log_dir=d / "n", **opts) as nat:
        yield Pair(nat, keys, ids, wide)


def _call(url: str, key: str, method: str, path: str, body: Any = None, **kw: Any) -> httpx.Response:
    h = {"Authorization": f"Bearer {key}", **kw.pop("headers", {})}
    return httpx.request(method, url + path, json=body, headers=h, timeout=30, **kw)


A = "/api/v1/spaces/tenant-a"


def _requests(ids: list[int]) -> list[tuple[str, str, Any]]:
    q = vectors(1, seed=4)[0].tolist()
    return [
        ("POST", A + "/search", {"embedding": q, "k": 7}),
        ("POST", A + "/search", {"embedding": q, "k": 3, "ef": 50}),
        *[
            ("POST", A + "/recall", {"cue": q, "k": 6, "mode": m, "now": NOW})
            for m in ("blended", "episodic", "semantic")
        ],
        ("POST", A + "/recall", {"cue": q, "k": 5, "now": NOW, "decay": None, "spreading": False}),
        ("POST", A + "/recall", {"cue": q, "k": 5, "now": NOW, "decay": "power_law", "semantic_weight": 0.6}),
        ("POST", A + "/spread", {"seeds": [ids[0]], "max_hops": 4}),
        (
            "POST",
            A + "/spread",
            {
                "seeds": {str(ids[0]): 0.8, str(ids[3]): 1.0},
                "decay": "linear",
                "threshold": 0.0,
                "direction_weights": {"episodic": 0.9},
                "max_results": 5,
            },
        ),
        ("POST", A + "/complete", {"partial": q[:4] + [None] * (DIM - 4), "hypotheses": 2}),
        ("GET", A + f"/memories/{ids[0]}/neighbors", None),
        ("POST", A + "/neighbors", {"ids": [ids[0], ids[1], ids[N - 1]]}),
        ("POST", A + "/neighbors", {"ids": [ids[3], ids[4]], "records": True}),
        (
            "POST",
            A + "/consolidate",
            {"similarity_threshold": 0.8, "coherence_threshold": 0.5, "min_cluster_size": 3},
        ),
        ("POST", A + "/recall", {"cue": q, "k": 6, "mode": "semantic", "now": NOW}),
        (
            "POST",
            A + "/links/batch",
            {
                "edges": [
                    {"src": ids[2], "dst": ids[9], "weight": 0.25},
                    {"src": ids[2], "dst": ids[3], "kind": "association"},
                ]
            },
        ),
        ("GET", A + f"/memories/{ids[2]}/neighbors", None),
        # errors: the same status and code
        ("POST", A + "/search", {"embedding": [0.1] * 3}),
        ("POST", A + "/search", {"embedding": q, "k": 0}),
        ("POST", A + "/search", {"embedding": q, "k": 101}),
        ("POST", A + "/search", {"embedding": q, "extra": 1}),
        ("POST", A + "/recall", {"cue": q, "mode": "dreamy"}),
        ("POST", A + "/spread", {"seeds": []}),
        ("POST", A + "/spread", {"seeds": [10**12]}),
        ("POST", A + "/complete", {"partial": []}),
        ("GET", A + "/memories/123456789012/neighbors", None),
        ("POST", A + "/neighbors", {"ids": []}),
        ("POST", A + "/neighbors", {"ids": [ids[0]] * 51}),
        (
            "POST",
            A + "/links/batch",
            {"edges": [{"src": ids[1], "dst": ids[2]}, {"src": ids[1], "dst": 10**12}]},
        ),
        ("POST", A + "/links/batch", {"edges": [{"src": ids[1], "dst": ids[1]}]}),
        ("GET", A + "/concepts/123456789/members", None),
        ("GET", A + "/memories/x/concepts", None),
        ("POST", "/api/v1/spaces/nope/search", {"embedding": q}),
    ]


def _norm(r: httpx.Response) -> Any:
    body = r.json()
    if r.status_code >= 400:
        return r.status_code, body["error"]["code"]
    if isinstance(body, dict) and "duration_s" in body:
        body = {**body, "duration_s": None}
    return r.status_code, body


def answers(url: str, key: str, ids: list[int]) -> dict[str, Any]:
    """Every answer the comparison looks at, as JSON values: each request of :func:`_requests` in
    order (status and body, or status and error code), then the concept routes once
    consolidation formed concepts."""
    out: dict[str, Any] = {"requests": [_norm(_call(url, key, m, p, b)) for m, p, b in _requests(ids)]}

    def timeless(r: httpx.Response) -> list[dict[str, Any]]:  # formed_at/updated_at: the server's clock
        return [{k: v for k, v in c.items() if not k.endswith("_at")} for c in r.json()["concepts"]]

    out["concepts"] = concepts = timeless(_call(url, key, "GET", A + "/concepts"))
    if concepts:
        cid, member = concepts[0]["id"], concepts[0]["members"][0]
        out["concept_routes"] = [_norm(_call(url, key, "GET", p))
                                 for p in (A + f"/concepts/{cid}/members", A + f"/memories/{member}/concepts")]  # fmt: skip
    return out


def test_same_answers_as_the_starlette_server(pair: Pair) -> None:
    got = answers(pair.native.url, pair.keys["admin"], pair.ids)
    want = recorded("answers-starlette")["queries"]
    assert len(got["requests"]) == len(want["requests"])
    for (method, path, body), g, w in zip(
        _requests(pair.ids), got["requests"], want["requests"], strict=True
    ):
        assert same(g, w), (method, path, str(body)[:200], str(g)[:300], str(w)[:300])
    assert got["concepts"], "the seeded cluster should form a concept"
    assert same(got["concepts"], want["concepts"])
    assert same(got["concept_routes"], want["concept_routes"]) and got["concept_routes"][0][0] == 200


def test_roles_and_grants(pair: Pair) -> None:
    u = pair.native.url
    q = vectors(1, seed=9)[0].tolist()
    assert _call(u, pair.keys["reader_a"], "POST", A + "/search", {"embedding": q}).status_code == 200
    r = _call(u, pair.keys["reader_a"], "POST", A + "/links/batch", {"edges": [{"src": 1, "dst": 2}]})
    assert r.status_code == 403
    r = _call(u, pair.keys["reader_a"], "POST", A + "/consolidate", {})
    assert r.status_code == 403
    r = _call(u, pair.keys["writer_b"], "POST", A + "/search/batch", {"queries": [{"embedding": q}]})
    assert r.status_code == 403


# ------------------------------------------------------------------------- v1 additions
def _b64(v: Any) -> str:
    return base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode()


def test_base64_and_octet_stream_embeddings(pair: Pair) -> None:
    u, key = pair.native.url, pair.keys["admin"]
    q = np.asarray(vectors(1, seed=4)[0], dtype=np.float32)
    expected = _call(u, key, "POST", A + "/search", {"embedding": q.tolist(), "k": 5}).json()
    assert _call(u, key, "POST", A + "/search", {"embedding": _b64(q), "k": 5}).json() == expected
    raw = _call(u, key, "POST", A + "/search?k=5", content=q.astype("<f4").tobytes(),
                headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    assert raw.status_code == 200 and raw.json() == expected
    rec = _call(u, key, "POST", A + "/recall", {"cue": q.tolist(), "k": 4, "now": NOW}).json()
    assert _call(u, key, "POST", A + "/recall", {"cue": _b64(q), "k": 4, "now": NOW}).json() == rec
    bad = [
        ({"embedding": _b64(q)[:-4] + "AA=="}, "invalid_input"),  # 31 bytes: not whole float32 values
        ({"embedding": _b64(q[:3])}, "dimension_mismatch"),
        (
            {"embedding": _b64(q).replace("A", "*", 1) if "A" in _b64(q) else "*" + _b64(q)[1:]},
            "invalid_input",
        ),
        ({"embedding": "abc"}, "invalid_input"),
        (
            {"embedding": base64.b64encode(struct.pack("<8f", *([float("nan")] + [0.0] * 7))).decode()},
            "invalid_input",
        ),
        ({"embedding": ""}, "invalid_input"),
    ]
    for body, code in bad:
        r = _call(u, key, "POST", A + "/search", body)
        assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
    # a bad character anywhere (the decoder's fast path covers all groups but the last) is named
    # with its offset
    for at in (0, 5, len(_b64(q)) // 2, len(_b64(q)) - 5, len(_b64(q)) - 1):
        text = _b64(q)
        r = _call(u, key, "POST", A + "/search", {"embedding": text[:at] + "*" + text[at + 1 :]})
        assert r.status_code == 400 and f"the character '*' at offset {at}" in r.json()["error"]["message"], (
            r.text
        )
    for content, params in [(b"\x00" * 7, ""), (b"", ""), (struct.pack("<8f", *([float("inf")] * 8)), ""),
                            (q.astype("<f4").tobytes(), "?k=1.5"), (q.astype("<f4").tobytes(), "?k=%2B1"),
                            (q.astype("<f4").tobytes(), "?kk=1"), (q.astype("<f4").tobytes()[:-4], "")]:  # fmt: skip
        r = _call(u, key, "POST", A + "/search" + params, content=content,
                  headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        assert r.status_code == 400, (content[:8], params, r.text)
    spec = httpx.get(u + "/openapi.json").json()
    search = spec["paths"][A.replace("tenant-a", "{space}") + "/search"]["post"]["requestBody"]["content"]
    assert set(search) == {"application/json", "application/octet-stream"}
    emb = spec["components"]["schemas"]["Search"]["properties"]["embedding"]
    assert {s["type"] for s in emb["anyOf"]} == {"array", "string"}


def test_batch_search_and_recall(pair: Pair) -> None:
    u, key = pair.native.url, pair.keys["admin"]
    qs = vectors(4, seed=12)
    items = [{"embedding": qs[0].tolist(), "k": 3}, {"embedding": _b64(qs[1]), "k": 5, "ef": 40},
             {"embedding": qs[2].tolist()}]  # fmt: skip
    r = _call(u, key, "POST", A + "/search/batch", {"queries": items})
    assert r.status_code == 200
    assert r.json()["results"] == [_call(u, key, "POST", A + "/search", it).json()["results"] for it in items]
    ritems = [
        {"cue": qs[i].tolist(), "k": 4, "now": NOW, "mode": m} for i, m in enumerate(("blended", "episodic"))
    ]
    r = _call(u, key, "POST", A + "/recall/batch", {"queries": ritems})
    assert r.status_code == 200
    assert r.json()["results"] == [
        _call(u, key, "POST", A + "/recall", it).json()["results"] for it in ritems
    ]
    # limits and per-item errors name the item
    r = _call(u, key, "POST", A + "/search/batch", {"queries": [items[0]] * 51})
    assert r.status_code == 413 and r.json()["error"]["code"] == "batch_too_large"
    for body, needle in [
        ({"queries": [items[0], {"embedding": qs[0].tolist(), "k": 10.7}]}, "queries[1].k"),
        ({"queries": [items[0], items[1], {"embedding": [0.1] * 3}]}, "queries[2].embedding"),
        ({"queries": [items[0], {"embedding": qs[0].tolist(), "oops": 1}]}, "queries[1].oops"),
        ({"queries": []}, "queries"),
        ({"queries": [items[0]], "k": 3}, "k"),
    ]:
        r = _call(u, key, "POST", A + "/search/batch", body)
        assert r.status_code == 400 and needle in r.json()["error"]["message"], r.text
    r = _call(u, key, "POST", A + "/recall/batch", {"queries": [ritems[0], {**ritems[1], "mode": "x"}]})
    assert r.status_code == 400 and "queries[1].mode" in r.json()["error"]["message"]


# ------------------------------------------------------------------------------ defects
def test_defect_8_batch_neighbours_deduplicated_and_bounded(pair: Pair) -> None:
    u, key, ids = pair.native.url, pair.keys["admin"], pair.ids
    r = _call(u, key, "POST", A + "/neighbors", {"ids": [ids[0]] * 49 + [ids[1]], "records": True})
    assert r.status_code == 200
    assert [x["id"] for x in r.json()["results"]] == [ids[0], ids[1]]
    assert sorted(m["id"] for m in r.json()["records"]) == sorted({ids[1], ids[5], ids[2]})
    # 39 neighbour records of 900 KiB each: refused with the figures instead of a 35 MB body
    wide = pair.wide
    r = _call(u, key, "POST", "/api/v1/spaces/wide/neighbors", {"ids": [wide[0]], "records": True})
    assert r.status_code == 413 and r.json()["error"]["code"] == "response_too_large"
    assert "32 MiB" in r.json()["error"]["message"]
    r = _call(u, key, "POST", "/api/v1/spaces/wide/neighbors", {"ids": [wide[0]]})  # edges alone are small
    assert r.status_code == 200 and len(r.json()["results"][0]["neighbors"]) == 39


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        ("/search", {"k": 2**63}, "k"),
        ("/search", {"k": 2**64 + 1}, ""),
        ("/search", {"k": 10.7}, "k"),
        ("/search", {"k": "10"}, "k"),
        ("/search", {"k": True}, "k"),
        ("/search", {"ef": 1.5}, "ef"),
        ("/recall", {"k": 2**63}, "k"),
        ("/recall", {"spread_hops": "2"}, "spread_hops"),
        ("/recall", {"include_concepts": 1}, "include_concepts"),
        ("/recall", {"now": "1"}, "now"),
        ("/neighbors", {"ids": [2**63]}, "ids[0]"),
        ("/neighbors", {"ids": ["1x"]}, "ids[0]"),  # "1" is an id: API v2's form, read by both
        ("/neighbors", {"ids": [1.5]}, "ids[0]"),
        ("/neighbors", {"ids": [1], "records": "yes"}, "records"),
        ("/spread", {"seeds": [2**63]}, "seeds[0]"),
        ("/spread", {"seeds": {"+1": 1.0}}, "+1"),
        ("/spread", {"seeds": {"1_0": 1.0}}, "1_0"),
        ("/spread", {"seeds": {"\uff11": 1.0}}, "seeds"),
        ("/spread", {"seeds": {"1": "0.5"}}, "seeds.1"),
        ("/spread", {"seeds": [1], "max_results": 2**63}, "max_results"),
        ("/spread", {"seeds": [1], "direction_weights": {"sideways": 1.0}}, "sideways"),
        ("/links/batch", {"edges": [{"src": 2**64, "dst": 1}]}, ""),
        ("/links/batch", {"edges": [{"src": 1, "dst": "2.0"}]}, "edges[0].dst"),
        ("/complete", {"partial": ["0.5"] + [None] * (DIM - 1)}, "partial[0]"),
        ("/complete", {"partial": [True] + [None] * (DIM - 1)}, "partial[0]"),
        ("/consolidate", {"min_cluster_size": 2.5}, "min_cluster_size"),
    ],
)
def test_defects_10_and_15_typed_400s(pair: Pair, path: str, body: dict[str, Any], needle: str) -> None:
    q = vectors(1, seed=4)[0].tolist()
    if path == "/search":
        body = {"embedding": q, **body}
    elif path == "/recall":
        body = {"cue": q, **body}
    r = _call(pair.native.url, pair.keys["admin"], "POST", A + path, body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] in ("invalid_input", "invalid_json")
    assert needle in r.json()["error"]["message"], r.text


def test_min_cluster_size_is_at_most_what_consolidation_can_meet(pair: Pair) -> None:
    """Above max_component (2048, which requests cannot set) the engine refused naming max_component;
    now the field is refused with its range, as the document states, and 2048 itself is taken."""
    spec = httpx.get(pair.native.url + "/openapi.json").json()["components"]["schemas"]
    for model in ("Consolidate", "StartConsolidation"):
        assert spec[model]["properties"]["min_cluster_size"]["anyOf"][0]["maximum"] == 2048, model
    u, key = pair.native.url, pair.keys["admin"]
    r = _call(u, key, "POST", A + "/consolidate", {"min_cluster_size": 2049})
    assert r.status_code == 400, r.text
    assert "min_cluster_size" in r.json()["error"]["message"] and "[2, 2048]" in r.json()["error"]["message"]
    assert _call(u, key, "POST", A + "/consolidate", {"min_cluster_size": 2048}).status_code == 200


def test_embedding_values_are_numbers(pair: Pair) -> None:
    for bad in (["0.5"] * DIM, [True] * DIM, [[0.1]] * DIM, [None] * DIM, [1e39] * DIM):
        r = _call(pair.native.url, pair.keys["admin"], "POST", A + "/search", {"embedding": bad})
        assert r.status_code == 400 and "embedding[0]" in r.json()["error"]["message"], r.text
