"""Send items to a memory space at scheduled times from one thread and record every acknowledgement.

One :class:`Stream` per client (the workflows run one per memory space, concurrently). Sending
is open-loop: item ``i`` is due at ``start + offsets[i]``; if the target falls behind, items go
out back to back and the lag shows in the achieved rate and in the latencies (measured from the
send, not the due time, since the ingest checks are about throughput and stalls).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T")


@dataclass
class Stream(Generic[T]):
    """``send(item) -> id`` is called for each item at ``offsets[i]`` seconds after :meth:`start`."""

    name: str
    items: Sequence[T]
    offsets: npt.NDArray[np.float64]
    send: Callable[[T], int]
    #: Give up (and record the rest as not sent) after this many seconds past the last due time.
    grace_s: float = 60.0
    acked: list[tuple[int, int]] = field(default_factory=list)  # (item index, id)
    errors: list[tuple[int, str]] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        if len(self.items) != len(self.offsets):
            raise ValueError(f"{len(self.items)} items but {len(self.offsets)} offsets")

    def start(self, t0: float | None = None) -> None:
        """Start sending on a daemon thread; ``t0`` (perf_counter time) aligns several streams."""
        origin = time.perf_counter() if t0 is None else t0
        self._thread = threading.Thread(
            target=self._run, args=(origin,), name=f"stream-{self.name}", daemon=True
        )
        self._thread.start()

    def join(self) -> None:
        if self._thread is None:
            raise RuntimeError(f"stream {self.name!r} was never started")
        last_due = float(self.offsets[-1]) if len(self.offsets) else 0.0
        self._thread.join(timeout=last_due + self.grace_s + 10.0)
        if self._thread.is_alive():
            raise TimeoutError(f"stream {self.name!r} did not finish within {last_due + self.grace_s:.0f} s")

    def _run(self, origin: float) -> None:
        deadline = origin + (float(self.offsets[-1]) if len(self.offsets) else 0.0) + self.grace_s
        for i, (item, due) in enumerate(zip(self.items, self.offsets, strict=True)):
            wait = origin + float(due) - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            t = time.perf_counter()
            if t > deadline:
                self.errors.extend(
                    (j, "not sent: stream ran past its deadline") for j in range(i, len(self.items))
                )
                return
            try:
                mid = self.send(item)
            except Exception as exc:  # recorded, then counted by the zero-errors check
                self.errors.append((i, f"{type(exc).__name__}: {exc}"))
                continue
            done = time.perf_counter()
            self.sent_at.append(t)
            self.latencies.append(done - t)
            self.acked.append((i, int(mid)))

    def span_s(self) -> float:
        """Seconds from the first send to the last acknowledgement (0 when nothing was sent)."""
        if not self.sent_at:
            return 0.0
        return self.sent_at[-1] + self.latencies[-1] - self.sent_at[0]
