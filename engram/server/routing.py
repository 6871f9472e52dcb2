"""Route declarations and the wrapper that gives every endpoint the same behaviour: readiness,
authentication, authorisation on the path's space, bounded body reading, validation into the
route's pydantic model, engine-error mapping and JSON responses. The OpenAPI document is
generated from the same declarations, so the spec cannot drift from the code."""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import numpy as np
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from engram import _core, jsonfast
from engram.server.auth import Principal
from engram.server.errors import ApiError, from_exception
from engram.server.state import ServerState

API_VERSION = "1"
PREFIX = "/api/v1"


@dataclass
class Ctx:
    request: Request
    state: ServerState
    principal: Principal
    body: Any
    space: str | None
    raw: bytes = b""  # the request body as received (idempotency fingerprints hash it)

    @property
    def engine(self) -> Any:
        # the request passed the readiness gate on entry; a drain that began since must let it
        # finish (the engine closes only after uvicorn has waited for in-flight requests)
        return self.state.engine_in_flight()

    def path_int(self, name: str) -> int:
        raw = self.request.path_params[name]
        try:
            return int(raw)
        except ValueError:
            raise ApiError(
                400, "invalid_input", f"{name} must be an integer memory id, got {raw!r}"
            ) from None

    def check_k(self, k: int, name: str = "k") -> int:
        limit = self.state.config.max_k
        if k > limit:
            raise ApiError(400, "limit_exceeded", f"{name}={k} exceeds this server's maximum of {limit}")
        return k


Handler = Callable[[Ctx], Awaitable[Any]]


async def quick_call(ctx: Ctx, fn: Callable[..., Any], *args: Any) -> Any:
    """An engine call expected to take well under a millisecond (one search, recall, get or
    remember). With ``inline_engine_calls`` it runs on the event loop, saving the worker-thread
    hop (about a quarter of a millisecond of CPU, measured); otherwise on a worker thread."""
    if ctx.state.config.inline_engine_calls:
        return fn(*args)
    return await anyio.to_thread.run_sync(fn, *args)


@dataclass
class Route:
    method: str
    path: str
    handler: Handler
    role: str  # read | write | admin | public
    summary: str
    body: type[BaseModel] | None = None
    status: int = 200
    responses: dict[int, str] = field(default_factory=dict)
    deprecated: bool = False
    space_from: Callable[[Ctx], str | None] | None = None  # routes whose space is not in the path
    tags: tuple[str, ...] = ()


class FastJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return jsonfast.dumps(content)


def jsonable(x: Any) -> Any:
    """Engine values as JSON: numpy scalars and arrays, tuples, nested dicts."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and x != x:  # NaN has no JSON form
        return None
    return x


def error_response(err: ApiError, request_id: str) -> JSONResponse:
    headers = {}
    if err.retry_after_s is not None:
        headers["Retry-After"] = str(max(1, int(err.retry_after_s + 0.999)))
    body = {
        "error": {"code": err.code, "message": err.message, "status": err.status, "request_id": request_id}
    }
    if err.retry_after_s is not None:
        body["error"]["retry_after_ms"] = int(err.retry_after_s * 1000)
    return JSONResponse(body, status_code=err.status, headers=headers)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(
            413, "payload_too_large", f"request body of {declared} bytes exceeds the limit of {limit} bytes"
        )
    chunks, size = [], 0
    async for chunk in request.stream():  # bounded: stops at the limit
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors()[:5]:
        loc = ".".join(str(p) for p in e["loc"]) or "body"
        parts.append(f"{loc}: {e['msg']}")
    more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
    return "invalid request body: " + "; ".join(parts) + more


async def parse_body(request: Request, model: type[BaseModel], limit: int) -> tuple[BaseModel, bytes]:
    raw = await read_body(request, limit)
    if not raw.strip():
        raise ApiError(400, "invalid_json", f"this route expects a JSON object body ({model.__name__})")
    try:
        data = jsonfast.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    try:
        return model.model_validate(data), raw
    except ValidationError as exc:
        raise ApiError(400, "invalid_input", _validation_message(exc)) from None


def check_space_name(name: str) -> None:
    # checked here as well as in the engine: a clear 400 before any lookup, and no engine error
    # message ever has to quote arbitrary bytes from a URL
    if not _core.is_valid_space_name(name):  # the engine's one rule (validation.hpp)
        shown = name[:64].encode("unicode_escape").decode("ascii")
        raise ApiError(
            400, "invalid_input", f"invalid space name '{shown}'; expected {_core.SPACE_NAME_RULE}"
        )


def make_endpoint(route: Route, state: ServerState) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        request.scope["engram.route"] = route.path
        rid = request.scope.get("engram.request_id", "")
        try:
            space = request.path_params.get("space")
            if space is not None:
                request.scope["engram.space"] = space
            if route.role == "public":
                principal = state.principal(None) if state.keys is None else None
            else:
                state.require_ready()
                principal = state.principal(request.headers.get("authorization"))
                request.scope["engram.key"] = principal.key_id
            body, raw = None, b""
            if route.body is not None:
                body, raw = await parse_body(request, route.body, state.config.max_body_bytes)
            ctx = Ctx(request, state, principal, body, space, raw)  # type: ignore[arg-type]
            if route.space_from is not None:
                ctx.space = route.space_from(ctx)
                request.scope["engram.space"] = ctx.space
            if ctx.space is not None:
                check_space_name(ctx.space)
            if route.role != "public":
                principal.authorize(route.role, ctx.space)
            result = await route.handler(ctx)
        except Exception as exc:
            err = from_exception(exc)
            if err is None:
                state.log.error("internal_error", request_id=rid, route=route.path, error=repr(exc),
                                trace=traceback.format_exc(limit=8))  # fmt: skip
                err = ApiError(
                    500, "internal", f"internal error (request id {rid}); the server log has details"
                )
            return error_response(err, rid)
        if isinstance(result, Response):
            return result
        status = route.status
        if isinstance(result, tuple):
            status, result = result
        return FastJSONResponse(result, status_code=status)

    endpoint.__name__ = route.handler.__name__
    return endpoint


def starlette_routes(routes: list[Route], state: ServerState) -> list[StarletteRoute]:
    return [StarletteRoute(r.path, make_endpoint(r, state), methods=[r.method]) for r in routes]
