"""Execute a schedule over HTTP with the C++ open-loop executor's HTTP target
(``engram._core.run_schedule_http``: Boost.Beast keep-alive connections, TCP_NODELAY, request bodies
serialised before each intended start, latency from the intended start).

This is the load generator for measuring a server: it costs a few tens of microseconds of CPU per
request where the Python driver (:class:`engram_harness.driver.http.HttpTarget`) costs about a
millisecond, so the figures describe the server rather than the driver. The Python driver stays for
functional checks. Results come back as the same :class:`RunResult` as the in-process executor, so
stats, reports and the gate read them unchanged; the CPU time of both sides travels beside it in
:class:`HttpRun`.
"""

from __future__ import annotations

import math
import os
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Literal

import numpy.typing as npt

from engram import _core
from engram_harness.driver.executor_io import executor_result, preload_batches, schedule_columns, utc_now
from engram_harness.driver.result import RunResult
from engram_harness.scenarios.schedule import Schedule

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads), from ``/proc/<pid>/stat``."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        stat = f.read()
    # the command name (field 2) may hold spaces; fields after its closing parenthesis are fixed
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime (fields 14, 15)


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    base_path: str

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http" or not u.hostname:
            raise ValueError(f"the HTTP load target needs an http://host:port URL; got {url!r}")
        return cls(u.hostname, u.port or 80, u.path.rstrip("/"))


@dataclass
class HttpRun:
    """A run's :class:`RunResult` and what each side spent: ``driver_cpu_s`` is the load
    generator's CPU during the run (its I/O threads; bodies serialised before the run are in
    ``prebuild_cpu_s`` instead), ``server_cpu_s`` the server process's CPU over the same
    interval when its pid was given (NaN otherwise)."""

    result: RunResult
    driver_cpu_s: float
    driver_process_cpu_s: float
    server_cpu_s: float
    connections_opened: int
    bodies_prebuilt: int
    prebuild_cpu_s: float
    bytes_sent: int
    bytes_received: int

    @property
    def ops_sent(self) -> int:
        return int((self.result.actual_start_ns >= 0).sum())

    def cpu_per_op_ms(self) -> dict[str, float]:
        n = self.ops_sent
        return {
            "driver_cpu_ms_per_op": round(1e3 * self.driver_cpu_s / n, 5) if n else math.nan,
            "server_cpu_ms_per_op": round(1e3 * self.server_cpu_s / n, 5) if n else math.nan,
        }

    def resources(self) -> dict[str, float | int]:
        """What to store beside the run (``extra`` of the run store)."""
        return {
            "driver_cpu_s": round(self.driver_cpu_s, 4),
            "driver_process_cpu_s": round(self.driver_process_cpu_s, 4),
            "server_cpu_s": round(self.server_cpu_s, 4),
            "ops_sent": self.ops_sent,
            "connections_opened": self.connections_opened,
            "bodies_prebuilt": self.bodies_prebuilt,
            "prebuild_cpu_s": round(self.prebuild_cpu_s, 4),
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            **self.cpu_per_op_ms(),
        }


def available() -> bool:
    """Whether this build of engram has the HTTP target (it needs Boost.Beast/Asio at build time)."""
    return bool(getattr(_core, "HTTP_LOAD_AVAILABLE", False))


def run_http(
    schedule: Schedule,
    url: str,
    *,
    api_key: str | None = None,
    connections: int = 8,
    threads: int = 1,
    grace_s: float = 30.0,
    request_timeout_s: float = 10.0,
    connect_timeout_s: float = 2.0,
    spin_us: float = 20.0,
    prebuild_mb: float = 1024.0,
    server_pid: int | None = None,
    embeddings: Literal["base64", "json"] = "base64",
    columns: tuple[npt.NDArray[Any], ...] | None = None,
) -> HttpRun:
    """Run ``schedule`` against the API v1 server at ``url`` (its spaces must exist; preload first).

    ``connections`` keep-alive connections (at most that many requests in flight), ``threads`` I/O
    threads. Request bodies are serialised before the run up to ``prebuild_mb`` (the rest while
    waiting for their intended start); that CPU is reported apart (``prebuild_cpu_s``), since it is
    spent before the clock starts. Operations not sent within ``duration + grace_s`` are ``NotStarted`` errors; each
    request is bounded by ``request_timeout_s``. Errors are classified as ``"HTTP <status> <code>"``
    or by transport failure (``Timeout``, ``ConnectError``, ``ConnectionClosed``...).
    ``embeddings``: how vectors travel in the bodies, ``"base64"`` little-endian float32 strings
    (engramd's encoding, as the Python client sends by default) or ``"json"`` arrays of numbers
    (any API v1 server). ``columns``: the schedule's :func:`schedule_columns`, when the caller built
    them already (:func:`engram_harness.driver.segmented.run_http_segmented` builds the next segment's
    while this one runs).
    """
    if not available():
        raise RuntimeError(
            "this engram build has no HTTP load target (Boost.Beast/Asio were missing when it was "
            "compiled): install libboost-dev (scripts/setup-system.sh) and rebuild engram"
        )
    if schedule.preload:
        raise ValueError("run_http does not preload; remember the preload items first (preload_http)")
    ep = Endpoint.parse(url)
    if columns is None:
        columns = schedule_columns(schedule)
    started = utc_now()
    server0 = process_cpu_s(server_pid) if server_pid is not None else math.nan
    out = _core.run_schedule_http(
        ep.host, ep.port, list(schedule.space_names), *columns,
        api_key=api_key or "", base_path=ep.base_path, connections=int(connections), threads=int(threads),
        deadline_ns=int(schedule.duration_ns + grace_s * 1e9), request_timeout_ns=int(request_timeout_s * 1e9),
        connect_timeout_ns=int(connect_timeout_s * 1e9), spin_ns=int(spin_us * 1e3),
        prebuild_bytes=int(prebuild_mb * 2**20), embeddings=embeddings,
    )  # fmt: skip
    server_cpu = process_cpu_s(server_pid) - server0 if server_pid is not None else math.nan
    classes = tuple(out.error_classes)
    result = executor_result(
        schedule,
        lambda name: getattr(out, name),
        executor=f"http-cpp-{connections}c",
        error_classes=classes,
        started_at_utc=started,
        error_samples={c: s for c, s in zip(classes, out.error_samples, strict=True) if c},
    )
    return HttpRun(
        result=result,
        driver_cpu_s=out.io_thread_cpu_ns / 1e9,
        driver_process_cpu_s=out.process_cpu_ns / 1e9,
        server_cpu_s=server_cpu,
        connections_opened=int(out.connections_opened),
        bodies_prebuilt=int(out.bodies_prebuilt),
        prebuild_cpu_s=out.prebuild_cpu_ns / 1e9,
        bytes_sent=int(out.bytes_sent),
        bytes_received=int(out.bytes_received),
    )


def preload_http(schedule: Schedule, url: str, *, api_key: str | None = None, batch: int = 256) -> float:
    """Remember the schedule's preloaded items (keys ``0..preload-1``, spread over the spaces as
    :meth:`OpenLoopDriver.preload` does) through the batch route; returns the seconds it took."""
    from engram.client import Client

    t = time.perf_counter()
    with Client(url, api_key=api_key, timeout=120.0) as client:
        for s, vecs, contents in preload_batches(schedule, batch):
            client.space(schedule.space_names[s]).remember_batch(vecs, contents=contents)
    return time.perf_counter() - t
