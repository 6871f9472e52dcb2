"""Lifecycle and operations: readiness, graceful shutdown, durability, configuration, metrics, logs.
(engramd's configuration precedence and bad-config exits: test_native.py.)"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from websockets.sync.client import connect

import engram
from engram.client import Client
from engram_harness.server import running_server_process, scaled, start_server

from .conftest import DIM, Tenants, metric_in, vectors


def test_metrics_are_prometheus_and_monotonic(tenants: Tenants) -> None:
    def scrape() -> dict[str, float]:
        text = httpx.get(tenants.url + "/metrics").text
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    with Client(tenants.url, api_key=tenants.keys["admin"]) as c:
        c.space("tenant-a").search(vectors(1)[0], k=3)
        first = scrape()
        for _ in range(3):
            c.space("tenant-a").search(vectors(1)[0], k=3)
        second = scrape()
    for name, v in first.items():
        if name.endswith(("_total", "_count", "_sum")) or "_bucket{" in name or "_total{" in name:
            assert second.get(name, 0) >= v, f"counter {name} went down: {v} -> {second.get(name)}"
    key = 'engram_http_requests_total{method="POST",route="/api/v2/spaces/{space}/search",status="200"}'  # the client speaks v2
    assert second[key] >= first[key] + 3
    for gauge in ("engram_streaming_queue_depth", "engram_streaming_backpressure_state",
                  "engram_streaming_open_streams", "engram_server_ready"):  # fmt: skip
        assert gauge in second
    assert any(n.startswith("engram_http_request_duration_seconds_bucket") for n in second)
    engine_series = engram.Engine(dim=4).prometheus().splitlines()
    engine_names = {ln.split()[2] for ln in engine_series if ln.startswith("# TYPE")}
    assert engine_names and engine_names <= {
        ln.split()[2]
        for ln in httpx.get(tenants.url + "/metrics").text.splitlines()
        if ln.startswith("# TYPE")
    }


def test_one_json_log_line_per_request(tenants: Tenants) -> None:
    rid = "log-check-42"
    httpx.get(tenants.url + "/api/v1/spaces/tenant-a", headers={"Authorization": f"Bearer {tenants.keys['admin']}",
                                                                 "X-Request-Id": rid})  # fmt: skip
    deadline = time.monotonic() + 5
    recs: list[dict[str, object]] = []
    while not recs and time.monotonic() < deadline:
        recs = [r for r in tenants.proc.events("request") if r.get("request_id") == rid]
        time.sleep(0.05)
    assert len(recs) == 1
    rec = recs[0]
    assert rec["route"] == "/api/v1/spaces/{space}" and rec["space"] == "tenant-a" and rec["status"] == 200
    assert isinstance(rec["latency_ms"], float) and rec["key"] == "admin"
    assert tenants.proc.events("space_created")  # engine events are logged too


def test_graceful_shutdown_drains_streams(tmp_path: Path) -> None:
    # every wait stretched by ENGRAM_TEST_TIMEOUT_SCALE: a sanitizer build drains the same queue slower.
    # One observation per writer batch (a file setting), 5 ms apart: the writer needs >= 2 s for the 400.
    (tmp_path / "writer.toml").write_text("ingest_batch = 1\n")
    opts = dict(
        no_auth=True,
        dim=DIM,
        ingest_throttle_ms=5,
        drain_timeout_s=scaled(20),
        config=tmp_path / "writer.toml",
    )
    sp = start_server(None, log_dir=tmp_path, **opts)
    try:
        Client(sp.url).create_space("drain")
        n = 400
        v = vectors(n, seed=40)
        answers: dict[str, int] = {"ack": 0, "reject": 0}
        draining_seen = False
        with connect(sp.url.replace("http", "ws") + "/api/v1/spaces/drain/stream", proxy=None) as ws:
            ws.recv(timeout=scaled(5))
            for i in range(n):
                ws.send(json.dumps({"type": "observation", "seq": i + 1, "embedding": v[i].tolist()}))
            # SIGTERM once the server has read every frame (queued or acked), with most of them still
            # queued behind the slow writer: a frame still unread when the drain ends is never answered
            # (the drain's close stops reading), and a sanitizer build reads frames slower
            read_by = time.monotonic() + scaled(10)
            while time.monotonic() < read_by:
                text = httpx.get(sp.url + "/metrics").text
                if (
                    metric_in(text, "engram_streaming_queue_depth")
                    + metric_in(text, "engram_stream_acks_total")
                    >= n
                ):
                    break
                time.sleep(0.005)
            sp.signal(signal.SIGTERM)
            deadline = time.monotonic() + scaled(30)
            try:
                while time.monotonic() < deadline:
                    m = json.loads(ws.recv(timeout=scaled(10)))
                    if m["type"] in answers:
                        answers[m["type"]] += 1
                        if m["type"] == "reject":
                            assert m["code"] == "shutting_down" and m["retryable"]
                    draining_seen |= m["type"] == "draining"
            except Exception:
                pass
            close_code = ws.close_code
        assert sp.proc.wait(timeout=scaled(30)) == 0
        sp.exit_code = 0
    finally:
        if sp.proc.poll() is None:
            sp.proc.kill()
    assert draining_seen and close_code == 1001
    assert answers["ack"] + answers["reject"] == n and answers["ack"] > 0
    stopped = sp.events("ingest_stopped")
    assert stopped and stopped[0]["drained"] is True and stopped[0]["stored"] == answers["ack"]
    assert [e["event"] for e in map(json.loads, filter(lambda s: s.startswith("{"), sp.log_lines()))][-4:] == [
        "ingest_stopped", "drain_finished", "engine_closed", "exit"]  # fmt: skip


def test_requests_after_drain_are_refused(tmp_path: Path) -> None:
    sp = start_server(None, log_dir=tmp_path, no_auth=True, dim=DIM)
    sp.signal(signal.SIGTERM)
    assert sp.proc.wait(timeout=30) == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(sp.url + "/health/live")


def test_durable_restart_keeps_acknowledged_writes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    v = vectors(60, seed=41)
    with running_server_process(data, log_dir=tmp_path, no_auth=True, dim=DIM, durability="fsync") as sp:
        c = Client(sp.url)
        s = c.create_space("durable")
        ids = [s.remember(v[i], content=f"m{i}") for i in range(20)]
        with c.stream("durable") as st:
            for i in range(20, 60):
                st.send(v[i], content=f"m{i}")
            streamed = st.flush()
        ids += [streamed[i] for i in range(40)]
    assert sp.exit_code == 0 and sp.events("engine_checkpoint")
    with running_server_process(data, log_dir=tmp_path, no_auth=True, dim=DIM) as sp2:
        ready = sp2.events("engine_ready")
        assert ready and ready[0]["recovery"] is not None
        s = Client(sp2.url).space("durable")
        assert len(s) == 60
        assert [s.get(i).content for i in ids] == [f"m{i}" for i in range(60)]


def test_bad_config_exits_2_with_a_message() -> None:
    r = subprocess.run([sys.executable, "-m", "engram", "serve", "--in-memory"], capture_output=True, text=True,
                       timeout=60)  # fmt: skip
    assert r.returncode == 2 and "no_auth" in r.stderr


def test_config_printed_and_no_auth_announced(tmp_path: Path) -> None:
    env_file = tmp_path / "s.toml"
    env_file.write_text("max_k = 33\n")
    with running_server_process(None, log_dir=tmp_path, no_auth=True, dim=DIM, config=env_file) as sp:
        cfg = sp.events("config")
        assert cfg and cfg[0]["max_k"] == 33 and cfg[0]["no_auth"] is True
        assert sp.events("auth_disabled") and sp.events("in_memory_engine")
        assert re.search(r"AUTHENTICATION IS DISABLED", "\n".join(sp.log_lines()))


def test_unopenable_data_dir_exits_1(tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    sp = start_server(blocker / "sub", log_dir=tmp_path, no_auth=True, dim=DIM, wait=False)
    assert sp.proc.wait(timeout=60) == 1
    assert sp.events("engine_open_failed")


def test_numbers_in_log_are_json(tenants: Tenants) -> None:
    lines = [ln for ln in tenants.proc.log_lines() if ln.startswith("{")]
    assert lines and all(isinstance(json.loads(ln), dict) for ln in lines)
    assert np.isfinite([json.loads(ln)["ts"] for ln in lines]).all()


@pytest.mark.parametrize("durability", ["fsync", "group"])
def test_acknowledged_observations_survive_sigkill(tmp_path: Path, durability: str) -> None:
    """Acks mean durable: kill -9 right after the last ack, restart, every acked id is there."""
    data = tmp_path / "data"
    v = vectors(150, seed=42)
    sp = start_server(data, log_dir=tmp_path, no_auth=True, dim=DIM, durability=durability)
    try:
        c = Client(sp.url)
        c.create_space("acked")
        st = c.stream("acked", window=64)
        for x in v:
            st.send(x)
        acked = st.flush(timeout=60)
        sp.signal(signal.SIGKILL)  # no drain, no checkpoint: only what the WAL made durable
        sp.proc.wait(timeout=30)
    finally:
        if sp.proc.poll() is None:
            sp.proc.kill()
    with running_server_process(data, log_dir=tmp_path, no_auth=True, dim=DIM) as sp2:
        s = Client(sp2.url).space("acked")
        assert len(s) >= len(acked) == 150
        for i in (0, 75, 149):
            assert s.get(acked[i]).id == acked[i]


def test_ready_only_after_recovery(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_server_process(data, log_dir=tmp_path, no_auth=True, dim=DIM, durability="none") as sp:
        s = Client(sp.url).create_space("big")
        for _ in range(10):
            s.remember_batch(vectors(50, seed=43))
    sp2 = start_server(data, log_dir=tmp_path, no_auth=True, dim=DIM, wait=False)
    try:
        first_ready = None
        early: list[int] = []
        deadline = time.monotonic() + 60
        while first_ready is None and time.monotonic() < deadline:  # bounded
            try:
                r = httpx.get(sp2.url + "/health/ready", timeout=1)
            except httpx.TransportError:
                time.sleep(0.01)
                continue
            if r.status_code == 200:
                first_ready = time.time()
            else:
                early.append(r.status_code)
                api = httpx.get(sp2.url + "/api/v1/spaces")
                assert api.status_code in (200, 503)
                if api.status_code == 503:
                    assert api.json()["error"]["code"] == "not_ready"
        assert first_ready is not None and set(early) <= {503}
        ready_events = sp2.events("engine_ready")
        assert ready_events and ready_events[0]["ts"] <= first_ready  # ready was never announced early
        assert ready_events[0]["recovery"] is not None
        assert len(Client(sp2.url).space("big")) == 500
    finally:
        assert sp2.stop() == 0


def test_consolidation_pause_is_logged_as_an_engine_event(tenants: Tenants) -> None:
    with Client(tenants.url, api_key=tenants.keys["admin"]) as c:
        c.pause_consolidation()
        c.resume_consolidation()
    assert tenants.proc.events("consolidation_paused") and tenants.proc.events("consolidation_resumed")


def test_in_flight_request_completes_during_shutdown(tmp_path: Path) -> None:
    import threading

    # the drain waits drain_timeout_s (default 20 s) for the batch; a sanitizer build needs longer
    sp = start_server(None, log_dir=tmp_path, no_auth=True, dim=256, max_batch=4000, max_body_bytes=64 << 20,
                      drain_timeout_s=scaled(20))  # fmt: skip
    try:
        Client(sp.url).create_space("big")
        items = [{"embedding": v.tolist()} for v in vectors(4000, seed=44, dim=256)]
        result: dict[str, httpx.Response] = {}
        th = threading.Thread(target=lambda: result.setdefault(
            "r", httpx.post(sp.url + "/api/v1/spaces/big/memories/batch", json={"items": items},
                            timeout=scaled(60))))  # fmt: skip
        th.start()
        deadline = time.monotonic() + scaled(30)
        while time.monotonic() < deadline:  # wait until the batch is being served
            text = httpx.get(sp.url + "/metrics").text
            if "engram_server_inflight_requests 1" in text or "r" in result:
                break
            time.sleep(0.005)
        sp.signal(signal.SIGTERM)
        th.join(timeout=scaled(60))
        assert sp.proc.wait(timeout=scaled(60)) == 0
    finally:
        if sp.proc.poll() is None:
            sp.proc.kill()
    assert result["r"].status_code == 201 and len(result["r"].json()["ids"]) == 4000


def test_stream_survives_a_graceful_server_restart(tmp_path: Path) -> None:
    """SIGTERM mid-stream: the server acks what it stored and refuses the rest as retryable; the
    client reconnects to the restarted server and resends only what was not acknowledged."""
    from engram.client import RetryPolicy
    from engram_harness.server import free_port

    data, port = tmp_path / "data", free_port()
    opts = dict(no_auth=True, dim=DIM, durability="group", port=port, ingest_throttle_ms=3)
    v = vectors(300, seed=45)
    sp = start_server(data, log_dir=tmp_path, **opts)
    try:
        c = Client(sp.url)
        c.create_space("restart")
        st = c.stream(
            "restart", window=64, reconnect=RetryPolicy(attempts=100, base_s=0.05, max_s=0.3, deadline_s=60)
        )
        for x in v[:150]:
            st.send(x)
        sp.signal(signal.SIGTERM)
        for x in v[150:]:
            st.send(x)
        assert sp.proc.wait(timeout=60) == 0
        sp2 = start_server(data, log_dir=tmp_path, **opts)
        try:
            done = st.flush(timeout=60)
            st.close()
            assert st.connections >= 2 and len(done) == 300
            assert len(Client(sp2.url).space("restart")) == 300  # nothing lost, nothing stored twice
        finally:
            assert sp2.stop() == 0
    finally:
        if sp.proc.poll() is None:
            sp.proc.kill()
