"""``engram serve`` is engramd: the launcher execs it with the same arguments, and without it says
exactly what to install. Runs without engramd (the launcher's lookup is replaced)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from engram import cli
from engram.server import launcher

NEEDS_ENGRAMD = False  # conftest: runs also where engramd is not built
APT_LINE = "apt-get install libboost-dev libsimdjson-dev libssl-dev libtomlplusplus-dev"


def test_without_engramd_engram_serve_says_what_to_install_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(launcher, "find_engramd", lambda: None)
    assert cli.main(["serve", "--in-memory", "--no-auth"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("engram serve: the native server engramd is not installed") and APT_LINE in err
    assert cli.main(["serve"]) == 2  # no arguments: still the message, not a Python server
    assert APT_LINE in capsys.readouterr().err


def test_without_engramd_the_help_still_lists_the_flags(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(launcher, "find_engramd", lambda: None)
    with pytest.raises(SystemExit) as ei:
        cli.main(["serve", "--help"])
    assert ei.value.code == 0
    out = capsys.readouterr()
    assert "--api-keys" in out.out and "--impl" not in out.out and APT_LINE in out.err


def test_engram_engramd_names_the_build_and_gets_the_arguments_unchanged(tmp_path: Path) -> None:
    """ENGRAM_ENGRAMD (a sanitizer build, say) is exec'd with engram serve's arguments as given."""
    fake = tmp_path / "engramd-fake"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$0" "$@"\nexit 7\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    env = {**os.environ, "ENGRAM_ENGRAMD": str(fake)}
    code = "import sys; from engram.cli import main; sys.exit(main())"
    args = ["serve", "--in-memory", "--no-auth", "--port", "0", "--help"]
    r = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=60,
                       cwd=tmp_path)  # fmt: skip
    assert r.returncode == 7, r.stderr  # engramd's status: the launcher replaced itself
    assert r.stdout.splitlines() == [str(fake), *args[1:]]


def test_an_engram_engramd_that_is_not_executable_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENGRAM_ENGRAMD", str(tmp_path / "missing"))
    assert cli.main(["serve", "--in-memory", "--no-auth"]) == 2
    err = capsys.readouterr().err
    assert APT_LINE in err and f"ENGRAM_ENGRAMD={tmp_path / 'missing'} is not an executable file" in err
