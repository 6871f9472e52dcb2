"""The ``[thresholds]`` table: the limits that decide whether a run passes.

Absolute limits::

    [thresholds]
    max_error_rate = 0.0        # fraction of scheduled operations that failed
    min_throughput = 949.9      # successful ops/s over the run's wall time
    [thresholds.p99_ms]         # also p50_ms, p95_ms, p999_ms, p9999_ms, max_ms
    all = 50.0                  # "all": the maximum over operation types (the reference's convention)
    remember = 10.0

Relative limits, checked only when a baseline run is supplied::

    [thresholds.relative]
    max_p99_increase = 0.05          # P99 may grow by at most 5 % (per operation type and "all")
    max_throughput_decrease = 0.05
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engram.workloads._toml import Table
from engram.workloads.ops import OP_NAMES, op_from_name

#: Quantile keys accepted under ``[thresholds]`` and the quantile each stands for.
QUANTILE_KEYS: dict[str, float] = {
    "p50_ms": 0.50,
    "p95_ms": 0.95,
    "p99_ms": 0.99,
    "p999_ms": 0.999,
    "p9999_ms": 0.9999,
    "max_ms": 1.0,
}


@dataclass(frozen=True)
class Thresholds:
    max_error_rate: float | None = None
    min_throughput: float | None = None
    #: ``(quantile key, op name or "all") -> limit in ms``
    latency_ms: dict[tuple[str, str], float] = field(default_factory=dict)
    max_p99_increase: float | None = None
    max_throughput_decrease: float | None = None


def parse_thresholds(tab: Table) -> Thresholds:
    latency: dict[tuple[str, str], float] = {}
    for qkey in QUANTILE_KEYS:
        if not tab.has(qkey):
            continue
        sub = tab.table(qkey)
        for op in list(sub.data):
            if op != "all":
                try:
                    op_name = OP_NAMES[op_from_name(op)]
                except KeyError:
                    raise sub.error(
                        op, sub.data[op], f"'all' or an operation name, one of {list(OP_NAMES)}"
                    ) from None
            else:
                op_name = "all"
            latency[(qkey, op_name)] = sub.number(op, lo=0.0, lo_open=True)
    rel_inc = rel_dec = None
    if tab.has("relative"):
        rel = tab.table("relative")
        rel_inc = rel.number("max_p99_increase", None, lo=0.0) if rel.has("max_p99_increase") else None
        rel_dec = (
            rel.number("max_throughput_decrease", None, lo=0.0, hi=1.0)
            if rel.has("max_throughput_decrease")
            else None
        )
        rel.reject_unknown()
    th = Thresholds(
        max_error_rate=tab.number("max_error_rate", None, lo=0.0, hi=1.0)
        if tab.has("max_error_rate")
        else None,
        min_throughput=tab.number("min_throughput", None, lo=0.0) if tab.has("min_throughput") else None,
        latency_ms=latency,
        max_p99_increase=rel_inc,
        max_throughput_decrease=rel_dec,
    )
    tab.reject_unknown()
    return th
