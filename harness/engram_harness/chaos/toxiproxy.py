"""Network faults through Toxiproxy (github.com/Shopify/toxiproxy, v2.5.0), a TCP proxy on loopback
between client and server whose "toxics" delay, throttle, stall or reset the traffic.

Why Toxiproxy: this kernel has no ``netem`` qdisc, and Toxiproxy is a well-kept proxy made for
exactly this (client-side chaos on TCP), driven through a small HTTP API. ``scripts/setup-toxiproxy.sh``
builds it from the Go module proxy into ``~/.cache/engram/toxiproxy/`` (or ``$ENGRAM_TOXIPROXY``
names a binary).

Packet loss: Toxiproxy works on TCP streams, not packets, so there is no per-packet drop. A lost
segment on TCP shows up to the application as a stall of about one retransmission timeout (200 ms
minimum on Linux) or, when the loss persists, as a connection that hangs until it times out. We
model a loss probability ``p`` as a toxic applied to a fraction ``p`` of connections (Toxiproxy's
``toxicity`` is drawn per connection): :meth:`Proxy.packet_loss` adds a ``latency`` toxic of one RTO
(default) or a ``timeout`` toxic (``mode="stall"``) with toxicity ``p`` on each direction. Clients
that keep connections alive see it per connection, not per request: suites that want per-request
loss use short-lived connections.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from engram_harness.chaos.errors import ChaosError, InjectorUnavailable

VERSION = "v2.5.0"
MODULE = "github.com/Shopify/toxiproxy/v2/cmd/server"
STREAMS = ("downstream", "upstream")  # downstream: server -> client; upstream: client -> server


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "engram" / "toxiproxy" / VERSION


def find_binary() -> Path:
    """``$ENGRAM_TOXIPROXY``, else the set-up's build, else ``toxiproxy-server`` on PATH."""
    env = os.environ.get("ENGRAM_TOXIPROXY")
    if env:
        if not os.access(env, os.X_OK):
            raise InjectorUnavailable(f"ENGRAM_TOXIPROXY={env!r} is not an executable file")
        return Path(env)
    built = cache_dir() / "toxiproxy-server"
    if os.access(built, os.X_OK):
        return built
    on_path = shutil.which("toxiproxy-server")
    if on_path:
        return Path(on_path)
    raise InjectorUnavailable(
        f"toxiproxy-server not found (looked at $ENGRAM_TOXIPROXY, {built}, PATH); build it with "
        "scripts/setup-toxiproxy.sh (needs Go and the Go module proxy)"
    )


@dataclass(frozen=True)
class Toxic:
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, Any]


class Proxy:
    """One proxy: ``listen`` (what clients connect to) in front of ``upstream`` (the server)."""

    def __init__(self, api: ToxiproxyServer, name: str, listen: str, upstream: str) -> None:
        self.api, self.name, self.listen, self.upstream = api, name, listen, upstream
        self._n = 0

    @property
    def url(self) -> str:
        """The base URL clients use to reach the server through the proxy."""
        return f"http://{self.listen}"

    def add_toxic(self, type: str, attributes: dict[str, Any], *, stream: str = "downstream",
                  toxicity: float = 1.0, name: str | None = None) -> Toxic:  # fmt: skip
        if stream not in STREAMS:
            raise ValueError(f"stream must be one of {STREAMS}; got {stream!r}")
        if not 0.0 <= toxicity <= 1.0:
            raise ValueError(f"toxicity must be in [0, 1]; got {toxicity!r}")
        self._n += 1
        name = name or f"{type}_{stream}_{self._n}"
        body = {"name": name, "type": type, "stream": stream, "toxicity": toxicity, "attributes": attributes}
        self.api.request("POST", f"/proxies/{self.name}/toxics", body)
        return Toxic(name, type, stream, toxicity, dict(attributes))

    def remove_toxic(self, toxic: Toxic | str) -> None:
        name = toxic.name if isinstance(toxic, Toxic) else toxic
        self.api.request("DELETE", f"/proxies/{self.name}/toxics/{name}")

    def toxics(self) -> list[dict[str, Any]]:
        return list(self.api.request("GET", f"/proxies/{self.name}/toxics"))

    def heal(self) -> None:
        """Remove every toxic and re-enable the proxy."""
        for t in self.toxics():
            self.remove_toxic(str(t["name"]))
        self.set_enabled(True)

    def set_enabled(self, enabled: bool) -> None:
        """Disabled: the listener closes and open connections are dropped (a hard partition:
        clients get "connection refused")."""
        self.api.request("POST", f"/proxies/{self.name}", {"enabled": enabled})

    # ------------------------------------------------------------------ the toxics, by fault
    def _both(self, type: str, attributes: dict[str, Any], toxicity: float, stream: str) -> list[Toxic]:
        streams = STREAMS if stream == "both" else (stream,)
        return [self.add_toxic(type, attributes, stream=s, toxicity=toxicity) for s in streams]

    def latency(self, latency_ms: float, jitter_ms: float = 0.0, *, stream: str = "both",
                toxicity: float = 1.0) -> list[Toxic]:  # fmt: skip
        """Delay each chunk of data by ``latency_ms`` +/- ``jitter_ms`` (uniform), per direction:
        the delay range [a, b] ms is latency (a+b)/2, jitter (b-a)/2."""
        return self._both("latency", {"latency": int(latency_ms), "jitter": int(jitter_ms)}, toxicity, stream)

    def blackhole(self, timeout_ms: int = 0, *, stream: str = "both") -> list[Toxic]:
        """Stop all data; ``timeout_ms`` 0 keeps connections hanging until the toxic is removed,
        else closes them after that long (Toxiproxy's ``timeout`` toxic)."""
        return self._both("timeout", {"timeout": int(timeout_ms)}, 1.0, stream)

    def reset_peer(self, timeout_ms: int = 0, *, stream: str = "both", toxicity: float = 1.0) -> list[Toxic]:
        """Reset connections (TCP RST) after ``timeout_ms``."""
        return self._both("reset_peer", {"timeout": int(timeout_ms)}, toxicity, stream)

    def bandwidth(self, rate_kb_s: int, *, stream: str = "both") -> list[Toxic]:
        return self._both("bandwidth", {"rate": int(rate_kb_s)}, 1.0, stream)

    def slicer(self, average_size: int, size_variation: int = 0, delay_us: int = 0, *,
               stream: str = "downstream") -> list[Toxic]:  # fmt: skip
        """Cut the stream into small packets (``delay_us`` apart): partial reads and writes."""
        attrs = {
            "average_size": int(average_size),
            "size_variation": int(size_variation),
            "delay": int(delay_us),
        }
        return self._both("slicer", attrs, 1.0, stream)

    def limit_data(self, nbytes: int, *, stream: str = "downstream") -> list[Toxic]:
        """Close each connection after ``nbytes`` bytes (a connection cut mid-response)."""
        return self._both("limit_data", {"bytes": int(nbytes)}, 1.0, stream)

    def packet_loss(self, probability: float, *, mode: str = "retransmit", rto_ms: int = 200) -> list[Toxic]:
        """See the module's note: ``probability`` of connections delayed by one RTO
        (``retransmit``) or stalled until the client times out (``stall``)."""
        if mode == "retransmit":
            return self.latency(rto_ms, 0, toxicity=probability)
        if mode == "stall":
            return self._both("timeout", {"timeout": 0}, probability, "both")
        raise ValueError(f"mode must be 'retransmit' or 'stall'; got {mode!r}")


class ToxiproxyServer:
    """A ``toxiproxy-server`` process on a free loopback port, stopped on exit (a context manager)."""

    def __init__(self, binary: Path | None = None, *, seed: int = 0, log_dir: Path | None = None) -> None:
        self.binary = binary or find_binary()
        self.seed = seed
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._http: httpx.Client | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_timeout_s: float = 10.0) -> ToxiproxyServer:
        from engram_harness.server import free_port

        self.port = free_port()
        log = open(Path(self.log_dir or ".") / f"toxiproxy-{self.port}.log", "wb")  # noqa: SIM115 (kept by the process)
        with log:
            self.proc = subprocess.Popen([str(self.binary), "-host", "127.0.0.1", "-port", str(self.port),
                                          "-seed", str(self.seed)],
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # fmt: skip
        self._http = httpx.Client(base_url=self.api_url, timeout=5.0)
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:  # bounded by the timeout
            if self.proc.poll() is not None:
                raise ChaosError(f"toxiproxy-server exited with status {self.proc.returncode} at start")
            with contextlib.suppress(httpx.HTTPError):
                if self._http.get("/version").status_code == 200:
                    return self
            time.sleep(0.05)
        self.stop()
        raise ChaosError(f"toxiproxy-server not answering on {self.api_url} within {ready_timeout_s} s")

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if self._http is None:
            raise ChaosError("toxiproxy-server is not started")
        r = self._http.request(method, path, json=body)
        if r.status_code >= 400:
            raise ChaosError(f"toxiproxy {method} {path} -> HTTP {r.status_code}: {r.text.strip()[:300]}")
        return r.json() if r.content else None

    def version(self) -> str:
        assert self._http is not None
        return self._http.get("/version").text.strip()

    def create_proxy(self, upstream: str, *, name: str = "engram", listen_port: int | None = None) -> Proxy:
        """A proxy on a free loopback port in front of ``upstream`` ("host:port" or a URL)."""
        from engram_harness.server import free_port

        up = upstream.split("://", 1)[-1].rstrip("/")
        listen = f"127.0.0.1:{listen_port or free_port()}"
        self.request("POST", "/proxies", {"name": name, "listen": listen, "upstream": up, "enabled": True})
        return Proxy(self, name, listen, up)

    def reset(self) -> None:
        """Remove every toxic of every proxy and re-enable them."""
        self.request("POST", "/reset")

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def __enter__(self) -> ToxiproxyServer:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def proxied(upstream_url: str, *, seed: int = 0, log_dir: Path | None = None) -> Iterator[Proxy]:
    """A started Toxiproxy with one proxy in front of ``upstream_url``; everything stopped on exit."""
    with ToxiproxyServer(seed=seed, log_dir=log_dir) as tp:
        yield tp.create_proxy(upstream_url)
