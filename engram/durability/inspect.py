"""Offline inspection of a store's WAL: every record with its LSN, and the checks recovery tests
need on it (LSNs strictly increasing; every concept record carrying its bindings).

A concept and all its bindings are one ``ConceptCommit`` record (docs/format.md, "7
ConceptCommit"), so "every concept write is followed by its binding writes" means here: each
concept record lists at least one binding, and its bindings are exactly its members.
Read-only, like ``engram verify``; the store must not be open in another process while it runs.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from typing import Any

from engram import _core


@dataclass
class WalCheck:
    segments: int
    records: int
    concept_commits: int
    lsn_regressions: list[tuple[int, int]] = field(default_factory=list)  # (previous, next) not increasing
    concepts_without_bindings: list[int] = field(default_factory=list)  # LSNs
    bindings_not_members: list[int] = field(default_factory=list)  # LSNs: bindings differ from members
    problems: list[str] = field(default_factory=list)  # damaged files or records

    @property
    def ok(self) -> bool:
        return not (self.lsn_regressions or self.concepts_without_bindings or self.bindings_not_members
                    or self.problems)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "segments": self.segments, "records": self.records,
                "concept_commits": self.concept_commits, "lsn_regressions": self.lsn_regressions,
                "concepts_without_bindings": self.concepts_without_bindings,
                "bindings_not_members": self.bindings_not_members, "problems": self.problems}  # fmt: skip


def wal_records(path: str | os.PathLike[str]) -> list[_core.WalRecord]:
    """Every WAL record of the store at ``path``, segments by first LSN, frames in file order."""
    return list(_core.inspect_wal(os.fspath(path)).records)


def check_wal(path: str | os.PathLike[str]) -> WalCheck:
    """Reads the WAL of the store at ``path`` and checks LSN order and the concept records."""
    ins = _core.inspect_wal(os.fspath(path))
    recs = ins.records
    out = WalCheck(segments=ins.segments, records=len(recs), concept_commits=0, problems=list(ins.problems))
    for prev, nxt in itertools.pairwise(recs):
        if nxt.lsn <= prev.lsn:
            out.lsn_regressions.append((prev.lsn, nxt.lsn))
    for r in recs:
        if r.type != "concept_commit":
            continue
        out.concept_commits += 1
        if not r.bindings:
            out.concepts_without_bindings.append(r.lsn)
        elif sorted(r.bindings) != sorted(r.members):
            out.bindings_not_members.append(r.lsn)
    return out
