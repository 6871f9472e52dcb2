"""Chaos scenarios from TOML: parsing, seeded starts, clear errors, and the runner's timeline."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from engram_harness.chaos import (
    ChaosError,
    ChaosRunner,
    ChaosTarget,
    load_chaos_scenario,
    parse_chaos_scenario,
)
from engram_harness.chaos.injectors import REGISTRY
from engram_harness.scenarios.errors import ScenarioError

GOOD = """
name = "mix"
description = "delay, a partition, a kill"
seed = 7
duration_s = 2.0

[[faults]]
injector = "delay"
at_s = 0.2
for_s = 0.6
params = { range_ms = [0, 100] }

[[faults]]
injector = "partition"
at_s = 0.5
for_s = 0.5
jitter_s = 0.3

[[faults]]
injector = "kill"
at_s = 1.2
"""


def test_parses_a_scenario_with_seeded_starts() -> None:
    sc = parse_chaos_scenario(GOOD)
    assert (sc.name, sc.seed, sc.duration_s) == ("mix", 7, 2.0)
    assert [f.injector for f in sc.faults] == ["delay", "partition", "kill"]
    assert sc.faults[0].params == {"min_ms": 0.0, "max_ms": 100.0, "stream": "both"}
    assert 0.5 <= sc.faults[1].at_s <= 0.8 and sc.faults[2].for_s == 0.0
    assert parse_chaos_scenario(GOOD).faults == sc.faults  # same seed, same draw
    other = parse_chaos_scenario(GOOD.replace("seed = 7", "seed = 8"))
    assert other.faults[1].at_s != sc.faults[1].at_s
    half = sc.scaled(0.5)
    assert half.duration_s == 1.0 and half.faults[0].at_s == pytest.approx(0.1)


@pytest.mark.parametrize(("edit", "message"), [
    (("injector = \"delay\"", "injector = \"dealy\""), r"\[faults\[0\]\.injector\] got 'dealy', expected one of"),
    (("range_ms = [0, 100]", "range_ms = [100, 0]"), r"\[faults\[0\]\.params\.range_ms\] got \[100, 0\]"),
    (("range_ms = [0, 100]", "range_ms = [0, 100], rng = 1"), r"\[faults\[0\]\.params\.rng\] got 1, expected no such key"),
    (("for_s = 0.6", "for_s = 0"), r"\[faults\[0\]\.for_s\] got 0.0, expected a duration > 0 seconds for 'delay'"),
    (("at_s = 1.2", "at_s = 1.2\nfor_s = 3"), r"\[faults\[2\]\.for_s\] got 3"),
    (("at_s = 0.2", "at_s = 1.9"), r"\[faults\[0\]\.at_s\] got 1.9, expected a fault that ends \(at 2.5 s\) within"),
    (("at_s = 0.2", "at_s = -1"), r"\[faults\[0\]\.at_s\] got -1"),
    (("seed = 7", "seed = \"7\""), r"\[seed\] got '7', expected an integer"),
    (("duration_s = 2.0", "duraton_s = 2.0"), r"\[duration_s\] got <missing>"),
    (("name = \"mix\"", "name = \"mix\"\nfautls = 1"), r"\[fautls\] got 1, expected no such key"),
    (("duration_s = 2.0", "duration_s = 2.0 ="), r"\[<file>\] got <missing>, expected valid TOML"),
])  # fmt: skip
def test_bad_scenarios_say_what_and_where(edit: tuple[str, str], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_chaos_scenario(GOOD.replace(*edit), "bad.toml")


def test_every_injector_validates_its_params() -> None:
    base = 'name = "x"\nseed = 1\nduration_s = 10\n[[faults]]\nat_s = 0\n'
    bad = {"packet_loss": "probability = 1.5", "blackhole": "timeout_ms = -1", "bandwidth": "rate_kb_s = 0",
           "slicer": "average_size = 0", "limit_data": "bytes = 0", "kill_every": "every_s = 0",
           "memory_limit": "limit_mb = 0", "slow_disk": "", "cpu_starvation": "load_pct = 101",
           "disk_fill": "fraction = 0", "delay": "range_ms = [-1, 5]", "reset_peer": "timeout_ms = 1.5",
           "partition": "x = 1", "kill": "x = 1", "clock_skew": "offset_s = 1e12", "io_errors": 'op = "frob"',
           "burst": "rate_per_s = 0\ndim = 8"}  # fmt: skip
    assert set(bad) == set(REGISTRY)
    for name, params in bad.items():
        dur = "" if REGISTRY[name].instantaneous else "for_s = 1\n"
        with pytest.raises(ScenarioError, match=r"faults\[0\]"):
            parse_chaos_scenario(f'{base}injector = "{name}"\n{dur}[faults.params]\n{params}\n')


def test_load_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="a readable file"):
        load_chaos_scenario(tmp_path / "nope.toml")


class FakeProxy:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def latency(self, latency_ms: float, jitter_ms: float, *, stream: str) -> list[str]:
        self.calls.append(("latency", (latency_ms, jitter_ms, stream)))
        return ["lat_up", "lat_down"]

    def remove_toxic(self, name: str) -> None:
        self.calls.append(("remove", name))

    def set_enabled(self, enabled: bool) -> None:
        self.calls.append(("enabled", enabled))


class FakeServer:
    def __init__(self) -> None:
        self.killed_at: list[float] = []

    def kill_and_restart(self) -> None:
        self.killed_at.append(time.monotonic())


def test_runner_applies_faults_on_the_timeline() -> None:
    sc = parse_chaos_scenario(GOOD)
    proxy, server = FakeProxy(), FakeServer()
    t0 = time.monotonic()
    with ChaosRunner(sc, ChaosTarget(proxy=proxy, server=server, seed=sc.seed)) as run:
        run.wait()
    assert time.monotonic() - t0 >= sc.duration_s
    assert sorted((e.fault, e.action) for e in run.events) == [(0, "end"), (0, "start"), (1, "end"), (1, "start"),
                                                                (2, "end"), (2, "start")]  # fmt: skip
    for e in run.events:
        f = sc.faults[e.fault]
        expected = f.at_s if e.action == "start" else f.end_s
        assert expected - 0.01 <= e.t_s <= expected + 0.25, (e, expected)
    assert proxy.calls[0] == ("latency", (50.0, 50.0, "both"))
    assert ("remove", "lat_up") in proxy.calls and ("remove", "lat_down") in proxy.calls
    assert [c for c in proxy.calls if c[0] == "enabled"] == [("enabled", False), ("enabled", True)]
    assert len(server.killed_at) == 1


def test_runner_ends_active_faults_when_stopped_early_and_reports_injector_errors() -> None:
    sc = parse_chaos_scenario(GOOD)
    proxy = FakeProxy()
    with ChaosRunner(sc, ChaosTarget(proxy=proxy)):
        time.sleep(0.4)  # inside the delay fault
    assert proxy.calls[-2:] == [("remove", "lat_up"), ("remove", "lat_down")]
    # no server in the target: the kill fails with a clear error, raised at the end
    with pytest.raises(ChaosError, match="injector 'kill' needs a server"), \
            ChaosRunner(sc, ChaosTarget(proxy=FakeProxy())) as run:  # fmt: skip
        run.wait()
