"""The C++ executor's HTTP target (engram_harness.driver.native_http) against tiny local servers:
schedule honoured, latency from the intended start, errors classified, bounded on dead and hung
servers, keep-alive connections reused."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import numpy as np
import pytest

from engram_harness.driver.native_http import Endpoint, available, process_cpu_s, run_http
from engram_harness.scenarios import Scenario, build_schedule

pytestmark = pytest.mark.skipif(not available(), reason="engram built without the HTTP load target (Boost)")

Behaviour = Callable[[int], tuple[int, bytes, float]]  # request number -> (status, body, delay s)


#: An API v1 overload answer (HTTP 429, code ``overloaded``), as engramd sends under backpressure.
OVERLOADED = (429, b'{"error": {"code": "overloaded", "message": "busy", "status": 429}}', 0.0)


def ok(_: int) -> tuple[int, bytes, float]:
    return 200, b'{"results": []}', 0.0


class FixedServer:
    """A stdlib HTTP/1.1 keep-alive server answering every POST by ``behaviour``; it counts
    connections and records each request's path, headers and JSON body."""

    def __init__(self, behaviour: Behaviour = ok) -> None:
        self.behaviour = behaviour
        self.lock = threading.Lock()
        self.connections = 0
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # one write per response, sent at once: headers and body in separate segments would meet
            # Nagle's algorithm and the client's delayed ACK (40 ms per request)
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                with outer.lock:
                    outer.connections += 1

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    n = len(outer.requests)
                    outer.requests.append((self.path, dict(self.headers), json.loads(body)))
                status, payload, delay = outer.behaviour(n)
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FixedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Behaviour], FixedServer]]:
    servers: list[FixedServer] = []

    def start(behaviour: Behaviour = ok) -> FixedServer:
        s = FixedServer(behaviour).__enter__()
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.__exit__()


def constant(factory: Callable[..., Scenario], rate: int, duration: float, ops: str = "") -> Any:
    return build_schedule(
        factory(
            arrival=f'pattern = "constant"\nrate = {rate}',
            duration=duration,
            operations=ops or "remember = 0.5\nrecall_episodic = 0.3\nsearch = 0.2",
        )
    )


def vector_of(value: Any) -> np.ndarray:
    """A body's embedding: a JSON array, or the base64 string of little-endian float32 values."""
    if isinstance(value, str):
        return np.frombuffer(base64.b64decode(value, validate=True), dtype="<f4")
    return np.asarray(value, dtype=np.float64)


@pytest.mark.parametrize("embeddings", ["json", "base64"])
@pytest.mark.parametrize("prebuild_mb", [0.0, 64.0], ids=["encoded-while-waiting", "prebuilt"])
def test_schedule_is_honoured_and_requests_are_api_v1(
    serve: Callable[[Behaviour], FixedServer],
    scenario_factory: Callable[..., Scenario],
    prebuild_mb: float,
    embeddings: Literal["json", "base64"],
) -> None:
    srv = serve(ok)
    sched = constant(scenario_factory, 100, 1.0)
    run = run_http(
        sched,
        srv.url + "/",
        api_key="engram_k_s",
        connections=4,
        prebuild_mb=prebuild_mb,
        embeddings=embeddings,
    )
    assert run.bodies_prebuilt == (100 if prebuild_mb else 0)
    res = run.result
    assert res.errors == 0 and len(res) == 100 == len(srv.requests)
    late = res.actual_start_ns - res.intended_start_ns
    assert late.min() >= 0  # never sent before its intended start
    assert np.median(late) < 5e6  # and, on an idle enough host, on time
    assert res.wall_time_s == pytest.approx(1.0, abs=0.3)
    base = f"/api/v1/spaces/{sched.space_names[0]}"
    assert {p for p, _, _ in srv.requests} == {f"{base}/{r}" for r in ("memories", "recall", "search")}
    by_path: dict[str, dict[str, Any]] = {p: b for p, _, b in srv.requests}
    rem = by_path[f"{base}/memories"]
    assert len(vector_of(rem["embedding"])) == 8
    assert rem["content"].startswith("load ") and 0 <= rem["confidence"] <= 1
    rec = by_path[f"{base}/recall"]
    assert (
        len(vector_of(rec["cue"])) == 8 and rec["mode"] == "episodic" and rec["k"] >= 1 and "threshold" in rec
    )
    assert len(vector_of(by_path[f"{base}/search"]["embedding"])) == 8
    assert all(
        isinstance(b.get("embedding", b.get("cue")), str) == (embeddings == "base64")
        for _, _, b in srv.requests
    )
    assert all(h.get("Authorization") == "Bearer engram_k_s" for _, h, _ in srv.requests)
    # the embeddings on the wire are the schedule's, to float32 precision
    first = srv.requests[0][2]
    vec = vector_of(first.get("embedding", first.get("cue")))
    if embeddings == "base64":  # the float32 bytes themselves
        assert np.array_equal(vec, sched.vectors([0])[0].astype("<f4"))
    else:
        assert np.allclose(vec, sched.vectors([0])[0], rtol=1e-6)
    assert run.driver_cpu_s > 0 and run.bytes_sent > 0


def test_latency_counts_from_the_intended_start(
    serve: Callable[[Behaviour], FixedServer], scenario_factory: Callable[..., Scenario]
) -> None:
    # every 10th request takes 50 ms; one connection at 100 ops/s, so the next ones queue behind it
    srv = serve(lambda n: (200, b"{}", 0.05 if n % 10 == 5 else 0.0))
    res = run_http(constant(scenario_factory, 100, 1.0), srv.url, connections=1).result
    assert res.errors == 0
    lat_ms = res.latency_ns / 1e6
    assert np.percentile(lat_ms, 99) >= 50
    # op 6 was due 10 ms after op 5: the server answered it at once, yet it waited ~40 ms
    assert lat_ms[5] >= 50 and lat_ms[6] >= 35
    service_ms = (res.latency_ns - (res.actual_start_ns - res.intended_start_ns)) / 1e6
    assert service_ms[6] < 20  # the delay is queueing behind the slow request, not service time


def test_a_slow_request_shows_in_p99_at_a_low_rate(
    serve: Callable[[Behaviour], FixedServer], scenario_factory: Callable[..., Scenario]
) -> None:
    srv = serve(lambda n: (200, b"{}", 0.05 if n % 10 == 9 else 0.0))
    res = run_http(constant(scenario_factory, 20, 2.0), srv.url, connections=8).result
    assert res.errors == 0 and len(res) == 40
    assert np.percentile(res.latency_ns / 1e6, 99) >= 50
    assert np.median(res.latency_ns / 1e6) < 40


def test_errors_are_counted_by_status_and_code(
    serve: Callable[[Behaviour], FixedServer], scenario_factory: Callable[..., Scenario]
) -> None:
    def behaviour(n: int) -> tuple[int, bytes, float]:
        if n % 5 == 0:
            return OVERLOADED
        if n == 7:
            return 500, b"boom", 0.0
        return ok(n)

    srv = serve(behaviour)
    res = run_http(constant(scenario_factory, 200, 0.5), srv.url, connections=1).result
    assert len(res) == 100
    assert res.error_counts() == {"HTTP 429 overloaded": 20, "HTTP 500": 1}
    assert "busy" in res.error_samples["HTTP 429 overloaded"]
    assert res.op_summary().set_index("op").loc["all", "errors"] == 21


def test_keep_alive_connections_are_reused(
    serve: Callable[[Behaviour], FixedServer], scenario_factory: Callable[..., Scenario]
) -> None:
    srv = serve(ok)
    run = run_http(constant(scenario_factory, 400, 0.5), srv.url, connections=3)
    assert run.result.errors == 0 and len(srv.requests) == 200
    assert 1 <= srv.connections <= 3 and run.connections_opened == srv.connections


def test_a_dead_server_ends_the_run_with_errors(scenario_factory: Callable[..., Scenario]) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = time.monotonic()
    res = run_http(constant(scenario_factory, 100, 0.5), f"http://127.0.0.1:{port}", connections=2).result
    assert time.monotonic() - t < 5
    assert res.error_counts() == {"ConnectError": 50}


def test_a_hung_server_ends_the_run_with_errors_not_a_hang(scenario_factory: Callable[..., Scenario]) -> None:
    with socket.socket() as listener:  # accepts connections (the kernel's backlog) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        t = time.monotonic()
        res = run_http(
            constant(scenario_factory, 50, 1.0), url, connections=2, grace_s=0.5, request_timeout_s=0.3
        ).result
        elapsed = time.monotonic() - t
    assert elapsed < 1.0 + 0.5 + 2 * 0.3 + 2  # bounded by duration + grace + timeouts
    counts = res.error_counts()
    assert res.errors == len(res) == 50
    assert counts.get("Timeout", 0) >= 2 and set(counts) <= {"Timeout", "NotStarted", "ConnectTimeout"}


def test_bad_arguments_are_refused(scenario_factory: Callable[..., Scenario]) -> None:
    sched = constant(scenario_factory, 10, 0.2)
    with pytest.raises(ValueError, match="http://host:port"):
        run_http(sched, "https://127.0.0.1:1")
    with pytest.raises(ValueError, match="connections"):
        run_http(sched, "http://127.0.0.1:1", connections=0)
    with pytest.raises(ValueError, match=r"embeddings must be 'json'.*got 'b64'"):
        run_http(sched, "http://127.0.0.1:1", embeddings="b64")  # type: ignore[arg-type]
    assert Endpoint.parse("http://localhost:8080/prefix/") == Endpoint("localhost", 8080, "/prefix")


def test_process_cpu_reads_proc() -> None:
    import os

    assert process_cpu_s(os.getpid()) > 0


def test_a_segmented_run_is_the_schedule_on_one_timeline(
    serve: Callable[[Behaviour], FixedServer], scenario_factory: Callable[..., Scenario]
) -> None:
    from engram_harness.driver.segmented import run_http_segmented, segment_bounds, slice_schedule

    def behaviour(n: int) -> tuple[int, bytes, float]:
        if n % 5 == 0:
            return OVERLOADED
        return ok(n)

    sched = constant(scenario_factory, 100, 1.5)
    bounds = segment_bounds(sched.duration_ns, 500_000_000)
    assert bounds == [(0, 500_000_000), (500_000_000, 1_000_000_000), (1_000_000_000, 1_500_000_000)]
    pieces = [slice_schedule(sched, lo, hi) for lo, hi in bounds]
    assert sum(len(p) for p in pieces) == len(sched)
    assert np.array_equal(
        np.concatenate([p.start_ns + lo for p, (lo, _) in zip(pieces, bounds, strict=True)]), sched.start_ns
    )
    assert np.array_equal(np.concatenate([p.key for p in pieces]), sched.key)

    srv = serve(behaviour)
    run = run_http_segmented(sched, srv.url, segment_s=0.5, max_vector_bytes=0, connections=2)
    res = run.result
    assert res.executor.endswith("-x3") and run.connections_opened >= 3  # fresh connections per segment
    assert len(res) == len(sched) == len(srv.requests)
    assert np.array_equal(res.op, sched.op)
    # one timeline: starts keep their order and spacing across the seams, within the seams' few ms
    assert np.all(np.diff(res.intended_start_ns) >= 0)
    drift = res.intended_start_ns - sched.start_ns
    assert drift.min() >= 0 and drift.max() < 0.5e9  # seams, not a lost segment (0.5 s each)
    assert (res.actual_start_ns >= res.intended_start_ns).all()
    assert res.duration_s == pytest.approx(1.5, abs=0.5) and res.wall_time_s >= 1.4
    # error codes of the three segments merged onto one class list
    assert res.error_counts() == {"HTTP 429 overloaded": -(-len(sched) // 5)}
    # a schedule whose vectors fit runs in one piece, as run_http
    assert not run_http_segmented(sched, srv.url, connections=2).result.executor.endswith("-x3")
