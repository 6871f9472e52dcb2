"""docs/operations/README.md stays true: its ``console`` commands run, in order, against a real
server with backups enabled and the environment the guide sets up."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from engram.client import Client
from engram.server.auth import add_key
from engram_harness.server import engram_command, running_server_process

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "operations" / "README.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def commands() -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    return [ln[2:] for lang, body in FENCE.findall(text) if lang == "console" for ln in body.splitlines()
            if ln.startswith("$ ")]  # fmt: skip


def test_the_guide_has_commands_for_each_step() -> None:
    cmds = commands()
    for verb in (
        "engram backup --url",
        "engram verify",
        "engram restore",
        "engram diagnose",
        "promtool test rules",
    ):
        assert any(c.startswith(verb) for c in cmds), verb


def test_the_guide_runs_as_written(tmp_path: Path) -> None:
    for name in ("promtool", "amtool"):
        if shutil.which(name) is None:
            message = f"{name} is not installed (apt-get install prometheus prometheus-alertmanager)"
            if os.environ.get("CI"):
                pytest.fail(message + "; CI installs it (scripts/setup-system.sh)")
            pytest.skip(message)
    keys = tmp_path / "keys.json"
    admin = add_key(keys, "ops", ["*"], "admin")
    backups = tmp_path / "backups"
    with running_server_process(
        tmp_path / "data", log_dir=tmp_path, api_keys=keys, dim=8, backup_dir=backups
    ) as sp:
        with Client(sp.url, api_key=admin) as c:
            space = c.create_space("notes", dim=8)
            space.remember_batch(
                [[float(i), 1, 0, 0, 0, 0, 0, 1] for i in range(20)], [f"n{i}" for i in range(20)]
            )
        bindir = str(Path(engram_command()[0]).parent)
        env = {**os.environ, "ENGRAM_URL": sp.url, "ENGRAM_API_KEY": admin, "BACKUPS": str(backups),
               "RESTORED": str(tmp_path / "restored"), "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}  # fmt: skip
        for cmd in commands():  # in order: later steps use what earlier ones made
            out = subprocess.run(
                ["bash", "-c", cmd], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
            )
            assert out.returncode == 0, (
                f"`{cmd}` exited {out.returncode}:\n{out.stdout[-2000:]}{out.stderr[-2000:]}"
            )
    assert (tmp_path / "restored" / "FORMAT").exists()
