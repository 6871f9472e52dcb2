"""Offline checks of a store (or a backup directory) without changing it, at three levels (the
seeds' L1-L3):

* ``manifest`` -- a backup's manifest is readable and every file it lists is there with its size
  (and ``FORMAT``); for a store, the record scan below (a store has no manifest);
* ``checksums`` (the default) -- and every file's SHA-256 against the manifest, and every
  checkpoint's and WAL record's CRC32C (``_core.verify_store``);
* ``full`` -- and the store opened: a backup restored (or a store copied, and converted when it is
  of an older format) into a scratch directory, recovered, and every space's ``validate()`` run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from engram.errors import EngramError

LEVELS = ("manifest", "checksums", "full")


def _issue(path: str, detail: str, severity: str = "error") -> dict[str, Any]:
    return {"severity": severity, "file": path, "offset": 0, "detail": detail}


def verify(
    path: str | os.PathLike[str], *, level: str = "checksums", progress: bool = False
) -> dict[str, Any]:
    """Checks a store or backup at ``level`` (see the module's doc).

    Returns {"ok", "level", "checkpoints", "segments", "records", "last_lsn", "issues": [...]}
    (the record counts are 0 at level manifest, which reads no records), and for a readable backup
    "backup_files", "backup_bytes" and "durable_lsn"; each issue has severity ("error" or
    "warning"), file, offset and detail."""
    if level not in LEVELS:
        raise ValueError(f"level={level!r}; expected one of {', '.join(LEVELS)}")
    path = os.fspath(path)
    is_backup = os.path.exists(os.path.join(path, "manifest.json"))
    report: dict[str, Any] = {"ok": True, "level": level, "checkpoints": 0, "segments": 0, "records": 0,
                              "last_lsn": 0, "issues": []}  # fmt: skip
    if is_backup:
        from engram.durability.restore import verify_backup

        try:
            m = verify_backup(path, progress=progress, checksums=level != "manifest")
            report["backup_files"] = len(m["files"])
            report["backup_bytes"] = sum(int(v["bytes"]) for v in m["files"].values())
            report["durable_lsn"] = m.get("durable_lsn")
        except EngramError as e:
            report["issues"].append(_issue(path, str(e)))
    if level != "manifest" or not is_backup:
        from engram import _core

        r = _core.verify_store(path)
        report.update(checkpoints=r.checkpoints, segments=r.segments, records=r.records, last_lsn=r.last_lsn)
        report["issues"] += [
            {"severity": i.severity, "file": i.file, "offset": i.offset, "detail": i.detail} for i in r.issues
        ]
    if level == "full" and not any(i["severity"] == "error" for i in report["issues"]):
        report["issues"] += _open_and_validate(path, is_backup, progress)
    report["ok"] = not any(i["severity"] == "error" for i in report["issues"])
    return report


def _open_and_validate(path: str, is_backup: bool, progress: bool) -> list[dict[str, Any]]:
    """Restores (a backup) or copies (a store) into a scratch directory, opens it and validates
    every space; the problems as issues. The original is never opened: recovery may cut a torn
    tail, and a store may be locked by its server."""
    import engram
    from engram.durability.restore import restore

    issues: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="engram-verify-") as scratch:
        target = os.path.join(scratch, "store")
        try:
            if is_backup:
                results = restore(path, target, progress=progress, validate=True)["validation"]
            else:
                shutil.copytree(path, target, ignore=shutil.ignore_patterns("LOCK"))
                # The copy of a store of an older format is converted as it opens (the original
                # is not touched): validation then also shows that its migration works.
                with engram.Engine(
                    target, dim=8, checkpoint_interval_s=0, checkpoint_wal_bytes=0, migrate=True
                ) as eng:
                    results = {name: eng.space(name).validate() for name in eng.spaces()}
        except EngramError as e:
            return [_issue(path, f"opening a restored copy failed: {e}")]
        for name, v in results.items():
            if not v.get("ok"):
                issues.append(_issue(path, f"space {name!r} fails validate(): {v}"))
    return issues
