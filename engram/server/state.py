"""Everything one server process shares: configuration, engine, keys, metrics, queues, lifecycle.

Lifecycle: ``starting`` (engine opening: live, not ready) -> ``ready`` -> ``draining`` (SIGTERM:
new requests get 503, streams finish their queued observations) -> ``stopped`` (engine flushed,
checkpointed and closed). A failed open ends the process with status 1.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import anyio

import engram
from engram.server.auth import ANONYMOUS_ADMIN, KeyStore, Principal
from engram.server.config import ServerConfig
from engram.server.errors import ApiError
from engram.server.ingest import STATES, Ingestor
from engram.server.logs import JsonLog
from engram.server.metrics import ServerMetrics


def open_engine(cfg: ServerConfig) -> engram.Engine:
    """The engine the configuration names: durable at ``cfg.data`` or in memory."""
    if cfg.in_memory:
        return engram.Engine(path=None, dim=cfg.dim, idempotency_capacity=cfg.idempotency_capacity)
    try:
        return engram.Engine(  # type: ignore[call-arg]
            path=cfg.data,
            dim=cfg.dim,
            durability=cfg.durability,
            idempotency_capacity=cfg.idempotency_capacity,
        )
    except TypeError as exc:  # this engine build predates durable engines
        raise engram.EngramError(
            f"this engine build cannot open a durable engine at {cfg.data!r} ({exc}); run with --in-memory"
        ) from None


class ServerState:
    def __init__(self, cfg: ServerConfig, log: JsonLog | None = None) -> None:
        self.config = cfg
        self.log = log or JsonLog(level=cfg.log_level)
        self.metrics = ServerMetrics()
        self.keys = None if cfg.no_auth else KeyStore(cfg.api_keys or "")
        self.engine: engram.Engine | None = None
        self.ingest: Ingestor | None = None
        self.phase = "starting"
        self.open_error: str | None = None
        self.inflight = 0
        self.open_streams = 0
        self.streams: set[Any] = set()  # live stream sessions, told to drain on shutdown
        self.request_exit: Callable[[int], None] = lambda code: None
        self.started = time.time()
        m = self.metrics
        m.gauge("engram_server_inflight_requests", "HTTP requests being served.", lambda: self.inflight)
        m.gauge("engram_streaming_open_streams", "Open observation streams.", lambda: self.open_streams)
        m.gauge("engram_streaming_queue_depth", "Observations queued or being stored.",
                lambda: self.ingest.depth if self.ingest else 0)  # fmt: skip
        m.gauge("engram_streaming_backpressure_state", "0 normal, 1 slow down, 2 overloaded (rejecting).",
                lambda: STATES.index(self.ingest.state()) if self.ingest else 0)  # fmt: skip
        m.gauge(
            "engram_server_ready", "1 once the engine is open and recovered.", lambda: self.phase == "ready"
        )
        m.gauge("engram_api_keys", "API keys loaded.", lambda: len(self.keys) if self.keys else 0)

    # ------------------------------------------------------------------ lifecycle
    async def open(self) -> None:
        t0 = time.perf_counter()
        self.log.info("engine_opening", data=self.config.data, in_memory=self.config.in_memory)
        try:
            self.engine = await anyio.to_thread.run_sync(open_engine, self.config)
        except Exception as exc:
            self.open_error = str(exc)
            self.phase = "failed"
            self.log.error("engine_open_failed", error=str(exc))
            self.request_exit(1)
            return
        self.ingest = Ingestor(
            self.engine.space, limit=self.config.stream_queue_limit,
            batch=self.config.ingest_batch, throttle_s=self.config.ingest_throttle_ms / 1000.0,
            metrics=self.metrics, log=self.log,
        )  # fmt: skip
        self.ingest.start()
        recovery = self.engine.recovery_info() if getattr(self.engine, "durable", False) else None  # type: ignore[attr-defined]
        self.phase = "ready"
        self.log.info("engine_ready", seconds=round(time.perf_counter() - t0, 3), spaces=self.engine.spaces(),
                      recovery=recovery)  # fmt: skip

    async def drain(self) -> None:
        """Stop taking work, let streams finish their queued observations, then return."""
        if self.phase in ("draining", "stopped"):
            return
        self.phase = "draining"
        self.log.info("drain_started", inflight=self.inflight, streams=self.open_streams)
        deadline = time.monotonic() + self.config.drain_timeout_s
        for s in list(self.streams):
            s.begin_drain()
        while self.streams and time.monotonic() < deadline:  # bounded by the drain timeout
            await asyncio.sleep(0.02)
        if self.ingest is not None:
            remaining = max(0.1, deadline - time.monotonic())
            drained = await anyio.to_thread.run_sync(self.ingest.stop, remaining)
            self.log.info("ingest_stopped", drained=drained, stored=self.ingest.stored)
        self.log.info("drain_finished", streams_left=len(self.streams))

    def close(self) -> None:
        """Flush the WAL, checkpoint and close the engine (the last step of a graceful shutdown)."""
        if self.engine is None:
            return
        if getattr(self.engine, "durable", False):  # the WAL is flushed by the checkpoint and by close()
            lsn = self.engine.checkpoint()  # type: ignore[attr-defined]
            self.log.info("engine_checkpoint", data=self.config.data, lsn=lsn)
        self.engine.close()
        self.phase = "stopped"
        self.log.info("engine_closed", data=self.config.data)

    # ------------------------------------------------------------------ per request
    def require_ready(self) -> engram.Engine:
        if self.phase == "draining" or self.phase == "stopped":
            raise ApiError(
                503, "shutting_down", "the server is shutting down; retry against another instance", 1.0
            )
        if self.phase != "ready" or self.engine is None:
            raise ApiError(
                503, "not_ready", "the engine is still opening (recovering its log); retry shortly", 1.0
            )
        return self.engine

    def engine_in_flight(self) -> engram.Engine:
        """The engine for a request already admitted: available while draining, not once closed."""
        if self.engine is None or self.phase in ("starting", "failed", "stopped"):
            return self.require_ready()
        return self.engine

    def principal(self, authorization: str | None) -> Principal:
        if self.keys is None:
            return ANONYMOUS_ADMIN
        return self.keys.authenticate(authorization)
