"""The ASGI application: routes, the per-request middleware, JSON 404/405s and the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engram.server.errors import ApiError, not_found_route
from engram.server.events import watch_engine
from engram.server.routes import all_routes
from engram.server.routing import API_VERSION, error_response, starlette_routes
from engram.server.state import ServerState
from engram.server.stream import PATH as STREAM_PATH
from engram.server.stream import stream_endpoint

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_EXEMPT = ("/health/", "/metrics")  # never refused for load: probes and scrapes must see an overload


class ApiMiddleware:
    """Request id, version header, overload refusal, metrics and one JSON log line per request."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        st = self.state
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope["engram.request_id"] = rid
        t0 = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-Id"] = rid
                headers["Engram-API-Version"] = API_VERSION
            await send(message)

        path = scope["path"]
        exempt = path.startswith(_EXEMPT)
        if not exempt and st.inflight >= st.config.max_inflight:
            st.metrics.inc(
                "engram_server_overload_rejections_total", "Requests refused with 429 (too many in flight)."
            )
            err = ApiError(
                429,
                "overloaded",
                f"{st.inflight} requests in flight (limit {st.config.max_inflight}); retry later",
                1.0,
            )
            await error_response(err, rid)(scope, receive, send_with_headers)
            scope["engram.route"] = "(overloaded)"
        else:
            st.inflight += not exempt
            try:
                await self.app(scope, receive, send_with_headers)
            finally:
                st.inflight -= not exempt
        dt = time.perf_counter() - t0
        route = scope.get("engram.route", "(unmatched)")
        st.metrics.observe_request(scope["method"], route, status, dt)
        if not exempt or status >= 400:
            st.log.info("request", request_id=rid, method=scope["method"], route=route, space=scope.get("engram.space"),
                        status=status, latency_ms=round(dt * 1000, 3), key=scope.get("engram.key"))  # fmt: skip


def _http_error(request: Request, exc: Exception) -> Response:
    rid = request.scope.get("engram.request_id", "")
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(not_found_route(request.url.path), rid)
    if exc.status_code == 405:
        return error_response(
            ApiError(405, "method_not_allowed", f"{request.method} is not supported on {request.url.path}"),
            rid,
        )
    return error_response(ApiError(exc.status_code, "http_error", str(exc.detail)), rid)


def build_app(state: ServerState) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        opening = loop.create_task(state.open())
        reloader = loop.create_task(_watch_keys(state))
        watcher = loop.create_task(watch_engine(state))
        if state.keys is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signal.SIGHUP, lambda: _reload_keys(state, "SIGHUP"))
        try:
            yield
        finally:
            reloader.cancel()
            watcher.cancel()
            if not opening.done():
                await opening  # never close an engine while it is still opening
            await state.drain()
            await loop.run_in_executor(None, state.close)

    app = Starlette(
        routes=[*starlette_routes(all_routes(), state), WebSocketRoute(STREAM_PATH, stream_endpoint)],
        exception_handlers={404: _http_error, 405: _http_error},
        lifespan=lifespan,
    )
    app.state.engram = state
    app.add_middleware(ApiMiddleware, state=state)
    return app


def _reload_keys(state: ServerState, why: str) -> None:
    if state.keys is None:
        return
    try:
        if state.keys.reload(force=why == "SIGHUP"):
            state.log.info("api_keys_reloaded", reason=why, keys=len(state.keys))
    except (OSError, ValueError) as exc:  # keep serving with the keys we have
        state.log.error("api_keys_reload_failed", reason=why, error=str(exc))


async def _watch_keys(state: ServerState) -> Any:
    while state.keys is not None:  # cancelled at shutdown
        await asyncio.sleep(state.config.key_reload_interval_s)
        _reload_keys(state, "file changed")
