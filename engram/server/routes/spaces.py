"""Spaces: create, list, inspect, drop."""

from __future__ import annotations

from typing import Any

from anyio.to_thread import run_sync

from engram.server import models
from engram.server.routing import PREFIX, Ctx, Route


async def list_spaces(ctx: Ctx) -> Any:
    eng = ctx.engine
    names = [n for n in eng.spaces() if ctx.principal.grants(n)]  # a key sees only its own spaces
    return {"spaces": names}


async def create_space(ctx: Ctx) -> Any:
    b: models.CreateSpace = ctx.body
    sp = await run_sync(
        lambda: ctx.engine.create_space(
            b.name, dim=b.dim, M=b.M, ef_construction=b.ef_construction, ef_search=b.ef_search,
            max_memories=b.max_memories,
        )
    )  # fmt: skip
    ctx.state.log.info("space_created", space=sp.name, dim=sp.dim, key=ctx.principal.key_id)
    return 201, {"name": sp.name, "dim": sp.dim, "memories": 0}


async def get_space(ctx: Ctx) -> Any:
    sp = ctx.engine.space(ctx.space)
    return {"name": sp.name, "dim": sp.dim, "memories": len(sp)}


async def space_stats(ctx: Ctx) -> Any:
    sp = ctx.engine.space(ctx.space)
    stats = await run_sync(sp.stats)
    return {"name": sp.name, "dim": sp.dim, "stats": stats}


async def validate_space(ctx: Ctx) -> Any:
    # walks the whole index and record store: a worker thread, never the event loop
    sp = ctx.engine.space(ctx.space)
    return {"validation": await run_sync(sp.validate)}


async def drop_space(ctx: Ctx) -> Any:
    await run_sync(ctx.engine.drop_space, ctx.space)
    ctx.state.log.info("space_dropped", space=ctx.space, key=ctx.principal.key_id)
    return {"dropped": ctx.space}


S = PREFIX + "/spaces/{space}"
ROUTES = [
    Route(
        "GET", PREFIX + "/spaces", list_spaces, "read", "List the spaces this key may use", tags=("spaces",)
    ),
    Route(
        "POST",
        PREFIX + "/spaces",
        create_space,
        "admin",
        "Create a space",
        models.CreateSpace,
        201,
        {409: "space exists"},
        space_from=lambda c: c.body.name,
        tags=("spaces",),
    ),
    Route("GET", S, get_space, "read", "A space's name, dimension and size", tags=("spaces",)),
    Route("GET", S + "/stats", space_stats, "read", "A space's counts and memory use", tags=("spaces",)),
    Route(
        "GET",
        S + "/validate",
        validate_space,
        "read",
        "Integrity counts of a space's index and records",
        tags=("spaces",),
    ),
    Route("DELETE", S, drop_space, "admin", "Drop a space and all its memories", tags=("spaces",)),
]
