"""The native server (engramd, issue 13 part 1): the ops and spaces routes, auth, limits,
lifecycle, and the defects of issue 13 this part fixes (authorisation before the body, header
size, slow-header and idle timeouts, connection limit, client aborts, per-space metrics, config
numbers), plus TLS."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import engram
from engram.server.auth import add_key, revoke_key
from engram.server.launcher import find_engramd
from engram_harness.server import running_server_process, start_server

from .conftest import (
    BAD_AUTHORIZATION,
    DIM,
    Tenants,
    check_key_reload,
    check_unauthenticated,
    make_keys,
    metric,
    metric_in,
    only_bounds_added,
    recorded,
    same,
    serve_tenants,
    starlette_openapi,
)

ENGRAMD = find_engramd()
pytestmark = pytest.mark.skipif(ENGRAMD is None, reason="engramd is not built (its libraries are missing)")


@pytest.fixture(scope="module")
def nt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    with serve_tenants(tmp_path_factory.mktemp("native")) as t:
        yield t


def _h(t: Tenants, who: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {t.keys[who]}"}


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _raw(url: str, data: bytes, timeout: float = 5.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", _port(url)), timeout=timeout)
    s.sendall(data)
    return s


def _recv_all(s: socket.socket) -> bytes:
    out = b""
    while True:  # bounded by the socket timeout
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk


# ------------------------------------------------------------------------------------------ ops
def test_ops_routes_and_headers(nt: Tenants) -> None:
    live = httpx.get(nt.url + "/health/live")
    assert live.status_code == 200 and live.json() == {"status": "live", "phase": "ready"}
    # outside the API, the newest version the server speaks (docs/api-versions.md)
    assert len(live.headers["x-request-id"]) == 32 and live.headers["engram-api-version"] == "2"
    assert httpx.get(nt.url + "/health/ready").json() == {"status": "ready", "phase": "ready"}
    echoed = httpx.get(nt.url + "/health/live", headers={"X-Request-Id": "my-req.1"})
    assert echoed.headers["x-request-id"] == "my-req.1"
    replaced = httpx.get(nt.url + "/health/live", headers={"X-Request-Id": "bad id!"})
    assert replaced.headers["x-request-id"] != "bad id!" and len(replaced.headers["x-request-id"]) == 32
    m = httpx.get(nt.url + "/metrics")
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain")
    for series in ("engram_http_requests_total", "engram_server_ready 1", "engram_api_keys 4",
                   "engram_server_inflight_requests", "engram_streaming_open_streams"):  # fmt: skip
        assert series in m.text
    engine_types = {
        ln.split()[2] for ln in engram.Engine(dim=4).prometheus().splitlines() if ln.startswith("# TYPE")
    }
    assert engine_types <= {ln.split()[2] for ln in m.text.splitlines() if ln.startswith("# TYPE")}


def test_request_log_line(nt: Tenants) -> None:
    rid = "native-log-7"
    httpx.get(nt.url + "/api/v1/spaces/tenant-a", headers={**_h(nt), "X-Request-Id": rid})
    deadline = time.monotonic() + 5
    recs: list[dict[str, object]] = []
    while not recs and time.monotonic() < deadline:  # bounded
        recs = [r for r in nt.proc.events("request") if r.get("request_id") == rid]
        time.sleep(0.02)
    assert len(recs) == 1
    rec = recs[0]
    assert (rec["route"], rec["space"], rec["status"], rec["key"]) == (
        "/api/v1/spaces/{space}",
        "tenant-a",
        200,
        "admin",
    )
    assert isinstance(rec["latency_ms"], float)
    lines = [ln for ln in nt.proc.log_lines() if ln.startswith("{")]
    assert all(isinstance(json.loads(ln), dict) for ln in lines)


# --------------------------------------------------------------------------------------- spaces
def test_spaces_lifecycle(nt: Tenants) -> None:
    with nt.client("admin") as c:
        sp = c.create_space("scratch", dim=4)
        assert "scratch" in c.spaces() and len(sp) == 0
        with pytest.raises(engram.SpaceExists):
            c.create_space("scratch")
        c.drop_space("scratch")
        assert "scratch" not in c.spaces()
        with pytest.raises(engram.SpaceNotFound):
            c.space("scratch")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/api/v1/spaces/nope", None, 404, "space_not_found"),
        ("GET", "/api/v1/nowhere", None, 404, "route_not_found"),
        ("PATCH", "/api/v1/spaces", None, 405, "method_not_allowed"),
        ("POST", "/api/v1/spaces", b"{not json", 400, "invalid_json"),
        ("POST", "/api/v1/spaces", b"", 400, "invalid_json"),
        ("POST", "/api/v1/spaces", b" \r\n\t ", 400, "invalid_json"),  # blank is not a body
        ("POST", "/api/v1/spaces", b' {"name": "ok", "x": 1} \n', 400, "invalid_input"),  # padded is
        ("POST", "/api/v1/spaces", b'{"name": ".."}', 400, "invalid_input"),
        ("POST", "/api/v1/spaces", b'{"name": "..."}', 400, "invalid_input"),
        ("POST", "/api/v1/spaces", b'{"name": "ok", "x": 1}', 400, "invalid_input"),
        ("POST", "/api/v1/spaces", b'{"name": "ok", "dim": "8"}', 400, "invalid_input"),
        ("POST", "/api/v1/spaces", b'{"name": "ok", "dim": true}', 400, "invalid_input"),
        ("POST", "/api/v1/spaces", b'{"name": "ok", "dim": 8.5}', 400, "invalid_input"),
        ("POST", "/api/v1/spaces", b'{"name": "ok", "dim": 0}', 400, "invalid_input"),
        # beyond 64 bits: simdjson refuses the number itself (a typed 400 either way, never a 500)
        ("POST", "/api/v1/spaces", b'{"name": "ok", "M": 99999999999999999999}', 400, "invalid_json"),
        ("POST", "/api/v1/spaces", b'{"name": "ok", "M": 9223372036854775808}', 400, "invalid_input"),
        ("POST", "/api/v1/spaces", b'{"dim": 8}', 400, "invalid_input"),
        ("POST", "/api/v1/spaces", b"[1, 2]", 400, "invalid_input"),
        ("GET", "/api/v1/spaces/a%20b", None, 400, "invalid_input"),
        ("POST", "/api/v1/spaces", b'{"name": "tenant-a"}', 409, "space_exists"),
    ],
)
def test_error_codes(nt: Tenants, method: str, path: str, body: bytes | None, status: int, code: str) -> None:
    h = {**_h(nt), "Content-Type": "application/json", "X-Request-Id": "err-1"}
    r = httpx.request(method, nt.url + path, content=body, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    err = r.json()["error"]
    assert err["message"] and err["status"] == status and err["request_id"] == "err-1"


def test_stats_and_validate_match_the_starlette_server(nt: Tenants, tmp_path: Path) -> None:
    def run(url: str, headers: dict[str, str]) -> list[object]:
        out: list[object] = []
        r = httpx.post(
            url + "/api/v1/spaces", json={"name": "same", "dim": 4, "M": 8, "ef_search": 20}, headers=headers
        )
        out.append((r.status_code, r.json()))
        for p in ("/api/v1/spaces/same", "/api/v1/spaces/same/stats", "/api/v1/spaces/same/validate"):
            r = httpx.get(url + p, headers=headers)
            out.append((r.status_code, r.json()))
        r = httpx.delete(url + "/api/v1/spaces/same", headers=headers)
        out.append((r.status_code, r.json()))
        return out

    assert same(run(nt.url, _h(nt)), recorded("answers-starlette")["stats_validate"])


# ----------------------------------------------------------------------------------------- auth
@pytest.mark.parametrize("header", BAD_AUTHORIZATION)
def test_unauthenticated(nt: Tenants, header: str | None) -> None:
    check_unauthenticated(nt.url, header)


def test_roles_and_spaces(nt: Tenants) -> None:
    assert httpx.get(nt.url + "/api/v1/spaces", headers=_h(nt, "writer_a")).json() == {"spaces": ["tenant-a"]}
    assert httpx.get(nt.url + "/api/v1/spaces/tenant-a", headers=_h(nt, "reader_a")).status_code == 200
    for space in ("tenant-b", "does-not-exist"):  # forbidden whether it exists or not
        r = httpx.get(nt.url + f"/api/v1/spaces/{space}", headers=_h(nt, "reader_a"))
        assert r.status_code == 403 and "not granted" in r.json()["error"]["message"]
    r = httpx.post(nt.url + "/api/v1/spaces", json={"name": "tenant-a2"}, headers=_h(nt, "writer_a"))
    assert r.status_code == 403 and "role" in r.json()["error"]["message"]
    r = httpx.delete(nt.url + "/api/v1/spaces/tenant-a", headers=_h(nt, "writer_a"))
    assert r.status_code == 403


def test_scoped_admin_creates_only_its_spaces(nt: Tenants) -> None:
    key = add_key(nt.keys_file, "scoped-admin", ["scoped-x"], "admin")
    h = {"Authorization": f"Bearer {key}"}
    deadline = time.monotonic() + 10
    while httpx.get(nt.url + "/api/v1/spaces", headers=h).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert httpx.post(nt.url + "/api/v1/spaces", json={"name": "scoped-y"}, headers=h).status_code == 403
        assert httpx.post(nt.url + "/api/v1/spaces", json={"name": "scoped-x"}, headers=h).status_code == 201
        assert httpx.delete(nt.url + "/api/v1/spaces/tenant-b", headers=h).status_code == 403
        assert httpx.delete(nt.url + "/api/v1/spaces/scoped-x", headers=h).status_code == 200
    finally:
        revoke_key(nt.keys_file, "scoped-admin")


def test_keys_reload_and_sighup(nt: Tenants) -> None:
    check_key_reload(nt)
    # a broken file keeps the old keys (and logs an error)
    good = nt.keys_file.read_text()
    nt.keys_file.write_text("{broken")
    try:
        os.kill(nt.proc.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while not nt.proc.events("api_keys_reload_failed") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert nt.proc.events("api_keys_reload_failed")
        assert httpx.get(nt.url + "/api/v1/spaces", headers=_h(nt)).status_code == 200
    finally:
        nt.keys_file.write_text(good)


# ------------------------------------------------------------------------- defects 4, 6, 7, 11
def test_authorisation_before_the_body(nt: Tenants) -> None:
    """Defect 6: a stalled body from an unauthorised client is refused at once, unread."""
    for auth, status in [("", 401), (f"Authorization: Bearer {nt.keys['reader_a']}\r\n", 403),
                         (f"Authorization: Bearer {nt.keys['writer_a']}\r\n", 403)]:  # fmt: skip
        head = f"POST /api/v1/spaces HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 100000\r\n\r\n".encode()
        t0 = time.monotonic()
        s = _raw(nt.url, head + b'{"name": "x')  # the body never completes
        reply = _recv_all(s)  # the server answers and closes without waiting for the body
        s.close()
        assert reply.startswith(f"HTTP/1.1 {status}".encode()), reply[:200]
        assert time.monotonic() - t0 < 2.0


def test_body_too_large_declared_and_chunked(nt: Tenants) -> None:
    big = {"name": "x" * (70 * 1024)}
    r = httpx.post(nt.url + "/api/v1/spaces", json=big, headers=_h(nt))
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large" and "65536" in r.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts while reading
        yield b'{"name": "'
        for _ in range(80):
            yield b"y" * 1024
        yield b'"}'

    r = httpx.post(nt.url + "/api/v1/spaces", content=chunks(), headers=_h(nt))
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


def test_header_size_limit(nt: Tenants) -> None:
    """Defect 7: an oversized header is refused (431), not buffered."""
    s = _raw(nt.url, b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (64 * 1024) + b"\r\n\r\n")
    reply = _recv_all(s)
    s.close()
    assert reply.startswith(b"HTTP/1.1 431") and b"header_too_large" in reply


def test_client_abort_is_not_a_500(nt: Tenants) -> None:
    """Defect 11: a client leaving mid-body is counted as an abort, never as a server error."""
    before = metric(nt.url, "engram_server_client_aborts_total")
    head = f"POST /api/v1/spaces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {nt.keys['admin']}\r\nContent-Length: 100\r\n\r\n"
    s = _raw(nt.url, head.encode() + b'{"name": "ab')
    time.sleep(0.1)
    s.close()
    deadline = time.monotonic() + 5
    while metric(nt.url, "engram_server_client_aborts_total") <= before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert metric(nt.url, "engram_server_client_aborts_total") == before + 1
    assert 'status="500"' not in httpx.get(nt.url + "/metrics").text


def test_per_space_metrics_need_a_grant(nt: Tenants, tmp_path: Path) -> None:
    """Defect 4: unauthenticated /metrics does not list spaces; a key granted '*' sees them."""
    httpx.get(nt.url + "/api/v1/spaces/tenant-a/stats", headers=_h(nt))
    anonymous = httpx.get(nt.url + "/metrics").text
    assert "tenant-a" not in anonymous and "tenant-b" not in anonymous and "engram_spaces" in anonymous
    assert "tenant-b" not in httpx.get(nt.url + "/metrics", headers=_h(nt, "writer_a")).text
    assert "tenant-a" in httpx.get(nt.url + "/metrics", headers=_h(nt)).text
    keys = tmp_path / "k.json"
    k = make_keys(keys)
    with running_server_process(None, log_dir=tmp_path, api_keys=keys, dim=DIM,
                                metrics_per_space=True) as sp:  # fmt: skip
        httpx.post(
            sp.url + "/api/v1/spaces",
            json={"name": "visible"},
            headers={"Authorization": f"Bearer {k['admin']}"},
        )
        assert 'space="visible"' in httpx.get(sp.url + "/metrics").text  # the operator opted in


# ------------------------------------------------------------- limits: timeouts, connections
def test_slow_header_and_idle_connections_are_closed(tmp_path: Path) -> None:
    """Defect 16: a slow header and an idle connection are closed; others are served meanwhile."""
    with running_server_process(None, log_dir=tmp_path, no_auth=True, dim=DIM,
                                header_timeout_s=0.5, idle_timeout_s=0.5) as sp:  # fmt: skip
        slow = _raw(sp.url, b"GET /health/live HTTP/1.1\r\nHost: x\r\n")  # never finishes its header
        idle = socket.create_connection(("127.0.0.1", _port(sp.url)), timeout=5)
        t0 = time.monotonic()
        assert httpx.get(sp.url + "/health/live").status_code == 200  # not stalled by them
        assert _recv_all(slow) == b"" and _recv_all(idle) == b""  # closed by the server
        assert time.monotonic() - t0 < 3.0
        slow.close()
        idle.close()
        text = httpx.get(sp.url + "/metrics").text
        assert 'engram_server_timeouts_total{phase="header"} 1' in text
        assert 'engram_server_timeouts_total{phase="idle"}' in text


def _exchange(s: socket.socket, request: bytes) -> tuple[bytes, bytes]:
    """One request on a kept-alive connection: (status line, body framed by Content-Length)."""
    s.sendall(request)
    raw = b""
    while b"\r\n\r\n" not in raw:  # bounded by the socket timeout
        chunk = s.recv(65536)
        assert chunk, raw
        raw += chunk
    head, body = raw.split(b"\r\n\r\n", 1)
    length = int(
        next(ln for ln in head.lower().split(b"\r\n") if ln.startswith(b"content-length:")).split(b":")[1]
    )
    while len(body) < length:  # bounded by the socket timeout
        chunk = s.recv(65536)
        assert chunk, body
        body += chunk
    return head.split(b"\r\n", 1)[0], body


def test_connection_limit_is_a_bounded_refusal(tmp_path: Path) -> None:
    """No sleeps to guess the server's state: each held connection is known to be open on the
    server (answered and kept alive; the server's own gauge counts them) before the one over the
    limit is made. A connection the launcher's readiness probe left may still count for a moment:
    a held one refused for it is retried until a deadline."""
    with running_server_process(None, log_dir=tmp_path, no_auth=True, dim=DIM,
                                max_connections=4) as sp:  # fmt: skip
        deadline = time.monotonic() + 60
        held: list[socket.socket] = []
        while len(held) < 4:  # bounded by the deadline
            s = socket.create_connection(("127.0.0.1", _port(sp.url)), timeout=60)
            status, body = _exchange(s, b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            if status.startswith(b"HTTP/1.1 200"):
                held.append(s)
                continue
            assert status.startswith(b"HTTP/1.1 503") and b"too_many_connections" in body, (status, body)
            s.close()
            assert time.monotonic() < deadline, "the server kept refusing below its connection limit"
            time.sleep(0.05)
        status, scrape = _exchange(held[-1], b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 200") and b"\nengram_server_open_connections 4\n" in scrape
        refused_before = metric_in(scrape.decode(), "engram_server_connections_refused_total")
        extra = socket.create_connection(("127.0.0.1", _port(sp.url)), timeout=60)
        reply = _recv_all(extra)
        assert reply.startswith(b"HTTP/1.1 503") and b"too_many_connections" in reply
        extra.close()
        for s in held:
            s.close()
        status_code = 0
        while status_code != 200 and time.monotonic() < deadline:  # bounded: the server sees the closes
            with contextlib.suppress(httpx.HTTPError):
                status_code = httpx.get(sp.url + "/health/live").status_code
            if status_code != 200:
                time.sleep(0.05)
        assert status_code == 200
        # at least the one above (the polling may be refused too while the closes are processed)
        assert metric(sp.url, "engram_server_connections_refused_total") >= refused_before + 1


def test_inflight_limits_overall_and_per_key(tmp_path: Path) -> None:
    """A stalled body holds its slot; overload is 429 with Retry-After; probes are exempt;
    one key's stalled requests do not block another key."""
    keys = tmp_path / "keys.json"
    k = make_keys(keys)
    k["admin2"] = add_key(keys, "admin2", ["*"], "admin")
    with running_server_process(None, log_dir=tmp_path, api_keys=keys, dim=DIM, max_inflight=2,
                                max_connections_per_key=1, body_timeout_s=30) as sp:  # fmt: skip

        def stalled(who: str) -> socket.socket:
            head = f"POST /api/v1/spaces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {k[who]}\r\nContent-Length: 50\r\n\r\n"
            return _raw(sp.url, head.encode() + b"{")

        a = stalled("admin")
        time.sleep(0.2)
        r = httpx.get(sp.url + "/api/v1/spaces", headers={"Authorization": f"Bearer {k['admin']}"})
        assert r.status_code == 429 and "key 'admin'" in r.json()["error"]["message"]  # per-key limit
        assert (
            httpx.get(
                sp.url + "/api/v1/spaces", headers={"Authorization": f"Bearer {k['writer_a']}"}
            ).status_code
            == 200
        )
        b = stalled("admin2")
        time.sleep(0.2)
        r = httpx.get(sp.url + "/api/v1/spaces", headers={"Authorization": f"Bearer {k['reader_a']}"})
        assert (
            r.status_code == 429
            and r.json()["error"]["code"] == "overloaded"
            and int(r.headers["retry-after"]) >= 1
        )
        assert httpx.get(sp.url + "/health/live").status_code == 200  # exempt
        assert httpx.get(sp.url + "/metrics").status_code == 200
        a.close()
        b.close()
        assert metric(sp.url, "engram_server_overload_rejections_total") >= 1


# ------------------------------------------------------------------------------------------ TLS
@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_tls_round_trip(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    with running_server_process(None, log_dir=tmp_path, no_auth=True, dim=DIM, tls_cert=cert,
                                tls_key=key) as sp:  # fmt: skip
        assert sp.url.startswith("https://")
        with httpx.Client(verify=str(cert)) as c:
            assert c.post(sp.url + "/api/v1/spaces", json={"name": "secure"}).status_code == 201
            assert c.get(sp.url + "/api/v1/spaces").json() == {"spaces": ["secure"]}
        with pytest.raises(httpx.HTTPError):  # plain HTTP on the TLS port gets no answer
            httpx.get(sp.url.replace("https://", "http://") + "/health/live", timeout=3)


# ------------------------------------------------------------------------------------ lifecycle
def test_sigterm_drains_checkpoints_and_exits_0(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_server_process(data, log_dir=tmp_path, no_auth=True, dim=DIM, durability="fsync") as sp:
        assert httpx.post(sp.url + "/api/v1/spaces", json={"name": "kept", "dim": 4}).status_code == 201
    assert sp.exit_code == 0
    events = [json.loads(ln)["event"] for ln in sp.log_lines() if ln.startswith("{")]
    assert events[-4:] == ["drain_finished", "engine_checkpoint", "engine_closed", "exit"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(sp.url + "/health/live")
    with running_server_process(data, log_dir=tmp_path, no_auth=True, dim=DIM) as sp2:
        ready = sp2.events("engine_ready")
        assert ready and ready[0]["recovery"]["durable"] is True and ready[0]["spaces"] == ["kept"]
        assert httpx.get(sp2.url + "/api/v1/spaces/kept").json() == {"name": "kept", "dim": 4, "memories": 0}


def test_draining_refuses_new_requests(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    k = make_keys(keys)
    sp = start_server(None, log_dir=tmp_path, api_keys=keys, dim=DIM, drain_timeout_s=5)
    try:
        # a stalled request keeps the server draining; a new request on another connection is refused
        head = f"POST /api/v1/spaces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {k['admin']}\r\nContent-Length: 50\r\n\r\n"
        held = _raw(sp.url, head.encode() + b"{")
        other = httpx.Client()
        assert (
            other.get(
                sp.url + "/api/v1/spaces", headers={"Authorization": f"Bearer {k['admin']}"}
            ).status_code
            == 200
        )
        time.sleep(0.1)
        sp.signal(signal.SIGTERM)
        time.sleep(0.3)
        r = other.get(sp.url + "/api/v1/spaces", headers={"Authorization": f"Bearer {k['admin']}"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "shutting_down"
        assert httpx.get(sp.url + "/health/ready").status_code == 503
        held.close()
        other.close()
        assert sp.proc.wait(timeout=30) == 0
    finally:
        if sp.proc.poll() is None:
            sp.proc.kill()


def test_unopenable_data_dir_exits_1(tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    sp = start_server(blocker / "sub", log_dir=tmp_path, no_auth=True, dim=DIM, wait=False)
    assert sp.proc.wait(timeout=60) == 1
    assert sp.events("engine_open_failed")


# --------------------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--in-memory"], "no_auth"),
        (["--in-memory", "--no-auth", "--drain-timeout-s", "nan"], "drain_timeout_s"),
        (["--in-memory", "--no-auth", "--drain-timeout-s", "-1"], "drain_timeout_s"),
        (["--in-memory", "--no-auth", "--header-timeout-s", "inf"], "header_timeout_s"),
        (["--in-memory", "--no-auth", "--max-k", "0"], "max_k"),
        (["--in-memory", "--no-auth", "--max-k", "many"], "not a valid int"),
        (["--in-memory", "--no-auth", "--port", "70000"], "port"),
        (["--in-memory", "--no-auth", "--durability", "sometimes"], "durability"),
        (["--in-memory", "--no-auth", "--bogus"], "--bogus"),
        (["--in-memory", "--no-auth", "--tls-cert", "x.pem"], "tls_key"),
    ],
)
def test_bad_config_exits_2(args: list[str], needle: str) -> None:
    assert ENGRAMD is not None
    r = subprocess.run([ENGRAMD, *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and needle in r.stderr, r.stderr
    assert json.loads(r.stderr.splitlines()[-1])["event"] == "bad_config"


def test_config_precedence_and_printed(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text("[server]\nmax_k = 33\nmax_batch = 5\nmax_inflight = 7\n")
    os.environ["ENGRAM_SERVER_MAX_BATCH"] = "9"
    try:
        with running_server_process(None, log_dir=tmp_path, no_auth=True, dim=DIM, config=f,
                                    max_inflight=11) as sp:  # fmt: skip
            cfg = sp.events("config")[0]
            assert (cfg["max_k"], cfg["max_batch"], cfg["max_inflight"], cfg["no_auth"]) == (33, 9, 11, True)
            assert sp.events("auth_disabled") and sp.events("in_memory_engine")
            assert "AUTHENTICATION IS DISABLED" in "\n".join(sp.log_lines())
    finally:
        del os.environ["ENGRAM_SERVER_MAX_BATCH"]


@pytest.mark.parametrize("value", ["python", "native"])
def test_the_removed_impl_variable_is_ignored_with_one_warning(
    tmp_path: Path, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENGRAM_SERVER_IMPL chose the Starlette server or engramd until the Starlette server was deleted:
    engramd still starts, and says on one stderr line that the variable is ignored and why."""
    assert ENGRAMD is not None
    env = {**os.environ, "ENGRAM_SERVER_IMPL": value}
    r = subprocess.run([ENGRAMD, "--in-memory", "--no-auth", "--port", "70000"], env=env, capture_output=True,
                       text=True, timeout=30)  # fmt: skip
    assert r.returncode == 2 and "port" in r.stderr  # not a setting: a bad one is still the only error
    assert "ENGRAM_SERVER_IMPL" not in r.stderr
    monkeypatch.setenv("ENGRAM_SERVER_IMPL", value)
    with running_server_process(None, log_dir=tmp_path, no_auth=True, dim=DIM, command=[ENGRAMD]) as sp:
        warned = [line for line in sp.log_lines() if "ENGRAM_SERVER_IMPL" in line]
        assert len(warned) == 1, warned
        event = json.loads(warned[0])
        assert (event["event"], event["level"]) == ("ignored_setting", "warning")
        assert event["message"].startswith(f"ENGRAM_SERVER_IMPL={value} is ignored: ")
        assert "removed" in event["message"] and "unset it" in event["message"]
        assert httpx.get(sp.url + "/health/ready").status_code == 200


def test_help_lists_the_flags_of_engram_serve() -> None:
    import argparse

    from engram.server.cli_args import add_arguments

    assert ENGRAMD is not None
    text = subprocess.run([ENGRAMD, "--help"], capture_output=True, text=True, timeout=30, check=True).stdout
    p = argparse.ArgumentParser()
    add_arguments(p)
    flags = {s for a in p._actions for s in a.option_strings if s.startswith("--")} - {"--help"}
    assert flags and all(f in text for f in flags), flags - {f for f in flags if f in text}


# -------------------------------------------------------------------------------------- openapi
def test_openapi_matches_the_python_document_for_ported_routes(nt: Tenants) -> None:
    native = httpx.get(nt.url + "/openapi.json").json()
    python = starlette_openapi()
    assert native["openapi"] == "3.1.0" and native["security"] == python["security"]
    assert native["components"]["securitySchemes"] == python["components"]["securitySchemes"]
    assert native["components"]["schemas"]["Error"] == python["components"]["schemas"]["Error"]
    assert native["components"]["schemas"]["CreateSpace"] == python["components"]["schemas"]["CreateSpace"]
    for model in ("Remember", "RememberItem", "RememberBatch", "Link", "LegacyRemember"):  # memories, legacy
        ours, theirs = native["components"]["schemas"][model], python["components"]["schemas"][model]
        if "embedding" in theirs["properties"]:  # v1 addition: the array, or base64 float32
            forms = ours["properties"]["embedding"]["anyOf"]
            assert only_bounds_added({**forms[0], "title": "Embedding"}, theirs["properties"]["embedding"]), (
                model
            )
            assert forms[1]["type"] == "string" and forms[1]["contentEncoding"] == "base64", model
            ours = {
                **ours,
                "properties": {**ours["properties"], "embedding": theirs["properties"]["embedding"]},
            }
        assert only_bounds_added(ours, theirs), (model, ours, theirs)
    for path in ("/api/v1/spaces/{space}/memories", "/api/v1/spaces/{space}/memories/batch",
                 "/api/v1/spaces/{space}/memories/{memory_id}", "/api/v1/spaces/{space}/links",
                 "/api/v1/memories/remember"):  # fmt: skip
        assert path in native["paths"], path
    # issue 16 added API v2 beside v1 (tests/server/test_api_versions.py checks v2 and the notes)
    assert native["info"]["version"] == python["info"]["version"].replace(
        "(API v1)", "(API v1, deprecated, and v2)"
    )
    for path, item in native["paths"].items():
        if path in V1_ADDED_PATHS or not path.startswith(("/api/v1/", "/health", "/metrics", "/openapi")):
            continue  # new routes of issue 13 (test_native_queries.py checks them), v2 and the notes
        assert set(item) == set(python["paths"][path]), path
        for method, op in item.items():
            want = python["paths"][path][method]
            if (method, path) == ("get", "/metrics"):  # Starlette documented its Prometheus text as JSON
                ok = want["responses"]["200"]
                want = {
                    **want,
                    "responses": {
                        **want["responses"],
                        "200": {**ok, "content": {"text/plain": {"schema": {}}}},
                    },
                }
            # the '*' rule of engine-wide routes (defect 3) is documented by the native server only
            if "acts on the whole engine" in op.get("description", ""):
                op, want = {**op, "description": ""}, {**want, "description": ""}
            if path.startswith("/api/v1/") and not want.get("deprecated"):
                assert op.pop("deprecated") is True, (method, path)  # all of v1 since v2 (issue 16)
            assert without_v1_additions(op) == want, (method, path)


# API v1 additions of issue 13 (new routes and content types only): absent from the Starlette document.
# (/api/v1/admin/faults: the test build's fault controls, docs/faults.md "Over HTTP"; the backup
# routes of issue 15, tests/server/test_backup_route.py)
V1_ADDED_PATHS = {
    "/api/v1/spaces/{space}/search/batch",
    "/api/v1/spaces/{space}/recall/batch",
    "/api/v1/admin/faults",
    "/api/v1/admin/backup",
    "/api/v1/admin/backups",
}


def without_v1_additions(op: dict[str, object]) -> dict[str, object]:
    """An operation without the request content types other than JSON and without the 507
    memory_pressure answer of the writes (v1 additions; the latter of issue 14, workflow 105)."""
    responses = op.get("responses")
    if isinstance(responses, dict) and "507" in responses:
        op = {**op, "responses": {k: v for k, v in responses.items() if k != "507"}}
    body = op.get("requestBody")
    if not isinstance(body, dict):
        return op
    content = {k: v for k, v in body["content"].items() if k == "application/json"}
    return {**op, "requestBody": {**body, "content": content}}
