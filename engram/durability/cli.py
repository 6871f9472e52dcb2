"""``engram backup``, ``engram restore`` and ``engram verify``: argument wiring and output."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("backup", help="back up a durable store (incremental into an existing backup)")
    p.add_argument("store", help="the store directory (must not be open in another process)")
    p.add_argument("dest", help="the backup directory")
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
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_verify)


def cmd_backup(args: argparse.Namespace) -> int:
    import engram

    with engram.Engine(args.store, dim=8, checkpoint_interval_s=0, checkpoint_wal_bytes=0) as eng:
        m = eng.backup(args.dest, progress=not args.no_progress)
    kind = "incremental" if m["incremental"] else "full"
    print(
        f"{kind} backup of {args.store} to {args.dest}: durable LSN {m['durable_lsn']}, {m['bytes_shipped']} bytes"
    )
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

    report = verify(args.path)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for issue in report["issues"]:
            print(f"{issue['severity']}: {issue['file']} at offset {issue['offset']}: {issue['detail']}")
        status = "ok" if report["ok"] else "PROBLEMS FOUND"
        print(
            f"{args.path}: {status} ({report['checkpoints']} checkpoints, {report['segments']} segments, "
            f"{report['records']} WAL records, last LSN {report['last_lsn']})",
            file=sys.stdout if report["ok"] else sys.stderr,
        )
    return 0 if report["ok"] else 1
