"""Read the Prometheus text exposition (with ``prometheus_client``'s parser) and tell whether series
moved between two scrapes."""

from __future__ import annotations

import math
from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

Labels = frozenset[tuple[str, str]]
Samples = dict[tuple[str, Labels], float]

# What prometheus_client's parser raises on malformed text (IndexError on some truncated label sets).
_PARSE_ERRORS = (ValueError, IndexError)


def parse_prometheus(text: str) -> Samples:
    """``{(sample name, labels): value}`` for every sample of the exposition.

    Sample names are as exposed (``engram_operations_total``, ``..._bucket``, ``..._count``). Raises
    ``ValueError`` naming the line when the text does not parse, so a malformed exposition fails the
    workflow instead of reading as "no movement".
    """
    out: Samples = {}
    try:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                out[(s.name, frozenset(s.labels.items()))] = float(s.value)
    except _PARSE_ERRORS as exc:
        raise ValueError(_describe_error(text, exc)) from exc
    return out


def _describe_error(text: str, exc: Exception) -> str:
    """Name the first line that fails on its own (the parser's own message has no line number)."""
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            list(text_string_to_metric_families(line + "\n"))
        except _PARSE_ERRORS as line_exc:
            return f"line {n} of the /metrics text is not a Prometheus sample: {raw!r} ({line_exc})"
    return f"the /metrics text is not a Prometheus exposition: {exc}"


def series_sum(samples: Samples, name: str, **labels: str) -> float:
    """Sum of every sample of ``name`` whose labels include ``labels`` (0.0 when none)."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def has_series(samples: Samples, name: str, **labels: str) -> bool:
    """Whether a sample of ``name`` whose labels include ``labels`` is exposed."""
    want = set(labels.items())
    return any(n == name and want <= ls for n, ls in samples)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much the summed series grew between two scrapes (negative if it shrank).

    NaN when the later scrape has no such series at all: a series that is not exposed measured
    nothing, and a check such as ``moved(...) == len(log)`` with an empty log must not pass on 0 - 0.
    A series absent only from the earlier scrape counts from 0 (it appeared with its first sample).
    """
    if not has_series(after, name, **labels):
        return math.nan
    return series_sum(after, name, **labels) - series_sum(before, name, **labels)


def as_mapping(samples: Samples) -> Mapping[str, float]:
    """A readable ``name{k="v",...}`` -> value view (for reports and failure messages)."""
    return {
        f"{n}{{{','.join(f'{k}={v!r}' for k, v in sorted(ls))}}}": v for (n, ls), v in sorted(samples.items())
    }
