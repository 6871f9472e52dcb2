"""Retry policy: exponential backoff with full jitter, honouring the server's Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # tries in all, the first included
    base_s: float = 0.05
    max_s: float = 2.0
    deadline_s: float = 30.0  # no retry starts after this long since the first try

    def delay(
        self, attempt: int, retry_after_s: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 0)."""
        cap = min(self.max_s, self.base_s * (2**attempt))
        d = (rng or random).uniform(0, cap)  # full jitter: clients that failed together spread out
        if retry_after_s is not None:
            d = max(d, min(retry_after_s, self.max_s * 4))
        return d
