"""Opening a durable store: settings, recovery, and logging what recovery found."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engram import _core

log = logging.getLogger("engram.durability")

DURABILITY_MODES = ("fsync", "group", "none")


@dataclass(frozen=True)
class StoreSettings:
    """How a durable engine writes.

    durability: "fsync" (each write syncs before it returns), "group" (writers waiting together
    share one sync; a write still returns only once durable) or "none" (writes return at once and
    a background thread syncs every ``flush_interval_s``: a crash loses at most that window).
    Checkpoints run in the background every ``checkpoint_interval_s`` or after
    ``checkpoint_wal_bytes`` of WAL, whichever comes first (0 disables either). Writes are
    refused ("disk full") while the store's file system is at least ``disk_full_fraction`` full
    (0.5 to 1; 1 leaves it to the disk's own ENOSPC).
    """

    durability: str = "group"
    checkpoint_interval_s: float = 300.0
    checkpoint_wal_bytes: int = 256 << 20
    segment_bytes: int = 64 << 20
    flush_interval_s: float = 0.05
    disk_full_fraction: float = 0.95


def open_store(
    core: _core.Engine,
    path: str,
    settings: StoreSettings,
    *,
    until_lsn: int | None = None,
    until_time_ns: int | None = None,
    migrate: bool = False,
) -> dict[str, Any]:
    """Open (or create) the store at ``path`` in ``core`` and recover it; returns the recovery info.

    A store of an older format is refused (StorageError naming ``engram migrate``) unless
    ``migrate``, which converts it in place first (engram.durability.migrate)."""
    if settings.durability not in DURABILITY_MODES:
        from engram.errors import InvalidInputError

        raise InvalidInputError(
            f"durability must be one of {', '.join(DURABILITY_MODES)}, got {settings.durability!r}"
        )
    core.open_store(
        path,
        settings.durability,
        settings.segment_bytes,
        settings.checkpoint_interval_s,
        settings.checkpoint_wal_bytes,
        settings.flush_interval_s,
        settings.disk_full_fraction,
        until_lsn,
        until_time_ns,
        migrate,
    )
    info = recovery_dict(core.recovery_info())
    log_recovery(path, info)
    return info


def recovery_dict(r: _core.RecoveryInfo) -> dict[str, Any]:
    """The recovery report as the public dict (Engine.recovery_info, restore)."""
    return {
        "durable": r.durable,
        "duration_s": r.duration_s,
        "checkpoint_lsn": r.checkpoint_lsn,
        "records_replayed": r.records_replayed,
        "records_skipped": r.records_skipped,
        "last_lsn": r.last_lsn,
        "torn_tails": r.torn_tails,
        "corruptions": r.corruptions,
        "unclean_shutdown": r.unclean_shutdown,
        "previous_pid": r.previous_pid,
        "crash_phase": r.crash_phase,
        "orphaned_concepts": r.orphaned_concepts,
        "partial_bindings": r.partial_bindings,
        "migrated_from": r.migrated_from,
        "migration_s": r.migration_s,
        "events": [
            {
                "kind": e.kind,
                "file": e.file,
                "offset": e.offset,
                "detail": e.detail,
                "quarantined_to": e.quarantined_to,
            }
            for e in r.events
        ],
    }


def wal_stats_dict(w: _core.WalStats) -> dict[str, Any]:
    """Write-ahead log counters as the public dict (Engine.wal_stats)."""
    return {
        "appends": w.appends,
        "bytes_written": w.bytes_written,
        "syncs": w.syncs,
        "storage_errors": w.storage_errors,
        "segments_created": w.segments_created,
        "last_lsn": w.last_lsn,
        "durable_lsn": w.durable_lsn,
        "bytes_since_checkpoint": w.bytes_since_checkpoint,
        "failed": w.failed,
        "last_error": w.last_error,
    }


def log_recovery(path: str, info: dict[str, Any]) -> None:
    """The previous process's crash (when it did not close the store), a conversion from an older
    format (``migrate``), one line per event (file and offset), then a summary."""
    if info["unclean_shutdown"]:
        log.warning(
            "crash detected: the previous process (pid %d) did not close %s; it was in phase %s",
            info["previous_pid"],
            path,
            info["crash_phase"] or "unknown",
        )
    if info["migrated_from"]:
        from engram import _core

        log.info(
            "migrated %s from store format %d to %d as it opened, in %.3f s",
            path,
            info["migrated_from"],
            _core.FORMAT_VERSION,
            info["migration_s"],
        )
    for ev in info["events"]:
        level = logging.WARNING if ev["kind"] == "torn_tail" else logging.ERROR
        where = f" -> {ev['quarantined_to']}" if ev["quarantined_to"] else ""
        log.log(
            level,
            "recovery %s: %s at offset %d: %s%s",
            ev["kind"],
            ev["file"],
            ev["offset"],
            ev["detail"],
            where,
        )
    log.info(
        "recovered %s in %.3f s: checkpoint LSN %d, %d WAL records replayed, last LSN %d",
        path,
        info["duration_s"],
        info["checkpoint_lsn"],
        info["records_replayed"],
        info["last_lsn"],
    )
