"""The performance regression gate: the same benchmark on two builds, A/B interleaved, judged with
:func:`engram_harness.stats.compare` (Mann-Whitney U, Hodges-Lehmann, bootstrap CIs) and Holm's correction.

Run it with ``./dev gate`` (nox session ``gate``): it builds the base commit and the working tree
into separate folders and calls ``python -m engram_harness.gate``; see docs/acceptance.md.
"""

from engram_harness.gate.interleave import GateRunError, Side, run_interleaved
from engram_harness.gate.verdicts import error_verdict, gate_verdicts

__all__ = ["GateRunError", "Side", "error_verdict", "gate_verdicts", "run_interleaved"]
