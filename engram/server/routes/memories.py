"""Memories: remember (single and batch, idempotent), get, forget, link."""

from __future__ import annotations

from typing import Any

import numpy as np
from anyio.to_thread import run_sync

from engram.server import codec, models
from engram.server.errors import ApiError
from engram.server.routing import PREFIX, Ctx, Route, quick_call


def idempotency_key(ctx: Ctx, body_key: str | None) -> str | None:
    header = ctx.request.headers.get("idempotency-key")
    if header is not None and body_key is not None and header != body_key:
        raise ApiError(
            400, "invalid_input", "the Idempotency-Key header and idempotency_key field differ; send one"
        )
    key = header if header is not None else body_key
    if key is not None and not 1 <= len(key) <= 200:
        raise ApiError(400, "invalid_input", "an idempotency key must be 1 to 200 characters")
    return key


async def remember(ctx: Ctx) -> Any:
    b: models.Remember = ctx.body
    sp = ctx.engine.space(ctx.space)
    emb = codec.vector(b.embedding)
    key = idempotency_key(ctx, b.idempotency_key)
    if key is None:
        mid = await quick_call(
            ctx, lambda: int(sp.remember(emb, b.content, b.confidence, b.timestamp, b.metadata))
        )
        return 201, {"id": mid, "replayed": False}
    # The engine stores once per (space, key), durably with the memory (engram.Space.remember_keyed);
    # the raw body identifies the payload: a replay resends the same bytes (hashing them is far
    # cheaper than re-serialising a parsed 768-d embedding).
    fp = codec.fingerprint_bytes("remember", ctx.raw)
    mid, replayed = await quick_call(
        ctx,
        lambda: sp.remember_keyed(
            emb, b.content, b.confidence, b.timestamp, b.metadata, idempotency_key=key, fingerprint=fp
        ),
    )
    return (200 if replayed else 201), {"id": int(mid), "replayed": bool(replayed)}


async def remember_batch(ctx: Ctx) -> Any:
    b: models.RememberBatch = ctx.body
    limit = ctx.state.config.max_batch
    if len(b.items) > limit:
        raise ApiError(
            413, "batch_too_large", f"batch of {len(b.items)} items exceeds the limit of {limit}; split it"
        )
    sp = ctx.engine.space(ctx.space)
    vecs = [codec.vector(it.embedding, f"items[{i}].embedding") for i, it in enumerate(b.items)]
    if len({v.shape for v in vecs}) != 1:
        raise ApiError(
            400, "dimension_mismatch", f"all embeddings of a batch must have the space's dimension {sp.dim}"
        )
    key = idempotency_key(ctx, b.idempotency_key)
    fp = codec.fingerprint_bytes("batch", ctx.raw) if key is not None else None

    def run() -> tuple[list[int], bool]:
        columns = (
            np.stack(vecs), [it.content for it in b.items], [it.confidence for it in b.items],
            [it.timestamp for it in b.items], [it.metadata for it in b.items],
        )  # fmt: skip
        if key is None:
            return [int(i) for i in sp.remember_batch(*columns)], False
        ids, replayed = sp.remember_batch_keyed(*columns, idempotency_key=key, fingerprint=fp)
        return [int(i) for i in ids], bool(replayed)

    ids, replayed = await quick_call(ctx, run)
    return (200 if replayed else 201), {"ids": ids, "replayed": replayed}


async def get_memory(ctx: Ctx) -> Any:
    sp = ctx.engine.space(ctx.space)
    return codec.memory(await quick_call(ctx, sp.get, ctx.path_int("memory_id")))


async def forget(ctx: Ctx) -> Any:
    sp = ctx.engine.space(ctx.space)
    mid = ctx.path_int("memory_id")
    await run_sync(sp.forget, mid)
    return {"forgotten": mid}


async def link(ctx: Ctx) -> Any:
    b: models.Link = ctx.body
    sp = ctx.engine.space(ctx.space)
    created = await run_sync(
        lambda: sp.link(b.src, b.dst, b.weight, b.kind, strength=b.strength, contribution=b.contribution)
    )
    return {"created": bool(created)}


S = PREFIX + "/spaces/{space}"
T = ("memories",)
ROUTES = [
    Route(
        "POST",
        S + "/memories",
        remember,
        "write",
        "Remember one episode (Idempotency-Key supported)",
        models.Remember,
        201,
        {409: "idempotency key reused with another payload"},
        tags=T,
    ),
    Route(
        "POST",
        S + "/memories/batch",
        remember_batch,
        "write",
        "Remember episodes at once (all or nothing)",
        models.RememberBatch,
        201,
        {413: "batch too large"},
        tags=T,
    ),
    Route("GET", S + "/memories/{memory_id}", get_memory, "read", "One memory by id", tags=T),
    Route("DELETE", S + "/memories/{memory_id}", forget, "write", "Forget a memory", tags=T),
    Route("POST", S + "/links", link, "write", "Link two memories of the space", models.Link, tags=T),
]
