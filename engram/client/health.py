"""The link to one server as a client sees it: consecutive transport failures (timeouts, refused
or reset connections; any HTTP answer, error statuses included, is the server answering).

At ``threshold`` failures in a row the client logs that a partition is suspected (logger
``engram.client``, WARNING) and counts it; the next answer logs that the link is back (INFO) with
how long it was out. This is the operator's first evidence of a partition: a blackholed server
sees no requests, so no server-side metric can move.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

log = logging.getLogger("engram.client")


class LinkHealth:
    def __init__(self, url: str, threshold: int = 3) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be at least 1 failure; got {threshold!r}")
        self.url, self.threshold = url, threshold
        self._lock = threading.Lock()
        self.transport_failures = 0  # all, since the client was made
        self.partitions_suspected = 0  # times the link went from healthy to suspected
        self.consecutive = 0  # failures since the last answer
        self.suspected_since: float | None = None  # monotonic time of the suspicion, while suspected

    @property
    def suspected(self) -> bool:
        return self.suspected_since is not None

    def failure(self, error: BaseException) -> None:
        """A request got no answer (the transport failed)."""
        with self._lock:
            self.transport_failures += 1
            self.consecutive += 1
            if self.consecutive < self.threshold or self.suspected_since is not None:
                return
            self.suspected_since = time.monotonic()
            self.partitions_suspected += 1
            n = self.consecutive
        log.warning(
            "partition suspected: %d consecutive requests to %s got no answer (last: %s)", n, self.url, error
        )

    def answered(self) -> None:
        """The server answered a request (whatever the status)."""
        with self._lock:
            self.consecutive = 0
            since, self.suspected_since = self.suspected_since, None
        if since is not None:
            log.info("partition healed: %s answers again after %.1f s", self.url, time.monotonic() - since)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"url": self.url, "suspected": self.suspected_since is not None,
                    "consecutive_failures": self.consecutive, "transport_failures": self.transport_failures,
                    "partitions_suspected": self.partitions_suspected}  # fmt: skip
