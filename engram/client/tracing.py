"""Client spans and W3C trace context, through OpenTelemetry when it is installed.

Each client call (one logical call: its retries share the span) is a CLIENT span named after the
route template (``POST /api/v1/spaces/{space}/memories``: bounded names, no ids), made by the
global tracer provider (or the client's ``tracer_provider=``), and its context travels to the server in the ``traceparent`` header
(the global propagator: W3C Trace Context by default). engramd then makes its SERVER span a
child of it (``--otlp-endpoint``), so one trace shows the call from the caller's code to the
WAL's sync. The span records the server's request id (``engram.request_id``), the status and
how many tries it took.

Without ``opentelemetry-api`` (``pip install 'engram[tracing]'``), or without a configured
tracer provider, this costs a no-op span and sends no header. The application configures the
SDK and its exporter as for any other library (docs/operations/tracing.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

try:  # optional: the `tracing` extra
    from opentelemetry import propagate as _propagate
    from opentelemetry import trace as _trace
except ImportError:  # pragma: no cover - exercised by an environment without the extra
    _trace = None  # type: ignore[assignment]
    _propagate = None  # type: ignore[assignment]

_SPACE = re.compile(r"(/spaces/)[^/]+")
_ID = re.compile(r"/\d+(?=/|$)")
_BACKUP = re.compile(r"(/admin/backups?/)[^/]+")


def route_of(path: str) -> str:
    """The route template of a request path: space names and ids replaced by placeholders."""
    path = path.split("?", 1)[0]
    path = _SPACE.sub(r"\1{space}", path)
    path = _BACKUP.sub(r"\1{name}", path)
    return _ID.sub("/{id}", path)


class CallSpan:
    """What the transport tells the span of one call: headers to send, then the outcome."""

    def __init__(self, span: Any) -> None:
        self._span = span
        self.headers: dict[str, str] = {}
        self.tries = 0

    def answered(self, status: int, request_id: str | None) -> None:
        self.tries += 1
        if self._span is None:
            return
        self._span.set_attribute("http.response.status_code", status)
        if request_id:
            self._span.set_attribute("engram.request_id", request_id)

    def failed(self, error: BaseException) -> None:
        self.tries += 1
        if self._span is not None:
            self._span.set_attribute("error.type", type(error).__name__)

    def finish(self, error: BaseException | None) -> None:
        if self._span is None:
            return
        self._span.set_attribute("engram.tries", self.tries)
        if error is not None:
            from opentelemetry.trace import Status, StatusCode

            self._span.set_status(Status(StatusCode.ERROR, str(error)[:200]))


@contextmanager
def call_span(method: str, path: str, base_url: str, tracer_provider: Any = None) -> Iterator[CallSpan]:
    """A CLIENT span around one call (all its tries), with the ``traceparent`` to send; made by
    ``tracer_provider`` (the client's ``tracer_provider=``), else by the global provider."""
    if _trace is None:
        yield CallSpan(None)
        return
    route = route_of(path)
    tracer = _trace.get_tracer("engram.client", tracer_provider=tracer_provider)
    attributes = {"http.request.method": method, "http.route": route, "url.full": base_url + path}
    with tracer.start_as_current_span(
        f"{method} {route}", kind=_trace.SpanKind.CLIENT, attributes=attributes, record_exception=False
    ) as span:
        cs = CallSpan(span if span.is_recording() else None)
        _propagate.inject(cs.headers)  # traceparent (and tracestate) of this span
        error: BaseException | None = None
        try:
            yield cs
        except BaseException as exc:
            error = exc
            raise
        finally:
            cs.finish(error)
