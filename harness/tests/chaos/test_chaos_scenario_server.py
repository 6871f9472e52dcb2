"""A chaos scenario end to end: network faults through Toxiproxy and a kill, applied on the timeline
to a real durable server while recorded clients write through the proxy; the history checks out."""

from __future__ import annotations

from pathlib import Path

import pytest

from engram.client import Client
from engram_harness.chaos import (
    ChaosRunner,
    ChaosTarget,
    History,
    RecordedWorkload,
    RestartableServer,
    check,
    parse_chaos_scenario,
    read_final_state,
)
from engram_harness.chaos.toxiproxy import ToxiproxyServer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.usefixtures("toxiproxy"),
]
DIM = 8

SCENARIO = """
name = "delay_blackhole_kill"
seed = 11
duration_s = 6

[[faults]]
injector = "delay"
at_s = 0.5
for_s = 1.5
params = { range_ms = [0, 100] }

[[faults]]
injector = "blackhole"
at_s = 2.5
for_s = 1.0

[[faults]]
injector = "kill"
at_s = 4.0
jitter_s = 0.5
"""


def test_scenario_against_a_real_server(tmp_path: Path) -> None:
    sc = parse_chaos_scenario(SCENARIO, "inline.toml")
    with RestartableServer(tmp_path / "data", log_dir=tmp_path / "logs", dim=DIM, no_auth=True) as server, \
            ToxiproxyServer(log_dir=tmp_path, seed=sc.seed) as tp:  # fmt: skip
        proxy = tp.create_proxy(server.url)
        with Client(server.url) as c:
            c.create_space("chaos", dim=DIM)
        h = History()
        with (
            RecordedWorkload(
                proxy.url, "chaos", h, dim=DIM, writers=2, readers=1, seed=sc.seed, timeout_s=0.5
            ) as wl,
            ChaosRunner(sc, ChaosTarget(proxy=proxy, server=server, seed=sc.seed)) as run,
        ):
            run.wait()
        assert proxy.toxics() == []  # every fault ended
        with Client(server.url) as c:
            rep = check(h, read_final_state(c.space("chaos"), h))
        print(rep.summary(), wl.stats.errors, [(round(e.t_s, 2), e.injector, e.action) for e in run.events])
        assert [(e.injector, e.action) for e in run.events] == [
            ("delay", "start"), ("delay", "end"), ("blackhole", "start"), ("blackhole", "end"),
            ("kill", "start"), ("kill", "end"),
        ]  # fmt: skip
        assert len(server.kills) == 1
        assert wl.stats.errors.get("TransportError", 0) > 0, "the blackhole should time requests out"
        assert rep.acked > 20 and rep.lost == [] and rep.phantom == [], rep.summary()
