"""Process faults: SIGKILL of a real server, at once, at a random moment, or every N seconds over a
run, each followed by a restart on the same data directory and port (so clients, and a proxy in
front, reconnect to the same address).

The server is started through :mod:`engram_harness.server` (engramd, or the build ``$ENGRAM_ENGRAMD`` names).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engram_harness.chaos.errors import ChaosError
from engram_harness.server import ServerProcess, free_port, start_server


@dataclass
class KillRecord:
    at: float  # time.monotonic() of the kill
    pid: int
    down_s: float  # from the kill until the restarted server was ready


class RestartableServer:
    """A durable server that can be killed and restarted on the same data dir and port.

    ``opts`` are :func:`engram_harness.server.start_server`'s. Use as a context manager: on exit the
    last incarnation is stopped with SIGTERM (its exit status is returned by :meth:`stop`)."""

    def __init__(self, data_dir: str | os.PathLike[str], *, log_dir: str | os.PathLike[str] | None = None,
                 ready_timeout_s: float = 60.0, **opts: Any) -> None:  # fmt: skip
        self.data_dir = Path(data_dir)
        self.log_dir = Path(log_dir) if log_dir is not None else self.data_dir.parent
        self.port = int(opts.pop("port", 0)) or free_port()
        self.ready_timeout_s = ready_timeout_s
        self.opts = opts
        self.current: ServerProcess | None = None
        self.kills: list[KillRecord] = []
        self.incarnations = 0
        self._lock = threading.Lock()  # one kill/restart at a time

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.current is None:
            raise ChaosError("the server is not running")
        return int(self.current.proc.pid)

    def start(self, env: Mapping[str, str] | None = None) -> ServerProcess:
        """Start the next incarnation; ``env`` adds to its environment (this start only), e.g. a
        fault plan (``ENGRAM_FAULTS``) that a restart should not inherit."""
        self.incarnations += 1
        log_dir = self.log_dir / f"incarnation-{self.incarnations}"
        self.current = start_server(self.data_dir, log_dir=log_dir, port=self.port,
                                    ready_timeout_s=self.ready_timeout_s, env=env, **self.opts)  # fmt: skip
        return self.current

    def kill(self) -> int:
        """SIGKILL the running server and reap it; returns its pid."""
        sp = self.current
        if sp is None or sp.proc.poll() is not None:
            raise ChaosError("kill: the server is not running")
        sp.proc.send_signal(signal.SIGKILL)
        sp.proc.wait(timeout=30)
        sp.exit_code = sp.proc.returncode
        return int(sp.proc.pid)

    def kill_and_restart(self) -> KillRecord:
        with self._lock:
            t0 = time.monotonic()
            pid = self.kill()
            self.start()
            rec = KillRecord(t0, pid, time.monotonic() - t0)
            self.kills.append(rec)
            return rec

    def stop(self, timeout_s: float = 30.0) -> int | None:
        with self._lock:
            if self.current is None or self.current.proc.poll() is not None:
                return None
            return self.current.stop(timeout_s)

    def log_lines(self) -> list[str]:
        """Every incarnation's log, oldest first."""
        lines: list[str] = []
        for i in range(1, self.incarnations + 1):
            for p in sorted((self.log_dir / f"incarnation-{i}").glob("engram-serve-*.log")):
                lines += p.read_text(errors="replace").splitlines()
        return lines

    def __enter__(self) -> RestartableServer:
        if self.current is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class KillLoop:
    """Kill and restart ``server`` repeatedly on a background thread: every ``every_s`` seconds,
    or at a random moment in ``[every_s * (1 - jitter), every_s * (1 + jitter)]`` (seeded)."""

    server: RestartableServer
    every_s: float
    jitter: float = 0.0
    seed: int = 0
    max_kills: int | None = None
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.every_s <= 0 or not 0.0 <= self.jitter < 1.0:
            raise ValueError(
                f"every_s must be > 0 and jitter in [0, 1); got {self.every_s!r}, {self.jitter!r}"
            )
        self._rng = random.Random(self.seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-kill-loop", daemon=True)

    @property
    def kills(self) -> int:
        return len(self.server.kills)

    def _run(self) -> None:
        while not self._stop.is_set():  # bounded by stop() and max_kills
            wait = self.every_s * self._rng.uniform(1 - self.jitter, 1 + self.jitter)
            if self._stop.wait(wait):
                return
            try:
                self.server.kill_and_restart()
            except Exception as exc:  # reported by stop(): a restart that fails ends the loop
                self.errors.append(f"{type(exc).__name__}: {exc}")
                return
            if self.max_kills is not None and self.kills >= self.max_kills:
                return

    def start(self) -> KillLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.server.ready_timeout_s + 60)
        if self.errors:
            raise ChaosError(f"kill loop failed after {self.kills} kills: {self.errors[0]}")

    def __enter__(self) -> KillLoop:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def kill_at_random_moment(server: RestartableServer, within_s: tuple[float, float], *,
                          seed: int = 0) -> threading.Thread:  # fmt: skip
    """Kill and restart ``server`` once, at a moment drawn uniformly from ``within_s`` seconds from
    now (seeded); returns the started thread (join it)."""
    delay = random.Random(seed).uniform(*within_s)
    t = threading.Timer(delay, server.kill_and_restart)
    t.daemon = True
    t.start()
    return t
