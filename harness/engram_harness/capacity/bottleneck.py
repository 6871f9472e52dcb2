"""Automatic bottleneck classification at a ramp's knee: a pure function of what was measured there.

Rules (requirements 005, with the measurements this host allows):

- **CPU**: the CPU is saturated -- the server's CPU (cores used) or the whole host's busy fraction
  (the load generator and other tenants share these cores) at or above ``cpu_saturation`` of the
  cores available. ``cpu-hot-function`` when one function holds more than ``hot_function_share``
  of the profile's samples (self time; the seeds' "a hot function > 80 % CPU"), else
  ``cpu-spread`` naming the hottest one.
- **lock**: engine threads spent more than ``lock_wall_fraction`` of the wall time blocked on
  contended locks (``engram_lock_wait_seconds_total``, summed over lock classes and threads).
- **io**: iowait above ``iowait_fraction`` of all CPU time (/proc/stat) or an average disk queue
  above ``disk_queue`` (/proc/diskstats).
- **memory** (bandwidth, cache): cache misses above ``cache_miss_per_instruction`` of instructions,
  from hardware counters; where the kernel exposes none (this KVM guest) the class is reported as
  unmeasured, never as "not bound".

The primary class: I/O when bound (every other wait stacks behind a stalled disk); lock when bound
while the CPU is not saturated (threads wait rather than compute); CPU when saturated (lock waits
beside a saturated CPU are listed, not primary); then memory; else ``unidentified``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Evidence:
    """What was measured over the knee window (NaN: not measured)."""

    wall_s: float
    cores_available: float
    server_cores: float = math.nan  # server CPU seconds per wall second
    host_busy_fraction: float = math.nan  # /proc/stat: busy / all CPU time, every process
    top_function: str = ""
    top_function_share: float = math.nan  # self share of profile samples
    profile_samples: int = 0
    lock_wait_s: float = math.nan  # summed over lock classes (NaN: counters not exposed)
    top_lock: str = ""
    iowait_fraction: float = math.nan
    disk_queue: float = math.nan
    cache_miss_per_instruction: float = math.nan  # NaN: no hardware counters


@dataclass(frozen=True)
class Thresholds:
    cpu_saturation: float = 0.85
    hot_function_share: float = 0.80
    lock_wall_fraction: float = 0.01
    iowait_fraction: float = 0.20
    disk_queue: float = 4.0
    cache_miss_per_instruction: float = 0.10


@dataclass(frozen=True)
class Verdict:
    status: str  # "bound", "not bound", "unmeasured"
    measured: float
    threshold: float
    detail: str


@dataclass(frozen=True)
class Diagnosis:
    primary: str  # cpu-hot-function, cpu-spread, lock, io, memory, unidentified
    verdicts: dict[str, Verdict] = field(default_factory=dict)

    @property
    def identified(self) -> bool:
        return self.primary != "unidentified"

    @property
    def secondary(self) -> list[str]:
        """Other classes over their threshold (e.g. lock waits beside a saturated CPU)."""
        main = "cpu" if self.primary.startswith("cpu") else self.primary
        return [k for k, v in self.verdicts.items() if v.status == "bound" and k != main]

    def summary(self) -> str:
        also = f" (also over its threshold: {', '.join(self.secondary)})" if self.secondary else ""
        return self.primary + also

    def lines(self) -> list[str]:
        out = [f"bottleneck: {self.summary()}"]
        out += [f"  {k}: {v.status} ({v.detail})" for k, v in self.verdicts.items()]
        return out


def _fmt(x: float, spec: str = ".3g") -> str:
    return "n/a" if not math.isfinite(x) else format(x, spec)


def classify(e: Evidence, t: Thresholds | None = None) -> Diagnosis:
    t = t or Thresholds()
    v: dict[str, Verdict] = {}

    # CPU: either the server alone fills the cores, or the host as a whole has none left
    util = max((x for x in (e.server_cores / e.cores_available if e.cores_available > 0 else math.nan,
                            e.host_busy_fraction) if math.isfinite(x)), default=math.nan)  # fmt: skip
    hot = math.isfinite(e.top_function_share) and e.top_function_share > t.hot_function_share
    prof = (f"top function {e.top_function or '?'} {_fmt(100 * e.top_function_share, '.1f')} % of "
            f"{e.profile_samples} samples")  # fmt: skip
    cpu_detail = (f"server {_fmt(e.server_cores, '.2f')} of {_fmt(e.cores_available, 'g')} cores, host busy "
                  f"{_fmt(100 * e.host_busy_fraction, '.0f')} %; {prof}")  # fmt: skip
    if not math.isfinite(util):
        v["cpu"] = Verdict("unmeasured", util, t.cpu_saturation, cpu_detail)
    else:
        v["cpu"] = Verdict(
            "bound" if util >= t.cpu_saturation else "not bound", util, t.cpu_saturation, cpu_detail
        )

    lock_frac = e.lock_wait_s / e.wall_s if e.wall_s > 0 else math.nan
    if not math.isfinite(lock_frac):
        v["lock"] = Verdict(
            "unmeasured", lock_frac, t.lock_wall_fraction, "engine lock-wait counters not exposed"
        )
    else:
        v["lock"] = Verdict("bound" if lock_frac > t.lock_wall_fraction else "not bound", lock_frac,
                            t.lock_wall_fraction,
                            f"{_fmt(e.lock_wait_s)} s blocked in {_fmt(e.wall_s)} s"
                            + (f", most on {e.top_lock}" if e.top_lock else ""))  # fmt: skip

    io_meas = [x for x in (e.iowait_fraction, e.disk_queue) if math.isfinite(x)]
    io_detail = f"iowait {_fmt(100 * e.iowait_fraction, '.1f')} %, disk queue {_fmt(e.disk_queue, '.2f')}"
    if not io_meas:
        v["io"] = Verdict("unmeasured", math.nan, t.iowait_fraction, io_detail)
    else:
        io_bound = (math.isfinite(e.iowait_fraction) and e.iowait_fraction > t.iowait_fraction) or (
            math.isfinite(e.disk_queue) and e.disk_queue > t.disk_queue
        )
        v["io"] = Verdict(
            "bound" if io_bound else "not bound", e.iowait_fraction, t.iowait_fraction, io_detail
        )

    if not math.isfinite(e.cache_miss_per_instruction):
        v["memory"] = Verdict("unmeasured", math.nan, t.cache_miss_per_instruction,
                              "memory bandwidth and cache misses need hardware counters, which this kernel "
                              "does not expose")  # fmt: skip
    else:
        m = e.cache_miss_per_instruction
        v["memory"] = Verdict("bound" if m > t.cache_miss_per_instruction else "not bound", m,
                              t.cache_miss_per_instruction, f"{_fmt(100 * m, '.1f')} % cache misses per instruction")  # fmt: skip

    bound = {k for k, x in v.items() if x.status == "bound"}
    cpu_class = "cpu-hot-function" if hot else "cpu-spread"
    if "io" in bound:
        primary = "io"
    elif "lock" in bound and "cpu" not in bound:
        primary = "lock"
    elif "cpu" in bound:
        primary = cpu_class
    elif "memory" in bound:
        primary = "memory"
    else:
        primary = "unidentified"
    return Diagnosis(primary, v)
