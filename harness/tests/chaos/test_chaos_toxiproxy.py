"""Toxiproxy in front of a real server: latency adds delay, a blackhole makes requests time out,
removing the toxics heals."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import httpx
import pytest

from engram_harness.chaos.errors import ChaosError
from engram_harness.chaos.toxiproxy import ToxiproxyServer
from engram_harness.server import running_server_process

pytestmark = [
    pytest.mark.slow,
    pytest.mark.usefixtures("toxiproxy"),
]


def median_ms(client: httpx.Client, n: int = 15) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.get("/health/ready").raise_for_status()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def test_latency_timeout_and_heal(tmp_path: Path) -> None:
    with running_server_process(None, log_dir=tmp_path, no_auth=True) as sp, \
            ToxiproxyServer(log_dir=tmp_path) as tp:  # fmt: skip
        proxy = tp.create_proxy(sp.url)
        # a fresh connection per request: each one meets the toxics in force when it opens
        with httpx.Client(
            base_url=proxy.url, timeout=2.0, limits=httpx.Limits(max_keepalive_connections=0)
        ) as c:
            base = median_ms(c)
            proxy.latency(50, 0, stream="downstream")
            delayed = median_ms(c)
            # at least one 50 ms delay on the response; the request/response is one round trip
            assert delayed >= base + 45, (base, delayed)
            assert delayed < base + 500, (base, delayed)
            proxy.heal()
            assert median_ms(c) < base + 25
            proxy.blackhole()
            with pytest.raises(httpx.TimeoutException):
                c.get("/health/ready", timeout=0.5)
            proxy.heal()
            assert c.get("/health/ready").status_code == 200
            proxy.reset_peer()
            with pytest.raises(httpx.TransportError):
                c.get("/health/ready")
            proxy.heal()
            proxy.set_enabled(False)
            with pytest.raises(httpx.ConnectError):
                c.get("/health/ready")
            proxy.set_enabled(True)
            assert c.get("/health/ready").status_code == 200
            assert proxy.toxics() == []


def test_bandwidth_slicer_limit_data_and_loss(tmp_path: Path) -> None:
    with running_server_process(None, log_dir=tmp_path, no_auth=True) as sp, \
            ToxiproxyServer(log_dir=tmp_path, seed=3) as tp:  # fmt: skip
        proxy = tp.create_proxy(sp.url)
        with httpx.Client(
            base_url=proxy.url, timeout=5.0, limits=httpx.Limits(max_keepalive_connections=0)
        ) as c:
            body = c.get("/openapi.json").content  # tens of KB
            assert len(body) > 20_000
            proxy.bandwidth(20, stream="downstream")  # 20 KB/s
            t0 = time.perf_counter()
            assert c.get("/openapi.json").content == body
            slow = time.perf_counter() - t0
            assert slow >= 0.8 * len(body) / 20_000, slow
            proxy.heal()
            proxy.slicer(64, 16, 10)  # many small packets, same bytes
            assert c.get("/openapi.json").content == body
            proxy.heal()
            proxy.limit_data(1000)
            with pytest.raises(httpx.TransportError):
                c.get("/openapi.json")
            proxy.heal()
            proxy.packet_loss(1.0)  # every connection: one RTO (200 ms) per direction
            t0 = time.perf_counter()
            c.get("/health/ready").raise_for_status()
            assert time.perf_counter() - t0 >= 0.35
            proxy.heal()
            proxy.packet_loss(0.0)  # no connection affected
            assert median_ms(c, 5) < 150


def test_api_errors_are_clear(tmp_path: Path) -> None:
    with ToxiproxyServer(log_dir=tmp_path) as tp:
        proxy = tp.create_proxy("127.0.0.1:1")
        with pytest.raises(ChaosError, match="HTTP 4"):
            proxy.add_toxic("no_such_toxic", {})
        with pytest.raises(ValueError, match="stream must be"):
            proxy.add_toxic("latency", {}, stream="sideways")
