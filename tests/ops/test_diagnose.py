"""``engram diagnose`` on a real server: a healthy one reads OK (exit 0, no finding); paused
consolidation, a damaged store file and an unreachable server are findings naming their runbook
(exit 1); ``--json`` is the same report."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx

from engram.server.auth import add_key
from engram_harness.server import engram_command, free_port, running_server_process


def run(*args: str) -> tuple[int, str]:
    out = subprocess.run([*engram_command(), "diagnose", *args], capture_output=True, text=True, timeout=120)
    return out.returncode, out.stdout + out.stderr


def test_a_healthy_server_then_a_paused_consolidator(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    admin = add_key(keys, "ops", ["*"], "admin")
    data = tmp_path / "data"
    with running_server_process(data, log_dir=tmp_path, api_keys=keys, dim=8, memory_budget_mb=64) as sp:
        h = {"Authorization": f"Bearer {admin}"}
        httpx.post(sp.url + "/api/v1/spaces", json={"name": "s", "dim": 8}, headers=h).raise_for_status()
        code, text = run(
            "--url", sp.url, "--api-key", admin, "--data", str(data), "--log", str(sp.log_path), "--json"
        )
        rep = json.loads(text)
        assert code == 0 and rep["ok"] and rep["findings"] == [], text
        assert rep["health"]["ready"]["http_status"] == 200 and rep["metrics"]["ready"] is True
        assert rep["stats"]["spaces"] == {"s": {"episode": 0, "concept": 0}}
        assert rep["store"]["ok"] and rep["host"]["disk_total_bytes"] > 0 and rep["log"]["lines"] > 0
        httpx.post(
            sp.url + "/api/v1/consolidation/start", json={"interval_s": 3600}, headers=h
        ).raise_for_status()
        httpx.post(sp.url + "/api/v1/consolidation/pause", headers=h).raise_for_status()
        code, text = run("--url", sp.url, "--api-key", admin)
    assert code == 1 and "background consolidation is paused" in text, text
    assert "runbook: docs/operations/consolidation-stalled.md" in text and "verdict: LOOK" in text


def test_a_damaged_store_and_an_unreachable_server_are_findings(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    add_key(keys, "ops", ["*"], "admin")
    data = tmp_path / "data"
    with running_server_process(data, log_dir=tmp_path, api_keys=keys, dim=8):
        pass  # a clean stop writes a checkpoint
    ckpt = next(data.glob("checkpoint-*"))
    raw = bytearray(ckpt.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    ckpt.write_bytes(bytes(raw))
    code, text = run("--url", f"http://127.0.0.1:{free_port()}", "--data", str(data))
    assert code == 1, text
    assert "no answer from" in text and "damaged file" in text and "corruption-in-quarantine" in text, text
