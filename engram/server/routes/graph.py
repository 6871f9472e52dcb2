"""A space's graph read back: neighbours (one memory or a batch), concepts and their bindings;
and batch linking (many edges in one request)."""

from __future__ import annotations

from typing import Any

from anyio.to_thread import run_sync

from engram.server import codec, models
from engram.server.errors import ApiError, from_exception
from engram.server.routing import PREFIX, Ctx, Route, quick_call


def _batch_limit(ctx: Ctx, n: int, what: str) -> None:
    limit = ctx.state.config.max_batch
    if n > limit:
        raise ApiError(413, "batch_too_large", f"batch of {n} {what} exceeds the limit of {limit}; split it")


def _neighbor(n: Any) -> dict[str, Any]:
    return {"id": int(n.id), "weight": float(n.weight), "kind": str(n.kind)}


async def neighbors(ctx: Ctx) -> Any:
    sp = ctx.engine.space(ctx.space)
    rows = await quick_call(ctx, sp.neighbors, ctx.path_int("memory_id"))
    return {"neighbors": [_neighbor(n) for n in rows]}


async def neighbors_batch(ctx: Ctx) -> Any:
    b: models.NeighborBatch = ctx.body
    _batch_limit(ctx, len(b.ids), "ids")
    sp = ctx.engine.space(ctx.space)

    def run() -> dict[str, Any]:
        # one worker-thread hop for the whole batch: multi-hop matching reads a frontier at once
        out: dict[str, Any] = {"results": []}
        seen: dict[int, Any] = {}
        for mid in b.ids:
            rows = sp.neighbors(mid)
            out["results"].append({"id": int(mid), "neighbors": [_neighbor(n) for n in rows]})
            if b.records:
                for n in rows:
                    if n.id not in seen:
                        seen[n.id] = codec.memory(sp.get(n.id))
        if b.records:
            out["records"] = list(seen.values())
        return out

    return await run_sync(run)


async def link_batch(ctx: Ctx) -> Any:
    b: models.LinkBatch = ctx.body
    _batch_limit(ctx, len(b.edges), "edges")
    sp = ctx.engine.space(ctx.space)

    def run() -> list[bool]:
        # edges apply in order; the first invalid one stops the batch with its index in the error
        out = []
        for i, e in enumerate(b.edges):
            try:
                out.append(bool(sp.link(e.src, e.dst, e.weight, e.kind, strength=e.strength,
                                        contribution=e.contribution)))  # fmt: skip
            except Exception as exc:
                err = from_exception(exc)
                if err is None:
                    raise
                raise ApiError(err.status, err.code, f"edges[{i}] ({e.src} -> {e.dst}): {err.message}; "
                               f"the {i} edges before it were applied") from exc  # fmt: skip
        return out

    return {"created": await run_sync(run)}


async def concepts(ctx: Ctx) -> Any:
    sp = ctx.engine.space(ctx.space)
    rows = await run_sync(sp.concepts)
    return {"concepts": [{"id": c.id, "centroid": c.centroid.tolist(), "coherence": c.coherence,
                          "confidence": c.confidence, "formed_at": c.formed_at, "updated_at": c.updated_at,
                          "members": list(c.members)} for c in rows]}  # fmt: skip


async def concept_members(ctx: Ctx) -> Any:
    sp = ctx.engine.space(ctx.space)
    return {"members": await quick_call(ctx, sp.concept_members, ctx.path_int("concept_id"))}


async def episode_concepts(ctx: Ctx) -> Any:
    sp = ctx.engine.space(ctx.space)
    return {"concepts": await quick_call(ctx, sp.episode_concepts, ctx.path_int("memory_id"))}


S = PREFIX + "/spaces/{space}"
T = ("graph",)
ROUTES = [
    Route("GET", S + "/memories/{memory_id}/neighbors", neighbors, "read", "A memory's out-edges", tags=T),
    Route(
        "POST",
        S + "/neighbors",
        neighbors_batch,
        "read",
        "Out-edges of many memories at once (optionally with the neighbours' records)",
        models.NeighborBatch,
        responses={413: "batch too large"},
        tags=T,
    ),
    Route(
        "POST",
        S + "/links/batch",
        link_batch,
        "write",
        "Link many pairs of memories in order",
        models.LinkBatch,
        responses={413: "batch too large"},
        tags=T,
    ),
    Route("GET", S + "/concepts", concepts, "read", "Every live concept of the space", tags=T),
    Route(
        "GET",
        S + "/concepts/{concept_id}/members",
        concept_members,
        "read",
        "A concept's member episodes",
        tags=T,
    ),
    Route(
        "GET",
        S + "/memories/{memory_id}/concepts",
        episode_concepts,
        "read",
        "Concepts an episode is bound to",
        tags=T,
    ),
]
