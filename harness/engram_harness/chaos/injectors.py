"""The injectors a chaos scenario can name: how each one's parameters are read from TOML, and how it
is applied to a run's :class:`ChaosTarget` (a context manager held for the fault's duration;
instantaneous faults do their work on entry)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engram_harness.chaos.errors import ChaosError
from engram_harness.scenarios.errors import MISSING
from engram_harness.scenarios.toml_table import Table


@dataclass
class ChaosTarget:
    """What the faults act on. Network faults need ``proxy``; process and resource faults need
    ``server`` (a :class:`~engram_harness.chaos.process.RestartableServer`); ``disk_fill`` needs
    ``disk`` (a :class:`~engram_harness.chaos.disk.SmallDisk` holding the data dir)."""

    proxy: Any = None
    server: Any = None
    disk: Any = None
    seed: int = 0
    api_key: str | None = None  # an admin key granted "*", for the server's fault route (None: no auth)
    notes: list[str] = field(default_factory=list)

    def need(self, what: str, injector: str) -> Any:
        value = getattr(self, what)
        if value is None:
            raise ChaosError(f"injector {injector!r} needs a {what} in the run's ChaosTarget; none was given")
        return value


Applier = Callable[[ChaosTarget, dict[str, Any]], contextlib.AbstractContextManager[Any]]


@dataclass(frozen=True)
class InjectorSpec:
    name: str
    parse: Callable[[Table], dict[str, Any]]
    apply: Applier
    instantaneous: bool = False  # takes no duration (for_s must be 0)
    description: str = ""


@contextlib.contextmanager
def _toxics(target: ChaosTarget, name: str, add: Callable[[Any], list[Any]]) -> Iterator[None]:
    proxy = target.need("proxy", name)
    toxics = add(proxy)
    try:
        yield
    finally:
        for t in toxics:
            proxy.remove_toxic(t)


@contextlib.contextmanager
def _partition(target: ChaosTarget, p: dict[str, Any]) -> Iterator[None]:
    proxy = target.need("proxy", "partition")
    proxy.set_enabled(False)
    try:
        yield
    finally:
        proxy.set_enabled(True)


@contextlib.contextmanager
def _kill(target: ChaosTarget, p: dict[str, Any]) -> Iterator[None]:
    target.need("server", "kill").kill_and_restart()
    yield


@contextlib.contextmanager
def _kill_every(target: ChaosTarget, p: dict[str, Any]) -> Iterator[None]:
    from engram_harness.chaos.process import KillLoop

    with KillLoop(target.need("server", "kill_every"), p["every_s"], p["jitter"], seed=target.seed):
        yield


@contextlib.contextmanager
def _memory(target: ChaosTarget, p: dict[str, Any]) -> Iterator[None]:
    from engram_harness.chaos.memory import MemoryLimit

    with MemoryLimit(target.need("server", "memory_limit").pid, p["limit_mb"] << 20, oom_kill=p["oom_kill"]):
        yield


@contextlib.contextmanager
def _slow_disk(target: ChaosTarget, p: dict[str, Any]) -> Iterator[None]:
    from engram_harness.chaos.blkio import SlowDisk

    server = target.need("server", "slow_disk")
    with SlowDisk(server.pid, Path(server.data_dir), **p):
        yield


@contextlib.contextmanager
def _cpu(target: ChaosTarget, p: dict[str, Any]) -> Iterator[None]:
    from engram_harness.chaos.cpu import CpuStarvation

    with CpuStarvation(p["workers"], p["load_pct"]):
        yield


@contextlib.contextmanager
def _disk_fill(target: ChaosTarget, p: dict[str, Any]) -> Iterator[None]:
    disk = target.need("disk", "disk_fill")
    disk.fill(p["fraction"])
    try:
        yield
    finally:
        disk.free()


@contextlib.contextmanager
def _clock_skew(target: ChaosTarget, p: dict[str, Any]) -> Iterator[None]:
    from engram_harness.chaos.server_faults import clock_skew

    with clock_skew(target.need("server", "clock_skew").url, p["offset_s"], target.api_key):
        yield


@contextlib.contextmanager
def _io_errors(target: ChaosTarget, p: dict[str, Any]) -> Iterator[None]:
    from engram_harness.chaos.server_faults import fault_plan

    with fault_plan(target.need("server", "io_errors").url, p["plan"], target.api_key):
        yield


@contextlib.contextmanager
def _burst(target: ChaosTarget, p: dict[str, Any]) -> Iterator[None]:
    from engram_harness.chaos.burst import BurstLoad

    server = target.need("server", "burst")
    with BurstLoad(server.url, p["space"], rate_per_s=p["rate_per_s"], dim=p["dim"], api_key=target.api_key,
                   seed=target.seed) as load:  # fmt: skip
        yield
    target.notes.append(f"burst: {load.summary()}")


def _io_errors_params(t: Table) -> dict[str, Any]:
    op = t.string("op", choices=IO_OPS)
    path = t.string("path", "*")
    errno = t.string("errno", "EIO", choices=IO_ERRNOS)
    probability = t.number("probability", 1.0, lo=0.0, lo_open=True, hi=1.0)
    if any(c in path for c in ":;"):
        raise t.error("path", path, "a glob without ':' or ';' (docs/faults.md)")
    p = "" if probability == 1.0 else f":p={probability:g}"
    return {"plan": f"ioerror={op}@{path}:{errno}{p}"}


#: docs/faults.md, "Fault plans": what an io_errors fault may name.
IO_OPS = (
    "open",
    "read",
    "write",
    "sync",
    "truncate",
    "rename",
    "unlink",
    "mkdir",
    "listdir",
    "syncdir",
    "stat",
    "*",
)
IO_ERRNOS = (
    "EIO",
    "ENOSPC",
    "EDQUOT",
    "EROFS",
    "EACCES",
    "EPERM",
    "EMFILE",
    "ENFILE",
    "EFBIG",
    "EAGAIN",
    "EINTR",
)


def _stream(t: Table, default: str = "both") -> str:
    return t.string("stream", default, choices=("both", "upstream", "downstream"))


def _no_params(t: Table) -> dict[str, Any]:
    return {}


def _delay(t: Table) -> dict[str, Any]:
    lo, hi = t.pair("range_ms")
    if lo < 0:
        raise t.error("range_ms", [lo, hi], "an array [min, max] of milliseconds >= 0")
    return {"min_ms": float(lo), "max_ms": float(hi), "stream": _stream(t)}


def _positive_int(t: Table, name: str, default: Any = None, lo: int = 0) -> int:
    return t.integer(name, default, lo=lo) if default is not None else t.integer(name, lo=lo)


def _slow_disk_params(t: Table) -> dict[str, Any]:
    keys = ("read_bps", "write_bps", "read_iops", "write_iops")
    out = {k: (t.integer(k, lo=1) if t.has(k) else None) for k in keys}
    if not any(out.values()):
        raise t.error("write_bps", MISSING, f"at least one of {list(keys)} (an integer >= 1)")
    return out


REGISTRY: dict[str, InjectorSpec] = {}


def _register(spec: InjectorSpec) -> None:
    REGISTRY[spec.name] = spec


_register(InjectorSpec(
    "delay", _delay,
    lambda tg, p: _toxics(tg, "delay", lambda px: px.latency((p["min_ms"] + p["max_ms"]) / 2,
                                                             (p["max_ms"] - p["min_ms"]) / 2, stream=p["stream"])),
    description="each direction delayed uniformly in range_ms = [min, max] (toxiproxy latency + jitter)"))  # fmt: skip
_register(InjectorSpec(
    "packet_loss",
    lambda t: {"probability": t.number("probability", lo=0.0, hi=1.0),
               "mode": t.string("mode", "retransmit", choices=("retransmit", "stall"))},
    lambda tg, p: _toxics(tg, "packet_loss", lambda px: px.packet_loss(p["probability"], mode=p["mode"])),
    description="probability of connections delayed one RTO (retransmit) or stalled (stall)"))  # fmt: skip
_register(InjectorSpec(
    "blackhole", lambda t: {"timeout_ms": _positive_int(t, "timeout_ms", 0), "stream": _stream(t)},
    lambda tg, p: _toxics(tg, "blackhole", lambda px: px.blackhole(p["timeout_ms"], stream=p["stream"])),
    description="no data passes; connections hang (timeout_ms 0) or close after timeout_ms"))  # fmt: skip
_register(InjectorSpec(
    "reset_peer", lambda t: {"timeout_ms": _positive_int(t, "timeout_ms", 0)},
    lambda tg, p: _toxics(tg, "reset_peer", lambda px: px.reset_peer(p["timeout_ms"])),
    description="connections reset (TCP RST) after timeout_ms"))  # fmt: skip
_register(InjectorSpec(
    "partition", _no_params, _partition,
    description="the proxy is disabled: connections refused and open ones dropped"))  # fmt: skip
_register(InjectorSpec(
    "bandwidth", lambda t: {"rate_kb_s": _positive_int(t, "rate_kb_s", lo=1), "stream": _stream(t)},
    lambda tg, p: _toxics(tg, "bandwidth", lambda px: px.bandwidth(p["rate_kb_s"], stream=p["stream"])),
    description="throughput limited to rate_kb_s per direction"))  # fmt: skip
_register(InjectorSpec(
    "slicer",
    lambda t: {"average_size": _positive_int(t, "average_size", lo=1),
               "size_variation": _positive_int(t, "size_variation", 0), "delay_us": _positive_int(t, "delay_us", 0)},
    lambda tg, p: _toxics(tg, "slicer", lambda px: px.slicer(p["average_size"], p["size_variation"], p["delay_us"])),
    description="responses cut into small packets"))  # fmt: skip
_register(InjectorSpec(
    "limit_data", lambda t: {"bytes": _positive_int(t, "bytes", lo=1)},
    lambda tg, p: _toxics(tg, "limit_data", lambda px: px.limit_data(p["bytes"])),
    description="connections closed after so many bytes of response"))  # fmt: skip
_register(InjectorSpec("kill", _no_params, _kill, instantaneous=True,
                       description="SIGKILL the server, restart it on the same data dir and port"))  # fmt: skip
_register(InjectorSpec(
    "kill_every",
    lambda t: {"every_s": t.number("every_s", lo=0.0, lo_open=True), "jitter": t.number("jitter", 0.0, lo=0.0, hi=0.99)},
    _kill_every, description="kill and restart every every_s seconds (+/- jitter, seeded) for the duration"))  # fmt: skip
_register(InjectorSpec(
    "memory_limit",
    lambda t: {"limit_mb": _positive_int(t, "limit_mb", lo=1), "oom_kill": t.boolean("oom_kill", True)},
    _memory, description="cgroup v1 memory limit on the server (root)"))  # fmt: skip
_register(InjectorSpec(
    "slow_disk",
    _slow_disk_params, _slow_disk, description="cgroup v1 blkio throttle on the server's data device (root)"))  # fmt: skip
_register(InjectorSpec(
    "cpu_starvation",
    lambda t: {"workers": _positive_int(t, "workers", 0), "load_pct": t.integer("load_pct", 100, lo=1, hi=100)},
    _cpu, description="stress-ng burning CPU"))  # fmt: skip
_register(InjectorSpec(
    "disk_fill", lambda t: {"fraction": t.number("fraction", 1.0, lo=0.0, lo_open=True, hi=1.0)},
    _disk_fill, description="the data disk filled to fraction, freed at the end"))  # fmt: skip
_register(InjectorSpec(
    "clock_skew", lambda t: {"offset_s": t.number("offset_s", lo=-31_536_000.0, hi=31_536_000.0)},
    _clock_skew, description="the server's engine clock offset_s seconds off (test build; never run backwards)"))  # fmt: skip
_register(InjectorSpec(
    "io_errors", _io_errors_params, _io_errors,
    description="file operation op on paths matching path fails with errno (probability; test build)"))  # fmt: skip
_register(InjectorSpec(
    "burst",
    lambda t: {"rate_per_s": t.number("rate_per_s", lo=0.0, lo_open=True, hi=100_000.0),
               "space": t.string("space", "burst"), "dim": t.integer("dim", lo=1, hi=65_536)},
    _burst, description="extra writes at rate_per_s into space (created if missing) for the duration"))  # fmt: skip
