"""The history checker against a real server, with and without SIGKILLs."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from engram.client import Client
from engram_harness.chaos import (
    History,
    KillLoop,
    RecordedWorkload,
    RestartableServer,
    check,
    read_final_state,
)
from engram_harness.server import running_server_process

pytestmark = pytest.mark.slow
DIM = 8


def test_clean_run_has_no_anomalies_and_catches_a_planted_duplicate(tmp_path: Path) -> None:
    with running_server_process(tmp_path / "data", dim=DIM, no_auth=True) as sp, Client(sp.url) as c:
        space = c.create_space("chaos", dim=DIM)
        h = History()
        with RecordedWorkload(sp.url, "chaos", h, dim=DIM, writers=2, readers=1, seed=1):
            time.sleep(1.5)
        rep = check(h, read_final_state(space, h))
        assert rep.ok, rep.summary()
        assert rep.acked > 20 and rep.recalled == rep.acked and rep.reads > 0, rep.summary()
        # plant what a retry without its key does: the same write stored a second time
        w = next(w for w in h.writes() if w.acked)
        assert w.embedding is not None
        space.remember(w.embedding, w.content)
        rep = check(h, read_final_state(space, h))
        assert [a.content for a in rep.duplicated] == [w.content], rep.summary()
        # and a write nobody recorded
        space.remember(np.ones(DIM, dtype=np.float32), "stranger")
        assert check(h, read_final_state(space, h)).unattributed_records == 1


def test_kills_mid_writes_lose_no_acked_write(tmp_path: Path) -> None:
    """SIGKILL a durable server every ~1 s while two writers and a reader run; after the last
    restart every acknowledged write must be readable with its content."""
    kills_wanted = 5
    with RestartableServer(tmp_path / "data", log_dir=tmp_path / "logs", dim=DIM, no_auth=True) as server:
        with Client(server.url) as c:
            c.create_space("chaos", dim=DIM)
        h = History()
        with RecordedWorkload(
            server.url, "chaos", h, dim=DIM, writers=2, readers=1, seed=2, timeout_s=2.0
        ) as wl:
            with KillLoop(server, every_s=1.0, jitter=0.3, seed=2, max_kills=kills_wanted) as loop:
                deadline = time.monotonic() + 60
                while loop.kills < kills_wanted and time.monotonic() < deadline:  # bounded by the deadline
                    time.sleep(0.1)
            time.sleep(0.5)  # writes after the last restart
        with Client(server.url) as c:
            rep = check(h, read_final_state(c.space("chaos"), h))
        print(f"kills={len(server.kills)} downtime_s={[round(k.down_s, 2) for k in server.kills]}")
        print(rep.summary())
        print(f"client errors: {wl.stats.errors}")
        assert len(server.kills) == kills_wanted
        assert rep.acked > 20, rep.summary()
        assert rep.lost == [] and rep.data_loss == 0, rep.summary()
        assert rep.phantom == [], rep.summary()
