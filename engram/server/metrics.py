"""The server's own Prometheus series (the engine's come from ``Engine.prometheus()``).

Counters only ever increase; histograms use fixed cumulative buckets. Everything is guarded by
one lock: updates are a few dict operations, far cheaper than the requests they count.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Labels = tuple[tuple[str, str], ...]


def _fmt_labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{k}="{_escape(v)}"' for k, v in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class ServerMetrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[Labels, int] = {}
        self._latency: dict[Labels, list[float]] = {}  # per label set: bucket counts, +Inf, sum
        self._counters: dict[str, dict[Labels, float]] = {}
        self._gauges: dict[str, Callable[[], float]] = {}
        self._help: dict[str, str] = {}
        self._hists: dict[str, list[float]] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (("method", method), ("route", route), ("status", str(status)))
        hl = labels  # latency by route and status too: errors are usually fast, successes not
        with self._lock:
            self._requests[labels] = self._requests.get(labels, 0) + 1
            h = self._latency.get(hl)
            if h is None:
                h = self._latency[hl] = [0.0] * (len(LATENCY_BUCKETS_S) + 2)
            h[bisect.bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
            h[-1] += seconds

    def inc(self, name: str, help_text: str, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._help.setdefault(name, help_text)
            series = self._counters.setdefault(name, {})
            series[key] = series.get(key, 0.0) + amount

    def observe(self, name: str, help_text: str, seconds: float) -> None:
        """One sample of an unlabelled latency histogram (same buckets as requests)."""
        with self._lock:
            self._help.setdefault(name, help_text)
            h = self._hists.get(name)
            if h is None:
                h = self._hists[name] = [0.0] * (len(LATENCY_BUCKETS_S) + 2)
            h[bisect.bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
            h[-1] += seconds

    def gauge(self, name: str, help_text: str, fn: Callable[[], float]) -> None:
        with self._lock:
            self._gauges[name] = fn
            self._help[name] = help_text

    def counter_value(self, name: str, **labels: str) -> float:
        with self._lock:
            return self._counters.get(name, {}).get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            requests = dict(self._requests)
            latency = {k: list(v) for k, v in self._latency.items()}
            counters = {k: dict(v) for k, v in self._counters.items()}
            gauges = dict(self._gauges)
            helps = dict(self._help)
            hists = {k: list(v) for k, v in self._hists.items()}
        lines += ["# HELP engram_http_requests_total HTTP requests by method, route and status.",
                  "# TYPE engram_http_requests_total counter"]  # fmt: skip
        for labels, n in sorted(requests.items()):
            lines.append(f"engram_http_requests_total{_fmt_labels(labels)} {n}")
        lines += ["# HELP engram_http_request_duration_seconds HTTP request latency by method, route and status.",
                  "# TYPE engram_http_request_duration_seconds histogram"]  # fmt: skip
        for labels, h in sorted(latency.items()):
            cum = 0.0
            for bound, c in zip(LATENCY_BUCKETS_S, h, strict=False):
                cum += c
                le = f'le="{bound}"'
                lines.append(
                    f"engram_http_request_duration_seconds_bucket{_fmt_labels(labels, le)} {int(cum)}"
                )
            cum += h[len(LATENCY_BUCKETS_S)]
            inf = _fmt_labels(labels, 'le="+Inf"')
            lines.append(f"engram_http_request_duration_seconds_bucket{inf} {int(cum)}")
            lines.append(f"engram_http_request_duration_seconds_sum{_fmt_labels(labels)} {h[-1]:.6f}")
            lines.append(f"engram_http_request_duration_seconds_count{_fmt_labels(labels)} {int(cum)}")
        for name, series in sorted(counters.items()):
            lines += [f"# HELP {name} {helps[name]}", f"# TYPE {name} counter"]
            for labels, v in sorted(series.items()):
                lines.append(f"{name}{_fmt_labels(labels)} {v:g}")
        for name, h in sorted(hists.items()):
            lines += [f"# HELP {name} {helps[name]}", f"# TYPE {name} histogram"]
            cum = 0.0
            for bound, c in zip(LATENCY_BUCKETS_S, h, strict=False):
                cum += c
                lines.append(f'{name}_bucket{{le="{bound}"}} {int(cum)}')
            cum += h[len(LATENCY_BUCKETS_S)]
            lines += [
                f'{name}_bucket{{le="+Inf"}} {int(cum)}',
                f"{name}_sum {h[-1]:.6f}",
                f"{name}_count {int(cum)}",
            ]
        for name, fn in sorted(gauges.items()):
            lines += [f"# HELP {name} {helps[name]}", f"# TYPE {name} gauge", f"{name} {fn():g}"]
        return "\n".join(lines) + "\n"
