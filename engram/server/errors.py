"""API errors: a stable machine code, an HTTP status and a message saying what was wrong and
what is expected. Engine exceptions map onto codes here, and the client maps codes back onto
the same :mod:`engram.errors` classes."""

from __future__ import annotations

from dataclasses import dataclass

from engram import errors as E


@dataclass
class ApiError(Exception):
    status: int
    code: str
    message: str
    retry_after_s: float | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


# engine class -> (status, code); the most specific class first
_ENGINE: tuple[tuple[type[BaseException], int, str], ...] = (
    (E.DimensionError, 400, "dimension_mismatch"),
    (E.InvalidInputError, 400, "invalid_input"),
    (E.SpaceNotFound, 404, "space_not_found"),
    (E.MemoryNotFound, 404, "memory_not_found"),
    (E.SpaceExists, 409, "space_exists"),
    (E.IdempotencyConflict, 409, "idempotency_conflict"),
    (E.CapacityError, 409, "capacity_exceeded"),
    (E.CorruptionError, 500, "corruption"),
    (E.StorageError, 503, "storage_unavailable"),
    (E.ClosedError, 503, "shutting_down"),
)

RETRYABLE_CODES = frozenset({"overloaded", "not_ready", "shutting_down", "storage_unavailable"})


def from_exception(exc: BaseException) -> ApiError | None:
    """The API error for an engine exception, or None when it is not one of ours (a bug: 500)."""
    if isinstance(exc, ApiError):
        return exc
    for cls, status, code in _ENGINE:
        if isinstance(exc, cls):
            retry = 1.0 if status == 503 else None
            return ApiError(status, code, str(exc) or cls.__name__, retry)
    return None


def not_found_route(path: str) -> ApiError:
    return ApiError(
        404, "route_not_found", f"no route {path}; the API lives under /api/v1 (see /openapi.json)"
    )
