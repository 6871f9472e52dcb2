"""Start a real ``engram serve`` process (the native server engramd) for tests and acceptance suites.

>>> with running_server(tmp_path, no_auth=True) as url:  # doctest: +SKIP
...     Client(url).create_space("a")

The launcher picks a free loopback port, waits (bounded) for ``/health/ready``, yields the base
URL, and on exit sends SIGTERM and checks that the server drained and exited with status 0.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def timeout_scale() -> float:
    """``$ENGRAM_TEST_TIMEOUT_SCALE`` (default 1): the factor by which tests stretch their bounded
    waits on a server. Sanitizer builds of engramd run several times slower; `nox -s sanitize` sets
    it for them (scripts/sanitize.sh). Never below 1."""
    raw = os.environ.get("ENGRAM_TEST_TIMEOUT_SCALE", "")
    try:
        value = float(raw) if raw else 1.0
    except ValueError:
        raise ValueError(f"ENGRAM_TEST_TIMEOUT_SCALE={raw!r}; expected a number >= 1") from None
    if not value >= 1.0:  # also refuses NaN
        raise ValueError(f"ENGRAM_TEST_TIMEOUT_SCALE={raw!r}; expected a number >= 1")
    return value


def scaled(seconds: float) -> float:
    """A bounded wait of ``seconds``, stretched by :func:`timeout_scale`."""
    return seconds * timeout_scale()


class ServerStartError(RuntimeError):
    """The server did not become ready; the message includes the tail of its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _flag(name: str, value: Any) -> list[str]:
    flag = "--" + name.replace("_", "-")
    if value is True:
        return [flag]
    if value is False or value is None:
        return []
    return [flag, str(value)]


@dataclass
class ServerProcess:
    """A started server: its URL, process and log file (JSON lines)."""

    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    exit_code: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def events(self, name: str) -> list[dict[str, Any]]:
        import json

        out = []
        for line in self.log_lines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    rec = json.loads(line)
                    if rec.get("event") == name:
                        out.append(rec)
        return out

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM, then wait (bounded); kills the process if it did not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        timeout_s = scaled(timeout_s)
        try:
            self.exit_code = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            tail = "\n".join(line[:300] for line in self.log_lines()[-15:])
            raise AssertionError(
                f"server did not exit within {timeout_s} s of SIGTERM; killed. Its log ends:\n{tail}"
            ) from None
        return self.exit_code


def wait_ready(url: str, proc: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    timeout_s = scaled(timeout_s)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:  # bounded by the timeout
        if proc is not None and proc.poll() is not None:
            raise ServerStartError(f"server exited with status {proc.returncode} before becoming ready")
        # probing our own child's self-signed TLS test certificate: no verification for this probe
        ctx = ssl._create_unverified_context() if url.startswith("https:") else None
        try:
            with urllib.request.urlopen(url + "/health/ready", timeout=1.0, context=ctx) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise ServerStartError(f"{url} not ready within {timeout_s} s")


def engram_command() -> list[str]:
    """The installed ``engram`` command of this interpreter's environment. Not ``python -m engram``:
    run from a checkout, that would import the checkout's sources (no compiled engine) instead of
    the installed package."""
    script = shutil.which("engram", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "engram"]


def start_server(data_dir: str | os.PathLike[str] | None, *, log_dir: str | os.PathLike[str] | None = None,
                 ready_timeout_s: float = 30.0, wait: bool = True, command: list[str] | None = None,
                 env: Mapping[str, str] | None = None, **opts: Any) -> ServerProcess:  # fmt: skip
    """Start ``engram serve`` (``data_dir=None`` serves in memory); ``opts`` are its flags
    (``no_auth=True``, ``api_keys=path``, ``dim=8``, ``max_k=50``...). ``engram serve`` execs
    ``engramd`` (``$ENGRAM_ENGRAMD`` names another build, e.g. a sanitizer build); ``command``
    replaces ``engram serve`` by another server taking the same flags (e.g. ``["engramd"]``);
    ``env`` adds variables to the server's environment (e.g. a fault plan, ``ENGRAM_FAULTS``)."""
    port = int(opts.pop("port", 0)) or free_port()
    args = [*(command or [*engram_command(), "serve"]), "--host", "127.0.0.1", "--port", str(port)]
    args += ["--in-memory"] if data_dir is None else ["--data", str(data_dir)]
    for k, v in opts.items():
        args += _flag(k, v)
    log_path = Path(log_dir or (data_dir if data_dir is not None else ".")) / f"engram-serve-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=None if env is None else {**os.environ, **env})  # fmt: skip
    scheme = "https" if opts.get("tls_cert") else "http"
    sp = ServerProcess(f"{scheme}://127.0.0.1:{port}", proc, log_path)
    if wait:
        try:
            wait_ready(sp.url, proc, ready_timeout_s)
        except ServerStartError as exc:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            tail = "\n".join(sp.log_lines()[-30:])
            raise ServerStartError(f"{exc}; command: {' '.join(args)}\n--- server log ---\n{tail}") from None
    return sp


@contextlib.contextmanager
def running_server(data_dir: str | os.PathLike[str] | None, **opts: Any) -> Iterator[str]:
    """Yield the URL of a ready server; on exit SIGTERM it and assert a clean exit (status 0)."""
    with running_server_process(data_dir, **opts) as sp:
        yield sp.url


@contextlib.contextmanager
def running_server_process(data_dir: str | os.PathLike[str] | None, **opts: Any) -> Iterator[ServerProcess]:
    """Like :func:`running_server` but yields the :class:`ServerProcess` (log, signals)."""
    sp = start_server(data_dir, **opts)
    try:
        yield sp
    finally:
        if sp.exit_code is None:
            code = sp.stop()
            if code != 0:
                tail = "\n".join(sp.log_lines()[-30:])
                raise AssertionError(
                    f"server exited with status {code}, expected 0\n--- server log ---\n{tail}"
                )
