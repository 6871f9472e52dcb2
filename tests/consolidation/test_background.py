"""The background consolidator: start, pause, resume, stop, state in metrics, concurrent writers."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from conftest import DIM

import engram
from engram_harness.vectors import separated_clusters


def wait_for(cond, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_lifecycle_and_metrics() -> None:
    rng = np.random.default_rng(1)
    x, _, _ = separated_clusters(rng, 3, 8)
    with engram.Engine(dim=DIM) as eng:
        sp = eng.create_space("bg")
        sp.remember_batch(x)
        assert eng.consolidation_status()["state"] == "stopped"
        eng.start_consolidation(0.02, max_concepts_per_run=100)
        assert wait_for(lambda: len(sp.concepts()) == 3)
        status = eng.metrics()["consolidation"]
        assert status["state"] == "running" and status["spaces"]["bg"]["concepts_formed"] == 3
        assert 'engram_consolidator_state{state="running"} 1' in eng.prometheus()
        eng.pause_consolidation()
        assert eng.consolidation_status()["state"] == "paused"
        runs = sp.consolidation_counters()["runs"]
        time.sleep(0.15)
        assert sp.consolidation_counters()["runs"] <= runs + 1  # at most the run in flight
        paused_runs = sp.consolidation_counters()["runs"]
        time.sleep(0.1)
        assert sp.consolidation_counters()["runs"] == paused_runs
        eng.resume_consolidation()
        assert wait_for(lambda: sp.consolidation_counters()["runs"] > paused_runs)
        eng.stop_consolidation()
        assert eng.consolidation_status()["state"] == "stopped"
        # Starting again and closing the engine with it running joins the thread cleanly.
        eng.start_consolidation(0.02)
    with pytest.raises(engram.ClosedError):
        eng.start_consolidation(1.0)


def test_rejects_bad_interval() -> None:
    with engram.Engine(dim=DIM) as eng, pytest.raises(engram.InvalidInputError):
        eng.start_consolidation(0.0)


@pytest.mark.concurrency
def test_writers_and_readers_while_consolidating() -> None:
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((6, DIM)).astype(np.float32)
    with engram.Engine(dim=DIM) as eng:
        sp = eng.create_space("bg")
        eng.start_consolidation(0.005, max_concepts_per_run=100, max_formations_per_hour=0)
        errors: list[BaseException] = []

        def writer(seed: int) -> None:
            r = np.random.default_rng(seed)
            try:
                for i in range(300):
                    c = centres[r.integers(6)]
                    eid = sp.remember(c + 0.25 * r.standard_normal(DIM).astype(np.float32))
                    if i % 50 == 7:
                        sp.forget(eid)
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        def reader(seed: int) -> None:
            r = np.random.default_rng(seed)
            try:
                for _ in range(200):
                    for rec in sp.recall(centres[r.integers(6)], k=5):
                        assert 0.0 <= rec.score <= 1.0 and 0.0 <= rec.confidence <= 1.0
                    sp.concepts()
            except BaseException as e:  # pragma: no cover
                errors.append(e)

        threads = [threading.Thread(target=writer, args=(s,)) for s in range(3)]
        threads += [threading.Thread(target=reader, args=(10 + s,)) for s in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        eng.stop_consolidation()
        assert not errors, errors
        sp.consolidate(max_concepts_per_run=100, max_formations_per_hour=0)
        report = sp.validate()
        assert report["ok"], report
        assert 1 <= len(sp.concepts()) <= 6 * 2
