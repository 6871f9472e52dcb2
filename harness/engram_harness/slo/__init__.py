"""Service-level judgement of a sustained run (workflow 110, master 112: latency budget).

- :mod:`~engram_harness.slo.prom`: a small reader of the Prometheus text exposition for the few
  families a run samples every second (histograms per label, counters), and bucket arithmetic
  (difference of two scrapes, quantile from buckets);
- :mod:`~engram_harness.slo.windows`: per-window P50/P95/P99 of a run's per-operation latencies and
  their verdict against a :class:`LatencySlo`;
- :mod:`~engram_harness.slo.stages`: the server-side stage budget of a window (parse, queue, engine,
  WAL sync, serialise...) from two scrapes of ``engram_http_request_stage_seconds``;
- :mod:`~engram_harness.slo.sampler`: a background sampler of a server process (RSS, CPU, /metrics);
- :mod:`~engram_harness.slo.trends`: RSS growth per hour (robust fit), CPU share, consolidation cadence.
"""

from engram_harness.slo.prom import Histogram, counters, histograms, parse_exposition
from engram_harness.slo.sampler import ProcessSampler, Sample, rss_bytes
from engram_harness.slo.stages import STAGES, StageBudget, StageRow, stage_budget
from engram_harness.slo.trends import Cadence, Growth, cadence, cpu_share, cycle_ends, rss_growth
from engram_harness.slo.windows import LatencySlo, WindowStats, format_windows, window_stats

__all__ = [
    "STAGES",
    "Cadence",
    "Growth",
    "Histogram",
    "LatencySlo",
    "ProcessSampler",
    "Sample",
    "StageBudget",
    "StageRow",
    "WindowStats",
    "cadence",
    "counters",
    "cpu_share",
    "cycle_ends",
    "format_windows",
    "histograms",
    "parse_exposition",
    "rss_bytes",
    "rss_growth",
    "stage_budget",
    "window_stats",
]
