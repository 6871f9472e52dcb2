"""Small scenario builder shared by the workload tests."""

from __future__ import annotations

from engram_harness.scenarios import Scenario, parse_scenario

BASE = """
name = "t"
duration_s = {duration}
seed = {seed}
[arrival]
{arrival}
[operations]
{operations}
[data]
dim = 8
{extra}
"""


def make(
    arrival: str = 'pattern = "constant"\nrate = 100',
    operations: str = "remember = 0.5\nsearch = 0.5",
    duration: float = 2,
    seed: int = 1,
    extra: str = "",
) -> Scenario:
    text = BASE.format(arrival=arrival, operations=operations, duration=duration, seed=seed, extra=extra)
    return parse_scenario(text, "test.toml")
