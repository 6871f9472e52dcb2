"""A thread-safe record of client operations, in the manner of Jepsen: each operation is invoked,
then completes ok, failed (the server refused it: it had no effect) or unknown (a timeout or a lost
connection: it may or may not have taken effect).

A logical write is identified by its content, which must be unique per write: retries of the same
write (with or without its idempotency key) are further invocations with the same content, so the
checker can tell a write stored twice from two writes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt


class Outcome(str, Enum):
    PENDING = "pending"  # invoked, not completed (the run ended first: treated like unknown)
    OK = "ok"
    FAILED = "failed"
    UNKNOWN = "unknown"


class Kind(str, Enum):
    WRITE = "write"
    READ = "read"


@dataclass
class Operation:
    """One invocation. Writes carry the content (and embedding, so the checker can search for
    copies); reads carry the values they returned."""

    index: int
    kind: Kind
    invoked_at: float
    content: str | None = None
    key: str | None = None  # the idempotency key sent (None: sent without one)
    embedding: npt.NDArray[np.float32] | None = None
    outcome: Outcome = Outcome.PENDING
    completed_at: float | None = None
    memory_id: int | None = None  # an ok write's id
    values: tuple[str, ...] = ()  # an ok read's returned contents
    error: str | None = None
    thread: str = ""


@dataclass
class LogicalWrite:
    """Every invocation of one write (same content), in invocation order."""

    content: str
    invocations: list[Operation] = field(default_factory=list)

    @property
    def acked(self) -> bool:
        return any(op.outcome is Outcome.OK for op in self.invocations)

    @property
    def failed(self) -> bool:
        """True only when every invocation was refused: then the write must not be visible."""
        return all(op.outcome is Outcome.FAILED for op in self.invocations)

    @property
    def unknown(self) -> bool:
        return not self.acked and not self.failed

    @property
    def acked_ids(self) -> list[int]:
        return [
            op.memory_id for op in self.invocations if op.outcome is Outcome.OK and op.memory_id is not None
        ]

    @property
    def embedding(self) -> npt.NDArray[np.float32] | None:
        return next((op.embedding for op in self.invocations if op.embedding is not None), None)

    @property
    def first_invoked_at(self) -> float:
        return self.invocations[0].invoked_at


class History:
    """Append-only and thread-safe: workers call :meth:`invoke_write` / :meth:`invoke_read`, then
    exactly one of :meth:`ok`, :meth:`fail`, :meth:`unknown` with the index they got."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._ops: list[Operation] = []
        self._clock = clock

    # ------------------------------------------------------------------ recording
    def invoke_write(self, content: str, key: str | None = None,
                     embedding: npt.ArrayLike | None = None) -> int:  # fmt: skip
        if not isinstance(content, str) or not content:
            raise ValueError(f"a write needs a non-empty str content (its identity); got {content!r}")
        emb = None if embedding is None else np.asarray(embedding, dtype=np.float32).ravel().copy()
        return self._append(Operation(0, Kind.WRITE, self._clock(), content=content, key=key, embedding=emb,
                                      thread=threading.current_thread().name))  # fmt: skip

    def invoke_read(self) -> int:
        return self._append(Operation(0, Kind.READ, self._clock(), thread=threading.current_thread().name))

    def _append(self, op: Operation) -> int:
        with self._lock:
            op.index = len(self._ops)
            self._ops.append(op)
            return op.index

    def _complete(self, index: int, outcome: Outcome, **fields: Any) -> None:
        with self._lock:
            if not 0 <= index < len(self._ops):
                raise ValueError(f"no operation {index} (the history has {len(self._ops)})")
            op = self._ops[index]
            if op.outcome is not Outcome.PENDING:
                raise ValueError(f"operation {index} already completed as {op.outcome.value}")
            op.outcome = outcome
            op.completed_at = self._clock()
            for k, v in fields.items():
                setattr(op, k, v)

    def ok(self, index: int, *, memory_id: int | None = None, values: Sequence[str] = ()) -> None:
        """A write acknowledged with its id, or a read that returned ``values`` (contents)."""
        self._complete(index, Outcome.OK, memory_id=None if memory_id is None else int(memory_id),
                       values=tuple(values))  # fmt: skip

    def fail(self, index: int, error: str) -> None:
        """The server answered with a refusal: the operation had no effect."""
        self._complete(index, Outcome.FAILED, error=error)

    def unknown(self, index: int, error: str) -> None:
        """No answer (timeout, reset, crash): the write may or may not have been applied."""
        self._complete(index, Outcome.UNKNOWN, error=error)

    # ------------------------------------------------------------------ reading
    def operations(self) -> list[Operation]:
        with self._lock:
            return list(self._ops)

    def writes(self) -> list[LogicalWrite]:
        """Logical writes (grouped by content), in order of first invocation."""
        by_content: dict[str, LogicalWrite] = {}
        for op in self.operations():
            if op.kind is Kind.WRITE:
                assert op.content is not None
                by_content.setdefault(op.content, LogicalWrite(op.content)).invocations.append(op)
        return list(by_content.values())

    def as_of(self, invoked_before: float, acked_before: float | None = None) -> History:
        """The writes as a store restored to a point in time must hold them (a backup's restore
        point): a write acknowledged before ``acked_before`` (default ``invoked_before``) must be
        there, so it stays acknowledged; a write first invoked at or after ``invoked_before`` must
        not be, so it counts as refused (the checker flags a copy of it as a phantom); any other
        write was in flight across the point and may go either way (unknown). Reads are left out.
        Times are this history's clock. For an LSN point, ``invoked_before`` is when the call that
        read the LSN returned and ``acked_before`` when it was sent."""
        acked_before = invoked_before if acked_before is None else acked_before
        if acked_before > invoked_before:
            raise ValueError(f"acked_before {acked_before} is after invoked_before {invoked_before}")
        cut = History(self._clock)
        for w in self.writes():
            first = w.invocations[0]
            acked = next((op for op in w.invocations if op.outcome is Outcome.OK
                          and op.completed_at is not None and op.completed_at < acked_before), None)  # fmt: skip
            if acked is not None:
                outcome, fields = (
                    Outcome.OK,
                    {"memory_id": acked.memory_id, "completed_at": acked.completed_at},
                )
            elif first.invoked_at >= invoked_before:
                outcome, fields = Outcome.FAILED, {"error": "invoked after the restore point"}
            else:
                outcome, fields = Outcome.UNKNOWN, {"error": "in flight at the restore point"}
            cut._append(Operation(0, Kind.WRITE, first.invoked_at, content=w.content, key=first.key,
                                  embedding=w.embedding, outcome=outcome, thread=first.thread, **fields))  # fmt: skip
        return cut

    def only(self, keep: Any) -> History:
        """A copy holding the writes whose content ``keep(content)`` accepts (every invocation of
        each, outcomes kept), for checking a part of a run separately."""
        sub = History(self._clock)
        for op in self.operations():
            if op.kind is Kind.WRITE and keep(op.content):
                sub._append(replace(op))
        return sub

    def reads(self) -> list[Operation]:
        return [op for op in self.operations() if op.kind is Kind.READ]

    def __len__(self) -> int:
        with self._lock:
            return len(self._ops)

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.operations())
