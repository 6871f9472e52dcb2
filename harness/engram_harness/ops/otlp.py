"""Traces for the tests: an OTLP/HTTP receiver on loopback that checks every payload against the
protocol's schema, span views to assert on, and a real OpenTelemetry Collector for the full profile.

Schema check (:func:`parse_payload`): a payload is parsed into the protocol's own message,
``opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest`` (the ``opentelemetry-proto``
package, generated from the protocol's .proto files), by protobuf's JSON parser with unknown
fields refused; OTLP's JSON encoding differs from protobuf's canonical one only in writing trace
and span ids in hex, which are checked (lower-case hex of 16 and 8 bytes) and converted first.
On top of the schema: ids not all zero, end not before start, a kind the enum defines. A
protobuf payload (what the Python SDK's exporter sends) is parsed as protobuf.

:func:`collector` starts the Collector built by ``scripts/setup-otelcol.sh`` with an OTLP/HTTP
receiver and an ``otlphttp`` exporter (JSON encoding) pointed at an :class:`OtlpReceiver`, so a
span reaches the test only if the real collector accepted it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from engram_harness.server import free_port

REPO = Path(__file__).resolve().parents[3]
_HEX_DIGITS = {"traceId": 32, "spanId": 16, "parentSpanId": 16}  # OTLP JSON writes ids in hex
_HEX = {k: re.compile(f"[0-9a-f]{{{n}}}") for k, n in _HEX_DIGITS.items()}


class SchemaError(ValueError):
    """A payload that is not a valid OTLP ExportTraceServiceRequest."""


def _ids_to_base64(node: Any, where: str) -> None:
    """OTLP JSON's hex ids, checked and rewritten as protobuf JSON's base64 bytes, in place."""
    if isinstance(node, list):
        for i, x in enumerate(node):
            _ids_to_base64(x, f"{where}[{i}]")
        return
    if not isinstance(node, dict):
        return
    for key, value in list(node.items()):
        if key in _HEX and isinstance(value, str):
            if value == "" and key == "parentSpanId":
                continue  # a root span may carry an empty parent
            if not _HEX[key].fullmatch(value):
                raise SchemaError(
                    f"{where}.{key}={value!r}: expected lower-case hex of {_HEX_DIGITS[key]} digits"
                )
            raw = bytes.fromhex(value)
            if not any(raw):
                raise SchemaError(f"{where}.{key} is all zeros (an invalid id)")
            node[key] = base64.b64encode(raw).decode()
        else:
            _ids_to_base64(value, f"{where}.{key}")


def parse_payload(body: bytes, content_type: str) -> Any:
    """The ExportTraceServiceRequest in ``body`` (JSON or protobuf); SchemaError when invalid."""
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    msg = ExportTraceServiceRequest()
    if content_type.startswith("application/x-protobuf"):
        try:
            msg.ParseFromString(body)
        except DecodeError as exc:
            raise SchemaError(f"not an ExportTraceServiceRequest (protobuf): {exc}") from exc
    elif content_type.startswith("application/json"):
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise SchemaError(f"not JSON: {exc}") from exc
        _ids_to_base64(doc, "$")
        try:
            json_format.ParseDict(doc, msg, ignore_unknown_fields=False)
        except json_format.ParseError as exc:
            raise SchemaError(f"not an ExportTraceServiceRequest (OTLP JSON): {exc}") from exc
    else:
        raise SchemaError(
            f"Content-Type {content_type!r}: expected application/json or application/x-protobuf"
        )
    for rs in msg.resource_spans:
        for ss in rs.scope_spans:
            for sp in ss.spans:
                if (
                    len(sp.trace_id) != 16
                    or len(sp.span_id) != 8
                    or not any(sp.trace_id)
                    or not any(sp.span_id)
                ):
                    raise SchemaError(f"span {sp.name!r}: trace id of 16 bytes and span id of 8 expected")
                if sp.parent_span_id and len(sp.parent_span_id) != 8:
                    raise SchemaError(f"span {sp.name!r}: parent span id of 8 bytes expected")
                if sp.end_time_unix_nano < sp.start_time_unix_nano or sp.start_time_unix_nano == 0:
                    raise SchemaError(
                        f"span {sp.name!r}: start {sp.start_time_unix_nano}, end {sp.end_time_unix_nano}"
                    )
                if not 0 <= sp.kind <= 5:
                    raise SchemaError(f"span {sp.name!r}: kind {sp.kind} is not a SpanKind")
    return msg


def _attr(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return None if kind is None else getattr(v, kind)


@dataclass(frozen=True)
class SpanView:
    service: str
    trace_id: str
    span_id: str
    parent: str | None
    name: str
    kind: int  # 1 internal, 2 server, 3 client
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    error: bool

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9


def span_views(msg: Any) -> list[SpanView]:
    out = []
    for rs in msg.resource_spans:
        service = next((_attr(a.value) for a in rs.resource.attributes if a.key == "service.name"), "")
        for ss in rs.scope_spans:
            for sp in ss.spans:
                view = SpanView(
                    service=str(service), trace_id=sp.trace_id.hex(), span_id=sp.span_id.hex(),
                    parent=sp.parent_span_id.hex() or None, name=sp.name, kind=int(sp.kind),
                    start_ns=int(sp.start_time_unix_nano), end_ns=int(sp.end_time_unix_nano),
                    attributes={a.key: _attr(a.value) for a in sp.attributes}, error=sp.status.code == 2,
                )  # fmt: skip
                out.append(view)
    return out


class OtlpReceiver:
    """OTLP/HTTP traces endpoint on loopback: validates, keeps and answers every export.

    An invalid payload is answered 400 (as a collector would) and kept in :attr:`errors`, so a
    test that asserts ``errors == []`` fails on the first malformed export."""

    def __init__(self) -> None:
        self.payloads: list[tuple[str, bytes]] = []
        self.errors: list[str] = []
        self.spans: list[SpanView] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server API's name
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                ctype = self.headers.get("Content-Type") or ""
                try:
                    views = span_views(parse_payload(body, ctype)) if self.path == "/v1/traces" else None
                except SchemaError as exc:
                    with receiver._lock:
                        receiver.errors.append(f"{self.path} ({ctype}): {exc}")
                    self._answer(400, ctype, str(exc).encode())
                    return
                if views is None:
                    self._answer(404, ctype, b"only /v1/traces is served")
                    return
                with receiver._lock:
                    receiver.payloads.append((ctype, body))
                    receiver.spans.extend(views)
                self._answer(200, ctype, b"{}" if ctype.startswith("application/json") else b"")

            def _answer(self, status: int, ctype: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype or "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1/traces"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def snapshot(self) -> list[SpanView]:
        with self._lock:
            return list(self.spans)

    def trace(self, trace_id: str) -> list[SpanView]:
        return [s for s in self.snapshot() if s.trace_id == trace_id]

    def wait_for(self, pred: Any, timeout_s: float, what: str) -> list[SpanView]:
        """The spans once ``pred(spans)`` holds (polled, bounded by ``timeout_s``); TimeoutError."""
        deadline = time.monotonic() + timeout_s
        while True:  # bounded by the deadline
            spans = self.snapshot()
            if pred(spans):
                return spans
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not received within {timeout_s} s ({len(spans)} spans received)")
            time.sleep(0.05)


def trace_id_of(traceresponse: str) -> tuple[str, str]:
    """(trace id, server span id) from engramd's ``traceresponse`` header."""
    parts = traceresponse.split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        raise ValueError(f"traceresponse {traceresponse!r}: expected 00-<trace id>-<span id>-<flags>")
    return parts[1], parts[2]


class CollectorUnavailable(RuntimeError):
    """The OpenTelemetry Collector is not built (scripts/setup-otelcol.sh) or would not start."""


def collector_binary() -> Path:
    if os.environ.get("ENGRAM_OTELCOL"):
        return Path(os.environ["ENGRAM_OTELCOL"])
    script = REPO / "scripts" / "setup-otelcol.sh"
    try:
        out = subprocess.run([str(script)], check=True, capture_output=True, text=True, timeout=1800)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        raise CollectorUnavailable(
            f"could not build the OpenTelemetry Collector ({script}): {exc} {detail[-500:]}"
        ) from exc
    return Path(out.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def collector(workdir: Path, forward_to: str) -> Iterator[str]:
    """A real Collector on loopback forwarding every trace to ``forward_to`` (OTLP/HTTP JSON);
    yields its OTLP/HTTP traces URL."""
    binary = collector_binary()
    port = free_port()
    cfg = workdir / "otelcol.yaml"
    workdir.mkdir(parents=True, exist_ok=True)
    base = forward_to.removesuffix("/v1/traces")
    cfg.write_text(
        "receivers:\n  otlp:\n    protocols:\n      http:\n"
        f"        endpoint: 127.0.0.1:{port}\n"
        "processors:\n  batch:\n    timeout: 200ms\n"
        "exporters:\n  otlphttp:\n"
        f"    endpoint: {base}\n    encoding: json\n    compression: none\n"
        "    retry_on_failure:\n      enabled: false\n"
        "service:\n  telemetry:\n    metrics:\n      level: none\n"
        "  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [otlphttp]\n"
    )
    log = workdir / "otelcol.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(binary), "--config", str(cfg)], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1/traces"
    try:
        deadline = time.monotonic() + 30
        while True:  # bounded by the deadline
            if proc.poll() is not None:
                raise CollectorUnavailable(
                    f"the Collector exited ({proc.returncode}): {log.read_text()[-2000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                # an empty export is accepted once the receiver listens
                if httpx.post(url, json={"resourceSpans": []}, timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise CollectorUnavailable(
                    f"the Collector did not listen within 30 s: {log.read_text()[-2000:]}"
                )
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
