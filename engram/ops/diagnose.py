"""``engram diagnose``: what a runbook asks for, gathered into one report.

From a running server (``--url``, an admin key granted "*" for per-space figures): liveness and
readiness, the engine's stats, a summary of ``/metrics`` (memory, disk, WAL, backpressure,
consolidation, breakers, corruption and crash counts, backups, errors, latency). From the host:
the server's recent warnings and errors (``--log``, its JSON lines), the store checked read-only
(``--data``, the record checksums of ``engram verify``) and the disk and memory headroom. Each
finding names what was seen and the runbook (``docs/operations/``) that deals with it.

The metrics are read with prometheus-client's parser (the ``server`` extra brings it with the
client; without it the summary says so), not by hand.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Finding:
    severity: str  # "critical" | "warning" | "info"
    what: str
    runbook: str


@dataclass
class Report:
    url: str | None
    collected_unix: float
    health: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    log: dict[str, Any] = field(default_factory=dict)
    store: dict[str, Any] = field(default_factory=dict)
    host: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # what could not be gathered, and why

    @property
    def ok(self) -> bool:
        return not any(f.severity in ("critical", "warning") for f in self.findings) and not self.errors

    def to_json(self) -> str:
        d = asdict(self)
        d["ok"] = self.ok
        return json.dumps(d, indent=1, sort_keys=True, default=str)


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    return out


def _sum(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(v for ls, v in samples.get(name, []) if all(ls.get(k) == x for k, x in labels.items()))


def _p99_from_buckets(samples: dict[str, list[tuple[dict[str, str], float]]], name: str) -> float | None:
    """P99 (upper bucket bound) of a histogram summed over its series, since the server started."""
    by_le: dict[float, float] = {}
    for ls, v in samples.get(name + "_bucket", []):
        if ls.get("route", "").startswith(("/metrics", "/health")):
            continue
        le = float("inf") if ls["le"] == "+Inf" else float(ls["le"])
        by_le[le] = by_le.get(le, 0.0) + v
    if not by_le or by_le.get(float("inf"), 0) == 0:
        return None
    total = by_le[float("inf")]
    for le in sorted(by_le):
        if by_le[le] >= 0.99 * total:
            return le
    return None


def summarize_metrics(text: str) -> dict[str, Any]:
    s = _samples(text)
    state = next((ls["state"] for ls, v in s.get("engram_memory_pressure_state", []) if v == 1), None)
    consolidator = next((ls["state"] for ls, v in s.get("engram_consolidator_state", []) if v == 1), None)
    budget = _sum(s, "engram_memory_budget_bytes")
    used = sum(v for ls, v in s.get("engram_memory_usage_bytes", []) if "threshold" not in ls)
    # probes and scrapes are not the service: a 503 from /health/ready while starting is no error
    served = [(ls, v) for ls, v in s.get("engram_http_requests_total", [])
              if not ls.get("route", "").startswith(("/health", "/metrics"))]  # fmt: skip
    requests = sum(v for _, v in served)
    errors_5xx = sum(v for ls, v in served if ls.get("status", "").startswith("5"))
    last_backup = _sum(s, "engram_backup_last_success_timestamp_seconds")
    return {
        "ready": _sum(s, "engram_server_ready") == 1,
        "uptime_s": max(0.0, time.time() - _sum(s, "engram_server_start_time_seconds")),
        "memory_pressure": state,
        "memory_used_bytes": used,
        "memory_budget_bytes": budget,
        "memory_budget_used": used / budget if budget > 0 else None,
        "disk_used_ratio": _sum(s, "engram_wal_disk_used_ratio")
        if _sum(s, "engram_wal_disk_used_ratio") >= 0
        else None,
        "wal_durable_lsn": _sum(s, "engram_wal_durable_lsn"),
        "wal_storage_errors": _sum(s, "engram_wal_storage_errors_total"),
        "disk_full_refusals": _sum(s, "engram_wal_disk_full_refusals_total"),
        "requests_backpressure_level": _sum(s, "engram_server_backpressure_state"),
        "stream_backpressure_level": _sum(s, "engram_streaming_backpressure_state"),
        "consolidator": consolidator,
        "consolidator_busy_s": _sum(s, "engram_consolidator_busy_seconds"),
        "breakers_open": sorted(
            f"{ls.get('space')}/{ls.get('breaker')}"
            for ls, v in s.get("engram_concept_circuit_breaker_open", [])
            if v > 0
        ),
        "corruptions_at_recovery": _sum(s, "engram_corruption_detected_total"),
        "crashes_detected_at_recovery": _sum(s, "engram_crash_detected_total"),
        "entries_replayed": _sum(s, "engram_wal_entries_replayed_total"),
        "clock_steps": _sum(s, "engram_clock_skew_detected_total"),
        "requests": requests,
        "errors_5xx": errors_5xx,
        "auth_failures": _sum(s, "engram_server_auth_failures_total"),
        "client_aborts": _sum(s, "engram_server_client_aborts_total"),
        "admission_rejections": _sum(s, "engram_admission_control_rejections_total"),
        "http_p99_s_since_start": _p99_from_buckets(s, "engram_http_request_duration_seconds"),
        "backups_failed": _sum(s, "engram_backup_runs_total", outcome="failed"),
        "last_backup_age_s": time.time() - last_backup if last_backup > 0 else None,
    }


def findings_of(m: dict[str, Any]) -> list[Finding]:
    """What the metrics summary says an operator should look at, with the runbook for each."""
    f: list[Finding] = []

    def add(cond: bool, severity: str, what: str, runbook: str) -> None:
        if cond:
            f.append(Finding(severity, what, f"docs/operations/{runbook}.md"))

    add(not m["ready"], "critical", "the server is live but not ready (recovering or draining)",
        "crash-loop-and-wal-recovery")  # fmt: skip
    add(m["crashes_detected_at_recovery"] > 0, "critical",
        f"this process recovered from an unclean stop ({m['entries_replayed']:.0f} WAL entries replayed)",
        "crash-loop-and-wal-recovery")  # fmt: skip
    add(
        m["corruptions_at_recovery"] > 0,
        "critical",
        f"{m['corruptions_at_recovery']:.0f} damaged store file(s) quarantined at recovery",
        "corruption-in-quarantine",
    )
    add(m["memory_pressure"] == "critical", "critical", "memory pressure critical: writes are refused",
        "memory-pressure")  # fmt: skip
    add(
        m["memory_pressure"] == "warning",
        "warning",
        "memory pressure warning (80% of the budget)",
        "memory-pressure",
    )
    add((m["disk_used_ratio"] or 0.0) >= 0.90, "critical", f"data disk {m['disk_used_ratio']:.0%} full (writes stop at 95%)",
        "disk-full")  # fmt: skip
    add(m["wal_storage_errors"] > 0 or m["disk_full_refusals"] > 0, "warning",
        f"the WAL refused writes: {m['wal_storage_errors']:.0f} storage errors, "
        f"{m['disk_full_refusals']:.0f} disk-full refusals since the start", "disk-full")  # fmt: skip
    add(m["requests_backpressure_level"] >= 2 or m["stream_backpressure_level"] >= 2, "warning",
        "backpressure at critical or beyond (requests or stream queue over 80%)", "capacity-exhausted")  # fmt: skip
    add(
        m["consolidator"] == "paused",
        "warning",
        "background consolidation is paused",
        "consolidation-stalled",
    )
    add(m["consolidator_busy_s"] > 60, "warning", f"a consolidation cycle has run {m['consolidator_busy_s']:.0f} s",
        "consolidation-stalled")  # fmt: skip
    add(bool(m["breakers_open"]), "warning", f"circuit breakers open: {', '.join(m['breakers_open'])}",
        "consolidation-stalled")  # fmt: skip
    add(
        m["errors_5xx"] >= 5 and m["errors_5xx"] / m["requests"] > 0.01,
        "warning",
        f"{m['errors_5xx']:.0f} of {m['requests']:.0f} requests failed with 5xx since the start",
        "error-rate",
    )
    add(m["backups_failed"] > 0, "critical", f"{m['backups_failed']:.0f} backup(s) failed since the start",
        "backup-failing")  # fmt: skip
    age = m["last_backup_age_s"]
    add(age is not None and age > 26 * 3600, "warning", f"last successful backup {age / 3600:.0f} h ago" if age else "",
        "backup-failing")  # fmt: skip
    add(
        m["clock_steps"] > 0, "info", f"the engine clock stepped {m['clock_steps']:.0f} time(s)", "clock-skew"
    )
    return f


def recent_log(path: Path, limit: int = 20) -> dict[str, Any]:
    """The last ``limit`` warning and error lines of an engramd JSON log, and counts by event."""
    lines = path.read_text(errors="replace").splitlines()
    bad: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for ln in lines:
        if not ln.startswith("{"):
            continue
        try:
            rec = json.loads(ln)
        except ValueError:
            continue
        if rec.get("level") in ("warning", "error", "critical"):
            bad.append(rec)
            counts[str(rec.get("event"))] = counts.get(str(rec.get("event")), 0) + 1
    return {"path": str(path), "lines": len(lines), "problems_by_event": counts, "recent": bad[-limit:]}


def host_headroom(data: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if data is not None:
        du = shutil.disk_usage(data)
        out.update(disk_total_bytes=du.total, disk_free_bytes=du.free, disk_used=1 - du.free / du.total)
    try:
        info = dict(ln.split(":", 1) for ln in Path("/proc/meminfo").read_text().splitlines() if ":" in ln)
        out["mem_total_bytes"] = int(info["MemTotal"].split()[0]) * 1024
        out["mem_available_bytes"] = int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        out["mem"] = "unknown (no /proc/meminfo)"
    return out


def diagnose(url: str | None, api_key: str | None = None, data: Path | None = None, log: Path | None = None,
             timeout: float = 10.0) -> Report:  # fmt: skip
    rep = Report(url=url, collected_unix=time.time())
    if url is not None:
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout) as h:
            for probe in ("live", "ready"):
                try:
                    r = h.get(f"/health/{probe}")
                    rep.health[probe] = {**(r.json() if r.content else {}), "http_status": r.status_code}
                except (httpx.HTTPError, ValueError) as e:
                    rep.health[probe] = {"http_status": None, "error": str(e)}
            try:
                r = h.get("/api/v1/stats")
                if r.status_code == 200:
                    st = r.json()
                    mem = st["metrics"]["spaces"]
                    rep.stats = {"spaces": {n: v["memories"] for n, v in mem.items()},
                                 "consolidation": st["metrics"]["consolidation"]["state"]}  # fmt: skip
                else:
                    rep.errors.append(
                        f"GET /api/v1/stats answered {r.status_code}: give an admin key (--api-key)"
                    )
                rep.metrics = summarize_metrics(h.get("/metrics").text)
                rep.findings += findings_of(rep.metrics)
            except httpx.HTTPError as e:
                rep.errors.append(f"the server at {url} did not answer: {e}")
                rep.findings.append(
                    Finding(
                        "critical", f"no answer from {url}", "docs/operations/crash-loop-and-wal-recovery.md"
                    )
                )
            except ImportError:
                rep.errors.append("prometheus-client is not installed: pip install 'engram[server]'")
    if log is not None:
        rep.log = recent_log(log)
    if data is not None:
        from engram.durability.verify import verify

        v = verify(data, level="checksums")
        rep.store = {k: v[k] for k in ("ok", "checkpoints", "segments", "records", "last_lsn")}
        rep.store["issues"] = v["issues"][:20]
        errors = [i for i in v["issues"] if i["severity"] == "error"]
        if errors:
            rep.findings.append(Finding("critical", f"the store has {len(errors)} damaged file(s): {errors[0]['detail']}",
                                        "docs/operations/corruption-in-quarantine.md"))  # fmt: skip
    rep.host = host_headroom(data)
    return rep


def render(rep: Report) -> str:
    """The report as text an on-call engineer reads top to bottom."""
    out = [f"engram diagnose {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(rep.collected_unix))} UTC"
           + (f" of {rep.url}" if rep.url else "")]  # fmt: skip
    out.append("verdict: " + ("OK" if rep.ok else "LOOK AT THE FINDINGS BELOW"))
    if rep.findings:
        out.append("\nfindings:")
        out += [f"  [{f.severity}] {f.what}\n      runbook: {f.runbook}" for f in rep.findings]
    for title, part in (("health", rep.health), ("stats", rep.stats), ("metrics", rep.metrics),
                        ("store", rep.store), ("host", rep.host)):  # fmt: skip
        if part:
            out.append(f"\n{title}:")
            out += [f"  {k}: {_fmt(v)}" for k, v in part.items()]
    if rep.log:
        out.append(f"\nlog {rep.log['path']}: {rep.log['lines']} lines; warnings and errors by event: "
                   f"{rep.log['problems_by_event'] or 'none'}")  # fmt: skip
        out += [f"  {json.dumps(r)[:300]}" for r in rep.log["recent"][-10:]]
    if rep.errors:
        out.append("\nnot gathered:")
        out += [f"  {e}" for e in rep.errors]
    return "\n".join(out)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, dict)) and not v:
        return "none"
    return str(v)
