"""Engine events the server logs on its own: background consolidation changing state or failing,
and (durable engines) write-ahead-log storage errors. The engine exposes these as counters, so
a watcher compares snapshots once per interval and logs one line per change."""

from __future__ import annotations

import asyncio
from typing import Any

from engram.server.state import ServerState


def diff(prev: dict[str, Any], now: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(level, event, fields) for every notable change between two snapshots."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    c0, c1 = prev.get("consolidation", {}), now.get("consolidation", {})
    if c0 and c0.get("state") != c1.get("state"):
        out.append(("info", "consolidation_state_changed", {"from": c0.get("state"), "to": c1.get("state")}))
    if c1.get("failures", 0) > c0.get("failures", 0):
        out.append(
            (
                "error",
                "consolidation_failed",
                {"failures": c1["failures"], "new": c1["failures"] - c0.get("failures", 0)},
            )
        )
    w0, w1 = prev.get("wal", {}), now.get("wal", {})
    if w1.get("storage_errors", 0) > w0.get("storage_errors", 0):
        out.append(
            (
                "error",
                "wal_storage_error",
                {"errors": w1["storage_errors"], "last_error": w1.get("last_error")},
            )
        )
    if w1.get("failed") and not w0.get("failed"):
        out.append(("error", "wal_failed", {"last_error": w1.get("last_error")}))
    return out


def snapshot(state: ServerState) -> dict[str, Any]:
    eng = state.engine
    if eng is None or eng.closed:
        return {}
    snap: dict[str, Any] = {"consolidation": eng.consolidation_status()}
    if getattr(eng, "durable", False):
        snap["wal"] = eng.wal_stats()  # type: ignore[attr-defined]
    return snap


async def watch_engine(state: ServerState, interval_s: float = 1.0) -> None:
    prev: dict[str, Any] = {}
    while True:  # cancelled at shutdown
        await asyncio.sleep(interval_s)
        if state.phase != "ready":
            continue
        try:
            now = snapshot(state)
        except Exception as exc:  # a closing engine: nothing to report
            state.log.warning("engine_watch_failed", error=repr(exc))
            continue
        for level, event, fields in diff(prev, now) if prev else []:
            state.log.emit(level, event, **fields)
        prev = now
