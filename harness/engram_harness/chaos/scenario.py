"""A chaos scenario: faults on a schedule, read from TOML like the workload scenarios.

    name = "partition_and_kills"
    description = "a 5 s partition, then kills every 3 s"
    seed = 7
    duration_s = 30

    [[faults]]
    injector = "partition"
    at_s = 5            # seconds from the start of the run
    for_s = 5           # how long it lasts (0 for instantaneous faults such as "kill")
    jitter_s = 1.0      # optional: start drawn uniformly in [at_s, at_s + jitter_s] (seeded)

    [[faults]]
    injector = "kill_every"
    at_s = 12
    for_s = 15
    params = { every_s = 3, jitter = 0.2 }

Every mistake is a :class:`~engram_harness.scenarios.errors.ScenarioError` naming the file, the key,
the value and what was expected.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engram_harness.chaos.injectors import REGISTRY
from engram_harness.scenarios.errors import MISSING, ScenarioError
from engram_harness.scenarios.toml_table import Table


@dataclass(frozen=True)
class Fault:
    injector: str
    at_s: float  # the drawn start (at_s + seeded jitter)
    for_s: float
    params: dict[str, Any]
    index: int  # position in the file

    @property
    def end_s(self) -> float:
        return self.at_s + self.for_s


@dataclass(frozen=True)
class ChaosScenario:
    name: str
    description: str
    seed: int
    duration_s: float
    faults: tuple[Fault, ...]
    source: str = "<string>"

    def scaled(self, factor: float) -> ChaosScenario:
        """Times multiplied by ``factor`` (a quick profile compresses the timeline, not the faults)."""
        if factor <= 0:
            raise ValueError(f"factor must be > 0; got {factor!r}")
        faults = tuple(
            Fault(f.injector, f.at_s * factor, f.for_s * factor, f.params, f.index) for f in self.faults
        )
        return ChaosScenario(
            self.name, self.description, self.seed, self.duration_s * factor, faults, self.source
        )


def parse_chaos_scenario(text: str, source: str = "<string>") -> ChaosScenario:
    top = Table.parse(text, source)
    name = top.string("name")
    description = top.string("description", "")
    seed = top.integer("seed", lo=0, hi=2**63 - 1)
    duration_s = top.number("duration_s", lo=0.0, lo_open=True)
    rng = random.Random(seed)
    faults = []
    for i, t in enumerate(top.tables("faults")):
        injector = t.string("injector", choices=REGISTRY)
        spec = REGISTRY[injector]
        at_s = t.number("at_s", lo=0.0)
        for_s = t.number(
            "for_s", 0.0 if spec.instantaneous else MISSING, lo=0.0, hi=0.0 if spec.instantaneous else None
        )
        if not spec.instantaneous and for_s <= 0:
            raise t.error("for_s", for_s, f"a duration > 0 seconds for {injector!r}")
        jitter_s = t.number("jitter_s", 0.0, lo=0.0)
        params_table = t.table("params", {})
        params = spec.parse(params_table)
        params_table.reject_unknown()
        t.reject_unknown()
        start = at_s + (rng.uniform(0.0, jitter_s) if jitter_s else 0.0)
        if start + for_s > duration_s:
            raise t.error(
                "at_s", at_s, f"a fault that ends (at {start + for_s:g} s) within duration_s = {duration_s:g}"
            )
        faults.append(Fault(injector, start, for_s, params, i))
    top.reject_unknown()
    return ChaosScenario(name, description, seed, duration_s, tuple(faults), source)


def load_chaos_scenario(path: str | Path) -> ChaosScenario:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ScenarioError(str(p), "<file>", MISSING, f"a readable file ({exc})") from exc
    return parse_chaos_scenario(text, str(p))
