"""Progress bars for long store work (tqdm), off unless asked for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _NoBar:
    def update(self, n: int = 1) -> None:
        """Progress is not shown."""


@contextmanager
def progress_bar(total: int, desc: str, enabled: bool) -> Iterator[Any]:
    """A tqdm bar over ``total`` bytes when enabled, else a no-op with the same ``update``."""
    if not enabled:
        yield _NoBar()
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit="B", unit_scale=True, leave=False) as bar:
        yield bar
