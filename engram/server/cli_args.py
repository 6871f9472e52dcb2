"""The flags of ``engram serve`` (kept free of server imports so ``engram --help`` stays fast)."""

from __future__ import annotations

import argparse

from engram.server.config import ServerConfig, load_config


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--impl",
        choices=["native", "python"],
        help="server implementation: native (engramd, C++) or python (Starlette, during the transition); "
        "default: $ENGRAM_SERVER_IMPL, else python",
    )
    p.add_argument("--config", help="TOML file with the settings (a [server] table or top-level keys)")
    p.add_argument("--data", help="engine directory (durable engine: WAL and checkpoints)")
    p.add_argument(
        "--in-memory", action="store_true", default=None, help="serve an in-memory engine (nothing is kept)"
    )
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--dim", type=int, help="default embedding dimension of new spaces")
    p.add_argument("--durability", choices=["group", "fsync", "none"])
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
        help="run short engine calls on the event loop (saves a thread hop per request)",
    )
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    names = ("data", "in_memory", "host", "port", "dim", "durability", "api_keys", "no_auth", "max_body_bytes",
             "max_batch", "max_k", "max_inflight", "stream_queue_limit", "stream_max_outstanding",
             "ingest_throttle_ms", "drain_timeout_s", "log_level", "inline_engine_calls")  # fmt: skip
    return load_config(args.config, overrides={n: getattr(args, n) for n in names})
