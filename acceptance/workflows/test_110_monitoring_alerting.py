"""Workflow 110 (master numbering; the plan's 108): monitoring and alerting with a real Prometheus.

A real Prometheus and Alertmanager (Debian packages, started on loopback by
engram_harness.ops.monitoring with 1 s scrape and evaluation intervals) watch the test build of
engramd through the repository's rules (deploy/prometheus) while a paced client keeps it busy.

1. A healthy control run: no alert fires (Prometheus and Alertmanager both empty); the metrics
   are hygienic (every family has HELP and TYPE, read with prometheus-client's parser; counters
   never go back between scrapes; bounded label values: route templates, no ids); every query of
   the Grafana dashboard (deploy/grafana) is accepted by Prometheus on the live server.
2. Each failure injected, with the chaos toolkit where it exists (fault plans over HTTP, a small
   tmpfs, ``kill -9``), and its alert must reach Alertmanager within 30 s: clock skew, refused
   keys, dropped connections, a failed backup, paused consolidation, an open circuit breaker, a
   nearly full disk; then latency and throughput with a stuck consolidation; an error storm;
   memory pressure with admission control; a crash with a slow recovery; a corrupted checkpoint.
   Detection rate = detected / injected must be 100%.

Quick and full inject the same failures; full holds the control run and each phase longer.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from engram.client import Client
from engram.client.retry import RetryPolicy
from engram.server.auth import add_key
from engram_harness.chaos.corrupt import corrupt
from engram_harness.chaos.disk import SmallDisk
from engram_harness.chaos.server_faults import ServerFaults
from engram_harness.ops.monitoring import REPO, Monitoring, monitoring
from engram_harness.server import ServerProcess, running_server_process, start_server, wait_ready
from engram_harness.suite import CheckRecorder, Profile

pytestmark = pytest.mark.workflow
SEED = 110
# 128, not fewer: the paced load sends a fresh random vector per call, and in 32 dimensions enough
# pairs of 1,800 random vectors (the full control run's writes) pass the consolidator's 0.55
# similarity to form more than 20 concepts an hour, so the rate breaker opened in the healthy
# control run (correctly). In 128 dimensions a pair's cosine has a standard deviation of 0.09.
DIM = 128
ALERT_LATENCY_S = 30.0  # requirements.md section 10 (110): every alert within 30 s
NO_RETRY = RetryPolicy(attempts=1)
DASHBOARD = REPO / "deploy" / "grafana" / "engram-dashboard.json"


@dataclass
class Run:
    """The server under watch, its keys and what the suite measured."""

    server: ServerProcess
    admin: str
    app: str
    opts: dict[str, Any]
    command: list[str]
    detected: dict[str, float | None] = field(default_factory=dict)

    def h(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin}"}

    def faults(self, plan: str = "", skew: float | None = None) -> None:
        with ServerFaults(self.server.url, self.admin) as f:
            f.set(plan=plan, clock_skew_s=skew)


class Load:
    """Paced remembers and searches (alternating) at ``rate``/s on the app's space, from one
    thread, until stopped; bounded in time. Errors are counted, not raised (faults cause them)."""

    def __init__(self, run: Run, rate: float) -> None:
        self.run, self.rate = run, rate
        self.stop = threading.Event()
        self.calls = 0
        self.errors = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        rng = np.random.default_rng(SEED)  # a fresh vector per call: repeats would cluster into concepts
        deadline = time.monotonic() + 1800  # bounded
        i = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                with Client(self.run.server.url, api_key=self.run.app, retry=NO_RETRY, timeout=5) as c:
                    sp = c.space("app")
                    t0 = time.monotonic()
                    j = 0
                    while not self.stop.is_set() and time.monotonic() < deadline:
                        time.sleep(max(0.0, t0 + j / self.rate - time.monotonic()))
                        j += 1
                        i += 1
                        try:
                            v = rng.standard_normal(DIM).astype(np.float32)
                            if i % 2:
                                sp.remember(v, content=f"load-{i}")
                            else:
                                sp.search(v, k=5)
                        except Exception:  # every fault shows here; counted
                            self.errors += 1
                        self.calls += 1
            except Exception:  # the server is down (the crash phase): try again shortly
                self.errors += 1
                time.sleep(0.2)


@contextlib.contextmanager
def load(run: Run, rate: float) -> Iterator[Load]:
    ld = Load(run, rate)
    ld.thread.start()
    try:
        yield ld
    finally:
        ld.stop.set()
        ld.thread.join(timeout=30)


def expect(run: Run, mon: Monitoring, names: list[str], since: float) -> None:
    """Waits (in parallel: one deadline) for each alert to reach Alertmanager; records the
    seconds from ``since`` (None: not within the limit)."""
    deadline = since + ALERT_LATENCY_S + 5.0  # a miss is measured as such, a little past the limit
    pending = set(names)
    while pending and time.monotonic() < deadline:  # bounded
        got = mon.received_names()
        for n in list(pending):
            if n in got:
                run.detected[n] = time.monotonic() - since
                pending.discard(n)
        time.sleep(0.25)
    for n in pending:
        run.detected[n] = None


def clustered(rng: np.random.Generator, clusters: int, per: int) -> np.ndarray:
    centers = rng.standard_normal((clusters, DIM)).astype(np.float32)
    x = np.repeat(centers, per, axis=0) + 0.2 * rng.standard_normal((clusters * per, DIM)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def drop_connections(url: str, key: str, n: int) -> None:
    """``n`` authenticated requests whose client goes away mid-body: what a partition looks like
    to the server (an unauthenticated one would be answered 401 before its body is read)."""
    host, port = url.removeprefix("http://").split(":")
    head = (f"POST /api/v1/spaces/app/memories HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"embedding\": [").encode()  # fmt: skip
    for _ in range(n):  # bounded
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(head)
        time.sleep(0.02)


def hygiene(run: Run, checks: CheckRecorder) -> None:
    """HELP and TYPE on every family, counters monotonic across two scrapes, bounded labels."""
    texts = []
    for _ in range(2):
        texts.append(httpx.get(run.server.url + "/metrics", headers=run.h(), timeout=10).text)
        time.sleep(1.5)
    undocumented, untyped, backwards, unbounded = [], [], [], []
    values: list[dict[tuple[str, tuple[tuple[str, str], ...]], float]] = []
    series_per_family: dict[str, int] = {}
    for text in texts:
        seen: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for fam in text_string_to_metric_families(text):
            if not fam.documentation.strip():
                undocumented.append(fam.name)
            if fam.type not in {"counter", "gauge", "histogram", "summary", "info"}:
                untyped.append(fam.name)
            series_per_family[fam.name] = len(fam.samples)
            for s in fam.samples:
                for k, v in s.labels.items():
                    if k in {"id", "memory_id", "request_id", "path"} or (
                        k == "route" and re.search(r"/\d+(/|$)", v)
                    ):
                        unbounded.append(f"{s.name}{{{k}={v}}}")
                if fam.type == "counter" and s.name.endswith("_total"):
                    seen[(s.name, tuple(sorted(s.labels.items())))] = s.value
        values.append(seen)
    for key, v in values[0].items():
        if key in values[1] and values[1][key] < v:
            backwards.append(f"{key[0]}{dict(key[1])}: {v} -> {values[1][key]}")
    print(f"hygiene: {len(series_per_family)} families, largest {max(series_per_family.values())} samples; "
          f"undocumented {undocumented}, untyped {untyped}, backwards {backwards}, unbounded {unbounded[:5]}")  # fmt: skip
    checks.check("metric families without HELP", len(undocumented), "==", 0)
    checks.check("metric families without a TYPE", len(untyped), "==", 0)
    checks.check("counters that went back between scrapes", len(backwards), "==", 0)
    checks.check("labels holding ids or raw paths", len(unbounded), "==", 0)
    checks.check("samples of the largest family", max(series_per_family.values()), "<", 1000)


def dashboard_queries(mon: Monitoring, checks: CheckRecorder) -> None:
    import json

    dash = json.loads(DASHBOARD.read_text())
    refused = []
    answered = 0
    for p in dash["panels"]:
        for t in p["targets"]:
            try:
                if mon.query(t["expr"]):
                    answered += 1
            except RuntimeError as e:
                refused.append(str(e))
    total = sum(len(p["targets"]) for p in dash["panels"])
    print(f"dashboard: {total} queries, {answered} with data now, refused: {refused}")
    checks.check("dashboard queries Prometheus refuses", len(refused), "==", 0)
    checks.check("dashboard queries answered with data", answered, ">=", total // 2)


def test_every_failure_raises_its_alert(engramd_test_build: str, profile: Profile, checks: CheckRecorder,
                                       tmp_path: Path) -> None:  # fmt: skip
    control_s = profile.pick(40.0, 180.0)
    rate = 20.0
    keys_file = tmp_path / "keys.json"
    admin = add_key(keys_file, "ops", ["*"], "admin")
    app = add_key(keys_file, "app", ["app"], "write")
    with SmallDisk(256 << 20) as disk:
        opts: dict[str, Any] = dict(log_dir=tmp_path, api_keys=keys_file, dim=DIM, backup_dir=tmp_path / "backups",
                                    memory_budget_mb=64, memory_poll_interval_ms=50)  # fmt: skip
        data = disk.path / "data"
        command = [engramd_test_build]
        run = Run(start_server(data, command=command, **opts), admin, app, opts, command)
        try:
            with Client(run.server.url, api_key=admin, timeout=60) as c:
                c.create_space("app", dim=DIM)
                c.space("app").remember_batch(
                    clustered(np.random.default_rng(SEED), 8, 6), [f"seed-{i}" for i in range(48)]
                )
                c.start_consolidation(interval_s=1.0)
            target = run.server.url.removeprefix("http://")
            with monitoring(tmp_path / "monitoring", [target], api_key=admin) as mon, load(run, rate) as ld:
                mon.wait_until(mon.targets_up, 30, "the scrape target to be up")
                phases(run, mon, ld, disk, checks, control_s)
                print(f"load: {ld.calls} calls, {ld.errors} errors (during faults)")
        finally:
            if run.server.proc.poll() is None:
                run.server.stop()
    report(run, checks)


def phases(
    run: Run, mon: Monitoring, ld: Load, disk: SmallDisk, checks: CheckRecorder, control_s: float
) -> None:
    # 1. Control: nothing fires; hygiene; the dashboard's queries.
    time.sleep(control_s)
    firing = [a["labels"]["alertname"] for a in mon.firing()]
    for a in mon.firing():
        print("control: firing", a["labels"], a.get("value"))
    received = sorted(mon.received_names())
    print(f"control ({control_s:.0f} s, {ld.calls} calls): firing {firing}, at Alertmanager {received}")
    checks.check("alerts firing in the healthy control run", len(firing), "==", 0)
    checks.check("alerts at Alertmanager after the control run", len(received), "==", 0)
    hygiene(run, checks)
    dashboard_queries(mon, checks)

    # 2. Instant failures, at once (each has its own alert).
    t0 = time.monotonic()
    run.faults("ioerror=write@*/backups/*:EIO", skew=3600.0)
    r = httpx.post(
        run.server.url + "/api/v1/admin/backup", json={"destination": "nightly"}, headers=run.h(), timeout=60
    )
    checks.check("backup under an I/O fault answers 500 backup_failed", r.status_code, "==", 500)
    time.sleep(2.5)  # the server compares its clocks once a second: the step must last past a check
    run.faults("", skew=0.0)
    for _ in range(40):  # bounded: refused keys
        httpx.get(
            run.server.url + "/api/v1/spaces", headers={"Authorization": "Bearer engram_nobody_x"}, timeout=5
        )
    drop_connections(run.server.url, run.app, 15)
    httpx.post(run.server.url + "/api/v1/consolidation/pause", headers=run.h(), timeout=30).raise_for_status()
    with Client(run.server.url, api_key=run.admin, timeout=60) as c:
        c.create_space("breaker", dim=DIM)
        c.space("breaker").remember_batch(clustered(np.random.default_rng(SEED + 1), 30, 6),
                                          [f"b-{i}" for i in range(180)])  # fmt: skip
        c.space("breaker").consolidate(max_concepts_per_run=1000)  # 30 clusters: the rate breaker (20/h)
    disk.fill(0.93)
    expect(run, mon, ["BackupFailed", "ClockSkewDetected", "AuthFailuresHigh", "ClientDisconnectsHigh",
                      "ConsolidationPaused", "CircuitBreakerOpen", "DiskAlmostFull"], t0)  # fmt: skip
    disk.free()
    httpx.post(
        run.server.url + "/api/v1/consolidation/resume", headers=run.h(), timeout=30
    ).raise_for_status()

    # 3. Latency and throughput (every call 1 s slower) with a consolidation cycle stuck for 40 s.
    time.sleep(2.0)
    t0 = time.monotonic()
    run.faults("delay=remember:1s;delay=search:1s;delay=consolidation.mid_clustering:40s:times=1")
    expect(run, mon, ["LatencyBudgetExceeded", "ThroughputBelowFloor", "ConsolidationStalled"], t0)
    run.faults("")

    # 4. An error storm: every WAL write fails (disk full as the file system reports it).
    time.sleep(2.0)
    t0 = time.monotonic()
    run.faults("ioerror=write@*/wal/*:ENOSPC")
    expect(run, mon, ["ErrorRateHigh"], t0)
    run.faults("")

    # 5. Memory pressure: 1 MiB memories until the engine refuses them (budget 64 MiB).
    t0 = time.monotonic()
    refused = 0
    with Client(run.server.url, api_key=run.admin, retry=NO_RETRY, timeout=30) as c:
        sp = c.create_space("ballast", dim=DIM)
        big = "m" * (1 << 20)
        for i in range(120):  # bounded: 120 MiB at most against a 64 MiB budget
            try:
                sp.remember(np.ones(DIM, dtype=np.float32), content=big[: -len(str(i))] + str(i))
            except Exception:
                refused += 1
                if refused >= 10:
                    break
        expect(run, mon, ["MemoryPressureWarning", "MemoryPressureCritical", "AdmissionControlEngaged",
                          "CapacityHeadroomLow"], t0)  # fmt: skip
        c.drop_space("ballast")
    print(f"memory phase: {refused} writes refused")

    # 6. A crash (kill -9) and a restart whose recovery takes 8 s (the test build's recovery.start).
    t0 = time.monotonic()
    run.server.proc.send_signal(signal.SIGKILL)
    run.server.proc.wait(timeout=30)
    expect(run, mon, ["ProcessDown"], t0)
    t0 = time.monotonic()
    port = int(run.server.url.rsplit(":", 1)[1])
    run.server = start_server(Path(disk.path / "data"), command=run.command, port=port, wait=False,
                              env={"ENGRAM_FAULTS": "delay=recovery.start:8s"}, **run.opts)  # fmt: skip
    expect(run, mon, ["WalRecoveryInProgress"], t0)
    wait_ready(run.server.url, run.server.proc, 60)
    expect(run, mon, ["ProcessCrashDetected", "WalRecoveryComplete"], t0)

    # 7. A corrupted checkpoint: stopped cleanly (a checkpoint), damaged, restarted.
    assert run.server.stop() == 0
    ckpt = max((disk.path / "data").glob("checkpoint-*"))
    what = corrupt(ckpt, "bit_flip", ckpt.stat().st_size // 2)
    t0 = time.monotonic()
    run.server = start_server(Path(disk.path / "data"), command=run.command, port=port, **run.opts)
    expect(run, mon, ["CorruptionQuarantined"], t0)
    print(f"corruption: {ckpt.name} {what}")


def report(run: Run, checks: CheckRecorder) -> None:
    detected = {n: s for n, s in run.detected.items() if s is not None and s <= ALERT_LATENCY_S}
    for name, s in sorted(run.detected.items()):
        shown = "not within 35 s" if s is None else f"{s:.1f} s"
        print(f"  {name:24s} {shown}")
        checks.check(f"{name} at Alertmanager", s if s is not None else 1e9, "<=", ALERT_LATENCY_S, "s")
    rate = len(detected) / max(1, len(run.detected))
    checks.check("failures injected", len(run.detected), ">=", 19)
    checks.check("detection rate (detected within 30 s / injected)", rate, "==", 1.0)
    checks.assert_all()


def test_traces_correlate_each_operation(engramd_test_build: str, profile: Profile, checks: CheckRecorder,
                                         tmp_path: Path) -> None:  # fmt: skip
    """Distributed traces (OTLP/HTTP): every client call's span (OpenTelemetry SDK) has engramd's
    server span as its child in the same trace, with the same request id; every payload is a valid
    ExportTraceServiceRequest; a request whose WAL sync is slowed shows ``wal.sync`` as its slow
    stage. Quick exports straight to a checking receiver; full goes through a real OpenTelemetry
    Collector (built from the Go module proxy: scripts/setup-otelcol.sh) that forwards to it."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from engram_harness.chaos.server_faults import fault_plan
    from engram_harness.ops.otlp import OtlpReceiver, collector, trace_id_of

    calls = profile.pick(200, 2000)
    with OtlpReceiver() as receiver, contextlib.ExitStack() as stack:
        endpoint = (
            receiver.url
            if profile.quick
            else stack.enter_context(collector(tmp_path / "otelcol", receiver.url))
        )
        print(
            f"traces: exporting to {'the receiver' if profile.quick else 'a real OpenTelemetry Collector'} {endpoint}"
        )
        sp = stack.enter_context(running_server_process(tmp_path / "traced-data", command=[engramd_test_build],
                                                        log_dir=tmp_path, no_auth=True, dim=DIM,
                                                        otlp_endpoint=endpoint, otlp_interval_s=0.2))  # fmt: skip
        provider = TracerProvider(resource=Resource.create({"service.name": "workflow-110"}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=10)))
        rng = np.random.default_rng(SEED)
        t0 = time.monotonic()
        try:
            with Client(sp.url, tracer_provider=provider) as c:
                c.create_space("traced", dim=DIM)
                space = c.space("traced")
                for i in range(calls):  # bounded
                    v = rng.standard_normal(DIM).astype(np.float32)
                    (space.remember(v, content=f"t{i}") if i % 2 == 0 else space.search(v, k=5))
        finally:
            provider.shutdown()  # flushes the client's spans
        elapsed = time.monotonic() - t0
        with fault_plan(sp.url, "delay=wal.before_fsync:250ms"):
            slow = httpx.post(f"{sp.url}/api/v1/spaces/traced/memories", timeout=30,
                              json={"embedding": rng.standard_normal(DIM).tolist(), "content": "slow"},
                              headers={"traceparent": "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"})  # fmt: skip
        slow_trace, slow_span = trace_id_of(slow.headers["traceresponse"])

        def complete(spans: list[Any]) -> bool:
            client_ids = {s.span_id for s in spans if s.kind == 3}
            linked = sum(1 for s in spans if s.kind == 2 and s.parent in client_ids)
            return linked >= calls + 2 and any(
                s.trace_id == slow_trace and s.name == "wal.sync" for s in spans
            )

        with contextlib.suppress(TimeoutError):
            receiver.wait_for(complete, 30, "every call's client and server spans")
        spans = receiver.snapshot()
    client = {s.span_id: s for s in spans if s.kind == 3}
    servers = [s for s in spans if s.kind == 2 and s.parent in client]
    same_id = sum(1 for s in servers if s.attributes.get("engram.request_id") == client[s.parent].attributes.get(
        "engram.request_id") and s.trace_id == client[s.parent].trace_id)  # fmt: skip
    slow_stages = [
        s for s in spans if s.trace_id == slow_trace and s.span_id != slow_span and s.name != "handler"
    ]
    slowest = max(slow_stages, key=lambda s: s.seconds) if slow_stages else None
    print(f"traces: {calls + 2} client calls in {elapsed:.1f} s, {len(client)} client spans, {len(servers)} server "
          f"spans under them, {len(receiver.payloads)} payloads, schema errors {receiver.errors[:3]}; slow request: "
          f"{[(s.name, round(s.seconds * 1e3, 1)) for s in slow_stages]}")  # fmt: skip
    checks.check("client calls whose span reached the receiver", len(client), ">=", calls + 2)
    checks.check("client spans with engramd's server span as their child", len(servers), ">=", calls + 2)
    checks.check("server spans sharing the client's trace id and request id", same_id, "==", len(servers))
    checks.check("payloads failing the OTLP schema", len(receiver.errors), "==", 0)
    checks.check("slow request's slowest stage is wal.sync", int(slowest is not None and slowest.name == "wal.sync"),
                 "==", 1)  # fmt: skip
    if not profile.quick:  # the shipped collector configuration, checked by the collector itself
        import subprocess

        from engram_harness.ops.otlp import collector_binary

        shipped = REPO / "deploy" / "otelcol" / "otelcol.yaml"
        v = subprocess.run([str(collector_binary()), "validate", "--config", str(shipped)], capture_output=True,
                           text=True, timeout=60)  # fmt: skip
        print(f"deploy/otelcol/otelcol.yaml: validate exit {v.returncode} {v.stderr[-500:]}")
        checks.check(
            "deploy/otelcol/otelcol.yaml accepted by the collector (exit status)", v.returncode, "==", 0
        )
    checks.assert_all()
