"""Offline checks of a store (or a backup directory) without changing it."""

from __future__ import annotations

import os
from typing import Any

from engram import _core
from engram.errors import EngramError


def verify(path: str | os.PathLike[str], *, progress: bool = False) -> dict[str, Any]:
    """Checks every checkpoint and WAL segment (and, for a backup, every file's SHA-256).

    Returns {"ok", "checkpoints", "segments", "records", "last_lsn", "issues": [...]}; each
    issue has severity ("error" or "warning"), file, offset and detail."""
    path = os.fspath(path)
    r = _core.verify_store(path)
    report: dict[str, Any] = {
        "ok": r.ok,
        "checkpoints": r.checkpoints,
        "segments": r.segments,
        "records": r.records,
        "last_lsn": r.last_lsn,
        "issues": [
            {"severity": i.severity, "file": i.file, "offset": i.offset, "detail": i.detail} for i in r.issues
        ],
    }
    if os.path.exists(os.path.join(path, "manifest.json")):
        from engram.durability.restore import verify_backup

        try:
            verify_backup(path, progress=progress)
        except EngramError as e:
            report["issues"].append({"severity": "error", "file": path, "offset": 0, "detail": str(e)})
            report["ok"] = False
    return report
