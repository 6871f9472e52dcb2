"""``engram backup``, ``engram restore``, ``engram verify`` and ``engram migrate``: argument wiring and
output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from typing import Any

from engram.durability.verify import LEVELS
from engram.errors import InvalidInputError


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "backup",
        help="back up a running server's store (--url) or a closed store directory; incremental into an "
        "existing backup",
        description="engram backup --url URL [--api-key KEY] NAME: a hot backup by the running server into "
        "NAME under its --backup-dir, while it serves. engram backup STORE DEST: a closed store "
        "directory (not open in another process) into the directory DEST.",
    )
    p.add_argument(
        "target",
        nargs="+",
        metavar="NAME | STORE DEST",
        help="with --url: the backup's name; otherwise the store and backup directories",
    )
    p.add_argument("--url", help="the server (e.g. http://127.0.0.1:7432)")
    p.add_argument(
        "--api-key",
        default=os.environ.get("ENGRAM_API_KEY"),
        help="an admin key granted '*' (default: $ENGRAM_API_KEY)",
    )
    p.add_argument("--full", action="store_true", help="start a new backup chain (with --url)")
    p.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds to wait for the server (with --url)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="restore a backup into a new store, optionally to a point in time")
    p.add_argument("backup", help="the backup directory")
    p.add_argument("dest", help="the new store directory (must not exist or be empty)")
    p.add_argument("--until-lsn", type=int, help="keep records up to this LSN")
    p.add_argument("--until-time", help="keep records written up to this time (Unix seconds or ISO 8601)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("verify", help="check a store or backup offline; exit status 1 on any problem")
    p.add_argument("path", help="the store or backup directory")
    p.add_argument(
        "--level",
        choices=LEVELS,
        default="checksums",
        help="manifest: every listed file is there with its size; checksums (default): and every "
        "file's SHA-256 and record checksums; full: and a restore into a scratch directory that "
        "opens and validates every space",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_verify)

    _add_migrate(sub)


MIGRATE_DESCRIPTION = """\
Convert a closed store directory (not open in any process: stop the server first) in place to
another format version (docs/format.md, Migration). This build serves format 2 and refuses a
format-1 store until it is converted: `engram migrate STORE` upgrades it to 2.

Dry run: --dry-run reads and checks the whole store, reports what the conversion would write
(counts, bytes) and lists anything that blocks it, and changes nothing. Run it first.

Rollback: --to 1 converts a format-2 store back to format 1, for going back to a build of format
1. It is refused, changing nothing, while the store holds something format 1 cannot represent: a
flag's rollout stage (end it first: PUT /admin/features {"rollout": {"FLAG": null}} on the server,
or Engine.set_rollout(FLAG, None), and set the flag to the value it should keep); the dry run lists
these blockers.

A conversion writes the whole state as one checkpoint of the new format and switches to it; the
LSN sequence continues. A crash before its commit leaves the store as it was; after it, the next
open or migration finishes the switch. A store with damage is refused: open it with the build of
its format first (recovery quarantines the damage), or restore a backup.

Exit status: 0 when converted (or already in that format, or a dry run found no blockers); 1 when
blocked or refused (the reason on stderr)."""


def _add_migrate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "migrate",
        help="convert a closed store to another format version in place (upgrade to 2, or roll back to 1)",
        description=MIGRATE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("store", help="the store directory")
    p.add_argument(
        "--to",
        type=int,
        choices=(1, 2),  # _core.OLDEST_FORMAT_VERSION .. FORMAT_VERSION (not imported: keeps --help fast)
        default=2,
        help="the target format: 2 (default) upgrades, 1 rolls back",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="read and check everything, report, list blockers; change nothing",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_migrate)


def cmd_backup(args: argparse.Namespace) -> int:
    if args.url:
        return _backup_remote(args)
    if len(args.target) != 2:
        raise InvalidInputError(
            f"engram backup takes STORE DEST (two directories), or NAME with --url; got {len(args.target)} "
            f"argument(s): {' '.join(args.target)}"
        )
    if args.full:
        raise InvalidInputError("--full applies to --url backups (a store directory's backup starts a new chain "
                                "when DEST holds none of this store)")  # fmt: skip
    import engram

    store, dest = args.target
    with engram.Engine(store, dim=8, checkpoint_interval_s=0, checkpoint_wal_bytes=0) as eng:
        m = eng.backup(dest, progress=not args.no_progress)
    if args.json:
        print(json.dumps({k: v for k, v in m.items() if k != "files"}, indent=1))
        return 0
    kind = "incremental" if m["incremental"] else "full"
    print(f"{kind} backup of {store} to {dest}: durable LSN {m['durable_lsn']}, {m['bytes_shipped']} bytes")
    return 0


def _backup_remote(args: argparse.Namespace) -> int:
    if len(args.target) != 1:
        raise InvalidInputError(
            f"engram backup --url takes one NAME (the backup's directory under the server's --backup-dir); "
            f"got {len(args.target)}: {' '.join(args.target)}"
        )
    from engram.client import Client
    from engram.client.errors import RemoteError

    with Client(args.url, api_key=args.api_key) as c:
        try:
            r = c.backup(args.target[0], full=args.full, timeout=args.timeout)
        except RemoteError as e:
            print(f"engram backup: {e}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(r, indent=1))
        return 0
    kind = "incremental" if r["incremental"] else "full"
    print(f"{kind} backup by {args.url} to {r['path']}: durable LSN {r['durable_lsn']}, "
          f"{r['bytes_shipped']} bytes shipped in {r['seconds']:.2f} s ({r['mb_per_s']:.1f} MB/s), "
          f"{r['bytes_total']} bytes in {r['files']} files")  # fmt: skip
    return 0


def _parse_time(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return datetime.fromisoformat(text).timestamp()


def cmd_restore(args: argparse.Namespace) -> int:
    from engram.durability.restore import restore

    info = restore(
        args.backup,
        args.dest,
        until_lsn=args.until_lsn,
        until_time=_parse_time(args.until_time),
        progress=not args.no_progress,
    )
    print(f"restored {args.backup} to {args.dest}: last LSN {info['last_lsn']}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from engram.durability.verify import verify

    report = verify(args.path, level=args.level)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for issue in report["issues"]:
            print(f"{issue['severity']}: {issue['file']} at offset {issue['offset']}: {issue['detail']}")
        status = "ok" if report["ok"] else "PROBLEMS FOUND"
        parts = []
        if "backup_files" in report:
            parts.append(f"backup of {report['backup_files']} files, {report['backup_bytes']} bytes, "
                         f"durable LSN {report['durable_lsn']}")  # fmt: skip
        if args.level != "manifest" or "backup_files" not in report:
            parts.append(f"{report['checkpoints']} checkpoints, {report['segments']} segments, "
                         f"{report['records']} WAL records, last LSN {report['last_lsn']}")  # fmt: skip
        print(f"{args.path}: {status} at level {args.level} ({'; '.join(parts)})",
              file=sys.stdout if report["ok"] else sys.stderr)  # fmt: skip
    return 0 if report["ok"] else 1


def cmd_migrate(args: argparse.Namespace) -> int:
    from engram.durability.migrate import migrate
    from engram.errors import StorageError

    try:
        rep = migrate(args.store, args.to, dry_run=args.dry_run, progress=not args.no_progress)
    except StorageError as e:  # blocked, damaged, open elsewhere, not a store: nothing was changed
        print(f"engram migrate: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(rep, indent=1))
    else:
        print(_migrate_summary(args.store, rep))
        for b in rep["blockers"]:
            print(f"blocker: {b}", file=sys.stderr)
    if rep["blockers"]:
        if not args.json:
            print(f"engram migrate: {args.store} cannot be converted to format {rep['to']} "
                  f"until the blockers above are resolved", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _migrate_summary(store: str, rep: dict[str, Any]) -> str:
    frm, to = rep["from"], rep["to"]
    lines = []
    if rep["resumed"]:
        lines.append(f"finished an interrupted conversion of {store} first")
    if frm == to:
        lines.append(f"{store} is in format {to} already: nothing to convert")
        return "\n".join(lines)
    counts = (f"{rep['spaces']} spaces, {rep['episodes']} episodes, {rep['concepts']} concepts, "
              f"{rep['forgotten']} forgotten; last LSN {rep['lsn']}")  # fmt: skip
    if rep["dry_run"]:
        can = "cannot be converted (blockers below)" if rep["blockers"] else "would be converted"
        lines.append(f"dry run: {store} {can} from format {frm} to {to} ({counts})")
        lines.append(f"read {rep['bytes_read']} bytes in {rep['seconds']:.2f} s; the conversion would write a "
                     f"{rep['checkpoint_bytes']}-byte checkpoint; nothing was changed")  # fmt: skip
    else:
        lines.append(f"converted {store} from format {frm} to {to} ({counts})")
        lines.append(f"read {rep['bytes_read']} bytes, wrote a {rep['checkpoint_bytes']}-byte checkpoint "
                     f"in {rep['seconds']:.2f} s")  # fmt: skip
    if rep["torn_tails"]:
        lines.append(f"{rep['torn_tails']} torn tail(s) of never-acknowledged writes were left out")
    return "\n".join(lines)
