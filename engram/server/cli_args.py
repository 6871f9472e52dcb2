"""The flags of ``engram serve``, for ``engram serve --help`` only: every other ``engram serve``
``exec``s ``engramd`` with its arguments unparsed (``engramd --help`` lists the same flags and
its own; tests/server/test_native.py checks they agree). Kept free of heavy imports so
``engram --help`` stays fast."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML file with the settings (a [server] table or top-level keys)")
    p.add_argument("--data", help="engine directory (durable engine: WAL and checkpoints)")
    p.add_argument(
        "--in-memory", action="store_true", default=None, help="serve an in-memory engine (nothing is kept)"
    )
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--dim", type=int, help="default embedding dimension of new spaces")
    p.add_argument("--durability", choices=["group", "fsync", "none"])
    p.add_argument(
        "--migrate",
        action="store_true",
        default=None,
        help="convert a store of format 1 to this build's format 2 as it opens (else it is refused; "
        "engram migrate converts, dry-runs and rolls back without serving)",
    )
    p.add_argument("--api-keys", help="JSON file of hashed API keys (see 'engram keys')")
    p.add_argument(
        "--no-auth", action="store_true", default=None, help="serve without authentication (loopback only!)"
    )
    p.add_argument("--max-body-bytes", type=int)
    p.add_argument("--max-batch", type=int)
    p.add_argument("--max-k", type=int)
    p.add_argument("--max-inflight", type=int)
    p.add_argument("--stream-queue-limit", type=int)
    p.add_argument("--stream-max-outstanding", type=int)
    p.add_argument(
        "--ingest-throttle-ms", type=float, help="pause per writer batch (capacity drills and tests)"
    )
    p.add_argument("--drain-timeout-s", type=float)
    p.add_argument(
        "--inline-engine-calls",
        action="store_true",
        default=None,
        help="accepted for compatibility; engramd runs short engine calls on its IO threads anyway",
    )
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.epilog = (
        "engram serve runs engramd, the native server, with these arguments; engramd --help lists "
        "its further settings (TLS, timeouts, connection and per-key limits, backups, traces: --otlp-endpoint)."
    )
