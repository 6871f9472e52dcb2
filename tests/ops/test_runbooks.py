"""The runbooks (docs/operations/) follow their format, cover every alert and every topic issue 15
lists, and their commands are valid as written: each parses as shell, uses a known tool, and each
``engram`` command is accepted by the CLI's own parser. Running them against induced faults is the
acceptance workflow 111 (acceptance/workflows/test_111_runbooks.py)."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from engram.cli import build_parser
from engram_harness.ops.runbook import SECTIONS, Runbook, load_all

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "docs" / "operations"
RUNBOOKS = load_all(OPS)
TOPICS = {  # issue 15: one runbook per failure an on-call engineer meets
    "slow queries": "slow-queries", "memory pressure": "memory-pressure", "disk full": "disk-full",
    "crash loop / WAL recovery": "crash-loop-and-wal-recovery", "corruption in quarantine": "corruption-in-quarantine",
    "consolidation stalled": "consolidation-stalled", "backup failing": "backup-failing",
    "certificate/key problems": "keys-and-certificates", "capacity exhausted": "capacity-exhausted",
    "security hardening": "security-hardening", "incident drill": "incident-drill",
}  # fmt: skip
TOOLS = {"engram", "curl", "grep", "df", "du", "ls", "ss", "find", "timedatectl", "python3", "promtool", "amtool",
         "journalctl", "date", "tail", "head", "sort", "true"}  # fmt: skip
SEPARATORS = {"|", "||", "&&", ";"}


def programs(cmd: str) -> list[list[str]]:
    """The simple commands of a pipeline or list, as words (shell quoting respected)."""
    lex = shlex.shlex(cmd, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    out: list[list[str]] = [[]]
    for tok in lex:
        if tok in SEPARATORS:
            out.append([])
        else:
            out[-1].append(tok)
    return [p for p in out if p]


ENV = {"ENGRAM_URL": "http://127.0.0.1:7432", "ENGRAM_API_KEY": "engram_ops_x", "ENGRAM_DATA": "/var/lib/engram",
       "ENGRAM_LOG": "/var/log/engram.log", "BACKUPS": "/var/backups/engram", "PROMETHEUS": "http://127.0.0.1:9090",
       "SPACE": "scratch", "RESTORED": "/tmp/restored"}  # fmt: skip


def alert_runbooks() -> dict[str, str]:
    out = {}
    for f in sorted((ROOT / "deploy" / "prometheus").glob("engram-*.yml")):
        for group in yaml.safe_load(f.read_text())["groups"]:
            for r in group["rules"]:
                if "alert" in r:
                    out[r["alert"]] = r["annotations"]["runbook"]
    return out


def test_every_topic_has_its_runbook() -> None:
    names = {r.name for r in RUNBOOKS}
    assert set(TOPICS.values()) <= names, set(TOPICS.values()) - names
    for r in RUNBOOKS:
        assert list(r.sections)[: len(SECTIONS)] == list(SECTIONS), r.name


def test_every_alert_names_a_runbook_that_names_it() -> None:
    by_name = {r.name: r for r in RUNBOOKS}
    for alert, path in alert_runbooks().items():
        target = ROOT / path
        assert target.exists(), f"{alert} names {path}, which does not exist"
        assert alert in by_name[target.stem].alerts, f"{path} does not list {alert} under **Alerts:**"
    known = set(alert_runbooks())
    for r in RUNBOOKS:
        assert set(r.alerts) <= known, f"{r.name} lists alerts no rule defines: {set(r.alerts) - known}"
        assert r.resolves_s is not None or not r.alerts, (
            f"{r.name}: a runbook for alerts states the time to resolve"
        )


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda r: r.name)
def test_commands_are_valid_as_written(runbook: Runbook) -> None:
    parser = build_parser()
    for section, sec in runbook.sections.items():
        for cmd in sec.commands:
            syntax = subprocess.run(["bash", "-n", "-c", cmd], capture_output=True, text=True)
            assert syntax.returncode == 0, f"{runbook.name} ({section}): `{cmd}`: {syntax.stderr}"
            progs = programs(cmd)
            for words in progs:
                assert words[0] in TOOLS, f"{runbook.name}: `{words[0]}` is not a tool the runbooks may use"
            if progs[0][0] == "engram":
                argv = [re.sub(r"\$\{?(\w+)\}?", lambda m: ENV.get(m.group(1), "x"), w) for w in progs[0][1:]]
                try:
                    parser.parse_args(argv)
                except SystemExit as e:
                    pytest.fail(f"{runbook.name}: `{cmd}` is refused by engram's own parser ({e})")
