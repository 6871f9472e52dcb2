"""The ``engram-harness`` command line: benchmarks, reports and the regression gate. The product's
own verbs (serve, keys, backup, restore, verify) are the ``engram`` command's."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

BENCHMARKS = {
    "ann": "HNSW against hnswlib and FAISS",
    "durability": "acknowledged writes/s per durability mode",
    "http": "the baseline scenario over HTTP",
    "semantic": "recall, spread, consolidation, completion",
    "serving": "issue 13's serving figures: baseline over HTTP, search and mix saturation, side by side",
    "staleness": "stream send-to-ack and ack-to-searchable staleness",
}


def _cmd_bench(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"engram_harness.bench.{args.suite}")
    return int(module.main(args.rest))


def _cmd_report(args: argparse.Namespace) -> int:
    from engram_harness.report import write_report

    paths = write_report(args.run, against=args.against)
    for p in paths if isinstance(paths, (list, tuple)) else [paths]:
        print(p)
    return 0


def _cmd_gate(args: argparse.Namespace) -> int:
    from engram_harness.gate.__main__ import main as gate_main

    return int(gate_main(args.rest))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engram-harness", description="Engram's test and benchmark harness")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("bench", help="run a benchmark and record its numbers")
    p.add_argument(
        "suite", choices=sorted(BENCHMARKS), help="; ".join(f"{k}: {v}" for k, v in BENCHMARKS.items())
    )
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options passed to the benchmark (see its --help)")
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("report", help="write the HTML and Markdown report of a results directory")
    p.add_argument("run", help="results/<run-id> directory")
    p.add_argument("--against", help="a baseline results directory to compare with")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("gate", help="the A/B performance regression gate (see its --help)")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options passed to the gate")
    p.set_defaults(func=_cmd_gate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
