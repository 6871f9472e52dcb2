"""Concurrent writers, checkpoints and background consolidation on one durable engine: the
reopened store equals the engine's last state exactly."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

import engram
from engram.durability.digest import content_digest
from tests.durability.helpers import DIM


def test_concurrent_writers_checkpoints_and_consolidation(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(4, DIM)).astype(np.float32)
    errors: list[BaseException] = []
    with engram.Engine(
        tmp_path, dim=DIM, segment_bytes=8192, checkpoint_interval_s=0, checkpoint_wal_bytes=0
    ) as eng:
        sp = eng.create_space("a")
        eng.start_consolidation(interval_s=0.02)
        stop = threading.Event()

        def writer(k: int) -> None:
            try:
                local = np.random.default_rng(100 + k)
                mine: list[int] = []
                for i in range(150):
                    v = centres[i % 4] + 0.05 * local.normal(size=DIM).astype(np.float32)
                    mine.append(sp.remember(v.astype(np.float32), content=f"{k}:{i}"))
                    if i % 9 == 8:
                        sp.forget(mine.pop(0))
                    if i % 5 == 4 and len(mine) > 2:
                        sp.link(mine[-1], mine[-2], weight=0.3)
            except BaseException as e:  # surfaced below
                errors.append(e)

        def checkpointer() -> None:
            try:
                while not stop.is_set():
                    eng.checkpoint()
                    stop.wait(0.05)
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        cp = threading.Thread(target=checkpointer)
        cp.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        stop.set()
        cp.join(timeout=60)
        eng.stop_consolidation()
        assert not errors, errors
        v = sp.validate()
        assert v["ok"] and v["concepts"] >= 1, v
        assert eng.recovery_info()["durable"]
        checkpoints = [
            ln for ln in eng.prometheus().splitlines() if ln.startswith("engram_checkpoints_total ")
        ]
        assert int(checkpoints[0].split()[1]) >= 1
        before = content_digest(eng)
    with engram.Engine(tmp_path, dim=DIM) as eng:
        assert eng.recovery_info()["corruptions"] == 0
        assert content_digest(eng) == before
        v = eng.space("a").validate()
        assert v["ok"] and v["orphaned_concepts"] == 0 and v["one_sided_bindings"] == 0
