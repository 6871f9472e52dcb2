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
    """``desc: 42% (1.2 of 2.9 MB)`` on stderr, at most every half second and at the end."""

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.done, self._shown = max(total, 1), desc, 0, 0.0

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._shown >= 0.5 or self.done >= self.total:
            self._shown = now
            pct = 100.0 * min(self.done, self.total) / self.total
            print(f"\r{self.desc}: {pct:3.0f}% ({self.done / 1e6:.1f} of {self.total / 1e6:.1f} MB)",
                  end="", file=sys.stderr, flush=True)  # fmt: skip


@contextmanager
def progress_bar(total: int, desc: str, enabled: bool) -> Iterator[Any]:
    """A progress display over ``total`` bytes when enabled, else a no-op with the same ``update``."""
    if not enabled:
        yield _NoBar()
        return
    try:
        from tqdm import tqdm
    except ModuleNotFoundError:
        bar = _TextBar(total, desc)
        yield bar
        print(file=sys.stderr)
        return
    with tqdm(total=total, desc=desc, unit="B", unit_scale=True, leave=False) as t:
        yield t
