"""Converting a store in place between format major versions (docs/format.md, "Migration").

This build reads and writes format 2; it converts a format-1 store up to 2, and a format-2 store
back to 1 (a rollback) while the store holds nothing format 1 cannot represent: a flag's rollout
stage blocks a rollback until it ends. The conversion is in C++ (``cpp/include/engram/migrate.hpp``):
it takes the store's LOCK, reads the whole state without changing a file, writes it as one
checkpoint of the target format under a staging name and commits; a crash before the commit
leaves the store as it was, one after it is finished by the next open or migration. The LSN
sequence continues across it. A dry run reads and checks everything, reports what a conversion
would write and what blocks it, and changes nothing.
"""

from __future__ import annotations

import logging
import os
from contextlib import AbstractContextManager, ExitStack
from typing import Any

from engram import _core
from engram.durability.progress import progress_bar

log = logging.getLogger("engram.durability")

# What each phase's progress counts (migrate.hpp, MigrationProgress).
PHASE_UNITS = {"read": "B", "write": "B", "switch": "file"}


class _PhaseBars:
    """The C++ progress callback ``(phase, done, total)`` as one progress bar per phase."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._stack = ExitStack()
        self._phase: str | None = None
        self._bar: Any = None
        self._done = 0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self._phase:
            self.close()
            bar: AbstractContextManager[Any] = progress_bar(
                total, f"migrate: {phase}", self.enabled, PHASE_UNITS.get(phase, "B")
            )
            self._bar = self._stack.enter_context(bar)
            self._phase, self._done = phase, 0
        if done > self._done:
            self._bar.update(done - self._done)
            self._done = done

    def close(self) -> None:
        self._stack.close()
        self._stack = ExitStack()
        self._phase, self._bar = None, None


def report_dict(r: _core.MigrationReport) -> dict[str, Any]:
    """A ``_core.MigrationReport`` as the public dict: ``engram migrate --json`` prints it, with the
    keys of ``engramd migrate``'s report line."""
    return {
        "from": r.from_format,
        "to": r.to_format,
        "dry_run": r.dry_run,
        "changed": r.changed,
        "resumed": r.resumed,
        "lsn": r.lsn,
        "spaces": r.spaces,
        "episodes": r.episodes,
        "concepts": r.concepts,
        "forgotten": r.forgotten,
        "bytes_read": r.bytes_read,
        "checkpoint_bytes": r.checkpoint_bytes,
        "torn_tails": r.torn_tails,
        "seconds": r.seconds,
        "blockers": list(r.blockers),
    }


def migrate(
    path: str | os.PathLike[str],
    to: int = _core.FORMAT_VERSION,
    *,
    dry_run: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Convert the closed store at ``path`` to format ``to`` (default: this build's) in place.

    Returns the report: from and to (the formats), dry_run, changed (false for a dry run or a store
    already in format ``to``), resumed (an interrupted conversion was finished first), lsn (the
    state's last LSN), the counts of spaces, episodes, concepts and forgotten memories, bytes_read,
    checkpoint_bytes (of the new checkpoint), torn_tails (cut in memory while reading), seconds and
    blockers (why a conversion would lose something; a dry run lists them). StorageError, with
    nothing changed, when the store is open elsewhere, damaged, or a conversion is blocked.
    ``progress`` shows a bar per phase (read, write, switch) on stderr.
    """
    path = os.fspath(path)
    bars = _PhaseBars(progress)
    try:
        rep = report_dict(_core.migrate_store(path, int(to), dry_run, bars))
    finally:
        bars.close()
    if rep["resumed"]:
        log.warning("finished the interrupted conversion of %s before anything else", path)
    if rep["changed"]:
        log.info(
            "migrated %s from store format %d to %d in %.3f s: LSN %d, %d spaces, %d episodes, %d concepts",
            path,
            rep["from"],
            rep["to"],
            rep["seconds"],
            rep["lsn"],
            rep["spaces"],
            rep["episodes"],
            rep["concepts"],
        )
    return rep
