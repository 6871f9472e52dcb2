"""``engram serve``: open the engine, serve HTTP and WebSockets, drain and exit 0 on SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from types import FrameType
from typing import Any

import uvicorn

from engram.server.app import build_app
from engram.server.cli_args import config_from_args
from engram.server.config import ConfigError, ServerConfig
from engram.server.logs import JsonLog
from engram.server.state import ServerState


class DrainingServer(uvicorn.Server):
    """uvicorn, with SIGTERM/SIGINT first draining streams and queued observations (uvicorn's own
    handling would drop WebSockets at once) and without re-raising the signal, so the exit is 0."""

    def __init__(self, config: uvicorn.Config, state: ServerState) -> None:
        super().__init__(config)
        self.state = state
        self.exit_code = 0
        self._signalled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        state.request_exit = self._request_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._signalled:
            if sig == signal.SIGINT:
                self.force_exit = True
            return
        self._signalled = True
        # A signal handler runs on the main thread between two bytecodes, possibly while that thread
        # holds the log's lock: it only schedules; the logging happens on the loop.
        if self._loop is None:
            self.should_exit = True
            return
        name = signal.Signals(sig).name
        self._loop.call_soon_threadsafe(lambda: self._loop.create_task(self._drain_then_exit(name)))  # type: ignore[union-attr]

    async def _drain_then_exit(self, signal_name: str) -> None:
        self.state.log.info("signal_received", signal=signal_name)
        try:
            await self.state.drain()
        finally:
            self.should_exit = True

    def _request_exit(self, code: int) -> None:
        self.exit_code = code
        self.should_exit = True

    async def serve(self, sockets: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)


def serve(cfg: ServerConfig) -> int:
    log = JsonLog(level=cfg.log_level)
    log.info("config", **cfg.redacted())
    if cfg.no_auth:
        banner = "AUTHENTICATION IS DISABLED (--no-auth): anyone who can reach this port can read, write and drop every space"
        sys.stderr.write(f"\n{'!' * 100}\n!! {banner}\n{'!' * 100}\n\n")
        log.warning("auth_disabled", message=banner, host=cfg.host)
    if cfg.in_memory:
        log.warning("in_memory_engine", message="serving an in-memory engine: nothing survives a restart")
    state = ServerState(cfg, log)
    ucfg = uvicorn.Config(
        build_app(state), host=cfg.host, port=cfg.port, lifespan="on", log_config=None, log_level="warning",
        access_log=False, timeout_graceful_shutdown=int(cfg.drain_timeout_s) + 1, ws="websockets-sansio",
        ws_max_size=cfg.max_body_bytes,
    )  # fmt: skip
    server = DrainingServer(ucfg, state)
    log.info(
        "listening", url=f"http://{cfg.host}:{cfg.port}", openapi=f"http://{cfg.host}:{cfg.port}/openapi.json"
    )
    server.run()
    if not server.started and server.exit_code == 0:
        log.error("start_failed", message=f"could not listen on {cfg.host}:{cfg.port}")
        return 1
    log.info("exit", code=server.exit_code)
    return server.exit_code


def main(args: argparse.Namespace) -> int:
    try:
        cfg = config_from_args(args)
    except ConfigError as exc:
        sys.stderr.write(json.dumps({"level": "error", "event": "bad_config", "message": str(exc)}) + "\n")
        return 2
    return serve(cfg)
