"""The ``engram`` command line. Subcommands import their modules lazily so ``--help`` is fast."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engram", description="Engram cognitive memory engine")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("version", help="print the version and the SIMD kernels in use")
    p.set_defaults(func=_cmd_version)

    p = sub.add_parser("bench", help="run a benchmark suite and record its numbers")
    p.add_argument(
        "suite",
        choices=["ann", "semantic"],
        help="ann: HNSW against hnswlib and FAISS; semantic: recall, spread, consolidation, completion",
    )
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options passed to the suite (see its --help)")
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("report", help="write the HTML and Markdown report of a results directory")
    p.add_argument("run", help="results/<run-id> directory")
    p.add_argument("--against", help="a baseline results directory to compare with")
    p.set_defaults(func=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
