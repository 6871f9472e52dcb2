"""Streaming staleness: observations sent at a fixed rate over one WebSocket; send -> ack time
(an ack means stored, durable under the engine's mode, and searchable) at P50/P95/P99.

    python -m engram_harness.bench.staleness --rate 1000 --seconds 10 --dim 768 [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Sequence

import numpy as np
from websockets.sync.client import connect

from engram import jsonfast
from engram.client import Client
from engram_harness.server import running_server_process
from engram_harness.stats.quantiles import quantiles


def measure(url: str, space: str, rate: float, seconds: float, dim: int, seed: int = 0) -> dict[str, float]:
    n = int(rate * seconds)
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    payloads = [
        jsonfast.dumps({"type": "observation", "seq": i + 1, "embedding": v[i]}).decode() for i in range(n)
    ]
    sent = np.zeros(n + 1)
    acked = np.zeros(n + 1)
    ids = np.zeros(n + 1, dtype=np.int64)
    ws_url = url.replace("http", "ws", 1) + f"/api/v1/spaces/{space}/stream"
    with connect(ws_url, proxy=None, max_size=None) as ws:
        ws.recv(timeout=10)

        def sender() -> None:
            t0 = time.perf_counter()
            for i in range(n):  # open loop: paced by the clock, never by the acks
                due = t0 + i / rate
                while (now := time.perf_counter()) < due:
                    time.sleep(min(0.0005, due - now))
                sent[i + 1] = time.perf_counter()
                ws.send(payloads[i])

        th = threading.Thread(target=sender, daemon=True)
        th.start()
        got, rejected = 0, 0
        deadline = time.monotonic() + seconds + 60
        while got + rejected < n and time.monotonic() < deadline:  # bounded in time
            m = json.loads(ws.recv(timeout=30))
            if m["type"] == "ack":
                acked[m["seq"]] = time.perf_counter()
                ids[m["seq"]] = m["id"]
                got += 1
            elif m["type"] == "reject":
                rejected += 1
        th.join(timeout=10)
    ok = acked[1:] > 0
    lat = (acked[1:] - sent[1:])[ok] * 1000
    q = quantiles(lat, (0.5, 0.95, 0.99))  # NaN when nothing was acknowledged
    return {"observations": n, "acked": int(ok.sum()), "rejected": rejected, "p50_ms": float(q[0]),
            "p95_ms": float(q[1]), "p99_ms": float(q[2]), "max_ms": float(lat.max()) if len(lat) else np.nan}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m engram_harness.bench.staleness", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--rate", type=float, default=1000)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--dim", type=int, default=768)
    p.add_argument("--data", help="durable engine directory (default: in memory)")
    p.add_argument("--durability", default="group")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as logs:
        opts: dict[str, object] = {"no_auth": True, "dim": args.dim, "log_level": "warning"}
        if args.data:
            opts["durability"] = args.durability
        with running_server_process(args.data, log_dir=logs, **opts) as sp:
            Client(sp.url).create_space("staleness")
            out = measure(sp.url, "staleness", args.rate, args.seconds, args.dim)
    print(json.dumps({"rate": args.rate, "seconds": args.seconds, "dim": args.dim, "data": args.data, **out}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
