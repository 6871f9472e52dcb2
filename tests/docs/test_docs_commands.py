"""docs/acceptance.md stays executable: its ``console`` commands run, its ``python`` snippets run on a
generated results directory, and the nox sessions and modules named in ``sh`` blocks exist."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from engram_harness.driver import InMemoryTarget, OpenLoopDriver
from engram_harness.runs import SessionResults
from engram_harness.scenarios import build_schedule, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "acceptance.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(kind: str) -> list[str]:
    return [body for lang, body in FENCE.findall(DOC.read_text(encoding="utf-8")) if lang == kind]


def console_commands() -> list[str]:
    return [line[2:] for b in blocks("console") for line in b.splitlines() if line.startswith("$ ")]


def nox_sessions() -> set[str]:
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    return {
        f.name
        for f in tree.body
        if isinstance(f, ast.FunctionDef) and any("nox.session" in ast.unparse(d) for d in f.decorator_list)
    }


def test_doc_has_commands_of_each_kind() -> None:
    assert console_commands() and blocks("sh") and blocks("python")


@pytest.mark.parametrize("command", console_commands())
def test_console_commands_run(command: str, tmp_path: Path) -> None:
    env = {**os.environ, "ENGRAM_RESULTS_DIR": str(tmp_path)}
    proc = subprocess.run(command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (
        f"`{command}` exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    )


def test_sh_blocks_name_existing_sessions_and_modules() -> None:
    sessions = nox_sessions() | {"setup"}  # ./dev setup is handled by the script itself
    for block in blocks("sh"):
        for line in block.splitlines():
            words = shlex.split(line.split("#", 1)[0])
            if not words:
                continue
            if words[0] == "./dev":
                session = "tests" if len(words) == 1 or words[1] == "test" else words[1]
                assert session in sessions, f"`{line.strip()}`: no nox session {session!r} in noxfile.py"
            elif words[:2] == ["python", "-m"]:
                assert importlib.util.find_spec(words[2]) is not None, (
                    f"`{line.strip()}`: no module {words[2]}"
                )
            else:
                pytest.fail(f"`{line.strip()}`: unknown command in an sh block; use ./dev or python -m")


def test_python_snippets_run_on_a_generated_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sc = parse_scenario(
        'name = "doc"\nduration_s = 0.3\nseed = 1\n[arrival]\npattern = "constant"\nrate = 300\n'
        "[operations]\nremember = 0.5\nsearch = 0.5\n[data]\ndim = 8\n",
        "doc.toml",
    )
    session = SessionResults(tmp_path / "results", "quick")
    session.add_run(OpenLoopDriver(InMemoryTarget(8), workers=2).run(build_schedule(sc)), scenario=sc)
    session.write()
    monkeypatch.chdir(tmp_path)
    for snippet in blocks("python"):
        exec(compile(snippet, str(DOC), "exec"), {})
