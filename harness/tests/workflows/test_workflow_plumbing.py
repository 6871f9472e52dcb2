"""Poisson arrivals, the Prometheus parser, latency logs, the stream sender and the consolidation monitor."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from engram_harness.scenarios.arrivals import poisson_offsets
from engram_harness.workflows.knowledge_graph.consolidation_monitor import ConsolidationMonitor
from engram_harness.workflows.knowledge_graph.streaming import Stream
from engram_harness.workflows.latency import LatencyLog
from engram_harness.workflows.prometheus import has_series, moved, parse_prometheus, series_sum

EXPOSITION = """# HELP engram_operations_total ops
# TYPE engram_operations_total counter
engram_operations_total{space="a",op="remember"} 3
engram_operations_total{space="b",op="remember"} 4
engram_operations_total{space="a",op="recall"} 1
engram_operation_duration_seconds_bucket{space="a",op="recall",le="+Inf"} 1
engram_spaces 2
engram_http_requests_total{method="POST",route="/api/v1/spaces/{space}/links",status="200"} 5
"""


def test_poisson_offsets_have_the_requested_rate() -> None:
    off = poisson_offsets(50.0, 20_000, np.random.default_rng(0))
    assert np.all(np.diff(off) > 0)
    assert 20_000 / off[-1] == pytest.approx(50.0, rel=0.03)
    with pytest.raises(ValueError, match="rate_per_s must be positive"):
        poisson_offsets(0.0, 1, np.random.default_rng(0))


def test_prometheus_parse_sum_and_movement() -> None:
    before = parse_prometheus(EXPOSITION)
    assert series_sum(before, "engram_operations_total", op="remember") == 7
    assert series_sum(before, "engram_operations_total", space="a") == 4
    assert series_sum(before, "engram_spaces") == 2
    assert series_sum(before, "engram_http_requests_total", route="/api/v1/spaces/{space}/links") == 5
    assert has_series(before, "engram_operation_duration_seconds_bucket")
    after = parse_prometheus(EXPOSITION.replace("} 3", "} 13"))
    assert moved(before, after, "engram_operations_total", op="remember") == 10
    assert moved(before, after, "engram_operations_total", op="recall") == 0
    # a series the later scrape does not expose measured nothing: NaN, which fails any check
    assert np.isnan(moved(before, after, "engram_operations_total", op="search"))
    assert np.isnan(moved(before, after, "engram_no_such_metric"))
    assert not has_series(after, "engram_operations_total", op="search")
    # a series that first appears in the later scrape counts from zero
    appeared = parse_prometheus(EXPOSITION + 'engram_operations_total{space="a",op="search"} 2\n')
    assert moved(before, appeared, "engram_operations_total", op="search") == 2


def test_prometheus_values_and_types() -> None:
    text = (
        "# TYPE engram_operation_duration_seconds histogram\n"
        'engram_operation_duration_seconds_bucket{op="recall",le="0.005"} 3\n'
        'engram_operation_duration_seconds_bucket{op="recall",le="+Inf"} 4\n'
        'engram_operation_duration_seconds_count{op="recall"} 4\n'
        'engram_operation_duration_seconds_sum{op="recall"} 0.0125\n'
        'engram_label_escapes{path="a\\"b"} 1e3\n'
    )
    s = parse_prometheus(text)
    assert s[("engram_operation_duration_seconds_count", frozenset({("op", "recall")}))] == 4
    assert s[("engram_operation_duration_seconds_sum", frozenset({("op", "recall")}))] == 0.0125
    assert series_sum(s, "engram_operation_duration_seconds_bucket", le="+Inf") == 4
    assert s[("engram_label_escapes", frozenset({("path", 'a"b')}))] == 1000.0


@pytest.mark.parametrize("bad", ["{broken 1", "engram_spaces abc", "engram_spaces", 'x{a="b} 1'])
def test_prometheus_parser_names_a_malformed_line(bad: str) -> None:
    with pytest.raises(ValueError, match="line 2 of the /metrics text"):
        parse_prometheus(f"engram_spaces 2\n{bad}\n")


def test_latency_log_percentiles() -> None:
    log = LatencyLog("op", [i / 1000 for i in range(1, 101)])  # 1..100 ms
    assert log.p99_ms() == pytest.approx(99.0)
    assert np.isnan(LatencyLog("empty").p99_ms())
    with log.time():
        pass
    assert len(log) == 101


def test_stream_sends_on_schedule_and_records_errors() -> None:
    def send(x: int) -> int:
        if x == 3:
            raise RuntimeError("rejected")
        return 100 + x

    s = Stream("s", [0, 1, 2, 3, 4], np.array([0.0, 0.01, 0.02, 0.03, 0.04]), send)
    t0 = time.perf_counter()
    s.start()
    s.join()
    assert time.perf_counter() - t0 >= 0.04
    assert s.acked == [(0, 100), (1, 101), (2, 102), (4, 104)]
    assert s.errors == [(3, "RuntimeError: rejected")]
    assert s.span_s() > 0
    with pytest.raises(ValueError, match="5 items but 1 offsets"):
        Stream("bad", [0, 1, 2, 3, 4], np.array([0.0]), send)


def test_monitor_records_each_run_and_counts_missed_ones() -> None:
    state = {"runs": 0, "last_run_at": 0.0, "last_duration_s": 0.0}
    lock = threading.Lock()

    def status() -> dict:
        with lock:
            return {"spaces": {"a": dict(state)}}

    mon = ConsolidationMonitor(status, poll_s=0.005)
    mon.start()
    for n, dur in ((1, 0.1), (2, 0.2)):
        with lock:
            state.update(runs=n, last_run_at=1000.0 + n, last_duration_s=dur)
        time.sleep(0.05)
    with lock:
        state.update(runs=4, last_run_at=1010.0, last_duration_s=0.4)  # run 3 never seen
    mon.stop()
    assert mon.durations_s() == [0.1, 0.2, 0.4]
    assert mon.missed == 1
    assert mon.runs_of("a")[0].started_at == pytest.approx(1000.9)


def test_prometheus_parser_reads_the_engines_and_the_servers_exposition() -> None:
    import engram

    with engram.Engine(dim=4) as eng:
        sp = eng.create_space("a")
        before = parse_prometheus(eng.prometheus())
        for _ in range(3):
            sp.remember(np.ones(4, dtype=np.float32))
        after = parse_prometheus(eng.prometheus())
    assert moved(before, after, "engram_operations_total", op="remember") == 3
    assert moved(before, after, "engram_operation_duration_seconds_count", op="remember") == 3
    # engramd's series as its /metrics writes them (cpp/server/metrics.cpp), after one request
    route = 'method="POST",route="/api/v1/spaces/{space}/links",status="200"'
    server = (
        "# HELP engram_http_requests_total HTTP requests by method, route and status.\n"
        "# TYPE engram_http_requests_total counter\n"
        f"engram_http_requests_total{{{route}}} 1\n"
        "# TYPE engram_http_request_duration_seconds histogram\n"
        f'engram_http_request_duration_seconds_bucket{{{route},le="0.005"}} 1\n'
        f"engram_http_request_duration_seconds_sum{{{route}}} 0.002000\n"
        f"engram_http_request_duration_seconds_count{{{route}}} 1\n"
    )
    text = parse_prometheus(server)
    assert series_sum(text, "engram_http_requests_total", route="/api/v1/spaces/{space}/links") == 1
    assert series_sum(text, "engram_http_request_duration_seconds_count", status="200") == 1
