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


def _install_package(session: nox.Session, *extras: str, config: tuple[str, ...] = ()) -> None:
    # Editable, so that `engram` imported from the source tree (pytest puts the checkout on
    # sys.path) still finds the compiled `engram._core` through scikit-build-core's redirect.
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-v" if os.environ.get("CI") else "-q", *config, "-e", spec)


# The test build (docs/faults.md): fault injection compiled in, with the C++ tests, in a build
# directory of its own; ctest runs in it. The other sessions and the wheel stay release builds.
TEST_BUILD = ("-Ccmake.define.ENGRAM_FAULT_INJECTION=ON", "-Ccmake.define.ENGRAM_BUILD_TESTS=ON",
              "-Cbuild-dir=build/test-build")  # fmt: skip


@nox.session
def tests(session: nox.Session) -> None:
    """C++ unit tests (ctest) and the Python unit, property and concurrency tests, on the test
    build; and a release _core for the check that a release build carries no fault injection."""
    session.install("pybind11>=2.13")
    _install_package(session, "test", "bench", config=TEST_BUILD)
    session.run("ctest", "--test-dir", str(ROOT / "build" / "test-build"), "--output-on-failure", "-j", "2",
                external=True)  # fmt: skip
    release = _cmake_build(session, "release-core", "-DCMAKE_BUILD_TYPE=Release", "-DENGRAM_BUILD_TESTS=OFF",
                           "-DENGRAM_FAULT_INJECTION=OFF")  # fmt: skip
    session.run(
        "python", "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider",
        "--junitxml", str(ROOT / "build" / "junit-tests.xml"), *session.posargs,
        success_codes=[0, PYTEST_NO_TESTS],
        env={"ENGRAM_RELEASE_CORE": str(next(release.glob("_core*.so")))},
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
        "-Ccmake.define.ENGRAM_FAULT_INJECTION=ON",
        "-Cbuild-dir=build/asan-python", "-e", ".[test,bench]",
    )  # fmt: skip

    def gcc_lib(name: str) -> str:
        out = subprocess.run(["g++", f"-print-file-name={name}"], capture_output=True, text=True, check=True)
        return out.stdout.strip()

    env = {
        # libstdc++ preloaded too: ASan's __cxa_throw interceptor must find the real one at start,
        # and python itself does not link libstdc++ (without it every C++ throw aborts).
        "LD_PRELOAD": f"{gcc_lib('libasan.so')} {gcc_lib('libstdc++.so')}",
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",  # CPython itself is not leak-clean
        "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
    }
    # The suites that drive the extension in this process (the server's tests run it in
    # subprocesses, where timing limits do not allow for ASan's slowdown).
    suites = ["tests/engine", "tests/graph", "tests/consolidation", "tests/recall", "tests/durability",
              "tests/workloads", "tests/bench"]  # fmt: skip
    for suite in suites:  # one session per suite: their conftest modules share a name
        session.run(
            "python", "-m", "pytest", suite, "-q", "-p", "no:cacheprovider", "-m", "not slow",
            env=env, success_codes=[0, PYTEST_NO_TESTS],
        )  # fmt: skip


@nox.session
def acceptance(session: nox.Session) -> None:
    """The acceptance suites (quick profile unless --profile is passed), then the report and the
    analysis notebook executed on the run's results directory."""
    _install_package(session, "acceptance", "notebooks")
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
            _execute_notebooks(session, runs[-1])


def _execute_notebooks(session: nox.Session, run_dir: Path) -> None:
    """Execute every notebook on ``run_dir``; the executed copies go to ``run_dir/notebooks/``."""
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        out = run_dir / "notebooks" / nb.name
        session.run(
            "python", "-c",
            "import sys; from engram.reporting.notebook import execute_notebook; "
            "print(execute_notebook(sys.argv[1], env={'ENGRAM_RESULTS_RUN': sys.argv[2]}, "
            "out=sys.argv[3]))",
            str(nb), str(run_dir), str(out),
        )  # fmt: skip


@nox.session
def notebooks(session: nox.Session) -> None:
    """Execute every notebook in notebooks/ on a results directory: the one passed as an argument, or
    the latest run under results/ (run `./dev acceptance` first)."""
    _install_package(session, "notebooks")
    if session.posargs:
        run_dir = Path(session.posargs[0]).resolve()
    else:
        runs = sorted(p for p in (ROOT / "results").glob("*") if (p / "manifest.json").exists())
        if not runs:
            session.error("no results directory under results/: run `./dev acceptance` first, or pass one")
        run_dir = runs[-1]
    _execute_notebooks(session, run_dir)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def _build_site(session: nox.Session, source: Path, site: Path, build_dir: Path) -> None:
    """Build and install the package from ``source`` into the folder ``site`` (not into the venv), so
    two builds can sit side by side; ``build_dir`` keeps CMake's objects for incremental rebuilds."""
    session.run(
        "python", "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--upgrade",
        "--target", str(site), f"-Cbuild-dir={build_dir}", str(source),
    )  # fmt: skip


def _sync_tree(src: Path, dst: Path) -> None:
    """Make ``dst`` a copy of ``src``, touching only files whose bytes differ (keeps mtimes for make)."""
    wanted = {p.relative_to(src) for p in src.rglob("*") if p.is_file()}
    for old in [p for p in dst.rglob("*") if p.is_file() and p.relative_to(dst) not in wanted]:
        old.unlink()
    for rel in wanted:
        target = dst / rel
        if not target.is_file() or target.read_bytes() != (src / rel).read_bytes():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, target)


@nox.session
def gate(session: nox.Session) -> None:
    """A/B performance regression gate: the base commit against the working tree, interleaved.

    `./dev gate [--base REF] [python -m engram.gate options]`. REF defaults to $ENGRAM_GATE_BASE or
    HEAD (so uncommitted changes are judged; CI passes the merge target). Both builds run the baseline
    scenario in fresh processes, A B / B A alternating; exit 1 on a regression, 3 on invalid data.
    `--against stored` compares with acceptance/baselines/ instead (no base build)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    session.install("scikit-build-core>=0.10", "pybind11>=2.13", *deps)
    args = list(session.posargs)
    base_ref = os.environ.get("ENGRAM_GATE_BASE", "HEAD")
    if "--base" in args:
        i = args.index("--base")
        base_ref = args[i + 1]
        del args[i : i + 2]
    work = ROOT / "build" / "gate"
    candidate = work / "candidate-site"
    _build_site(session, ROOT, candidate, work / "candidate-build")
    head, dirty = _git("rev-parse", "--short=10", "HEAD"), bool(_git("status", "--porcelain", "-uno"))
    extra = ["--candidate-site", str(candidate), "--candidate-label", f"{head}{'+changes' if dirty else ''}"]
    if "--against" not in args and "--record-baseline" not in args:
        sha = _git("rev-parse", "--verify", f"{base_ref}^{{commit}}")
        base_site = work / f"base-{sha[:12]}-site"
        if not (base_site / "engram").is_dir():  # built once per base commit, then reused
            # One source folder and one CMake build folder for every base commit: only the files that
            # differ are rewritten, so a new base rebuilds incrementally instead of from scratch.
            fresh = work / "base-export"
            shutil.rmtree(fresh, ignore_errors=True)
            fresh.mkdir(parents=True)
            session.run("bash", "-c", f"git -C {ROOT} archive {sha} | tar -x -C {fresh}", external=True)
            _sync_tree(fresh, work / "base-src")
            _build_site(session, work / "base-src", base_site, work / "base-build")
        extra += ["--base-site", str(base_site), "--base-label", f"{base_ref} ({sha[:10]})"]
    session.chdir(work)  # not the checkout: `python -m` would import the source tree's engram first
    session.run(
        "python", "-m", "engram.gate", "--scenario", str(ROOT / "acceptance" / "scenarios" / "baseline.toml"),
        "--results-dir", str(ROOT / "results"), "--baselines-dir", str(ROOT / "acceptance" / "baselines"),
        "--workdir", str(work / "work"), *extra, *args,
        env={"PYTHONPATH": str(candidate)},
    )  # fmt: skip


@nox.session
def perf(session: nox.Session) -> None:
    """Benchmarks that record numbers: the ANN comparison against hnswlib and FAISS."""
    _install_package(session, "bench")
    session.run("engram", "bench", "ann", *session.posargs)
