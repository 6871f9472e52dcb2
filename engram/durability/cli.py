"""``engram backup``, ``engram restore`` and ``engram verify``: argument wiring and output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime

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
