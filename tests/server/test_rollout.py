"""Staged rollout of the per-request feature flags (cpp/server/rollout.hpp; workflow 113): stages
set through PUT /admin/features without a restart, requests assigned stably by their rollout key,
the served side named in Engram-Features, shadow recalls measured, bad stages refused."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from .conftest import Tenants, metric, serve_tenants

DIM = 8
FEATURES = "/api/v2/admin/features"


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    """A server of its own: rollout stages are server-wide."""
    with serve_tenants(tmp_path_factory.mktemp("rollout")) as t:
        h = {"Authorization": f"Bearer {t.keys['admin']}"}
        rng = np.random.default_rng(1613)
        centres = rng.standard_normal((4, DIM))
        items = [
            {"embedding": (centres[i % 4] + 0.05 * rng.standard_normal(DIM)).tolist()} for i in range(80)
        ]
        assert httpx.post(t.url + "/api/v2/spaces/tenant-a/memories/batch", json={"items": items[:40]},
                          headers=h).status_code == 201  # fmt: skip
        assert httpx.post(t.url + "/api/v2/spaces/tenant-a/memories/batch", json={"items": items[40:]},
                          headers=h).status_code == 201  # fmt: skip
        report = httpx.post(t.url + "/api/v2/spaces/tenant-a/consolidate", json={}, headers=h).json()
        assert len(report["formed"]) >= 2  # concepts exist, so blended recall has a semantic pathway
        yield t


def _h(t: Tenants, key: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {t.keys['admin']}", **({"Engram-Rollout-Key": key} if key else {})}


def _stage(t: Tenants, rollout: dict[str, object]) -> httpx.Response:
    return httpx.put(t.url + FEATURES, json={"rollout": rollout}, headers=_h(t))


def _recall(t: Tenants, key: str) -> httpx.Response:
    cue = np.random.default_rng([7, len(key)]).standard_normal(DIM).tolist()
    r = httpx.post(t.url + "/api/v2/spaces/tenant-a/recall", json={"cue": cue, "k": 5}, headers=_h(t, key))
    assert r.status_code == 200, r.text
    return r


def test_a_stage_applies_without_restart_and_keys_stay_on_their_side(rt: Tenants) -> None:
    assert _stage(rt, {"blended_recall": {"percent": 50}}).json()["rollout"]["blended_recall"] == {
        "percent": 50.0, "shadow": False}  # fmt: skip
    sides = {}
    for i in range(300):
        header = _recall(rt, f"user-{i}").headers["engram-features"]
        sides[i] = header == "blended_recall=on"
        assert header in ("blended_recall=on", "blended_recall=off")
    share = sum(sides.values()) / len(sides)
    assert 0.40 < share < 0.60, share  # binomial, n=300, p=0.5: 5.8 standard deviations wide
    for i in range(0, 300, 30):  # stable: the same key, the same side
        assert (_recall(rt, f"user-{i}").headers["engram-features"] == "blended_recall=on") == sides[i]
    assert _stage(rt, {"blended_recall": {"percent": 100}}).status_code == 200
    assert all(
        _recall(rt, f"user-{i}").headers["engram-features"] == "blended_recall=on" for i in range(0, 300, 10)
    )
    assert _stage(rt, {"blended_recall": None}).json()["rollout"]["blended_recall"] is None
    assert "engram-features" not in _recall(rt, "user-1").headers


def test_the_off_side_answers_from_the_episodic_pathway_only(rt: Tenants) -> None:
    assert _stage(rt, {"blended_recall": {"percent": 0}}).status_code == 200
    off = _recall(rt, "someone").json()["results"]
    assert off and {r["provenance"]["kind"] for r in off} == {"episodic"}
    assert _stage(rt, {"blended_recall": {"percent": 100}}).status_code == 200
    on = _recall(rt, "someone").json()["results"]
    assert {r["provenance"]["kind"] for r in on} != {"episodic"}  # concepts took part
    assert _stage(rt, {"blended_recall": None}).status_code == 200


def test_shadow_serves_off_and_measures_on(rt: Tenants) -> None:
    before = metric(rt.url, 'engram_rollout_shadow_recalls_total{flag="blended_recall"}', _h(rt))
    assert _stage(rt, {"blended_recall": {"percent": 0, "shadow": True}}).status_code == 200
    for i in range(20):
        r = _recall(rt, f"shadowed-{i}")
        assert r.headers["engram-features"] == "blended_recall=off"
        assert {x["provenance"]["kind"] for x in r.json()["results"]} == {"episodic"}
    after = metric(rt.url, 'engram_rollout_shadow_recalls_total{flag="blended_recall"}', _h(rt))
    assert after - before == 20
    diff = metric(rt.url, 'engram_rollout_shadow_difference_total{flag="blended_recall"}', _h(rt))
    assert 0.0 <= diff <= after
    assert _stage(rt, {"blended_recall": None}).status_code == 200


def bucket(flag: str, key: str) -> int:
    """FNV-1a 64 of "<flag>:<key>" mod 10,000: the rule of engram/features.hpp, written again here
    so the test checks the server's assignment against the documented one."""
    h = 14695981039346656037
    for b in f"{flag}:{key}".encode():
        h = ((h ^ b) * 1099511628211) % 2**64
    return h % 10000


def test_concept_formation_rolls_out_by_space(rt: Tenants) -> None:
    h = _h(rt)
    rng = np.random.default_rng(1617)
    names = [f"fr-{i}" for i in range(16)]
    assert _stage(rt, {"concept_formation": {"percent": 50}}).json()["rollout"]["concept_formation"] == {
        "percent": 50.0, "shadow": False}  # fmt: skip
    formed = {}
    for name in names:
        assert (
            httpx.post(rt.url + "/api/v2/spaces", json={"name": name, "dim": DIM}, headers=h).status_code
            == 201
        )
        centre = rng.standard_normal(DIM)
        items = [{"embedding": (centre + 0.02 * rng.standard_normal(DIM)).tolist()} for _ in range(12)]
        httpx.post(
            rt.url + f"/api/v2/spaces/{name}/memories/batch", json={"items": items}, headers=h
        ).raise_for_status()
        report = httpx.post(rt.url + f"/api/v2/spaces/{name}/consolidate", json={}, headers=h).json()
        formed[name] = len(report["formed"]) > 0
        assert report["formation_disabled"] is not formed[name]
    assert formed == {n: bucket("concept_formation", n) < 5000 for n in names}  # exactly the documented rule
    assert 0 < sum(formed.values()) < len(names)  # both sides were exercised
    assert _stage(rt, {"concept_formation": None}).json()["rollout"]["concept_formation"] is None
    for name in names:
        assert httpx.delete(rt.url + f"/api/v2/spaces/{name}", headers=h).status_code == 200


@pytest.mark.parametrize(
    ("rollout", "field"),
    [
        ({"blended_recall": {"percent": 150}}, "/rollout/blended_recall/percent"),
        ({"blended_recall": {"percent": 10, "shadow": True}}, "/rollout/blended_recall/shadow"),
        ({"concept_formation": {"percent": 0, "shadow": True}}, "/rollout/concept_formation/shadow"),
        ({"consolidation": {"percent": 10}}, "/rollout/consolidation"),
        ({"fan_effect": {"share": 10}}, "/rollout/fan_effect/percent"),  # percent is required
    ],
)
def test_bad_stages_are_refused_naming_the_field(rt: Tenants, rollout: dict[str, object], field: str) -> None:
    r = _stage(rt, rollout)
    assert r.status_code == 400 and r.json()["error"]["field"] == field, r.text
    assert all(v is None for v in httpx.get(rt.url + FEATURES, headers=_h(rt)).json()["rollout"].values())
