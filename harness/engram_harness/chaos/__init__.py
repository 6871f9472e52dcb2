"""The chaos toolkit (issue 14): fault injectors, a Jepsen-style history checker and a scenario
builder that applies faults on a timeline while a workload runs against a real server.

- :mod:`.history`, :mod:`.checker`: record client operations; find lost, duplicated and phantom ones.
- :mod:`.workload`: recorded writers and readers through the public client.
- :mod:`.toxiproxy`: network faults (delay, loss, blackhole, reset, bandwidth, slicer, partition).
- :mod:`.process`: SIGKILL and restart of a server, once or every N seconds.
- :mod:`.disk`, :mod:`.memory`, :mod:`.cpu`, :mod:`.blkio`: disk full, memory limit, CPU starvation,
  slow disk (root for all but CPU).
- :mod:`.server_faults`: faults inside a test-build server over HTTP (clock skew, fault plans: I/O errors).
- :mod:`.burst`: extra load at a fixed rate beside the workload under test.
- :mod:`.validators`: the M11 validators (eventual consistency, sequence, graph integrity).
- :mod:`.scenario`, :mod:`.injectors`, :mod:`.timeline`: faults on a schedule from TOML.
"""

from engram_harness.chaos.checker import CheckReport, FinalState, StoredCopy, check, read_final_state
from engram_harness.chaos.errors import ChaosError, InjectorUnavailable
from engram_harness.chaos.history import History, Kind, Operation, Outcome
from engram_harness.chaos.injectors import REGISTRY, ChaosTarget
from engram_harness.chaos.process import KillLoop, RestartableServer
from engram_harness.chaos.scenario import ChaosScenario, Fault, load_chaos_scenario, parse_chaos_scenario
from engram_harness.chaos.timeline import ChaosRunner
from engram_harness.chaos.workload import RecordedWorkload

__all__ = [
    "REGISTRY",
    "ChaosError",
    "ChaosRunner",
    "ChaosScenario",
    "ChaosTarget",
    "CheckReport",
    "Fault",
    "FinalState",
    "History",
    "InjectorUnavailable",
    "KillLoop",
    "Kind",
    "Operation",
    "Outcome",
    "RecordedWorkload",
    "RestartableServer",
    "StoredCopy",
    "check",
    "load_chaos_scenario",
    "parse_chaos_scenario",
    "read_final_state",
]  # fmt: skip
