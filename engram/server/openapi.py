"""The OpenAPI 3.1 document, generated from the route table and the request models."""

from __future__ import annotations

import functools
import re
from typing import Any

from pydantic.json_schema import models_json_schema

import engram
from engram import _core
from engram.server.routing import API_VERSION

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "status", "request_id"],
            "properties": {
                "code": {"type": "string", "description": "stable machine-readable code"},
                "message": {"type": "string", "description": "what was wrong and what is expected"},
                "status": {"type": "integer"},
                "request_id": {"type": "string"},
                "retry_after_ms": {"type": "integer"},
            },
        }
    },
}
_ERROR_STATUSES = {
    400: "bad input",
    401: "missing or unknown API key",
    403: "key lacks the role or the space",
    404: "unknown space, memory or route",
    413: "body or batch too large",
    429: "overloaded (see Retry-After)",
    503: "not ready or shutting down (see Retry-After)",
}
_PARAMS = {
    "space": {
        "type": "string",
        "minLength": 1,
        "maxLength": _core.SPACE_NAME_MAX,
        "pattern": _core.SPACE_NAME_PATTERN,
    },
    "memory_id": {"type": "integer", "format": "int64"},
    "concept_id": {"type": "integer", "format": "int64"},
}


@functools.cache
def _media_type(path: str) -> str:
    return "text/plain" if path == "/metrics" else "application/json"


def spec() -> dict[str, Any]:
    from engram.server.routes import all_routes

    routes = all_routes()
    models = sorted({r.body for r in routes if r.body is not None}, key=lambda m: m.__name__)
    _, schemas = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
    )
    components = dict(schemas.get("$defs", {}))
    components["Error"] = _ERROR
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        op: dict[str, Any] = {
            "operationId": r.handler.__name__,
            "summary": r.summary,
            "tags": list(r.tags),
            "responses": {
                # /metrics answers Prometheus text, everything else JSON
                str(r.status): {"description": "success", "content": {_media_type(r.path): {"schema": {}}}}
            },
        }
        if r.role == "public":
            op["security"] = []
        else:
            op["description"] = f"Requires a key with role '{r.role}'" + (
                " granted this space." if "{space}" in r.path or r.space_from else "."
            )
        if r.deprecated:
            op["deprecated"] = True
        params = re.findall(r"{(\w+)}", r.path)
        if params:
            op["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": _PARAMS[p]} for p in params
            ]
        if r.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{r.body.__name__}"}}
                },
            }
        for status, text in {**_ERROR_STATUSES, **r.responses}.items():
            op["responses"].setdefault(str(status), {
                "description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            })  # fmt: skip
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Engram",
            "version": f"{engram.__version__} (API v{API_VERSION})",
            "description": (
                "Errors are JSON {error: {code, message, status, request_id}}; every response carries "
                "X-Request-Id and Engram-API-Version. Streaming ingestion is a WebSocket at "
                "/api/v1/spaces/{space}/stream (protocol: engram/server/stream.py), not listed as an operation."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"apiKey": []}],
    }
