"""The history checker: after a run, compare what the clients were told with what the server holds.

Rules (Jepsen's, for a set of writes): every acknowledged write must be readable with its content
(else *lost*); no write may be stored more than once (else *duplicated*, e.g. an unknown write
retried without its idempotency key); a refused write must not be visible and a read must not
return a value nobody wrote, or a value whose write had not been invoked yet (else *phantom*).
Unknown writes may go either way, but never twice.

:func:`check` is pure (a history and a :class:`FinalState`); :func:`read_final_state` fills the
state through the public client: ``get`` of each acknowledged id, and a search by each write's
exact embedding for its copies, confirmed by content.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engram_harness.chaos.errors import ChaosError
from engram_harness.chaos.history import History, LogicalWrite, Outcome


@dataclass(frozen=True)
class StoredCopy:
    memory_id: int
    content: str


@dataclass
class FinalState:
    """What the server holds after the run, as far as the history's writes are concerned."""

    by_id: dict[int, str | None] = field(default_factory=dict)  # acked id -> content (None: not found)
    copies: dict[str, list[StoredCopy]] = field(default_factory=dict)  # write content -> stored copies
    total_records: int | None = None  # records in the space (None: not known / space shared)


@dataclass
class Anomaly:
    kind: str  # "lost" | "duplicated" | "phantom"
    content: str
    detail: str


@dataclass
class CheckReport:
    sent: int  # logical writes invoked
    invocations: int  # write invocations, retries included
    acked: int
    rejected: int  # every invocation refused
    unknown: int
    unknown_applied: int  # unknown writes found stored (once)
    recalled: int  # acked writes read back with their content
    reads: int
    lost: list[Anomaly] = field(default_factory=list)
    duplicated: list[Anomaly] = field(default_factory=list)
    phantom: list[Anomaly] = field(default_factory=list)
    unattributed_records: int = 0  # records in the space that no write of the history explains

    @property
    def data_loss(self) -> int:
        return self.acked - self.recalled

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.phantom or self.unattributed_records)

    def counts(self) -> dict[str, int]:
        return {"sent": self.sent, "invocations": self.invocations, "acked": self.acked,
                "rejected": self.rejected, "unknown": self.unknown, "unknown_applied": self.unknown_applied,
                "recalled": self.recalled, "data_loss": self.data_loss, "reads": self.reads,
                "lost": len(self.lost), "duplicated": len(self.duplicated), "phantom": len(self.phantom),
                "unattributed_records": self.unattributed_records}  # fmt: skip

    def record(self, checks: Any, where: str = "") -> None:
        """The checker's verdict as a suite's checks (``checks``: an ``engram_harness.checks``
        ``CheckRecorder``): something was acknowledged, and 0 lost, 0 data loss, 0 stored twice,
        0 phantom, 0 records no write explains. ``where`` ends each check's name (" across the
        kills")."""
        checks.check("acknowledged writes" + where, self.acked, ">", 0)
        checks.check("acknowledged writes lost" + where, len(self.lost), "==", 0)
        checks.check("data loss (acked - recalled)" + where, self.data_loss, "==", 0)
        checks.check("writes stored twice" + where, len(self.duplicated), "==", 0)
        checks.check("phantom operations" + where, len(self.phantom), "==", 0)
        checks.check("records no write explains" + where, self.unattributed_records, "==", 0)

    def summary(self) -> str:
        c = self.counts()
        head = " ".join(f"{k}={v}" for k, v in c.items())
        shown = [
            f"  {a.kind}: {a.content!r}: {a.detail}"
            for a in [*self.lost, *self.duplicated, *self.phantom][:20]
        ]
        return "\n".join([f"history check {'OK' if self.ok else 'FAILED'}: {head}", *shown])


def check(history: History, state: FinalState) -> CheckReport:
    writes = history.writes()
    by_content = {w.content: w for w in writes}
    rep = CheckReport(sent=len(writes), invocations=sum(len(w.invocations) for w in writes),
                      acked=0, rejected=0, unknown=0, unknown_applied=0, recalled=0,
                      reads=0)  # fmt: skip
    explained: set[int] = set()
    for w in writes:
        copies = _distinct(state.copies.get(w.content, []))
        explained.update(c.memory_id for c in copies)
        if len(copies) > 1:
            rep.duplicated.append(Anomaly("duplicated", w.content,
                                          f"stored {len(copies)} times: ids {[c.memory_id for c in copies]}; "
                                          f"invocations {_keys(w)}"))  # fmt: skip
        if w.acked:
            rep.acked += 1
            ids = set(w.acked_ids)
            if len(ids) > 1:
                rep.duplicated.append(
                    Anomaly("duplicated", w.content, f"acknowledged with different ids {sorted(ids)}")
                )
            readback = [state.by_id.get(i) for i in ids]
            if ids and all(r == w.content for r in readback):
                rep.recalled += 1
                explained.update(ids)
            else:
                got = {i: state.by_id.get(i, "<not read>") for i in ids}
                rep.lost.append(Anomaly("lost", w.content, f"acknowledged as {sorted(ids)}; read back {got}"))
        elif w.failed:
            rep.rejected += 1
            if copies:
                errors = [op.error for op in w.invocations]
                rep.phantom.append(Anomaly("phantom", w.content,
                                           f"refused ({errors}) but stored as {[c.memory_id for c in copies]}"))  # fmt: skip
        else:
            rep.unknown += 1
            rep.unknown_applied += 1 if copies else 0
    for op in history.reads():
        if op.outcome is not Outcome.OK:
            continue
        rep.reads += 1
        for v in op.values:
            w = by_content.get(v)
            if w is None:
                rep.phantom.append(Anomaly("phantom", v, f"read {op.index} returned a value never written"))
            elif w.failed:
                rep.phantom.append(Anomaly("phantom", v, f"read {op.index} returned a refused write"))
            elif op.completed_at is not None and w.first_invoked_at > op.completed_at:
                rep.phantom.append(
                    Anomaly("phantom", v, f"read {op.index} returned a write invoked after it")
                )
    if state.total_records is not None:
        rep.unattributed_records = max(0, state.total_records - len(explained))
    return rep


def _distinct(copies: Iterable[StoredCopy]) -> list[StoredCopy]:
    seen: dict[int, StoredCopy] = {}
    for c in copies:
        seen.setdefault(c.memory_id, c)
    return list(seen.values())


def _keys(w: LogicalWrite) -> list[str]:
    return [f"{op.outcome.value}(key={op.key})" for op in w.invocations]


def read_final_state(space: Any, history: History, *, k: int = 8, min_score: float = 0.999,
                     count_records: bool = True) -> FinalState:  # fmt: skip
    """Read what ``space`` (a :class:`engram.client.RemoteSpace`, or an in-process
    :class:`engram.Space`: a restored store read directly) holds for the history's writes.

    Each write with an embedding is searched for by that embedding (``k`` nearest); hits scoring at
    least ``min_score`` are fetched and kept when their content equals the write's. Writes must use
    distinct embeddings (random ones are). ``count_records``: the space holds only this history's
    writes, so any record beyond them is reported as unattributed.
    """
    from engram.errors import MemoryNotFound  # the client's MemoryNotFound derives from it

    state = FinalState()
    fetched: dict[int, str | None] = {}

    def content_of(i: int) -> str | None:
        if i not in fetched:
            try:
                fetched[i] = space.get(i).content
            except MemoryNotFound:
                fetched[i] = None
        return fetched[i]

    for w in history.writes():
        for i in w.acked_ids:
            state.by_id[i] = content_of(i)
        emb = w.embedding
        if emb is None:
            continue
        ids, scores = space.search(emb, k=k)
        found = [StoredCopy(int(i), w.content) for i, s in zip(ids.tolist(), scores.tolist(), strict=True)
                 if s >= min_score and content_of(int(i)) == w.content]  # fmt: skip
        if len(found) == k:
            raise ChaosError(f"write {w.content!r} has at least {k} stored copies; search with a larger k")
        state.copies[w.content] = found
    if count_records:
        state.total_records = len(space)
    return state
