"""engramd's stage histogram (engram_http_request_stage_seconds{stage}) and the engine's lock-wait
counters on /metrics: each request's time split into receive, queue, parse, engine, wal_sync and
serialise, so a latency budget can say where a miss went (workflow 110)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from engram.client import Client
from engram.server.launcher import find_engramd
from engram_harness.server import running_server

pytestmark = pytest.mark.skipif(
    find_engramd() is None, reason="engramd is not built (its libraries are missing)"
)

STAGES = ("receive", "queue", "parse", "engine", "wal_sync", "serialise")
DIM = 16


def stage_series(url: str) -> dict[str, dict[str, float]]:
    """Per stage: its count, sum and the cumulative bucket counts (by bound), read with
    prometheus-client's parser (so the exposition is also checked to be well formed)."""
    out: dict[str, dict[str, float]] = {}
    for fam in text_string_to_metric_families(httpx.get(url + "/metrics").text):
        if fam.name != "engram_http_request_stage_seconds":
            continue
        assert fam.type == "histogram"
        for s in fam.samples:
            d = out.setdefault(s.labels["stage"], {})
            if s.name.endswith("_count"):
                d["count"] = s.value
            elif s.name.endswith("_sum"):
                d["sum"] = s.value
            else:
                d["le=" + s.labels["le"]] = s.value
    return out


@pytest.fixture(scope="module")
def durable_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    d: Path = tmp_path_factory.mktemp("stages")
    with running_server(d / "data", no_auth=True, log_dir=d, durability="group") as url:
        yield url


def test_every_stage_is_exposed_with_cumulative_buckets(durable_url: str) -> None:
    series = stage_series(durable_url)
    assert set(series) == set(STAGES)
    for stage, d in series.items():
        buckets = [v for k, v in d.items() if k.startswith("le=")]
        assert buckets == sorted(buckets), stage
        assert d["le=+Inf"] == d["count"], stage


def test_stages_account_for_durable_writes_and_searches(durable_url: str) -> None:
    before = stage_series(durable_url)
    rng = np.random.default_rng(3)
    n = 40
    with Client(durable_url) as c:
        sp = c.create_space("stages", dim=DIM)
        for v in rng.standard_normal((n, DIM)).astype(np.float32):
            sp.remember(v, content="x")
        for v in rng.standard_normal((n, DIM)).astype(np.float32):
            ids, _ = sp.search(v, k=3)
            assert len(ids) == 3
    after = stage_series(durable_url)
    grew = {s: after[s]["count"] - before[s]["count"] for s in STAGES}
    # every routed request has a parse (0 for a bodiless one), engine and serialise figure; each
    # remember with `group` durability waited for a sync; the bodies were received
    for s in ("parse", "engine", "serialise"):
        assert grew[s] >= 2 * n, (s, grew)
    assert grew["receive"] >= 2 * n, grew
    assert after["wal_sync"]["sum"] > before["wal_sync"]["sum"], (
        "no time waiting for the WAL's fsync was recorded"
    )
    assert after["engine"]["sum"] > before["engine"]["sum"]
    assert after["parse"]["sum"] > before["parse"]["sum"]


def test_lock_wait_counters_are_served(durable_url: str) -> None:
    families = {f.name: f for f in text_string_to_metric_families(httpx.get(durable_url + "/metrics").text)}
    for name in ("engram_lock_wait_seconds", "engram_lock_contended"):
        fam = families[name]  # the parser drops the _total suffix of a counter's family name
        assert fam.type == "counter"
        locks = {s.labels["lock"] for s in fam.samples}
        assert {"space.records", "wal.io", "hnsw.node", "server"} <= locks
        assert all(s.value >= 0 for s in fam.samples)


def test_in_process_lock_waits_match_the_classes() -> None:
    from engram import _core

    waits = _core.lock_waits()
    assert "space.structure" in waits and "hnsw.node" in waits
    assert all(
        set(v) == {"contended", "wait_s"} and v["contended"] >= 0 and v["wait_s"] >= 0 for v in waits.values()
    )
