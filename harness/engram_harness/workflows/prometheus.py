"""Parse the Prometheus text exposition and tell whether series moved between two scrapes."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

Labels = frozenset[tuple[str, str]]
Samples = dict[tuple[str, Labels], float]

# Label values may contain braces (route templates such as "/spaces/{space}"), so the label
# block is matched as a sequence of quoted values and other characters.
_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[^"}]|"(?:[^"\\]|\\.)*")*)\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str) -> Samples:
    """``{(metric name, labels): value}`` for every sample line (comments and blank lines skipped).

    Raises ``ValueError`` naming the line when a sample line does not parse, so a malformed
    exposition fails the workflow instead of reading as "no movement".
    """
    out: Samples = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            raise ValueError(f"line {n} of the /metrics text is not a Prometheus sample: {raw!r}")
        labels = frozenset(_LABEL.findall(m.group(3) or ""))
        value = m.group(4)
        out[(m.group(1), labels)] = math.inf if value == "+Inf" else float(value)
    return out


def series_sum(samples: Samples, name: str, **labels: str) -> float:
    """Sum of every sample of ``name`` whose labels include ``labels`` (0.0 when none)."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def has_series(samples: Samples, name: str) -> bool:
    return any(n == name for n, _ in samples)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much the summed series grew between two scrapes (negative if it shrank)."""
    return series_sum(after, name, **labels) - series_sum(before, name, **labels)


def as_mapping(samples: Samples) -> Mapping[str, float]:
    """A readable ``name{k="v",...}`` -> value view (for reports and failure messages)."""
    return {
        f"{n}{{{','.join(f'{k}={v!r}' for k, v in sorted(ls))}}}": v for (n, ls), v in sorted(samples.items())
    }
