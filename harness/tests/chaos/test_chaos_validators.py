"""The M11 validators on fakes (each violation kind) and on a real server."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from engram.client import Client
from engram_harness.chaos.validators import eventual_consistency, graph_integrity, sequence
from engram_harness.server import running_server


class FakeSpace:
    """search() finds id i for the vector e_i once ``visible_after[i]`` searches have been made."""

    def __init__(self, visible_after: dict[int, int]) -> None:
        self.visible_after, self.calls = visible_after, dict.fromkeys(visible_after, 0)

    def search(self, v: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        i = int(np.argmax(v))
        self.calls[i] += 1
        return (np.array([i]) if self.calls[i] > self.visible_after[i] else np.array([99])), np.array([1.0])


def e(i: int) -> np.ndarray:
    v = np.zeros(8, dtype=np.float32)
    v[i] = 1.0
    return v


def test_eventual_consistency_retries_and_reports_late_and_missing_ids() -> None:
    now = 1000.0
    space = FakeSpace({0: 0, 1: 2, 2: 10_000})
    v = eventual_consistency(space, [(0, e(0), now), (1, e(1), now), (2, e(2), now)], max_staleness_s=0.2,
                             give_up_s=0.3, clock=lambda: now)  # fmt: skip
    assert v.checked == 3 and space.calls[1] == 3  # found at the third try (10 ms, then 20 ms later)
    assert [x.split(" ")[1] for x in v.violations] == ["2"] and not v.ok
    late = eventual_consistency(
        FakeSpace({0: 0}), [(0, e(0), now - 1.0)], max_staleness_s=0.2, clock=lambda: now
    )
    assert "visible 1.000 s after its ack" in late.violations[0]


def test_sequence_finds_gaps_duplicates_and_strays() -> None:
    assert sequence({0: 10, 1: 11, 2: 12}, 3).ok
    v = sequence({0: 10, 2: 10, 5: 13}, 4)
    assert any("2 gaps" in x for x in v.violations)  # 1 and 3
    assert any("1 duplicates" in x for x in v.violations)
    assert any("outside 0..3" in x for x in v.violations)
    assert not sequence({}, 0).ok  # nothing checked is not a pass


def test_graph_integrity_counts_each_violation() -> None:
    class Reported:
        def __init__(self, rep: dict) -> None:
            self.rep = rep

        def validate(self) -> dict:
            return self.rep

    good = {"ok": True, "records": 5, "broken_links": 0, "layer_violations": 0, "dangling_ids": 0,
            "record_index_mismatches": 0, "orphaned_concepts": 0, "one_sided_bindings": 0, "edges_to_missing": 0}  # fmt: skip
    assert graph_integrity(Reported(good)).ok
    bad = graph_integrity(Reported({**good, "ok": False, "layer_violations": 2, "orphaned_concepts": 1}))
    assert bad.violations == ["layer_violations = 2", "orphaned_concepts = 1"]
    assert "did not report" in graph_integrity(Reported({"ok": True, "records": 5})).violations[0]


def test_validators_on_a_real_server(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((200, 16)).astype(np.float32)
    with running_server(None, no_auth=True, dim=16, log_dir=tmp_path) as url, Client(url) as c:
        sp = c.create_space("v", dim=16)
        ids = [int(i) for i in sp.remember_batch(x)]
        acked_at = time.monotonic()
        ec = eventual_consistency(
            sp, [(i, x[k], acked_at) for k, i in enumerate(ids[:50])], max_staleness_s=5.0
        )
        assert ec.ok, ec.summary()
        assert sequence(dict(enumerate(ids)), 200).ok
        gi = graph_integrity(sp)
        assert gi.ok and gi.checked == 200, gi.summary()
