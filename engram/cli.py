"""The ``engram`` command line: the product's verbs (``serve``, ``keys``, ``backup``, ``restore``,
``verify``, ``migrate``, ``diagnose``, ``version``). Benchmarks, reports and the regression gate are
the harness's (``engram-harness``). Subcommands import their modules lazily so ``--help`` is fast."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from engram.errors import EngramError


def _cmd_version(_: argparse.Namespace) -> int:
    import engram

    print(f"engram {engram.__version__} (SIMD: {engram.simd_level()})")
    return 0


def _cmd_serve(_: argparse.Namespace) -> int:
    """Not reached: main() execs engramd for every ``engram serve`` except ``--help`` without
    engramd, which argparse answers (and exits) before any command runs."""
    from engram.server.launcher import exec_engramd

    return exec_engramd([])


def _cmd_keys(args: argparse.Namespace) -> int:
    from engram.server.auth import add_key, revoke_key

    if args.action == "add":
        spaces = [s for s in args.spaces.split(",") if s]
        print(add_key(args.file, args.id, spaces, args.role))  # shown once; only its hash is stored
        return 0
    if not revoke_key(args.file, args.id):
        print(f"no key {args.id!r} in {args.file}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engram", description="Engram cognitive memory engine")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("version", help="print the version and the SIMD kernels in use")
    p.set_defaults(func=_cmd_version)

    p = sub.add_parser("serve", help="serve an engine over HTTP (API v1) and WebSockets (runs engramd)")
    from engram.server.cli_args import add_arguments  # argparse only: keeps --help fast

    add_arguments(p)
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("keys", help="add or revoke API keys of a server's key file")
    p.add_argument("action", choices=["add", "revoke"])
    p.add_argument("file", help="the key file (created by the first add)")
    p.add_argument("--id", required=True, help="key id (letters, digits, '-')")
    p.add_argument("--spaces", default="", help="comma-separated spaces the key may use, or '*'")
    p.add_argument("--role", default="read", choices=["read", "write", "admin"])
    p.set_defaults(func=_cmd_keys)

    from engram.durability.cli import add_commands  # argparse only: keeps --help fast

    add_commands(sub)

    p = sub.add_parser("diagnose", help="one report of a server's health, metrics, logs, store and headroom",
                       description="Gathers what the runbooks (docs/operations/) ask for: health, stats, a "
                       "metrics summary, recent warnings and errors from the log, the store checked read-only, "
                       "disk and memory headroom; each finding names its runbook. Exit status 1 when a finding "
                       "is a warning or worse.")  # fmt: skip
    p.add_argument("--url", help="the server (e.g. http://127.0.0.1:7432)")
    p.add_argument(
        "--api-key",
        default=os.environ.get("ENGRAM_API_KEY"),
        help="an admin key granted '*' (default: $ENGRAM_API_KEY)",
    )
    p.add_argument("--data", type=Path, help="the server's data directory (checked read-only; disk headroom)")
    p.add_argument("--log", type=Path, help="the server's log file (JSON lines)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_cmd_diagnose)
    return parser


def _cmd_diagnose(args: argparse.Namespace) -> int:
    from engram.ops.diagnose import diagnose, render

    if args.url is None and args.data is None and args.log is None:
        print("engram diagnose: give --url (a running server), --data or --log", file=sys.stderr)
        return 2
    rep = diagnose(args.url, api_key=args.api_key, data=args.data, log=args.log)
    print(rep.to_json() if args.json else render(rep))
    return 0 if rep.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        # engram serve is engramd (the native server, same flags): exec it, --help included;
        # without it only the help is answered here, and the message says what to install
        from engram.server.launcher import INSTALL_HINT, exec_engramd, find_engramd

        if find_engramd() is not None or not {"-h", "--help"} & set(argv):
            return exec_engramd(argv[1:])
        print(f"engram serve: {INSTALL_HINT}\n", file=sys.stderr)  # then argparse's help
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except EngramError as e:  # storage and input problems: one clear line, not a traceback
        print(f"engram {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
