"""Progress for long store work, off unless asked for: a tqdm bar when tqdm is installed (the
``server`` extra brings it), else a plain percentage on stderr, so the engine itself needs only
NumPy."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _NoBar:
    def update(self, n: int = 1) -> None:
        """Progress is not shown."""


class _TextBar:
    """``desc: 42% (1.2 of 2.9 MB)`` on stderr (``(3 of 7 files)`` for a unit other than bytes),
    at most every half second and at the end."""

    def __init__(self, total: int, desc: str, unit: str = "B") -> None:
        self.total, self.desc, self.unit, self.done, self._shown = max(total, 1), desc, unit, 0, 0.0

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._shown >= 0.5 or self.done >= self.total:
            self._shown = now
            pct = 100.0 * min(self.done, self.total) / self.total
            amount = (f"{self.done / 1e6:.1f} of {self.total / 1e6:.1f} MB" if self.unit == "B"
                      else f"{self.done} of {self.total} {self.unit}s")  # fmt: skip
            print(f"\r{self.desc}: {pct:3.0f}% ({amount})", end="", file=sys.stderr, flush=True)


@contextmanager
def progress_bar(total: int, desc: str, enabled: bool, unit: str = "B") -> Iterator[Any]:
    """A progress display over ``total`` bytes (or items of another ``unit``, such as "file") when
    enabled, else a no-op with the same ``update``."""
    if not enabled:
        yield _NoBar()
        return
    try:
        from tqdm import tqdm
    except ModuleNotFoundError:
        bar = _TextBar(total, desc, unit)
        yield bar
        print(file=sys.stderr)
        return
    with tqdm(total=total, desc=desc, unit=unit, unit_scale=unit == "B", leave=False) as t:
        yield t
