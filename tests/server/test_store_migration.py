"""engramd and store formats (docs/format.md, Migration): a format-1 store is refused without
--migrate and converted with it as the server opens; `engramd migrate` rolls it back and dry-runs
without Python; rollout stages set over HTTP are durable, and block a rollback until ended."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from engram.server.launcher import find_engramd
from engram_harness.server import running_server_process, start_server
from tests.durability.store_contents import digests

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store-v1"
ENGRAMD = find_engramd()
pytestmark = pytest.mark.skipif(ENGRAMD is None, reason="engramd is not built (pip install '.[server]')")


def _digest(store: Path) -> dict[str, str]:
    return digests(store, ignore=("LOCK",))


def _migrate(data: Path, *args: str) -> tuple[int, list[dict], str]:
    assert ENGRAMD is not None
    r = subprocess.run(
        [ENGRAMD, "migrate", "--data", str(data), *args], capture_output=True, text=True, timeout=120
    )
    return r.returncode, [json.loads(line) for line in r.stdout.splitlines() if line.strip()], r.stderr


def _v1_copy(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(FIXTURE, data)
    return data


def test_a_format_1_store_is_refused_without_migrate_and_left_alone(tmp_path: Path) -> None:
    data = _v1_copy(tmp_path)
    before = _digest(data)
    sp = start_server(data, log_dir=tmp_path, no_auth=True, dim=8, wait=False)
    assert sp.proc.wait(timeout=60) == 1
    failed = sp.events("engine_open_failed")
    assert failed and "engram migrate" in failed[0]["error"] and "Nothing was changed" in failed[0]["error"]
    assert _digest(data) == before


def test_migrate_on_open_then_roll_back_with_engramd_migrate(tmp_path: Path) -> None:
    data = _v1_copy(tmp_path)
    with running_server_process(data, log_dir=tmp_path, no_auth=True, dim=8, migrate=True) as sp:
        migrated = sp.events("store_migrated")
        assert migrated and migrated[0]["from_format"] == 1 and migrated[0]["to_format"] == 2
        assert [e["phase"] for e in sp.events("store_migration")][:1] == ["read"]
        assert httpx.get(sp.url + "/api/v1/spaces").json()["spaces"] == ["late", "notes", "people"]
        assert httpx.get(sp.url + "/api/v1/spaces/notes").json()["memories"] == 12  # the fixture's episodes
        r = httpx.post(sp.url + "/api/v1/spaces/people/memories", json={"embedding": [0.1, 0.2, 0.3, 0.4]})
        assert r.status_code == 201, r.text
        new_id = r.json()["id"]
    assert (data / "FORMAT").read_text() == "engram-store 2\n"
    code, lines, err = _migrate(data, "--dry-run", "--to", "1")
    assert code == 0, err
    report = lines[-1]
    assert report["event"] == "migration_report" and report["dry_run"] and not report["changed"]
    assert report["from"] == 2 and report["to"] == 1 and report["blockers"] == []
    code, lines, err = _migrate(data, "--to", "1")
    assert code == 0, err
    assert lines[-1]["changed"] and (data / "FORMAT").read_text() == "engram-store 1\n"
    assert any(e.get("phase") == "switch" for e in lines if e["event"] == "migration_progress")
    # and up again by the server, with the write made in format 2 still there
    with running_server_process(data, log_dir=tmp_path, no_auth=True, dim=8, migrate=True) as sp:
        assert httpx.get(f"{sp.url}/api/v1/spaces/people/memories/{new_id}").status_code == 200


def test_engramd_migrate_arguments(tmp_path: Path) -> None:
    assert ENGRAMD is not None
    r = subprocess.run([ENGRAMD, "migrate", "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "--dry-run" in r.stdout and "rollback" in r.stdout
    r = subprocess.run([ENGRAMD, "migrate", "--to", "x"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--to" in r.stderr
    code, _, err = _migrate(tmp_path / "missing")
    assert code == 1 and "does not exist" in err


def test_rollout_stages_are_durable_and_block_a_rollback(tmp_path: Path) -> None:
    data = tmp_path / "data"
    features = "/api/v2/admin/features"
    with running_server_process(data, log_dir=tmp_path, no_auth=True, dim=8) as sp:
        r = httpx.put(sp.url + features, json={"rollout": {"fan_effect": {"percent": 10},
                                                           "blended_recall": {"percent": 0, "shadow": True}}})  # fmt: skip
        assert r.status_code == 200, r.text
    with running_server_process(data, log_dir=tmp_path, no_auth=True, dim=8) as sp:
        rollout = httpx.get(sp.url + features).json()["rollout"]
        assert rollout["fan_effect"] == {"percent": 10.0, "shadow": False}
        assert rollout["blended_recall"] == {"percent": 0.0, "shadow": True}
        assert rollout["concept_formation"] is None
    before = _digest(data)
    code, lines, err = _migrate(data, "--to", "1")
    assert code == 1 and "fan_effect has a rollout stage (10.00%)" in err
    assert _digest(data) == before
    code, lines, _ = _migrate(data, "--to", "1", "--dry-run")
    assert code == 1 and len(lines[-1]["blockers"]) == 2
    with running_server_process(data, log_dir=tmp_path, no_auth=True, dim=8) as sp:
        r = httpx.put(sp.url + features, json={"rollout": {"fan_effect": None, "blended_recall": None}})
        assert r.status_code == 200 and all(v is None for v in r.json()["rollout"].values())
    code, lines, err = _migrate(data, "--to", "1")
    assert code == 0 and lines[-1]["changed"], err
