"""The end-of-run table of an acceptance session: every check, measured value next to the required one."""

from __future__ import annotations

from collections.abc import Sequence

from engram_harness.checks import Check

_HEADER = ("result", "suite", "check", "measured", "required")


def _unit(c: Check) -> str:
    return f" {c.unit}" if c.unit else ""


def _required(c: Check) -> str:
    if isinstance(c.threshold, tuple):
        return f"in [{c.threshold[0]:g}, {c.threshold[1]:g}]{_unit(c)}"
    return f"{c.comparator} {float(c.threshold):g}{_unit(c)}"


def checks_table(checks: Sequence[Check]) -> list[str]:
    """Aligned text lines: a header, one line per check (in recording order) and a total line."""
    rows = [
        (
            "PASS" if c.passed else "FAIL",
            c.suite or "-",
            c.name,
            f"{float(c.measured):.6g}{_unit(c)}",
            _required(c),
        )
        for c in checks
    ]
    widths = [max(len(r[i]) for r in [_HEADER, *rows]) for i in range(len(_HEADER))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in [_HEADER, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    passed = sum(c.passed for c in checks)
    lines.append(f"{passed} of {len(checks)} checks passed")
    return lines
