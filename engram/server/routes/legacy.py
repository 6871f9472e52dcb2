"""The upstream engine's remember route, kept for its clients and deprecated.

The space is resolved as upstream did (``X-Memory-Space`` header, then ``?space=``, then the body's
``memory_space_id``, then ``default``), but sources that disagree are an error and authorisation
is checked on the resolved space, which closes the upstream cross-tenant hole. Responses carry
``Deprecation`` and ``Sunset`` headers and a ``Link`` to the successor; each use is logged.
"""

from __future__ import annotations

from typing import Any

from anyio.to_thread import run_sync
from starlette.responses import JSONResponse

from engram.server import codec, models
from engram.server.errors import ApiError
from engram.server.routing import PREFIX, Ctx, Route

DEPRECATED_SINCE = "@1767225600"  # RFC 9745 structured date: 2026-01-01T00:00:00Z


def resolve_space(ctx: Ctx) -> str:
    sources = {
        "X-Memory-Space header": ctx.request.headers.get("x-memory-space"),
        "space query parameter": ctx.request.query_params.get("space"),
        "memory_space_id field": ctx.body.memory_space_id,
    }
    given = {k: v for k, v in sources.items() if v is not None}
    if len(set(given.values())) > 1:
        raise ApiError(400, "ambiguous_space", f"the request names different spaces: {given}; name one")
    return next(iter(given.values()), "default")


async def legacy_remember(ctx: Ctx) -> Any:
    b: models.LegacyRemember = ctx.body
    sp = ctx.engine.space(ctx.space)
    emb = codec.vector(b.embedding)
    mid = await run_sync(lambda: int(sp.remember(emb, b.content, b.confidence)))
    ctx.state.log.warning("deprecated_route_used", route=PREFIX + "/memories/remember",
                          successor=PREFIX + "/spaces/{space}/memories", key=ctx.principal.key_id)  # fmt: skip
    headers = {
        "Deprecation": DEPRECATED_SINCE,
        "Sunset": ctx.state.config.deprecated_sunset,
        "Link": f'<{PREFIX}/spaces/{ctx.space}/memories>; rel="successor-version"',
    }
    return JSONResponse({"memory_id": mid, "space": ctx.space}, status_code=201, headers=headers)


ROUTES = [
    Route(
        "POST",
        PREFIX + "/memories/remember",
        legacy_remember,
        "write",
        "Remember (upstream-compatible; deprecated, use /spaces/{space}/memories)",
        models.LegacyRemember,
        201,
        deprecated=True,
        space_from=resolve_space,
        tags=("memories",),
    ),
]
