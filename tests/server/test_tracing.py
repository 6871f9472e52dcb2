"""Distributed traces (cpp/server/tracing.hpp, engram/client/tracing.py): engramd's spans reach an
OTLP/HTTP receiver as valid ExportTraceServiceRequests (checked against the protocol's schema:
engram_harness.ops.otlp), continue the client's trace through `traceparent`, carry the request id,
show the server's stages (a WAL sync made slow by the test build's fault plan is the slow stage),
follow the sampling rules, and cost a request nothing when the collector is down."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from engram.client import Client
from engram.client.tracing import route_of
from engram_harness.chaos.server_faults import fault_plan
from engram_harness.ops.otlp import OtlpReceiver, SchemaError, parse_payload, trace_id_of
from engram_harness.server import ServerProcess, running_server_process

DIM = 8
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as r:
        yield r


@pytest.fixture(scope="module")
def traced(receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    d = tmp_path_factory.mktemp("traced")
    with running_server_process(d / "data", log_dir=d, no_auth=True, dim=DIM, otlp_endpoint=receiver.url,
                                otlp_interval_s=0.05) as sp:  # fmt: skip
        with Client(sp.url) as c:
            c.create_space("t")
        yield sp


def vec(seed: int) -> list[float]:
    return np.random.default_rng(seed).standard_normal(DIM).astype(np.float32).tolist()


def remember(url: str, headers: dict[str, str] | None = None, seed: int = 0) -> httpx.Response:
    r = httpx.post(f"{url}/api/v1/spaces/t/memories", json={"embedding": vec(seed), "content": f"m{seed}"},
                   headers=headers or {}, timeout=30)  # fmt: skip
    assert r.status_code == 201, r.text
    return r


def test_a_request_continues_the_callers_trace_with_its_stages(
    traced: ServerProcess, receiver: OtlpReceiver
) -> None:
    r = remember(traced.url, {"traceparent": TRACEPARENT, "X-Request-Id": "trace-test-1"})
    trace_id, server_span_id = trace_id_of(r.headers["traceresponse"])
    assert trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    spans = receiver.wait_for(lambda s: any(x.span_id == server_span_id for x in s), 10, "the server span")
    mine = [s for s in spans if s.trace_id == trace_id]
    server = next(s for s in mine if s.span_id == server_span_id)
    assert server.service == "engramd"
    assert server.kind == 2 and server.parent == "00f067aa0ba902b7"
    assert server.name == "POST /api/v1/spaces/{space}/memories"
    assert server.attributes["engram.request_id"] == "trace-test-1"
    assert server.attributes["http.response.status_code"] == 201
    assert server.attributes["http.route"] == "/api/v1/spaces/{space}/memories"
    assert server.attributes["engram.space"] == "t"
    children = {s.name: s for s in mine if s.parent == server_span_id}
    assert {"checks", "receive", "queue", "handler"} <= set(children), sorted(children)
    handler = children["handler"]
    stages = {s.name for s in mine if s.parent == handler.span_id}
    assert {"parse", "wal.sync"} <= stages, stages  # a durable write waits for the WAL's sync
    for s in mine:  # every child lies within its server span
        assert server.start_ns <= s.start_ns <= s.end_ns <= server.end_ns, s


def test_every_export_is_a_valid_otlp_payload(traced: ServerProcess, receiver: OtlpReceiver) -> None:
    remember(traced.url, {"traceparent": TRACEPARENT}, seed=1)
    receiver.wait_for(lambda s: len(s) > 0, 10, "spans")
    assert receiver.errors == []
    assert receiver.payloads and all(ct.startswith("application/json") for ct, _ in receiver.payloads)
    for ct, body in receiver.payloads:  # parse again, strictly, each one
        parse_payload(body, ct)


def test_the_schema_check_refuses_malformed_payloads() -> None:
    good = (b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736",'
            b'"spanId":"00f067aa0ba902b7","name":"x","kind":2,"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}')  # fmt: skip
    parse_payload(good, "application/json")
    for bad in (
        good.replace(b'"name"', b'"nmae"'),  # unknown field
        good.replace(
            b"4bf92f3577b34da6a3ce929d0e0e4736", b"4BF92F3577B34DA6A3CE929D0E0E4736"
        ),  # upper-case hex
        good.replace(b"00f067aa0ba902b7", b"00f067aa0ba902"),  # short span id
        good.replace(b'"endTimeUnixNano":"2"', b'"endTimeUnixNano":"0"'),  # ends before it starts
        good.replace(b'"kind":2', b'"kind":"server"'),  # not an enum value
        good.replace(b'"startTimeUnixNano":"1"', b'"startTimeUnixNano":"soon"'),
        b"not json",
    ):
        with pytest.raises(SchemaError):
            parse_payload(bad, "application/json")


def test_the_client_span_is_the_server_spans_parent(traced: ServerProcess, receiver: OtlpReceiver) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=receiver.url, timeout=10)))
    try:
        with Client(traced.url, tracer_provider=provider) as c:
            mid = c.space("t").remember(np.asarray(vec(3), dtype=np.float32), content="via client")
            assert mid >= 0
    finally:
        provider.shutdown()
    spans = receiver.wait_for(
        lambda s: any(x.kind == 3 and x.name == "POST /api/v2/spaces/{space}/memories" for x in s),
        10,
        "client span",
    )
    client = [s for s in spans if s.kind == 3 and s.name == "POST /api/v2/spaces/{space}/memories"][-1]
    assert client.service != "engramd"
    servers = receiver.wait_for(lambda s: any(x.parent == client.span_id for x in s), 10, "its server span")
    server = next(s for s in servers if s.parent == client.span_id)
    assert server.trace_id == client.trace_id and server.kind == 2
    assert client.attributes["engram.request_id"] == server.attributes["engram.request_id"]
    assert client.attributes["http.response.status_code"] == 201
    assert (
        client.start_ns <= server.start_ns and server.end_ns <= client.end_ns + 5_000_000
    )  # clocks: same host
    assert receiver.errors == []  # the SDK's protobuf payloads pass the schema too


def test_a_slow_wal_sync_is_the_slow_stage(traced: ServerProcess, receiver: OtlpReceiver) -> None:
    with fault_plan(traced.url, "delay=wal.before_fsync:300ms"):
        r = remember(
            traced.url, {"traceparent": "00-11111111111111111111111111111111-2222222222222222-01"}, seed=4
        )
    trace_id, server_span_id = trace_id_of(r.headers["traceresponse"])
    spans = receiver.wait_for(
        lambda s: any(x.trace_id == trace_id and x.name == "wal.sync" for x in s),
        10,
        "the slow request's trace",
    )
    mine = [s for s in spans if s.trace_id == trace_id]
    server = next(s for s in mine if s.span_id == server_span_id)
    stages = [s for s in mine if s.span_id != server_span_id and s.name != "handler"]
    slowest = max(stages, key=lambda s: s.seconds)
    assert slowest.name == "wal.sync", [(s.name, s.seconds) for s in stages]
    assert slowest.seconds >= 0.3 and server.seconds >= 0.3


def test_sampling_follows_the_traceparent(traced: ServerProcess, receiver: OtlpReceiver) -> None:
    unsampled = remember(
        traced.url, {"traceparent": "00-33333333333333333333333333333333-4444444444444444-00"}
    )
    assert "traceresponse" not in unsampled.headers  # the caller decided: not traced
    fresh = remember(traced.url, seed=5)  # no traceparent: ratio 1.0 here, a new trace
    trace_id, _ = trace_id_of(fresh.headers["traceresponse"])
    assert trace_id not in ("33333333333333333333333333333333", "4bf92f3577b34da6a3ce929d0e0e4736")
    receiver.wait_for(
        lambda s: any(x.trace_id == trace_id and x.parent is None for x in s), 10, "the new root span"
    )
    metrics = httpx.get(f"{traced.url}/metrics", timeout=10)
    assert "traceresponse" not in metrics.headers  # scrapes are not traced unless asked
    assert receiver.trace("33333333333333333333333333333333") == []
    asked = httpx.get(f"{traced.url}/health/live", headers={"traceparent": TRACEPARENT}, timeout=10)
    assert "traceresponse" in asked.headers
    exported = [ln for ln in metrics.text.splitlines() if ln.startswith("engram_trace_spans_exported_total ")]
    assert exported and float(exported[0].split()[1]) > 0


def test_a_collector_that_is_down_costs_requests_nothing(tmp_path: Path) -> None:
    with running_server_process(None, log_dir=tmp_path, no_auth=True, dim=DIM,
                                otlp_endpoint="http://127.0.0.1:9/v1/traces", otlp_interval_s=0.05) as sp:  # fmt: skip
        with Client(sp.url) as c:
            c.create_space("t")
        t0 = time.monotonic()
        for i in range(20):
            remember(sp.url, seed=i)
        assert time.monotonic() - t0 < 10
        deadline = time.monotonic() + 10
        while True:  # bounded by the deadline
            text = httpx.get(f"{sp.url}/metrics", timeout=10).text
            dropped = [ln for ln in text.splitlines()
                       if ln.startswith('engram_trace_spans_dropped_total{reason="export_failed"}')]  # fmt: skip
            if (dropped and float(dropped[0].split()[1]) > 0) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert dropped and float(dropped[0].split()[1]) > 0, text
    assert any('"trace_export_failed"' in ln for ln in sp.log_lines())


def test_a_bad_endpoint_is_refused_at_start(tmp_path: Path) -> None:
    from engram_harness.server import ServerStartError

    with (
        pytest.raises(ServerStartError, match="otlp_endpoint"),
        running_server_process(None, log_dir=tmp_path, no_auth=True, otlp_endpoint="https://collector:4318",
                               ready_timeout_s=10),
    ):  # fmt: skip
        pass


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/api/v1/spaces/tenant-a/memories", "/api/v1/spaces/{space}/memories"),
        ("/api/v1/spaces/tenant-a/memories/42", "/api/v1/spaces/{space}/memories/{id}"),
        ("/api/v1/spaces/t/search?k=5", "/api/v1/spaces/{space}/search"),
        ("/api/v1/admin/backup", "/api/v1/admin/backup"),
        ("/api/v1/spaces", "/api/v1/spaces"),
    ],
)
def test_client_span_names_are_route_templates(path: str, route: str) -> None:
    assert route_of(path) == route


def test_without_opentelemetry_the_client_sends_no_trace_header(
    traced: ServerProcess, receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engram.client.tracing as client_tracing

    monkeypatch.setattr(client_tracing, "_trace", None)  # as if opentelemetry-api were not installed
    seen: list[httpx.Request] = []
    transport = httpx.HTTPTransport()

    class Recording(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return transport.handle_request(request)

    with Client(traced.url, transport=Recording()) as c:
        assert c.space("t").remember(np.asarray(vec(9), dtype=np.float32), content="untraced") >= 0
    assert seen and all("traceparent" not in r.headers for r in seen)
