"""Sessions for developers and CI. `./dev <session>` installs nox and the system packages first."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

ROOT = Path(__file__).parent
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True
PYTEST_NO_TESTS = 5  # pytest's exit code when nothing was collected


def _cmake_build(session: nox.Session, build_dir: str, *defines: str) -> Path:
    out = ROOT / "build" / build_dir
    session.run(
        "cmake", "-S", str(ROOT), "-B", str(out), "-G", "Ninja", *defines,
        f"-Dpybind11_DIR={_pybind11_dir(session)}", external=True,
    )  # fmt: skip
    session.run("cmake", "--build", str(out), "-j", str(os.cpu_count() or 2), external=True)
    return out


def _pybind11_dir(session: nox.Session) -> str:
    out = session.run("python", "-m", "pybind11", "--cmakedir", silent=True)
    return str(out).strip()


def _install_package(session: nox.Session, *extras: str) -> None:
    # Editable, so that `engram` imported from the source tree (pytest puts the checkout on
    # sys.path) still finds the compiled `engram._core` through scikit-build-core's redirect.
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-v" if os.environ.get("CI") else "-q", "-e", spec)


@nox.session
def tests(session: nox.Session) -> None:
    """C++ unit tests (ctest) and the Python unit, property and concurrency tests."""
    session.install("pybind11>=2.13")
    build = _cmake_build(session, "ctest", "-DCMAKE_BUILD_TYPE=Release", "-DENGRAM_BUILD_TESTS=ON",
                         "-DENGRAM_BUILD_PYTHON=OFF")  # fmt: skip
    session.run("ctest", "--test-dir", str(build), "--output-on-failure", "-j", "2", external=True)
    _install_package(session, "test", "bench")
    session.run(
        "python", "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider",
        "--junitxml", str(ROOT / "build" / "junit-tests.xml"), *session.posargs,
        success_codes=[0, PYTEST_NO_TESTS],
    )  # fmt: skip


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) on Python, clang-format on C++."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    sources = sorted(
        str(p) for d in ("cpp/include", "cpp/src", "cpp/bindings", "cpp/tests", "cpp/bench")
        for p in (ROOT / d).rglob("*") if p.suffix in {".hpp", ".cpp"}
    )  # fmt: skip
    if shutil.which("clang-format") is None:
        session.error("clang-format is not installed; run scripts/setup-system.sh")
    session.run("clang-format", "--dry-run", "--Werror", *sources, external=True)


@nox.session
def sanitize(session: nox.Session) -> None:
    """ASan+UBSan and TSan builds of the C++ tests, then the Python tests on an ASan extension."""
    session.run("bash", str(ROOT / "scripts" / "sanitize.sh"), external=True)
    session.install(
        "pybind11>=2.13", "scikit-build-core>=0.10", "numpy", "pytest", "hypothesis", "pytest-timeout"
    )
    session.install(
        "--no-build-isolation", "-q",
        "-Ccmake.build-type=RelWithDebInfo", "-Ccmake.define.ENGRAM_SANITIZE=address,undefined",
        "-Cbuild-dir=build/asan-python", "-e", ".",
    )  # fmt: skip
    libasan = subprocess.run(
        ["g++", "-print-file-name=libasan.so"], capture_output=True, text=True, check=True
    )
    env = {
        "LD_PRELOAD": libasan.stdout.strip(),
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",  # CPython itself is not leak-clean
        "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
    }
    session.run(
        "python", "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "-m", "not slow",
        env=env, success_codes=[0, PYTEST_NO_TESTS],
    )  # fmt: skip


@nox.session
def acceptance(session: nox.Session) -> None:
    """The acceptance suites (quick profile unless --profile is passed), then the HTML report."""
    _install_package(session, "acceptance")
    results = ROOT / "results"
    args = session.posargs or ["--profile", "quick"]
    try:
        session.run(
            "python", "-m", "pytest", "acceptance", "-p", "no:cacheprovider", "-rA", *args,
            "--results-dir", str(results), "--junitxml", str(ROOT / "build" / "junit-acceptance.xml"),
            success_codes=[0, PYTEST_NO_TESTS],
        )  # fmt: skip
    finally:
        runs = sorted(p for p in results.glob("*") if (p / "manifest.json").exists())
        if runs:
            session.run("engram", "report", str(runs[-1]))
            session.run("python", "-c", f"print(open({str(runs[-1] / 'report.md')!r}).read())")


@nox.session
def perf(session: nox.Session) -> None:
    """Benchmarks that record numbers: the ANN comparison against hnswlib and FAISS."""
    _install_package(session, "bench")
    session.run("engram", "bench", "ann", *session.posargs)
