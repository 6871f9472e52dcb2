"""Operations: liveness, readiness, Prometheus metrics and the OpenAPI document (no auth)."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse

from engram.server.routing import Ctx, Route


async def live(ctx: Ctx) -> Any:
    return {"status": "live", "phase": ctx.state.phase}


async def ready(ctx: Ctx) -> Any:
    st = ctx.state
    if st.phase != "ready":
        body = {"status": "not_ready", "phase": st.phase}
        if st.open_error:
            body["error"] = st.open_error
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})
    return {"status": "ready", "phase": st.phase}


async def metrics(ctx: Ctx) -> Any:
    st = ctx.state
    text = st.metrics.render()
    if st.engine is not None and not st.engine.closed:
        text = st.engine.prometheus().rstrip("\n") + "\n" + text
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


async def openapi(ctx: Ctx) -> Any:
    from engram.server.openapi import spec  # built from the same route table

    return JSONResponse(spec())


T = ("operations",)
ROUTES = [
    Route("GET", "/health/live", live, "public", "Liveness: the process serves HTTP", tags=T),
    Route(
        "GET",
        "/health/ready",
        ready,
        "public",
        "Readiness: the engine is open and recovered",
        responses={503: "not ready"},
        tags=T,
    ),
    Route("GET", "/metrics", metrics, "public", "Prometheus metrics (engine and server)", tags=T),
    Route("GET", "/openapi.json", openapi, "public", "This API's OpenAPI 3.1 document", tags=T),
]
