"""A scenario: everything that defines a workload, loaded from a TOML file and validated."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engram_harness.scenarios.arrivals import Arrival, parse_arrival
from engram_harness.scenarios.clock import Clock, parse_clock
from engram_harness.scenarios.data import parse_data
from engram_harness.scenarios.errors import MISSING, ScenarioError
from engram_harness.scenarios.keys import KeyPopularity, parse_keys
from engram_harness.scenarios.mix import OperationMix, parse_mix
from engram_harness.scenarios.params import OpParams, parse_params
from engram_harness.scenarios.spaces import Spaces, parse_spaces
from engram_harness.scenarios.thresholds import Thresholds, parse_thresholds
from engram_harness.scenarios.toml_table import Table
from engram_harness.vectors import ClusterSpec


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    duration_s: float
    seed: int
    arrival: Arrival
    mix: OperationMix
    keys: KeyPopularity
    data: ClusterSpec
    spaces: Spaces
    params: OpParams = field(default_factory=OpParams)
    clock: Clock = field(default_factory=Clock)
    thresholds: Thresholds = field(default_factory=Thresholds)
    preload: int = 0
    source: str = "<string>"
    toml_text: str = ""


_SECTIONS = ("arrival", "operations", "keys", "data", "spaces", "params", "clock", "thresholds")


def parse_scenario(text: str, source: str = "<string>") -> Scenario:
    """Parse and validate scenario TOML text; every error is a :class:`ScenarioError`."""
    top = Table.parse(text, source)
    seed = top.integer("seed", lo=0, hi=2**64 - 1)
    clock = parse_clock(top.table("clock", {}))

    def section(name: str, required: bool = True) -> Table:
        return top.table(name) if required or top.has(name) else Table({}, source, name)

    data, preload = parse_data(section("data", False), seed)
    scenario = Scenario(
        name=top.string("name"),
        description=top.string("description", ""),
        duration_s=top.number("duration_s", lo=0.0, lo_open=True),
        seed=seed,
        arrival=parse_arrival(section("arrival"), clock),
        mix=parse_mix(section("operations")),
        keys=parse_keys(section("keys", False)),
        data=data,
        spaces=parse_spaces(section("spaces", False)),
        params=parse_params(section("params", False)),
        clock=clock,
        thresholds=parse_thresholds(section("thresholds", False)),
        preload=preload,
        source=source,
        toml_text=text,
    )
    top.reject_unknown()
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Load ``path`` (a TOML scenario file); raises :class:`ScenarioError` naming file, key and value."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(p), "<file>", MISSING, f"a readable file ({exc.strerror})") from exc
    return parse_scenario(text, str(p))
