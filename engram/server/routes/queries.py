"""Queries: search, recall (each mode), spread, complete; and the consolidation trigger."""

from __future__ import annotations

import dataclasses
from typing import Any

from anyio.to_thread import run_sync

from engram.server import codec, models
from engram.server.errors import ApiError
from engram.server.routing import PREFIX, Ctx, Route, quick_call


async def search(ctx: Ctx) -> Any:
    b: models.Search = ctx.body
    sp = ctx.engine.space(ctx.space)
    q = codec.vector(b.embedding)
    ids, scores = await quick_call(ctx, sp.search, q, ctx.check_k(b.k), b.ef)
    return {"results": [{"id": int(i), "score": float(s)} for i, s in zip(ids, scores, strict=True)]}


async def recall(ctx: Ctx) -> Any:
    b: models.Recall = ctx.body
    sp = ctx.engine.space(ctx.space)
    cue = codec.vector(b.cue, "cue")
    k = ctx.check_k(b.k)
    rows = await quick_call(
        ctx,
        lambda: sp.recall(
            cue, k, b.mode, b.semantic_weight, b.now, b.threshold, decay=b.decay,
            include_concepts=b.include_concepts, spreading=b.spreading, spread_hops=b.spread_hops,
        )
    )  # fmt: skip
    return {"results": [dataclasses.asdict(r) for r in rows]}


async def spread(ctx: Ctx) -> Any:
    b: models.Spread = ctx.body
    sp = ctx.engine.space(ctx.space)
    seeds: list[int] | dict[int, float]
    if isinstance(b.seeds, dict):
        try:
            seeds = {int(k): float(v) for k, v in b.seeds.items()}
        except ValueError:
            raise ApiError(400, "invalid_input", "seed object keys must be integer memory ids") from None
    else:
        seeds = list(b.seeds)
    if not seeds:
        raise ApiError(400, "invalid_input", "seeds must name at least one memory id")
    max_results = (
        ctx.check_k(b.max_results, "max_results") if b.max_results is not None else ctx.state.config.max_k
    )
    rows = await run_sync(
        lambda: sp.spread(
            seeds,
            b.max_hops,
            b.decay,
            b.decay_rate,
            b.threshold,
            b.fan_effect,
            b.direction_weights,
            max_results=max_results,
        )
    )
    return {"results": [{"id": r.id, "activation": r.activation, "hops": r.hops} for r in rows]}


async def complete(ctx: Ctx) -> Any:
    b: models.Complete = ctx.body
    sp = ctx.engine.space(ctx.space)
    partial, mask = codec.partial_vector(b.partial)
    c = await run_sync(
        lambda: sp.complete(
            partial, mask, neighbors=b.neighbors, hypotheses=b.hypotheses, ca1_threshold=b.ca1_threshold
        )
    )
    d = dataclasses.asdict(c)
    d["vector"] = c.vector.tolist()
    d["alternatives"] = [{**dataclasses.asdict(h), "vector": h.vector.tolist()} for h in c.alternatives]
    return d


async def consolidate(ctx: Ctx) -> Any:
    b: models.Consolidate = ctx.body
    sp = ctx.engine.space(ctx.space)
    params = {k: v for k, v in b.model_dump().items() if v is not None}
    report = await run_sync(lambda: sp.consolidate(**params))
    ctx.state.log.info("consolidation_run", space=ctx.space, formed=report.concepts_formed,
                       updated=report.concepts_updated, seconds=round(report.duration_s, 4))  # fmt: skip
    return dataclasses.asdict(report)


S = PREFIX + "/spaces/{space}"
T = ("queries",)
ROUTES = [
    Route(
        "POST", S + "/search", search, "read", "Nearest memories by cosine similarity", models.Search, tags=T
    ),
    Route(
        "POST", S + "/recall", recall, "read", "Recall (blended, episodic or semantic)", models.Recall, tags=T
    ),
    Route(
        "POST",
        S + "/spread",
        spread,
        "read",
        "Spreading activation from seed memories",
        models.Spread,
        tags=T,
    ),
    Route("POST", S + "/complete", complete, "read", "Complete a partial embedding", models.Complete, tags=T),
    Route(
        "POST",
        S + "/consolidate",
        consolidate,
        "write",
        "Consolidate the space now",
        models.Consolidate,
        tags=("consolidation",),
    ),
]
