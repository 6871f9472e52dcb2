"""Python threads linking, unlinking, forgetting and spreading at once (the engine releases the
GIL); afterwards no edge touches a forgotten memory and every spread result was well formed."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest

import engram


@pytest.mark.concurrency
def test_link_unlink_forget_while_spreading() -> None:
    with engram.Engine(dim=8, ef_construction=16) as eng:
        sp = eng.create_space("busy")
        ids = [
            int(i) for i in sp.remember_batch(np.random.default_rng(1).standard_normal((200, 8)).astype("f4"))
        ]
        errors: list[BaseException] = []
        forgotten: set[int] = set()
        lock = threading.Lock()
        stop = threading.Event()

        def writer(seed: int) -> None:
            rnd = random.Random(seed)
            try:
                for i in range(1500):
                    a, b = rnd.sample(ids, 2)
                    try:
                        if rnd.random() < 0.3:
                            sp.unlink(a, b)
                        else:
                            sp.link(a, b, rnd.random())
                        if seed == 0 and i % 100 == 0:
                            victim = rnd.choice(ids)
                            sp.forget(victim)
                            with lock:
                                forgotten.add(victim)
                    except engram.MemoryNotFound:
                        pass
            except BaseException as e:  # surfaced after join
                errors.append(e)

        def reader(seed: int) -> None:
            rnd = random.Random(seed)
            try:
                while not stop.is_set():
                    try:
                        res = sp.spread(
                            [rnd.choice(ids)], threshold=0.001, direction_weights={"episodic": 1.0}
                        )
                    except engram.MemoryNotFound:
                        continue
                    assert all(0 < r.activation <= 1.0 and 0 <= r.hops <= 3 for r in res)
                    assert len({r.id for r in res}) == len(res)
            except BaseException as e:
                errors.append(e)

        writers = [threading.Thread(target=writer, args=(s,)) for s in range(3)]
        readers = [threading.Thread(target=reader, args=(10 + s,)) for s in range(2)]
        for t in writers + readers:
            t.start()
        for t in writers:
            t.join()
        stop.set()
        for t in readers:
            t.join()
        assert not errors, errors
        for victim in forgotten:
            assert victim not in sp
        for node in ids:
            if node in forgotten:
                continue
            for n in sp.neighbors(node):
                assert n.id not in forgotten
        total = sum(len(sp.neighbors(n)) for n in ids if n not in forgotten)
        assert total == sp.edge_count()
