"""A real Prometheus and Alertmanager on loopback for the monitoring workflow (110; the plan's 108).

:func:`monitoring` starts both (the Debian packages ``prometheus`` and ``prometheus-alertmanager``)
on free ports with 1 s scrape and evaluation intervals, the repository's rule files
(``deploy/prometheus``) and one scrape job, ``engram``, of the given targets' ``/metrics``
(with an API key granted "*", so per-space series are scraped too). :class:`Monitoring` reads
Prometheus's query API and Alertmanager's API v2, and waits (bounded) for an alert to arrive.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from engram_harness.server import free_port

REPO = Path(__file__).resolve().parents[3]  # the harness is installed editable from the checkout
RULES_DIR = Path(os.environ.get("ENGRAM_DEPLOY_DIR", REPO / "deploy")) / "prometheus"
PACKAGES = "prometheus prometheus-alertmanager"


class MonitoringUnavailable(RuntimeError):
    """Prometheus or Alertmanager is not installed or would not start."""


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise MonitoringUnavailable(
            f"{name} is not installed: apt-get install {PACKAGES} (scripts/setup-system.sh)"
        )
    return path


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("engram-*.yml"))


@dataclass
class Monitoring:
    prometheus_url: str
    alertmanager_url: str
    workdir: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    # ------------------------------------------------------------------ Prometheus
    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query's result vector; RuntimeError with Prometheus's message when refused."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = at
        r = httpx.get(self.prometheus_url + "/api/v1/query", params=params, timeout=10)
        body = r.json()
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus refused {expr!r}: {body.get('errorType')}: {body.get('error')}")
        return list(body["data"]["result"])

    def firing(self) -> list[dict[str, Any]]:
        """Alerts Prometheus has firing now (its /api/v1/alerts)."""
        r = httpx.get(self.prometheus_url + "/api/v1/alerts", timeout=10)
        return [a for a in r.json()["data"]["alerts"] if a["state"] == "firing"]

    def targets_up(self) -> bool:
        r = httpx.get(self.prometheus_url + "/api/v1/targets", timeout=10)
        active = r.json()["data"]["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)

    # ------------------------------------------------------------------ Alertmanager
    def received(self) -> list[dict[str, Any]]:
        """Alerts Alertmanager holds (active, from Prometheus), with labels and startsAt."""
        r = httpx.get(self.alertmanager_url + "/api/v2/alerts", timeout=10)
        r.raise_for_status()
        return list(r.json())

    def received_names(self) -> set[str]:
        return {a["labels"]["alertname"] for a in self.received()}

    def wait_for_alert(self, name: str, timeout_s: float, since: float | None = None) -> float | None:
        """Seconds from ``since`` (monotonic; default now) until Alertmanager holds alert ``name``
        (its receipt), or None after ``timeout_s``. Polled every 0.25 s: bounded."""
        t0 = time.monotonic() if since is None else since
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if name in self.received_names():
                return time.monotonic() - t0
            time.sleep(0.25)
        return None

    def wait_until(self, pred: Any, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:  # bounded
            if pred():
                return
            time.sleep(0.25)
        raise MonitoringUnavailable(f"timed out after {timeout_s} s waiting for {what}")


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:  # bounded
        if proc.poll() is not None:
            raise MonitoringUnavailable(f"{url} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/-/ready", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise MonitoringUnavailable(f"{url} not ready within {timeout_s} s: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def monitoring(workdir: Path, targets: Sequence[str], *, api_key: str | None = None,
               interval_s: float = 1.0, rules: Sequence[Path] | None = None) -> Iterator[Monitoring]:  # fmt: skip
    """Prometheus scraping ``targets`` (host:port) as job ``engram`` every ``interval_s`` and
    evaluating ``rules`` (default: the repository's) as often, sending alerts to an Alertmanager;
    both stopped on exit. Their logs are ``prometheus.log`` and ``alertmanager.log`` in workdir."""
    prometheus, alertmanager = _binary("prometheus"), _binary("prometheus-alertmanager")
    workdir.mkdir(parents=True, exist_ok=True)
    am_port, prom_port = free_port(), free_port()
    (workdir / "alertmanager.yml").write_text(
        "route:\n  receiver: record\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n"
        "receivers:\n  - name: record\n"
    )
    auth = ""
    if api_key is not None:
        key_file = workdir / "scrape-key"
        key_file.write_text(api_key)
        os.chmod(key_file, 0o600)
        auth = f"    authorization:\n      credentials_file: {key_file}\n"
    files = [str(p) for p in (rules if rules is not None else rule_files())]
    every = f"{round(interval_s * 1000)}ms"  # Prometheus durations take no fractions
    (workdir / "prometheus.yml").write_text(
        f"global:\n  scrape_interval: {every}\n  evaluation_interval: {every}\n  scrape_timeout: {every}\n"
        "rule_files:\n" + "".join(f"  - {f}\n" for f in files)
        + "alerting:\n  alertmanagers:\n    - static_configs:\n"
        f"        - targets: ['127.0.0.1:{am_port}']\n"
        "scrape_configs:\n  - job_name: engram\n" + auth
        + "    static_configs:\n      - targets: [" + ", ".join(f"'{t}'" for t in targets) + "]\n"
    )  # fmt: skip
    mon = Monitoring(f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{am_port}", workdir)
    try:
        am_log = workdir / "alertmanager.log"
        with open(am_log, "wb") as log:
            mon.procs.append(subprocess.Popen(
                [alertmanager, f"--config.file={workdir / 'alertmanager.yml'}",
                 f"--storage.path={workdir / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
                 "--cluster.listen-address="], stdout=log, stderr=subprocess.STDOUT))  # fmt: skip
        _wait_ready(mon.alertmanager_url, mon.procs[-1], am_log, 30)
        prom_log = workdir / "prometheus.log"
        with open(prom_log, "wb") as log:
            mon.procs.append(subprocess.Popen(
                [prometheus, f"--config.file={workdir / 'prometheus.yml'}",
                 f"--storage.tsdb.path={workdir / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
                stdout=log, stderr=subprocess.STDOUT))  # fmt: skip
        _wait_ready(mon.prometheus_url, mon.procs[-1], prom_log, 60)
        yield mon
    finally:
        for p in reversed(mon.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)
