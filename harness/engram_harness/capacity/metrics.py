"""The Prometheus series the capacity workflow reads: engine lock-wait counters
(``engram_lock_wait_seconds_total{lock}``, ``engram_lock_contended_total{lock}``) and the
per-stage request histogram (``engram_http_request_stage_seconds{stage}``)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

LOCK_WAIT = "engram_lock_wait_seconds_total"
LOCK_CONTENDED = "engram_lock_contended_total"
STAGE_SUM = "engram_http_request_stage_seconds_sum"
STAGE_COUNT = "engram_http_request_stage_seconds_count"


def series(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample of metric ``name``: labels (sorted pairs) -> value."""
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m or m.group(1) != name:
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        out[tuple(sorted(_LABEL.findall(m.group(2) or "")))] = value
    return out


def by_label(text: str, name: str, label: str) -> dict[str, float]:
    """``name``'s samples keyed by one label's value (summed over the others)."""
    out: dict[str, float] = {}
    for labels, v in series(text, name).items():
        key = dict(labels).get(label, "")
        out[key] = out.get(key, 0.0) + v
    return out


@dataclass(frozen=True)
class LockWindow:
    """Lock waits over a window: seconds blocked and contended acquisitions, per lock class."""

    wait_s: dict[str, float]
    contended: dict[str, float]
    exposed: bool  # whether the counters were in the exposition at all

    @property
    def total_wait_s(self) -> float:
        return sum(self.wait_s.values()) if self.exposed else math.nan

    def top(self) -> tuple[str, float]:
        if not self.wait_s:
            return ("", math.nan if not self.exposed else 0.0)
        k = max(self.wait_s, key=lambda c: self.wait_s[c])
        return k, self.wait_s[k]


def lock_window(before: str, after: str) -> LockWindow:
    w0, w1 = by_label(before, LOCK_WAIT, "lock"), by_label(after, LOCK_WAIT, "lock")
    c0, c1 = by_label(before, LOCK_CONTENDED, "lock"), by_label(after, LOCK_CONTENDED, "lock")
    exposed = bool(w1)
    return LockWindow(
        wait_s={k: v - w0.get(k, 0.0) for k, v in w1.items()},
        contended={k: v - c0.get(k, 0.0) for k, v in c1.items()},
        exposed=exposed,
    )


def stage_seconds(before: str, after: str) -> dict[str, tuple[float, float]]:
    """Per request stage over a window: (seconds spent, requests observed). Empty when the server
    does not expose the stage histogram."""
    s0, s1 = by_label(before, STAGE_SUM, "stage"), by_label(after, STAGE_SUM, "stage")
    n0, n1 = by_label(before, STAGE_COUNT, "stage"), by_label(after, STAGE_COUNT, "stage")
    return {k: (v - s0.get(k, 0.0), n1.get(k, 0.0) - n0.get(k, 0.0)) for k, v in s1.items()}
