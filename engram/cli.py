"""The ``engram`` command line. Subcommands import their modules lazily so ``--help`` is fast."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from engram.errors import EngramError


def _cmd_version(_: argparse.Namespace) -> int:
    import engram

    print(f"engram {engram.__version__} (SIMD: {engram.simd_level()})")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"engram.bench.{args.suite}")
    return int(module.main(args.rest))


def _cmd_report(args: argparse.Namespace) -> int:
    from engram.reporting import write_report

    paths = write_report(args.run, against=args.against)
    for p in paths if isinstance(paths, (list, tuple)) else [paths]:
        print(p)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from engram.server.main import main as serve_main

    return serve_main(args)


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

    p = sub.add_parser("bench", help="run a benchmark suite and record its numbers")
    p.add_argument(
        "suite",
        choices=["ann", "durability", "http", "semantic"],
        help="ann: HNSW against hnswlib and FAISS; durability: acknowledged writes/s per mode; "
        "http: baseline over HTTP; semantic: recall, spread, consolidation, completion",
    )
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options passed to the suite (see its --help)")
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("report", help="write the HTML and Markdown report of a results directory")
    p.add_argument("run", help="results/<run-id> directory")
    p.add_argument("--against", help="a baseline results directory to compare with")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("serve", help="serve an engine over HTTP (API v1) and WebSockets")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
