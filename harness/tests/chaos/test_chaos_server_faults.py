"""The injectors that act inside a test-build engramd over HTTP: clock skew and fault plans (I/O
errors). Parsing from TOML, then each against a real durable server: the fault takes effect, an
operator sees it (metric and log line), and it is undone on exit."""

from __future__ import annotations

import http.server
import os
import socketserver
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from engram.client import Client, RetryPolicy
from engram.client.errors import RemoteError
from engram_harness.chaos import RestartableServer, parse_chaos_scenario
from engram_harness.chaos.errors import ChaosError, InjectorUnavailable
from engram_harness.chaos.faultbuild import fault_engramd
from engram_harness.chaos.server_faults import ServerFaults, clock_skew, fault_plan
from engram_harness.scenarios.errors import ScenarioError
from engram_harness.workflows.prometheus import parse_prometheus, series_sum

DIM = 8


def scenario(injector: str, params: str) -> str:
    return f'name = "x"\nseed = 1\nduration_s = 1\n[[faults]]\ninjector = "{injector}"\nat_s = 0\nfor_s = 0.5\nparams = {params}\n'


def test_parses_clock_skew_and_io_errors() -> None:
    sc = parse_chaos_scenario(scenario("clock_skew", "{ offset_s = -30 }"))
    assert sc.faults[0].params == {"offset_s": -30.0}
    sc = parse_chaos_scenario(scenario("io_errors", '{ op = "sync", path = "*/wal/*", probability = 0.5 }'))
    assert sc.faults[0].params == {"plan": "ioerror=sync@*/wal/*:EIO:p=0.5"}
    sc = parse_chaos_scenario(scenario("io_errors", '{ op = "write", errno = "ENOSPC" }'))
    assert sc.faults[0].params == {"plan": "ioerror=write@*:ENOSPC"}


@pytest.mark.parametrize(("injector", "params", "message"), [
    ("clock_skew", "{ offset_s = 1e9 }", r"offset_s\] got 1000000000"),
    ("clock_skew", "{}", r"offset_s\] got <missing>"),
    ("io_errors", '{ op = "wirte" }', r"op\] got 'wirte', expected one of"),
    ("io_errors", '{ op = "write", errno = "EWHAT" }', r"errno\] got 'EWHAT'"),
    ("io_errors", '{ op = "write", path = "a:b" }', r"path\] got 'a:b', expected a glob without"),
])  # fmt: skip
def test_bad_parameters_are_refused_with_the_field(injector: str, params: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_chaos_scenario(scenario(injector, params))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestartableServer]:
    path, why = fault_engramd()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"needs a test-build engramd: {why}")
        pytest.skip(f"needs a test-build engramd: {why}")
    root = tmp_path_factory.mktemp("server-faults")
    with RestartableServer(root / "data", log_dir=root / "logs", dim=DIM, no_auth=True, command=[path]) as s:
        with Client(s.url) as c:
            c.create_space("clock", dim=DIM)
        yield s


def metric(url: str, name: str, **labels: str) -> float:
    with Client(url) as c:
        return series_sum(parse_prometheus(c.prometheus()), name, **labels)


def wait_for(pred, timeout_s: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:  # bounded in time
        if pred():
            return True
        time.sleep(0.1)
    return False


def log_lines(server: RestartableServer, event: str) -> list[str]:
    return [ln for ln in server.log_lines() if f'"event":"{event}"' in ln]


def test_clock_skew_moves_the_engine_clock_never_backwards_and_is_detected(server: RestartableServer) -> None:
    v = np.ones(DIM, dtype=np.float32)
    with Client(server.url) as c:
        sp = c.space("clock")
        t0 = sp.get(sp.remember(v)).timestamp
        with clock_skew(server.url, 3600.0) as state:
            assert state["clock_skew_s"] == 3600.0 and state["build"] == "test"
            ahead = sp.get(sp.remember(v)).timestamp
            assert wait_for(
                lambda: metric(server.url, "engram_clock_skew_detected_total", direction="forward") >= 1
            )
        assert ahead - t0 == pytest.approx(3600.0, abs=5.0)
        # back to 0: a backward step of an hour; the engine holds its clock instead of reversing
        held = sp.get(sp.remember(v)).timestamp
        assert held >= ahead
        assert wait_for(
            lambda: metric(server.url, "engram_clock_skew_detected_total", direction="backward") >= 1
        )
        with clock_skew(server.url, -30.0):
            assert sp.get(sp.remember(v)).timestamp >= held
        assert ServerFaults(server.url).get()["clock_skew_s"] == 0.0
    lines = log_lines(server, "clock_skew_detected")
    assert any('"direction":"forward"' in ln and '"step_s":36' in ln for ln in lines), lines
    assert any('"direction":"backward"' in ln for ln in lines), lines
    assert log_lines(server, "faults_changed")


def test_io_errors_refuse_writes_clearly_reads_continue_and_writes_resume(server: RestartableServer) -> None:
    v = np.ones(DIM, dtype=np.float32)
    with Client(server.url, retry=RetryPolicy(attempts=1)) as c:
        sp = c.space("clock")
        kept = sp.remember(v, content="before")
        with fault_plan(server.url, "ioerror=write@*/wal/*:EIO") as state:
            assert state["plan"] == "ioerror=write@*/wal/*:EIO"
            with pytest.raises(RemoteError, match=r"Input/output error \(injected fault\)") as err:
                sp.remember(v, content="refused")
            assert (err.value.status, err.value.code) == (503, "storage_unavailable")
            assert sp.get(kept).content == "before"  # reads continue
            rules = ServerFaults(server.url).get()["rules"]
            assert rules and rules[0]["fired"] >= 1
        after = sp.remember(v, content="after")  # the plan is cleared on exit
        assert sp.get(after).content == "after"
    with pytest.raises(ChaosError, match=r"-> 400: .*frobnicate"):
        ServerFaults(server.url).set(plan="ioerror=frobnicate:EIO")  # refused, naming the clause


def test_a_server_without_the_route_is_unavailable_not_ignored() -> None:
    """A release build answers 404 for the route: InjectorUnavailable, never a silent no-op."""

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with socketserver.TCPServer(("127.0.0.1", 0), NotFound) as httpd:
        t = threading.Thread(target=httpd.serve_forever, daemon=True)
        t.start()
        try:
            url = f"http://127.0.0.1:{httpd.server_address[1]}"
            with pytest.raises(InjectorUnavailable, match="release build"), clock_skew(url, 5.0):
                pass
        finally:
            httpd.shutdown()
