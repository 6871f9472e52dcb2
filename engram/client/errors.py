"""Client exceptions. Each API error code maps onto a subclass of the in-process exception of the
same meaning (``except engram.SpaceNotFound`` works against a server too), plus classes for what
only a remote call can meet (auth, overload, transport). All carry the HTTP status, the stable
code and the request id to quote when reporting a problem."""

from __future__ import annotations

from typing import Any

from engram import errors as E


class RemoteError(E.EngramError):
    """An error reported by (or on the way to) an Engram server."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: str = "",
        request_id: str = "",
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _remote(base: type[E.EngramError]) -> type[RemoteError]:
    return type(base.__name__, (RemoteError, base), {"__module__": __name__, "__doc__": base.__doc__})


InvalidInputError = _remote(E.InvalidInputError)
DimensionError = type("DimensionError", (RemoteError, E.DimensionError), {"__module__": __name__})
SpaceNotFound = _remote(E.SpaceNotFound)
MemoryNotFound = _remote(E.MemoryNotFound)
SpaceExists = _remote(E.SpaceExists)
CapacityError = _remote(E.CapacityError)
StorageError = _remote(E.StorageError)
CorruptionError = _remote(E.CorruptionError)
MemoryPressureError = _remote(E.MemoryPressureError)  # 507: not retried by the client (see retry.py)


class Unauthenticated(RemoteError):
    """The API key is missing, unknown or revoked (401)."""


class PermissionDenied(RemoteError):
    """The key lacks the role or the space for this operation (403)."""


class PayloadTooLarge(RemoteError, E.InvalidInputError):
    """The body or batch exceeds the server's limits (413)."""


class IdempotencyConflict(RemoteError):
    """An idempotency key was reused with a different payload (409)."""


class Overloaded(RemoteError):
    """The server refused work for now (429); retried automatically."""


class ServiceUnavailable(RemoteError):
    """The server is not ready or is shutting down (503); retried automatically."""


class TransportError(RemoteError):
    """No usable answer: connection refused or reset, timeout, or an unreadable response."""


class ServerError(RemoteError):
    """The server failed (500): a bug to report with the request id."""


class NotFound(RemoteError, KeyError):
    """Unknown route (404 route_not_found): a client/server version mismatch."""


_BY_CODE: dict[str, type[RemoteError]] = {
    "invalid_input": InvalidInputError,
    "invalid_json": InvalidInputError,
    "limit_exceeded": InvalidInputError,
    "ambiguous_space": InvalidInputError,
    "dimension_mismatch": DimensionError,
    "space_not_found": SpaceNotFound,
    "memory_not_found": MemoryNotFound,
    "space_exists": SpaceExists,
    "capacity_exceeded": CapacityError,
    "memory_pressure": MemoryPressureError,
    "idempotency_conflict": IdempotencyConflict,
    "unauthenticated": Unauthenticated,
    "forbidden": PermissionDenied,
    "payload_too_large": PayloadTooLarge,
    "batch_too_large": PayloadTooLarge,
    "overloaded": Overloaded,
    "not_ready": ServiceUnavailable,
    "shutting_down": ServiceUnavailable,
    "storage_unavailable": StorageError,
    "backup_failed": StorageError,
    "corruption": CorruptionError,
    "route_not_found": NotFound,
}
_BY_STATUS: dict[int, type[RemoteError]] = {
    400: InvalidInputError, 401: Unauthenticated, 403: PermissionDenied, 409: RemoteError,
    413: PayloadTooLarge, 429: Overloaded, 503: ServiceUnavailable, 507: MemoryPressureError,
}  # fmt: skip


def error_from_body(
    status: int, body: Any, request_id: str = "", retry_after: str | None = None
) -> RemoteError:
    """The exception for an error response (``body`` is its parsed JSON, or anything else)."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        cls = ServerError if status >= 500 else _BY_STATUS.get(status, RemoteError)
        return cls(f"HTTP {status} without an error body", status=status, request_id=request_id)
    code = str(err.get("code", ""))
    cls = _BY_CODE.get(code) or (ServerError if status >= 500 else _BY_STATUS.get(status, RemoteError))
    retry = err.get("retry_after_ms")
    retry_s = retry / 1000 if isinstance(retry, (int, float)) else None
    if retry_s is None and retry_after is not None:
        try:
            retry_s = float(retry_after)
        except ValueError:
            retry_s = None
    msg = f"{err.get('message', '')} [{code}, HTTP {status}, request {err.get('request_id', request_id)}]"
    return cls(
        msg,
        status=status,
        code=code,
        request_id=str(err.get("request_id", request_id)),
        retry_after_s=retry_s,
    )


RETRYABLE = (Overloaded, ServiceUnavailable, StorageError)
