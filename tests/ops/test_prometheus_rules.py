"""The shipped monitoring configuration (deploy/): Prometheus's own checks of the rules and their
unit tests (``promtool check rules``, ``promtool test rules``), the example configurations, the
Grafana dashboard's shape, and that every metric a rule or panel reads is one engramd serves.
The acceptance suite test_110_monitoring_alerting.py runs the rules on a live server."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from engram.server.auth import add_key
from engram_harness.server import running_server_process

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = sorted((DEPLOY / "prometheus").glob("engram-*.yml"))
#: The alerts issue 15 names; the rules may have more.
REQUIRED_ALERTS = {
    "ProcessCrashDetected", "WalRecoveryInProgress", "WalRecoveryComplete", "MemoryPressureWarning",
    "MemoryPressureCritical", "AdmissionControlEngaged", "ConsolidationPaused", "ConsolidationStalled",
    "LatencyBudgetExceeded", "ThroughputBelowFloor", "DiskAlmostFull", "ErrorRateHigh", "CorruptionQuarantined",
    "CircuitBreakerOpen", "ClockSkewDetected", "ClientDisconnectsHigh", "AuthFailuresHigh", "BackupFailed",
    "CapacityHeadroomLow",
}  # fmt: skip
SEVERITIES = {"critical", "warning", "info"}


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt-get install prometheus prometheus-alertmanager)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI installs it (scripts/setup-system.sh)")
        pytest.skip(message)
    return path


def alerts() -> list[dict[str, object]]:
    out = []
    for f in RULES:
        for group in yaml.safe_load(f.read_text())["groups"]:
            out += [r for r in group["rules"] if "alert" in r]
    return out


def expressions() -> list[str]:
    out = []
    for f in RULES:
        for group in yaml.safe_load(f.read_text())["groups"]:
            out += [r["expr"] for r in group["rules"]]
    dash = json.loads((DEPLOY / "grafana" / "engram-dashboard.json").read_text())
    out += [t["expr"] for p in dash["panels"] for t in p["targets"]]
    return out


def test_promtool_accepts_the_rules() -> None:
    out = subprocess.run(
        [tool("promtool"), "check", "rules", *map(str, RULES)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_rule_passes_its_unit_tests() -> None:
    tests = sorted((DEPLOY / "prometheus" / "tests").glob("*.yml"))
    assert tests
    out = subprocess.run(
        [tool("promtool"), "test", "rules", *map(str, tests)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_unit_tests_fire_every_alert_and_silence_it_when_healthy() -> None:
    fired: set[str] = set()
    silent: set[str] = set()
    for f in (DEPLOY / "prometheus" / "tests").glob("*.yml"):
        for t in yaml.safe_load(f.read_text())["tests"]:
            for case in t.get("alert_rule_test", []):
                (fired if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {str(a["alert"]) for a in alerts()}
    assert names - fired == set(), "alerts no unit test fires"
    assert names - silent == set(), "alerts no unit test checks silent"


def test_every_alert_has_a_severity_a_summary_and_a_runbook() -> None:
    names = [str(a["alert"]) for a in alerts()]
    assert set(names) >= REQUIRED_ALERTS, REQUIRED_ALERTS - set(names)
    assert len(names) == len(set(names)), "an alert is defined twice"
    for a in alerts():
        assert a.get("labels", {}).get("severity") in SEVERITIES, a["alert"]  # type: ignore[union-attr]
        ann = a.get("annotations", {})
        assert ann.get("summary") and str(ann.get("runbook", "")).startswith("docs/operations/"), a["alert"]  # type: ignore[union-attr]


def test_the_example_configurations_are_valid() -> None:
    prom = subprocess.run([tool("promtool"), "check", "config", "--syntax-only",
                           str(DEPLOY / "prometheus" / "prometheus.yml")], capture_output=True, text=True)  # fmt: skip
    assert prom.returncode == 0, prom.stdout + prom.stderr
    am = subprocess.run([tool("amtool"), "check-config", str(DEPLOY / "alertmanager" / "alertmanager.yml")],
                        capture_output=True, text=True)  # fmt: skip
    assert am.returncode == 0, am.stdout + am.stderr


def test_the_dashboard_is_a_grafana_dashboard() -> None:
    dash = json.loads((DEPLOY / "grafana" / "engram-dashboard.json").read_text())
    assert dash["uid"] and dash["title"] and isinstance(dash["schemaVersion"], int)
    assert any(v["type"] == "datasource" and v["query"] == "prometheus" for v in dash["templating"]["list"])
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    titles = " ".join(p["title"].lower() for p in dash["panels"])
    for topic in ("latency", "throughput", "errors", "memory", "wal", "consolidation"):
        assert topic in titles, topic
    for p in dash["panels"]:
        assert p["type"] and p["targets"] and {"h", "w", "x", "y"} <= set(p["gridPos"]), p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)) and all(t["expr"].strip() for t in p["targets"]), p["title"]


METRIC = re.compile(r"\b(engram_[a-z0-9_]+)")


def test_every_metric_the_rules_and_panels_read_is_served(tmp_path: Path) -> None:
    """A misspelt metric name makes an alert that can never fire: every engram_* name in the
    rules and panels must be in a real engramd's exposition (a durable store, a backup dir, a
    memory budget, background consolidation, and a scrape with a "*" admin key)."""
    keys = tmp_path / "keys.json"
    admin = add_key(keys, "ops", ["*"], "admin")
    with running_server_process(tmp_path / "data", log_dir=tmp_path, api_keys=keys, dim=8,
                                backup_dir=tmp_path / "bk", memory_budget_mb=64) as sp:  # fmt: skip
        h = {"Authorization": f"Bearer {admin}"}
        httpx.post(sp.url + "/api/v1/spaces", json={"name": "s", "dim": 8}, headers=h).raise_for_status()
        httpx.post(
            sp.url + "/api/v1/consolidation/start", json={"interval_s": 3600}, headers=h
        ).raise_for_status()
        text = httpx.get(sp.url + "/metrics", headers=h).text
    served = set(re.findall(r"^# TYPE (\S+) (\S+)", text, re.M))
    names = {n for n, _ in served}
    histograms = {n for n, t in served if t == "histogram"}
    wanted = {m for e in expressions() for m in METRIC.findall(e)}
    missing = set()
    for m in wanted:
        base = re.sub(r"_(bucket|sum|count)$", "", m)
        if m not in names and not (base in histograms and base != m):
            missing.add(m)
    assert not missing, f"rules or panels read metrics engramd does not serve: {sorted(missing)}"
