"""Read the few Prometheus families a sustained run samples every second, and do bucket arithmetic.

The full parser (:mod:`engram_harness.workflows.prometheus`, prometheus_client's) reads a whole
exposition; engramd's is ~140 KB with per-space series, and a run scrapes it every second for up
to 24 h on two shared cores. Here only the lines of the named families are parsed (a prefix test
per line first), which keeps a scrape's parsing well under a millisecond per hundred series.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Labels = tuple[tuple[str, str], ...]  # sorted (name, value) pairs: hashable and order-free
Samples = dict[tuple[str, Labels], float]

_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?\s*$")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text: str, families: Iterable[str] | None = None) -> Samples:
    """``{(sample name, labels): value}`` for the samples whose name starts with one of
    ``families`` (every sample when None). Raises ``ValueError`` naming a line that does not parse,
    so a malformed scrape fails the run instead of reading as "nothing happened"."""
    prefixes = tuple(families) if families is not None else ("",)
    out: Samples = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line or line[0] == "#" or not line.startswith(prefixes):
            continue
        m = _SAMPLE.match(line)
        if m is None:
            raise ValueError(f"line {n} of the /metrics text is not a Prometheus sample: {line[:200]!r}")
        name, raw_labels, raw_value = m.groups()
        labels = tuple(sorted(_LABEL.findall(raw_labels or "")))
        try:
            value = float(raw_value)
        except ValueError:
            raise ValueError(f"line {n}: value {raw_value!r} is not a number: {line[:200]!r}") from None
        out[(name, labels)] = value
    return out


@dataclass(frozen=True)
class Histogram:
    """One Prometheus histogram (summed over the series merged into it): upper bounds ``le`` in
    increasing order (the last is +Inf), cumulative counts per bound, the sum of observations and
    their count."""

    le: tuple[float, ...]
    cumulative: tuple[float, ...]
    sum: float
    count: float

    def minus(self, earlier: Histogram | None) -> Histogram:
        """What was observed between ``earlier`` and this scrape (counters only grow; a series that
        is absent earlier counts from zero). Raises when the bucket layouts differ."""
        if earlier is None:
            return self
        if earlier.le != self.le:
            raise ValueError(f"bucket bounds changed between scrapes: {earlier.le} -> {self.le}")
        return Histogram(
            self.le,
            tuple(a - b for a, b in zip(self.cumulative, earlier.cumulative, strict=True)),
            self.sum - earlier.sum,
            self.count - earlier.count,
        )

    @property
    def mean(self) -> float:
        """Mean observation (NaN when nothing was observed)."""
        return self.sum / self.count if self.count > 0 else math.nan

    def quantile(self, q: float) -> float:
        """``histogram_quantile`` as Prometheus computes it: linear interpolation inside the bucket
        holding rank ``q * count`` (from 0 for the first bucket); a rank in the +Inf bucket gives
        the largest finite bound (the histogram cannot say more). NaN when nothing was observed."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q must be in [0, 1], got {q!r}")
        if self.count <= 0 or not self.le:
            return math.nan
        rank = q * self.count
        prev_bound, prev_cum = 0.0, 0.0
        for bound, cum in zip(self.le, self.cumulative, strict=True):
            if cum >= rank and cum > prev_cum:
                if math.isinf(bound):
                    return prev_bound
                return prev_bound + (bound - prev_bound) * (rank - prev_cum) / (cum - prev_cum)
            prev_bound, prev_cum = (bound if math.isfinite(bound) else prev_bound), cum
        return prev_bound


def histograms(samples: Mapping[tuple[str, Labels], float], name: str, by: str) -> dict[str, Histogram]:
    """The histogram family ``name`` grouped by the value of label ``by`` (series that differ in
    other labels are summed: e.g. every route of one stage)."""
    buckets: dict[str, dict[float, float]] = {}
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for (sample, labels), value in samples.items():
        d = dict(labels)
        key = d.get(by)
        if key is None:
            continue
        if sample == name + "_bucket":
            le = float(d["le"]) if d.get("le") not in (None, "+Inf") else math.inf
            per = buckets.setdefault(key, {})
            per[le] = per.get(le, 0.0) + value
        elif sample == name + "_sum":
            sums[key] = sums.get(key, 0.0) + value
        elif sample == name + "_count":
            counts[key] = counts.get(key, 0.0) + value
    out: dict[str, Histogram] = {}
    for key, per in buckets.items():
        les = tuple(sorted(per))
        out[key] = Histogram(
            les, tuple(per[b] for b in les), sums.get(key, 0.0), counts.get(key, per[les[-1]])
        )
    return out


def counters(samples: Mapping[tuple[str, Labels], float], name: str, by: str) -> dict[str, float]:
    """The family ``name`` summed per value of label ``by``."""
    out: dict[str, float] = {}
    for (sample, labels), value in samples.items():
        if sample != name:
            continue
        key = dict(labels).get(by)
        if key is not None:
            out[key] = out.get(key, 0.0) + value
    return out
