"""Engine-wide administration: consolidation status and pause/resume, stats, feature flags."""

from __future__ import annotations

from typing import Any

from anyio.to_thread import run_sync

from engram.server import models
from engram.server.routing import PREFIX, Ctx, Route


async def consolidation_status(ctx: Ctx) -> Any:
    return ctx.engine.consolidation_status()


async def pause(ctx: Ctx) -> Any:
    await run_sync(ctx.engine.pause_consolidation)
    ctx.state.log.info("consolidation_paused", key=ctx.principal.key_id)
    return ctx.engine.consolidation_status()


async def resume(ctx: Ctx) -> Any:
    await run_sync(ctx.engine.resume_consolidation)
    ctx.state.log.info("consolidation_resumed", key=ctx.principal.key_id)
    return ctx.engine.consolidation_status()


async def start(ctx: Ctx) -> Any:
    b: models.StartConsolidation = ctx.body
    params = b.model_dump(exclude_none=True, exclude={"interval_s"})
    await run_sync(lambda: ctx.engine.start_consolidation(b.interval_s, **params))
    ctx.state.log.info("consolidation_started", interval_s=b.interval_s, key=ctx.principal.key_id)
    return ctx.engine.consolidation_status()


async def stop(ctx: Ctx) -> Any:
    # joins the consolidator thread, which may be mid-cycle: off the event loop
    await run_sync(ctx.engine.stop_consolidation)
    ctx.state.log.info("consolidation_stopped", key=ctx.principal.key_id)
    return ctx.engine.consolidation_status()


async def stats(ctx: Ctx) -> Any:
    eng = ctx.engine
    metrics = await run_sync(eng.metrics)
    return {"spaces": eng.spaces(), "metrics": metrics}


async def get_features(ctx: Ctx) -> Any:
    return ctx.engine.features()


async def set_features(ctx: Ctx) -> Any:
    b: models.Features = ctx.body
    ctx.engine.set_features(blended_recall=b.blended_recall, fan_effect=b.fan_effect,
                            concept_formation=b.concept_formation)  # fmt: skip
    now = ctx.engine.features()
    ctx.state.log.info("features_changed", features=now, key=ctx.principal.key_id)
    return now


T = ("admin",)
ROUTES = [
    Route(
        "GET",
        PREFIX + "/consolidation",
        consolidation_status,
        "admin",
        "Background consolidation status",
        tags=("consolidation",),
    ),
    Route(
        "POST",
        PREFIX + "/consolidation/start",
        start,
        "admin",
        "Start (or restart) background consolidation of every space",
        models.StartConsolidation,
        tags=("consolidation",),
    ),
    Route(
        "POST",
        PREFIX + "/consolidation/stop",
        stop,
        "admin",
        "Stop background consolidation",
        tags=("consolidation",),
    ),
    Route(
        "POST",
        PREFIX + "/consolidation/pause",
        pause,
        "admin",
        "Pause background consolidation",
        tags=("consolidation",),
    ),
    Route(
        "POST",
        PREFIX + "/consolidation/resume",
        resume,
        "admin",
        "Resume background consolidation",
        tags=("consolidation",),
    ),
    Route("GET", PREFIX + "/stats", stats, "admin", "Engine-wide counters and latency histograms", tags=T),
    Route("GET", PREFIX + "/admin/features", get_features, "admin", "Feature flags", tags=T),
    Route(
        "PUT",
        PREFIX + "/admin/features",
        set_features,
        "admin",
        "Switch feature flags",
        models.Features,
        tags=T,
    ),
]
