"""stats() byte counts, metrics() counters and the Prometheus exposition."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import DIM, unit_vectors

import engram
from engram_harness.memory_parts import parts_sum


def ops(engine: engram.Engine, space: str) -> dict[str, dict[str, object]]:
    return engine.metrics()["spaces"][space]["ops"]


def test_stats_bytes_grow_with_data(space: engram.Space, rng: np.random.Generator) -> None:
    empty = space.stats()["memory_bytes"]
    space.remember_batch(unit_vectors(rng, 100))
    small = space.stats()["memory_bytes"]
    space.remember_batch(
        unit_vectors(rng, 1000), contents=["x" * 50] * 1000, metadatas=[{"key": "value"}] * 1000
    )
    big = space.stats()
    mb = big["memory_bytes"]
    assert big["episodes"] == 1100
    assert empty["total"] < small["total"] < mb["total"]
    for part in ("vectors", "index_links", "records"):
        assert empty[part] <= small[part] < mb[part], part
    assert mb["vectors"] >= 1100 * DIM * 4
    assert mb["content"] >= 1000 * 50
    assert mb["content"] > small["content"]
    assert mb["metadata"] >= 1000 * len("keyvalue")
    assert mb["total"] == parts_sum(mb)


def test_metrics_count_operations_and_errors(engine: engram.Engine, space: engram.Space) -> None:
    before = ops(engine, "main")
    v = np.ones(DIM, dtype=np.float32)
    eid = space.remember(v)
    space.remember_batch(np.ones((3, DIM)))
    space.get(eid)
    space.search(v)
    space.forget(eid)
    with pytest.raises(engram.InvalidInputError):
        space.remember(np.full(DIM, np.nan, dtype=np.float32))
    with pytest.raises(engram.InvalidInputError):
        space.remember(v, confidence=2.0)
    with pytest.raises(engram.MemoryNotFound):
        space.get(eid)
    with pytest.raises(engram.MemoryNotFound):
        space.forget(eid)
    with pytest.raises(engram.InvalidInputError):
        space.search(np.zeros(DIM, dtype=np.float32))
    after = ops(engine, "main")
    expected_total = {"remember": 3, "remember_batch": 1, "get": 2, "forget": 2, "search": 2}
    expected_errors = {"remember": 2, "remember_batch": 0, "get": 1, "forget": 1, "search": 1}
    for op, n in expected_total.items():
        assert after[op]["total"] - before[op]["total"] == n, op
        assert after[op]["errors"] - before[op]["errors"] == expected_errors[op], op
        lat = after[op]["latency"]
        assert lat["count"] == after[op]["total"]
        assert sum(lat["buckets"]) <= lat["count"]
        assert lat["sum_seconds"] >= 0
    m = engine.metrics()["spaces"]["main"]
    assert m["memories"]["episode"] == 3
    assert m["memory_bytes"] == engine.space("main").stats()["memory_bytes"]["total"]


def test_metrics_count_binding_level_errors(engine: engram.Engine, space: engram.Space) -> None:
    before = ops(engine, "main")
    with pytest.raises(engram.DimensionError):
        space.remember(np.ones(DIM + 1, dtype=np.float32))
    with pytest.raises(engram.DimensionError):
        space.search(np.ones(DIM + 1, dtype=np.float32))
    with pytest.raises(engram.InvalidInputError):
        space.search(np.ones(DIM, dtype=np.float32), k=0)
    with pytest.raises(engram.InvalidInputError):
        space.remember_batch(np.ones((2, DIM), dtype=np.float32), contents="ab")
    after = ops(engine, "main")
    assert after["remember"]["errors"] - before["remember"]["errors"] == 1
    assert after["search"]["errors"] - before["search"]["errors"] == 2
    assert after["remember_batch"]["errors"] - before["remember_batch"]["errors"] == 1
    # Rejected calls are operations too: totals move with errors.
    assert after["search"]["total"] - before["search"]["total"] == 2


def test_metrics_are_per_space(engine: engram.Engine, rng: np.random.Generator) -> None:
    a, b = engine.create_space("a"), engine.create_space("b")
    a.remember_batch(unit_vectors(rng, 5))
    for _ in range(4):
        b.search(unit_vectors(rng, 1)[0])
    assert ops(engine, "a")["search"]["total"] == 0
    assert ops(engine, "b")["search"]["total"] == 4
    assert ops(engine, "b")["remember_batch"]["total"] == 0
    engine.drop_space("b")
    assert "b" not in engine.metrics()["spaces"]


def test_prometheus_exposition(engine: engram.Engine, rng: np.random.Generator) -> None:
    sp = engine.create_space("science")
    sp.remember_batch(unit_vectors(rng, 7))
    for _ in range(3):
        sp.search(unit_vectors(rng, 1)[0])
    text = engine.prometheus()
    lines = text.splitlines()
    assert "# TYPE engram_operations_total counter" in lines
    assert 'engram_operations_total{space="science",op="search"} 3' in lines
    assert 'engram_operations_total{space="science",op="remember_batch"} 1' in lines
    assert "# TYPE engram_operation_duration_seconds histogram" in lines
    buckets = [
        ln
        for ln in lines
        if ln.startswith('engram_operation_duration_seconds_bucket{space="science",op="search"')
    ]
    assert buckets, "no histogram buckets for search"
    assert buckets[-1].endswith(" 3") and 'le="+Inf"' in buckets[-1]
    values = [int(b.rsplit(" ", 1)[1]) for b in buckets]
    assert values == sorted(values), "histogram buckets must be cumulative"
    assert 'engram_operation_duration_seconds_count{space="science",op="search"} 3' in lines
    assert any(
        ln.startswith('engram_operation_duration_seconds_sum{space="science",op="search"}') for ln in lines
    )
    assert any(re.fullmatch(r'engram_memories_total\{space="science",kind="episode"\} 7', ln) for ln in lines)
    # Every sample line is `name{labels} value` with a numeric value.
    sample = re.compile(r'^[a-z_]+(\{([a-z_]+="[^"]*",?)*\})? [-+0-9.eEInfa]+$')
    for ln in lines:
        if ln and not ln.startswith("#"):
            assert sample.match(ln), ln
