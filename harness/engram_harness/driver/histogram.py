"""HDR-style latency histogram (log-linear buckets, as HdrHistogram), recorded from numpy arrays.

Values are nanoseconds. With ``d`` significant digits each power-of-two range is split into
``2**ceil(log2(2 * 10**d)) / 2`` equal buckets (1,024 for the default 3 digits), so a bucket is at most
1/1024 of its lower bound wide; a quantile reports the midpoint of the bucket that holds the sample of
the exact rank (:func:`engram_harness.stats.quantiles.order_statistic_rank`), so it is within
:attr:`LatencyHistogram.relative_error` (1/2048, under 0.05 %, for 3 digits) of the exact order
statistic. Values above the range (default 60 s) are counted as overflow (and their maximum kept
exactly), never dropped; negative values are counted at zero.

Histograms are for storage, merging across runs and plots; where the samples are kept, reported
quantiles are computed from them (``RunResult.op_summary``), not from buckets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

DEFAULT_LOWEST_NS = 1
DEFAULT_HIGHEST_NS = 60_000_000_000
DEFAULT_DIGITS = 3


@dataclass
class LatencyHistogram:
    lowest_ns: int = DEFAULT_LOWEST_NS
    highest_ns: int = DEFAULT_HIGHEST_NS
    significant_digits: int = DEFAULT_DIGITS
    counts: npt.NDArray[np.int64] = field(init=False, repr=False)
    overflow: int = field(init=False, default=0)
    total: int = field(init=False, default=0)
    min_ns: int = field(init=False, default=0)
    max_ns: int = field(init=False, default=0)
    sum_ns: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        if (
            not (1 <= self.significant_digits <= 5)
            or self.lowest_ns < 1
            or self.highest_ns < 2 * self.lowest_ns
        ):
            raise ValueError("need 1..5 significant digits and highest >= 2 * lowest >= 2")
        largest_single_unit = 2 * 10**self.significant_digits
        self._sub_bucket_count = 1 << math.ceil(math.log2(largest_single_unit))
        self._sub_half = self._sub_bucket_count // 2
        self._sub_half_mag = int(math.log2(self._sub_half))
        self._unit_mag = math.floor(math.log2(self.lowest_ns))
        self._sub_mask = (self._sub_bucket_count - 1) << self._unit_mag
        buckets, smallest_untrackable = 1, self._sub_bucket_count << self._unit_mag
        while smallest_untrackable <= self.highest_ns:
            smallest_untrackable <<= 1
            buckets += 1
        self._buckets = buckets
        self.counts = np.zeros((buckets + 1) * self._sub_half, dtype=np.int64)
        self._min_seen: int | None = None

    # -- indexing ---------------------------------------------------------------------------------
    def _index(self, values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        v = values.astype(np.int64)
        # bit length of (v | mask): frexp's exponent, exact because values < 2**53
        _, exp = np.frexp((v | self._sub_mask).astype(np.float64))
        bucket = exp.astype(np.int64) - self._unit_mag - (self._sub_half_mag + 1)
        sub = v >> (bucket + self._unit_mag)
        return ((bucket + 1) << self._sub_half_mag) + (sub - self._sub_half)

    def _bounds(self, index: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Lowest value and width of each counts index."""
        idx = np.asarray(index, dtype=np.int64)
        bucket = (idx >> self._sub_half_mag) - 1
        sub = (idx & (self._sub_half - 1)) + self._sub_half
        first = bucket < 0
        sub = np.where(first, sub - self._sub_half, sub)
        bucket = np.where(first, 0, bucket)
        lowest = sub << (bucket + self._unit_mag)
        width = np.ones_like(lowest) << (bucket + self._unit_mag)
        return lowest, width

    # -- recording --------------------------------------------------------------------------------
    def record(self, latencies_ns: npt.ArrayLike) -> None:
        """Record many latencies (nanoseconds) at once."""
        v = np.asarray(latencies_ns, dtype=np.int64).reshape(-1)
        if v.size == 0:
            return
        v = np.maximum(v, 0)
        over = v > self.highest_ns
        n_over = int(over.sum())
        in_range = v[~over]
        if in_range.size:
            self.counts += np.bincount(self._index(in_range), minlength=len(self.counts))
        self.overflow += n_over
        vmin, vmax = int(v.min()), int(v.max())
        self.min_ns = vmin if self.total == 0 else min(self.min_ns, vmin)
        self.max_ns = vmax if self.total == 0 else max(self.max_ns, vmax)
        self.total += int(v.size)
        self.sum_ns += float(v.sum(dtype=np.float64))

    def merge(self, other: LatencyHistogram) -> LatencyHistogram:
        """Add ``other``'s counts into this histogram (same configuration required); returns self."""
        if (other.lowest_ns, other.highest_ns, other.significant_digits) != (
            self.lowest_ns,
            self.highest_ns,
            self.significant_digits,
        ):
            raise ValueError("cannot merge histograms with different ranges or precision")
        if other.total == 0:
            return self
        self.counts += other.counts
        self.overflow += other.overflow
        self.min_ns = other.min_ns if self.total == 0 else min(self.min_ns, other.min_ns)
        self.max_ns = other.max_ns if self.total == 0 else max(self.max_ns, other.max_ns)
        self.total += other.total
        self.sum_ns += other.sum_ns
        return self

    @classmethod
    def merged(cls, hists: Iterable[LatencyHistogram]) -> LatencyHistogram:
        hists = list(hists)
        out = cls(hists[0].lowest_ns, hists[0].highest_ns, hists[0].significant_digits) if hists else cls()
        for h in hists:
            out.merge(h)
        return out

    # -- queries ----------------------------------------------------------------------------------
    @property
    def relative_error(self) -> float:
        """Bound on ``|quantile - exact order statistic| / exact`` for a rank inside the range: half a
        bucket width over its lower bound, ``1 / 2**ceil(log2(2 * 10**digits))`` (1/2048 for 3 digits).
        Values below ``2**ceil(log2(2 * 10**digits))`` times the lowest unit are stored exactly."""
        return 1.0 / self._sub_bucket_count

    @property
    def mean_ns(self) -> float:
        return self.sum_ns / self.total if self.total else math.nan

    def quantile(self, q: float) -> float:
        """Value (ns) at quantile ``q`` in [0, 1]: the midpoint of the bucket holding the sample of rank
        ``ceil(q * n)`` (the one percentile definition, within :attr:`relative_error`); ``q = 1`` gives
        the exact maximum, a rank among the overflow the exact maximum."""
        return float(self.quantiles([q])[0])

    def quantiles(self, qs: Iterable[float]) -> npt.NDArray[np.float64]:
        qs = np.asarray(list(qs), dtype=np.float64)
        if np.any((qs < 0) | (qs > 1)):
            raise ValueError("quantiles must lie in [0, 1]")
        if self.total == 0:
            return np.full(qs.shape, math.nan)
        # The rank of the exact order statistic, float64 product as np.quantile(method="inverted_cdf").
        ranks = np.clip(np.ceil(qs * float(self.total)), 1, self.total).astype(np.int64)
        cum = np.cumsum(self.counts)
        idx = np.searchsorted(cum, ranks, side="left")
        in_range = idx < len(self.counts)
        lowest, width = self._bounds(np.minimum(idx, len(self.counts) - 1))
        mid = lowest + (width - 1) / 2.0
        out = np.where(in_range, np.clip(mid, self.min_ns, self.max_ns), float(self.max_ns))
        out = np.where(qs >= 1.0, float(self.max_ns), out)
        return out.astype(np.float64)

    def count_above(self, value_ns: int) -> int:
        """Samples whose bucket lies entirely above ``value_ns`` (plus the overflow)."""
        lowest, _ = self._bounds(np.arange(len(self.counts)))
        return int(self.counts[lowest > value_ns].sum()) + self.overflow

    def buckets(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Non-empty buckets as ``(lowest_ns, width_ns, count)`` arrays (overflow excluded)."""
        nz = np.flatnonzero(self.counts)
        lowest, width = self._bounds(nz)
        return lowest, width, self.counts[nz].copy()

    @classmethod
    def from_buckets(
        cls,
        lowest_ns: npt.ArrayLike,
        counts: npt.ArrayLike,
        *,
        overflow: int = 0,
        min_ns: int = 0,
        max_ns: int = 0,
        sum_ns: float = 0.0,
        lowest: int = DEFAULT_LOWEST_NS,
        highest: int = DEFAULT_HIGHEST_NS,
        digits: int = DEFAULT_DIGITS,
    ) -> LatencyHistogram:
        """Rebuild a histogram written with :meth:`buckets` (e.g. from a Parquet table)."""
        h = cls(lowest, highest, digits)
        low = np.asarray(lowest_ns, dtype=np.int64)
        c = np.asarray(counts, dtype=np.int64)
        if low.size:
            np.add.at(h.counts, h._index(low), c)
        h.overflow = int(overflow)
        h.total = int(c.sum()) + h.overflow
        h.min_ns, h.max_ns, h.sum_ns = int(min_ns), int(max_ns), float(sum_ns)
        return h
