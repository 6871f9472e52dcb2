"""Hot backups over HTTP (POST /api/v1/admin/backup, ``engram backup --url``): who may take one,
where it goes, full then incremental while writes go on, restore and verification of what the
server wrote, and a failed backup that leaves the previous one valid (the test build's I/O
faults). The acceptance suite (acceptance/workflows/test_109_backup_restore.py) adds the history
checker and point-in-time restores under load."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

import engram
from engram.client import Client
from engram.client.errors import InvalidInputError, PermissionDenied, RemoteError, StorageError
from engram.durability.verify import verify
from engram.server.auth import add_key
from engram_harness.chaos.server_faults import fault_plan
from engram_harness.server import ServerProcess, engram_command, running_server_process

DIM = 8


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, dict[str, str], Path]]:
    d = tmp_path_factory.mktemp("backup-route")
    keys_file = d / "keys.json"
    keys = {
        "admin": add_key(keys_file, "admin", ["*"], "admin"),
        "scoped_admin": add_key(keys_file, "scoped", ["a"], "admin"),
        "writer": add_key(keys_file, "writer", ["a"], "write"),
    }
    with running_server_process(
        d / "data", log_dir=d, api_keys=keys_file, dim=DIM, backup_dir=d / "backups"
    ) as sp:
        with Client(sp.url, api_key=keys["admin"]) as c:
            c.create_space("a")
        yield sp, keys, d


def write(url: str, key: str, start: int, n: int) -> list[int]:
    rng = np.random.default_rng(start)
    with Client(url, api_key=key) as c:
        sp = c.space("a")
        return [sp.remember(rng.standard_normal(DIM).astype(np.float32), content=f"m{start + i}")
                for i in range(n)]  # fmt: skip


def test_only_an_admin_granted_every_space_backs_up(
    served: tuple[ServerProcess, dict[str, str], Path],
) -> None:
    sp, keys, _ = served
    for who in ("scoped_admin", "writer"):
        with Client(sp.url, api_key=keys[who]) as c, pytest.raises(PermissionDenied):
            c.backup("nope")
    r = httpx.post(sp.url + "/api/v1/admin/backup", json={"destination": "nope"})
    assert r.status_code == 401


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", "-x", "", "x" * 129])
def test_a_destination_is_one_name_under_the_backup_dir(
    served: tuple[ServerProcess, dict[str, str], Path], name: str
) -> None:
    sp, keys, d = served
    with Client(sp.url, api_key=keys["admin"]) as c, pytest.raises(InvalidInputError) as e:
        c.backup(name)
    assert "destination" in str(e.value)
    assert not (d / "escape").exists() and not (d / "backups" / "a").exists()


def test_full_then_incremental_while_serving_restores_and_verifies(
    served: tuple[ServerProcess, dict[str, str], Path],
) -> None:
    sp, keys, d = served
    first = write(sp.url, keys["writer"], 0, 40)
    with Client(sp.url, api_key=keys["admin"]) as c:
        full = c.backup("nightly")
        second = write(sp.url, keys["writer"], 1000, 25)
        inc = c.backup("nightly")
        listed = c.backups()
    assert not full["incremental"] and inc["incremental"]
    assert inc["durable_lsn"] >= full["durable_lsn"] + 25
    assert inc["bytes_shipped"] < inc["bytes_total"] or full["files"] == 1
    assert full["path"] == str(d / "backups" / "nightly") and Path(full["path"]).is_absolute()
    assert [b["destination"] for b in listed] == ["nightly"] and listed[0]["durable_lsn"] == inc[
        "durable_lsn"
    ]
    bk = d / "backups" / "nightly"
    for level in ("manifest", "checksums", "full"):
        assert verify(bk, level=level)["ok"], level
    manifest = json.loads((bk / "manifest.json").read_text())
    assert manifest["writer"] == "engramd" and manifest["durable_lsn"] == inc["durable_lsn"]
    engram.restore(bk, d / "restored")
    with engram.Engine(d / "restored", dim=DIM) as eng:
        a = eng.space("a")
        assert all(i in a for i in first + second)
        assert a.get(second[-1]).content == "m1024"


def test_engram_backup_url_prints_what_it_shipped(served: tuple[ServerProcess, dict[str, str], Path]) -> None:
    sp, keys, d = served
    write(sp.url, keys["writer"], 2000, 5)
    cmd = [*engram_command(), "backup", "--url", sp.url, "cli-made"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                         env={"ENGRAM_API_KEY": keys["admin"], "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("full backup by ") and "durable LSN" in out.stdout and "MB/s" in out.stdout
    again = subprocess.run(
        [*cmd, "--json", "--api-key", keys["admin"]], capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0 and json.loads(again.stdout)["incremental"] is True
    refused = subprocess.run([*engram_command(), "backup", "--url", sp.url, "--api-key", keys["writer"], "x"],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert refused.returncode == 1 and "engram backup:" in refused.stderr, refused.stderr
    assert verify(d / "backups" / "cli-made")["ok"]


def test_a_failed_backup_is_reported_and_leaves_the_previous_one(
    served: tuple[ServerProcess, dict[str, str], Path],
) -> None:
    sp, keys, d = served
    with Client(sp.url, api_key=keys["admin"]) as c:
        if (
            httpx.get(
                sp.url + "/api/v1/admin/faults", headers={"Authorization": f"Bearer {keys['admin']}"}
            ).status_code
            != 200
        ):
            pytest.fail(
                "this test needs the test build of engramd (ENGRAM_FAULT_INJECTION=ON), as CI's tests session builds"
            )
        c.backup("fails-later")
        before = (d / "backups" / "fails-later" / "manifest.json").read_bytes()
        write(sp.url, keys["writer"], 3000, 30)
        plan = "ioerror=write@*/backups/fails-later/*:EIO"
        with fault_plan(sp.url, plan, api_key=keys["admin"]), pytest.raises(StorageError) as e:
            c.backup("fails-later")
        assert "backup to 'fails-later' failed" in str(e.value) and "unchanged" in str(e.value)
        metrics = c.prometheus()
        assert 'engram_backup_runs_total{outcome="failed"} 1' in metrics
        assert (d / "backups" / "fails-later" / "manifest.json").read_bytes() == before
        assert verify(d / "backups" / "fails-later")["ok"]
        assert not list((d / "backups" / "fails-later").rglob("*.part"))
        assert c.backup("fails-later")["incremental"]  # the next run goes on from the previous one
    assert sp.events("backup_failed") and sp.events("backup_completed")


def test_without_a_backup_dir_the_route_says_how_to_enable_it(tmp_path: Path) -> None:
    with (
        running_server_process(tmp_path / "data", log_dir=tmp_path, no_auth=True, dim=DIM) as sp,
        Client(sp.url) as c,
        pytest.raises(RemoteError) as e,
    ):
        c.backup("x")
    assert e.value.status == 409 and "--backup-dir" in str(e.value)
