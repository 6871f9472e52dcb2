"""API v1 routes, one module per resource; :func:`all_routes` lists them for the app and the spec."""

from __future__ import annotations

from engram.server.routes import admin, graph, legacy, memories, ops, queries, spaces
from engram.server.routing import Route


def all_routes() -> list[Route]:
    return [
        *ops.ROUTES,
        *spaces.ROUTES,
        *memories.ROUTES,
        *graph.ROUTES,
        *queries.ROUTES,
        *admin.ROUTES,
        *legacy.ROUTES,
    ]
