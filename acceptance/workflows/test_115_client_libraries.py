"""Workflow 115 (plan numbering: client library integration; the master's 113): applications in
Python, TypeScript and Rust speak to the same server.

One conformance scenario, written once as data (clients/conformance/scenario.json: calls, their
arguments and keys, the results or typed errors they must give), is run by each client's own test
runner against a real engramd it starts, over both API versions: pytest for engram.client,
``node --test`` for clients/typescript, ``cargo test`` for clients/rust. Thresholds (seeds, plan
115): 100% of the scenario's calls pass in every client. Each client also builds and lints with
its own tools from the checkout (``npm ci``, ``tsc``, eslint; ``cargo build``, clippy with
``-D warnings``, rustfmt), and its whole test suite passes (retries with idempotency keys, typed
errors, streams that resend after a lost connection, drift from the server's OpenAPI document).
Quick and full run the same steps: the scenario is fixed, and the builds are what they are.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from engram_harness.clients.conformance import load_scenario
from engram_harness.clients.toolchains import ROOT, cargo, cargo_counts, node_counts, npm, npm_install, run
from engram_harness.suite import CheckRecorder

pytestmark = pytest.mark.workflow
STEPS = len(load_scenario()["steps"])
VERSIONS = 2  # every runner runs the scenario over API v1 and v2


def _fail_on(step: object) -> str:
    return f"{getattr(step, 'command', step)} failed:\n{getattr(step, 'tail', lambda: '')()}"


def test_python_client_passes_the_scenario(checks: CheckRecorder, tmp_path: Path) -> None:
    junit = tmp_path / "python.xml"
    # the pytest script beside this interpreter, not ``python -m pytest``: the latter would put the
    # checkout's engram/ (sources without the compiled core) ahead of the installed one
    pytest_bin = str(Path(sys.executable).with_name("pytest"))
    r = run([pytest_bin, "tests/server/test_conformance.py", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"],
            ROOT, 600)  # fmt: skip
    suite = ET.parse(junit).getroot().find("testsuite") if junit.exists() else None
    assert suite is not None, _fail_on(r)
    cases = suite.findall("testcase")
    scenario_runs = [c for c in cases if "every_step_passes" in c.get("name", "")]
    bad = [c.get("name") for c in cases if c.find("failure") is not None or c.find("error") is not None]
    checks.check("python: pytest exit status", r.returncode, "==", 0)
    checks.check("python: scenario runs (API v1 and v2) passed", len(scenario_runs) - len(
        [c for c in scenario_runs if c.get("name") in bad]), "==", VERSIONS)  # fmt: skip
    checks.check("python: calls of the scenario passed", 100.0 * (not bad) * bool(scenario_runs), "==", 100.0, "%",
                 note=f"{STEPS} steps x {VERSIONS} versions; failed: {bad}")  # fmt: skip
    checks.assert_all()


def test_typescript_client_builds_lints_and_passes_the_scenario(checks: CheckRecorder) -> None:
    install = npm_install()
    assert install.ok, _fail_on(install)
    build = npm("run", "build")
    lint = npm("run", "lint")
    test = npm("test")
    counts = node_counts(test.output)
    checks.check(
        "typescript: npm ci + tsc build",
        build.returncode,
        "==",
        0,
        note=f"{install.seconds + build.seconds:.1f} s",
    )
    checks.check("typescript: tsc --noEmit + eslint", lint.returncode, "==", 0, note=f"{lint.seconds:.1f} s")
    checks.check(
        "typescript: node --test exit status", test.returncode, "==", 0, note=f"{test.seconds:.1f} s"
    )
    checks.check("typescript: tests failed", counts.failed, "==", 0)
    checks.check("typescript: tests skipped", counts.skipped, "==", 0)
    # the conformance test reports one subtest per step and version (its runner names them "step N")
    step_tests = len(
        [ln for ln in test.output.splitlines() if ln.lstrip().startswith("ok ") and " step " in ln]
    )
    checks.check("typescript: calls of the scenario passed", step_tests, ">=", STEPS * VERSIONS,
                 note=f"{counts.passed} tests passed in all")  # fmt: skip
    if not checks.failed:
        return
    pytest.fail(
        "\n".join(c.describe() for c in checks.failed) + "\n" + test.tail() + lint.tail(20) + build.tail(20)
    )


def test_rust_client_builds_lints_and_passes_the_scenario(checks: CheckRecorder) -> None:
    build = cargo("build", "--all-targets")
    assert build.ok, _fail_on(build)
    clippy = cargo("clippy", "--all-targets", "--", "-D", "warnings")
    fmt = cargo("fmt", "--check")
    test = cargo("test")
    counts = cargo_counts(test.output)
    # tests/conformance.rs: every_step_passes_over_api_v1 and _v2
    conformance = [ln for ln in test.output.splitlines() if ln.startswith("test every_step_passes_over_")]
    checks.check("rust: cargo build", build.returncode, "==", 0, note=f"{build.seconds:.1f} s")
    checks.check("rust: clippy -D warnings", clippy.returncode, "==", 0, note=f"{clippy.seconds:.1f} s")
    checks.check("rust: rustfmt --check", fmt.returncode, "==", 0)
    checks.check("rust: cargo test exit status", test.returncode, "==", 0, note=f"{test.seconds:.1f} s")
    checks.check("rust: tests failed", counts.failed, "==", 0)
    checks.check("rust: tests ignored", counts.skipped, "==", 0)
    ok_runs = [ln for ln in conformance if ln.endswith("... ok") and ("api_v1" in ln or "api_v2" in ln)]
    checks.check("rust: scenario runs (API v1 and v2) passed", len(ok_runs), "==", VERSIONS,
                 note=f"{counts.passed} tests passed in all; {conformance}")  # fmt: skip
    if checks.failed:
        pytest.fail("\n".join(c.describe() for c in checks.failed) + "\n" + test.tail() + clippy.tail(20))
