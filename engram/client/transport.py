"""One request with retries, for the sync and async clients: backoff, Retry-After, error mapping."""

from __future__ import annotations

import time
from typing import Any

import httpx

from engram import jsonfast
from engram.client.calls import Call
from engram.client.errors import (
    Overloaded,
    RemoteError,
    ServiceUnavailable,
    StorageError,
    TransportError,
    error_from_body,
)
from engram.client.retry import RetryPolicy
from engram.client.versions import warn_if_deprecated

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)  # the server never saw it


def encode(call: Call) -> bytes | None:
    if call.body is None or isinstance(call.body, bytes):
        return call.body
    return jsonfast.dumps(call.body)


def headers(call: Call) -> dict[str, str]:
    return {**call.headers, "Content-Type": call.content_type} if call.body is not None else call.headers


def outcome(call: Call, resp: httpx.Response) -> tuple[Any, RemoteError | None]:
    """(parsed value, None) on success, else (None, the error)."""
    warn_if_deprecated(call.method, call.path, resp.headers)
    if resp.status_code < 400:
        try:
            return (call.parse(resp.text if call.text else jsonfast.loads(resp.content))), None
        except ValueError as exc:
            return None, TransportError(f"unreadable response to {call.method} {call.path}: {exc}")
    try:
        body = resp.json()
    except ValueError:
        body = None
    rid = resp.headers.get("x-request-id", "")
    return None, error_from_body(resp.status_code, body, rid, resp.headers.get("retry-after"))


def classify(call: Call, exc: httpx.HTTPError, url: str) -> TransportError:
    err = TransportError(f"{call.method} {url}{call.path} failed: {type(exc).__name__}: {exc}")
    err.retryable = isinstance(exc, _NOT_SENT) or call.safe  # type: ignore[attr-defined]
    return err


def should_retry(call: Call, err: RemoteError) -> bool:
    if isinstance(err, TransportError):
        return bool(getattr(err, "retryable", False))
    if isinstance(err, (Overloaded, ServiceUnavailable)):
        return True  # refused before any work was done
    return isinstance(err, StorageError) and call.safe


class Retrier:
    """Yields attempt numbers until success, a final error or the policy's limits."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.start = time.monotonic()

    def next_delay(self, attempt: int, call: Call, err: RemoteError) -> float | None:
        """Seconds to wait before retrying, or None to give up and raise ``err``."""
        if not should_retry(call, err) or attempt + 1 >= self.policy.attempts:
            return None
        delay = self.policy.delay(attempt, err.retry_after_s)
        if time.monotonic() - self.start + delay > self.policy.deadline_s:
            return None
        return delay
