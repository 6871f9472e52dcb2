"""Workflow 113 (plan numbering: zero-downtime migration; the master's 115), the part built so far:
an episodic-only engine becomes a dual-memory engine without a restart, by feature flags changed
at run time and a staged rollout (cpp/server/rollout.hpp, docs/operations/README.md section 7).

One engramd process serves throughout (its pid is checked at the end):

1. it starts episodic-only: ``blended_recall``, ``fan_effect`` and ``concept_formation`` off
   (``PUT /api/v2/admin/features``), and takes episodes of clustered topics;
2. concept formation is switched on and background consolidation started, without a restart,
   until concepts cover the topics;
3. blended recall is rolled out by stages, shadow, 1%, 10%, 50%, 100%, to a population of users
   (each request carries its user's ``Engram-Rollout-Key``). At every stage: the share of users
   served the new path is the stage's within a binomial 99.9% interval; a user never goes back
   from on to off; no request fails. In shadow, every recall is served from the old path and
   measured on the new one (``engram_rollout_shadow_*``);
4. the differential check (seeds, plan 113: "< 5% deviation between single- and dual-type
   engines"): the suite's metric, precision@10 of recall against each cue's topic, differs by less
   than 5% (relative) between the requests served by the two paths;
5. at 100% the flag is made durable and the rollout ended in one call.

Quick: 600 users, 2,000 episodes; full: 3,000 users, 10,000 episodes. The rest of the workflow
(store format 2 with its online migrator and rollback, the N-1 / N / N-1 upgrade across the
``v0.1.0`` tag with clients writing throughout) is still to come (issue 16).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from engram_harness.server import running_server_process
from engram_harness.suite import CheckRecorder, Profile

pytestmark = pytest.mark.workflow
DIM = 32
TOPICS = 20
K = 10
NOISE = 1.0  # per dimension, against unit-variance topic centres: topics overlap, precision < 1
STAGES = [("shadow", 0.0), ("1%", 1.0), ("10%", 10.0), ("50%", 50.0), ("100%", 100.0)]


def _binomial_interval(n: int, p: float, z: float = 3.29) -> tuple[float, float]:
    """The share of n Bernoulli(p) draws within z standard deviations (3.29: 99.9%), plus one draw."""
    sd = math.sqrt(p * (1 - p) / n) if n else 0.0
    return max(0.0, p - z * sd - 1 / n), min(1.0, p + z * sd + 1 / n)


def test_episodic_only_to_dual_memory_without_restart(
    profile: Profile, checks: CheckRecorder, tmp_path: Path
) -> None:
    users = profile.pick(600, 3000)
    episodes = profile.pick(2000, 10000)
    rng = np.random.default_rng(113)
    centres = rng.standard_normal((TOPICS, DIM)).astype(np.float32)
    topic = rng.integers(0, TOPICS, episodes)
    vecs = centres[topic] + NOISE * rng.standard_normal((episodes, DIM)).astype(np.float32)
    errors = 0
    with running_server_process(tmp_path / "data", no_auth=True, dim=DIM, log_dir=tmp_path) as server, \
            httpx.Client(base_url=server.url + "/api/v2", timeout=30) as http:  # fmt: skip
        pid = server.proc.pid
        flags = http.put("/admin/features", json={"blended_recall": False, "fan_effect": False,
                                                  "concept_formation": False}).json()  # fmt: skip
        checks.check("starts episodic-only (three flags off)", sum(bool(flags[f]) for f in
                     ("blended_recall", "fan_effect", "concept_formation")), "==", 0)  # fmt: skip
        http.post("/spaces", json={"name": "kb", "dim": DIM}).raise_for_status()
        topic_of: dict[str, int] = {}
        for lo in range(0, episodes, 500):  # bounded: episodes / 500 batches
            hi = min(lo + 500, episodes)
            r = http.post("/spaces/kb/memories/batch",
                          json={"items": [{"embedding": v.tolist()} for v in vecs[lo:hi]]})  # fmt: skip
            r.raise_for_status()
            topic_of.update(
                zip((int(i) for i in r.json()["ids"]), (int(t) for t in topic[lo:hi]), strict=True)
            )
        # 2. dual memory switched on at run time: formation and background consolidation
        http.put("/admin/features", json={"concept_formation": True}).raise_for_status()
        http.post("/consolidation/start", json={"interval_s": 0.5}).raise_for_status()
        deadline = time.monotonic() + 120
        concepts = 0
        while time.monotonic() < deadline:  # bounded by the deadline
            concepts = len(http.get("/spaces/kb/concepts", params={"limit": 1000}).json()["concepts"])
            if concepts >= TOPICS // 2:
                break
            time.sleep(0.5)
        http.post("/consolidation/stop").raise_for_status()
        checks.check("concepts formed without a restart", concepts, ">=", TOPICS // 2)
        http.put("/admin/features", json={"fan_effect": True}).raise_for_status()

        cues_topic = rng.integers(0, TOPICS, users)
        cues = centres[cues_topic] + NOISE * rng.standard_normal((users, DIM)).astype(np.float32)
        on_before: set[int] = set()
        precision: dict[bool, list[float]] = {True: [], False: []}
        for name, pct in STAGES:
            stage = {"percent": pct, "shadow": name == "shadow"}
            http.put("/admin/features", json={"rollout": {"blended_recall": stage}}).raise_for_status()
            shadow0 = _metric(server.url, 'engram_rollout_shadow_recalls_total{flag="blended_recall"}')
            on_now: set[int] = set()
            for u in range(users):
                r = http.post("/spaces/kb/recall", json={"cue": cues[u].tolist(), "k": K},
                              headers={"Engram-Rollout-Key": f"user-{u}"})  # fmt: skip
                if r.status_code != 200:
                    errors += 1
                    continue
                on = r.headers.get("engram-features") == "blended_recall=on"
                if on:
                    on_now.add(u)
                hits = [topic_of.get(int(x["id"])) == int(cues_topic[u]) for x in r.json()["results"]
                        if x["kind"] == "episode"]  # fmt: skip
                if hits:
                    precision[on].append(sum(hits) / len(hits))
            lo, hi = _binomial_interval(users, pct / 100)
            share = len(on_now) / users
            checks.check(f"{name}: share of users on the new path", share, "in", (lo, hi))
            checks.check(f"{name}: users moved back from on to off", len(on_before - on_now), "==", 0)
            if name == "shadow":
                measured = (
                    _metric(server.url, 'engram_rollout_shadow_recalls_total{flag="blended_recall"}')
                    - shadow0
                )
                checks.check("shadow: every recall measured on the new path", measured, "==", users)
            on_before = on_now
        p_on, p_off = float(np.mean(precision[True])), float(np.mean(precision[False]))
        deviation = abs(p_on - p_off) / max(p_off, 1e-9)
        checks.check("differential: precision@10, dual vs episodic-only (relative)", 100 * deviation, "<", 5.0, "%",
                     note=f"dual {p_on:.4f} over {len(precision[True])} recalls, episodic-only {p_off:.4f} "
                          f"over {len(precision[False])}")  # fmt: skip
        final = http.put(
            "/admin/features", json={"blended_recall": True, "rollout": {"blended_recall": None}}
        ).json()
        checks.check(
            "at 100%: the flag durable and the rollout ended",
            int(final["blended_recall"] is True and final["rollout"]["blended_recall"] is None),
            "==",
            1,
        )
        checks.check("requests failed", errors, "==", 0)
        checks.check("the same server process throughout (no restart)", int(server.proc.pid == pid and
                     server.proc.poll() is None), "==", 1)  # fmt: skip
    checks.assert_all()


def _metric(url: str, name: str) -> float:
    total = 0.0
    for line in httpx.get(url + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total
