"""Writers and readers in parallel Python threads (the engine releases the GIL) for a bounded
time; afterwards every acknowledged id is present with its exact bytes and the index validates."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from conftest import unit_vectors

import engram

DIM = 32
DURATION_S = 3.0


@pytest.mark.concurrency
def test_writers_and_readers() -> None:
    with engram.Engine(dim=DIM, ef_construction=64) as eng:
        sp = eng.create_space("busy")
        other = eng.create_space("other")
        acked: list[dict[int, bytes]] = [{} for _ in range(4)]
        forgotten: list[set[int]] = [set() for _ in range(4)]
        errors: list[BaseException] = []
        stop = threading.Event()
        counts = {"search": 0, "get": 0}
        count_lock = threading.Lock()

        def writer(w: int) -> None:
            rng = np.random.default_rng(100 + w)
            try:
                while not stop.is_set():
                    if w % 2 == 0:
                        v = unit_vectors(rng, 1, DIM)[0]
                        acked[w][sp.remember(v, content=f"w{w}")] = v.tobytes()
                    else:
                        x = unit_vectors(rng, 16, DIM)
                        for eid, v in zip(sp.remember_batch(x), x, strict=True):
                            acked[w][int(eid)] = v.tobytes()
                    # Forget some of our own: tombstones must stay invisible under load.
                    if len(acked[w]) > 20 and rng.random() < 0.2:
                        victim = next(iter(acked[w]))
                        sp.forget(victim)
                        del acked[w][victim]
                        forgotten[w].add(victim)
                    other.remember(unit_vectors(rng, 1, DIM)[0])
            except BaseException as e:
                errors.append(e)

        def reader(r: int) -> None:
            rng = np.random.default_rng(200 + r)
            n_search = n_get = 0
            try:
                while not stop.is_set():
                    q = unit_vectors(rng, 1, DIM)[0]
                    ids, scores = sp.search(q, k=10)
                    n_search += 1
                    assert np.all(np.diff(scores) <= 1e-6)
                    assert len(set(ids.tolist())) == len(ids)
                    for eid in ids[:3].tolist():
                        try:
                            m = sp.get(eid)
                        except engram.MemoryNotFound:
                            continue  # forgotten between search and get: allowed
                        n_get += 1
                        assert m.id == eid
                        assert m.embedding.shape == (DIM,)
                    # Ids of the other space never leak into this one.
                    assert all((i >> 40) == (ids[0] >> 40) for i in ids.tolist())
                    sp.stats()
            except BaseException as e:
                errors.append(e)
            with count_lock:
                counts["search"] += n_search
                counts["get"] += n_get

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        threads += [threading.Thread(target=reader, args=(r,)) for r in range(3)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + DURATION_S
        while time.monotonic() < deadline and not errors:
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(timeout=60)
            assert not t.is_alive(), "a thread did not stop (deadlock?)"
        assert not errors, errors[0]

        live = {k: v for d in acked for k, v in d.items()}
        dead = set().union(*forgotten)
        assert len(live) > 50, "the writers made too little progress to test anything"
        assert counts["search"] > 0
        assert len(sp) == len(live)
        for eid, raw in live.items():
            assert sp.get(eid).embedding.tobytes() == raw
        for eid in dead:
            assert eid not in sp
        # Every live memory is findable by its own vector.
        missing = 0
        for eid, raw in list(live.items())[:: max(1, len(live) // 200)]:
            ids, _ = sp.search(np.frombuffer(raw, dtype=np.float32), k=1, ef=100)
            missing += ids.tolist() != [eid]
            assert not set(ids.tolist()) & dead
        assert missing <= 2, f"{missing} memories not found by their own vector"
        report = sp.validate()
        assert report["ok"], report
        assert report["nodes"] == len(live) + len(dead)
        assert report["deleted"] == len(dead)
        assert other.validate()["ok"]
