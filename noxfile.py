"""Sessions for developers and CI. `./dev <session>` installs nox and the system packages first.

Three distributions live in this repository: the engine (`.`, import `engram`), its data sets
(`datasets/`, `engram_datasets`) and the harness (`harness/`, `engram_harness`: scenarios, driver,
statistics, run store, gate, reports, benchmarks, workflow helpers). Sessions install what they need
of them; nothing puts the checkout on `sys.path`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox
from nox.command import CommandFailed

ROOT = Path(__file__).parent
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True
PYTEST_NO_TESTS = 5  # pytest's exit code when nothing was collected
#: What a non-isolated build of the engine needs in the session's environment (pyproject's
#: build-system requirements, so a build reuses its folder and ccache instead of starting afresh).
BUILD_REQUIREMENTS = ("scikit-build-core>=0.10", "pybind11>=2.13", "tbb-devel==2023.2.0", "cmeel-eigen>=3.4")
TEST_SUITES = ("tests", "harness/tests", "datasets/tests")
#: Seconds the request fuzzer runs in the `tests` session (docs/faults.md, "Fuzzing the request
#: parser": where its coverage stops growing on this host, and what that costs CI).
FUZZ_SECONDS = 30


def _ccache_env() -> dict[str, str]:
    """Compiler launcher for every CMake build a session runs (when ccache is installed)."""
    if shutil.which("ccache") is None:
        return {}
    return {"CMAKE_CXX_COMPILER_LAUNCHER": "ccache", "CMAKE_C_COMPILER_LAUNCHER": "ccache"}


def _install_engine(session: nox.Session, build_dir: str, *defines: str, extras: str = "server") -> Path:
    """Build the engine (editable, no build isolation) into ``build/<build_dir>`` and install it with
    ``extras``; ``defines`` are extra CMake definitions. Returns the CMake build folder, which also
    holds the C++ test programs when ``-DENGRAM_BUILD_TESTS=ON`` is among ``defines``."""
    session.install(*BUILD_REQUIREMENTS)
    out = ROOT / "build" / build_dir
    session.install(
        "-v" if os.environ.get("CI") else "-q", "--no-build-isolation", f"-Cbuild-dir={out}",
        *(f"-Ccmake.define.{d.removeprefix('-D')}" for d in defines), "-e", f".[{extras}]",
        env=_ccache_env(),
    )  # fmt: skip
    return out


def _install_release(session: nox.Session) -> None:
    """The release engine from its wheel (scripts/build_wheel.py: built once per source state, as a
    user's `pip install .` builds it; tests/packaging checks that wheel), with the server extra."""
    out = session.run("python", str(ROOT / "scripts" / "build_wheel.py"), silent=True, env=_ccache_env())
    wheel = str(out).strip().splitlines()[-1]
    session.install("-q", "--force-reinstall", "--no-deps", wheel)
    session.install("-q", f"{wheel}[server]")


def _install_harness(session: nox.Session, *extras: str) -> None:
    """The data sets and the harness (editable), with the harness's ``extras``."""
    spec = f"./harness[{','.join(extras)}]" if extras else "./harness"
    session.install("-q", "-e", "./datasets", "-e", spec)


@nox.session
def tests(session: nox.Session) -> None:
    """C++ unit tests (ctest) and the Python unit, property and concurrency tests of the engine, the
    data sets and the harness, on the test build (fault injection compiled in: docs/faults.md). One
    CMake build serves both, the extension and the C++ tests. The release build is checked by
    tests/packaging, on the wheel that `acceptance` then installs."""
    build = _install_engine(session, "tests", "-DENGRAM_BUILD_TESTS=ON", "-DENGRAM_FAULT_INJECTION=ON")
    _install_harness(session, "test", "bench")
    session.run("ctest", "--test-dir", str(build), "--output-on-failure", "-j", "2", external=True)
    _fuzz_request_parser(session, FUZZ_SECONDS)
    # tests/server runs against engramd (engram serve execs it), built by the same install
    session.run(
        "python", "-m", "pytest", *TEST_SUITES, "-q", "-p", "no:cacheprovider",
        "--junitxml", str(ROOT / "build" / "junit-tests.xml"), *session.posargs,
        success_codes=[0, PYTEST_NO_TESTS],
    )  # fmt: skip


def _fuzz_request_parser(session: nox.Session, seconds: int) -> None:
    """Build the libFuzzer target of engramd's request parsing (cpp/fuzz: clang, its own small build
    folder, ccache) and run it for ``seconds`` from the seed corpus cpp/fuzz/corpus (read-only; what
    it finds goes to build/fuzz/corpus). A crash fails the session; its input is left in
    build/fuzz/artifacts/ (add it to cpp/fuzz/corpus with the fix)."""
    if shutil.which("clang++") is None:
        session.error("clang++ is not installed; run scripts/setup-system.sh")
    out = ROOT / "build" / "fuzz"
    session.run(
        "cmake", "-S", str(ROOT), "-B", str(out), "-G", "Ninja", "-DCMAKE_CXX_COMPILER=clang++",
        "-DCMAKE_BUILD_TYPE=Release", "-DENGRAM_BUILD_FUZZERS=ON", "-DENGRAM_BUILD_TESTS=OFF",
        "-DENGRAM_BUILD_PYTHON=OFF", external=True, env=_ccache_env(), silent=True,
    )  # fmt: skip
    session.run("cmake", "--build", str(out), "--target", "engram_request_fuzzer", "-j", "2", external=True)
    corpus, artifacts = out / "corpus", out / "artifacts"
    corpus.mkdir(exist_ok=True)
    artifacts.mkdir(exist_ok=True)
    session.run(
        str(out / "cpp" / "fuzz" / "engram_request_fuzzer"), str(corpus), str(ROOT / "cpp" / "fuzz" / "corpus"),
        f"-dict={ROOT / 'cpp' / 'fuzz' / 'request.dict'}", f"-max_total_time={seconds}", "-timeout=10",
        "-rss_limit_mb=2048", "-print_final_stats=1", f"-artifact_prefix={artifacts}/", external=True,
    )  # fmt: skip


@nox.session(python=False)
def fuzz(session: nox.Session) -> None:
    """The request fuzzer alone, for longer runs than the `tests` session's: `./dev fuzz [SECONDS]`
    (default 600)."""
    _fuzz_request_parser(session, int(session.posargs[0]) if session.posargs else 600)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) on Python, clang-format on C++."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    sources = sorted(
        str(p) for d in ("include", "src", "bindings", "server", "tests", "bench", "fuzz")
        for p in (ROOT / "cpp" / d).rglob("*") if p.suffix in {".hpp", ".cpp"}
    )  # fmt: skip
    if shutil.which("clang-format") is None:
        session.error("clang-format is not installed; run scripts/setup-system.sh")
    session.run("clang-format", "--dry-run", "--Werror", *sources, external=True)


@nox.session
def sanitize(session: nox.Session) -> None:
    """ASan+UBSan and TSan builds of the C++ tests and of engramd; the server's conformance suite
    (tests/server) against each engramd; then the Python tests on an ASan extension.
    `./dev sanitize [cpp] [server] [python]` runs only those parts (default: all three)."""
    parts = set(session.posargs or ["cpp", "server", "python"])
    if parts - {"cpp", "server", "python"}:
        session.error(f"unknown parts {sorted(parts)}; expected cpp, server or python")
    if "cpp" in parts:
        session.run(
            "bash", str(ROOT / "scripts" / "sanitize.sh"), "asan", "tsan", external=True, env=_ccache_env()
        )
    if not parts & {"server", "python"}:
        return
    session.install(*BUILD_REQUIREMENTS)
    session.install(
        "--no-build-isolation", "-q",
        "-Ccmake.build-type=RelWithDebInfo", "-Ccmake.define.ENGRAM_SANITIZE=address,undefined",
        "-Ccmake.define.ENGRAM_FAULT_INJECTION=ON",
        "-Cbuild-dir=build/asan-python", "-e", ".[server]", env=_ccache_env(),
    )  # fmt: skip
    _install_harness(session, "test", "bench")

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
    if "server" in parts:
        # engramd's own ASan+UBSan and TSan builds under tests/server (scripts/sanitize.sh: the
        # server runs without the preload, and any report it writes fails the run)
        session.run(
            "bash", str(ROOT / "scripts" / "sanitize.sh"), "server-asan", "server-tsan", external=True,
            env={**_ccache_env(), **env, "LD_PRELOAD": "", "PYTHON_LD_PRELOAD": env["LD_PRELOAD"], "PYTHON": "python"},
        )  # fmt: skip
    if "python" not in parts:
        return
    # The suites that drive the extension in this process (tests/server ran above, against
    # engramd; its few in-process tests ran there on this ASan extension).
    suites = ["tests/engine", "tests/graph", "tests/consolidation", "tests/recall", "tests/durability",
              "harness/tests/scenarios", "harness/tests/bench"]  # fmt: skip
    for suite in suites:  # one session per suite: their conftest modules share a name
        session.run(
            "python", "-m", "pytest", suite, "-q", "-p", "no:cacheprovider", "-m", "not slow",
            env=env, success_codes=[0, PYTEST_NO_TESTS],
        )  # fmt: skip


@nox.session(python=False)
def thread_safety(session: nox.Session) -> None:
    """Clang's thread-safety analysis (cpp/include/engram/thread_annotations.hpp) over the engine
    and its tests, as errors, in a separate clang++ build."""
    if shutil.which("clang++") is None:
        session.error("clang++ is not installed; run scripts/setup-system.sh")
    out = ROOT / "build" / "thread-safety"
    flags = "-Wthread-safety -Wthread-safety-beta -Werror=thread-safety -Werror=thread-safety-beta"
    session.run(
        "cmake", "-S", str(ROOT), "-B", str(out), "-G", "Ninja", "-DCMAKE_CXX_COMPILER=clang++",
        "-DCMAKE_BUILD_TYPE=Release", "-DENGRAM_BUILD_PYTHON=OFF", "-DENGRAM_BUILD_TESTS=ON",
        f"-DCMAKE_CXX_FLAGS={flags}", external=True,
    )  # fmt: skip
    session.run("cmake", "--build", str(out), "-j", str(os.cpu_count() or 2), external=True)


def _fault_engramd(session: nox.Session) -> dict[str, str]:
    """``ENGRAM_FAULT_ENGRAMD`` for the workflows that need the test build's crash points and fault
    plans (docs/faults.md: 104's crashes, 108's stuck consolidation): the engramd of the `tests` session's build (`build/tests`, which CI
    has just made), brought up to date; without that build, the engramd target alone in a build
    of its own (`build/fault-engramd`). When the build fails, the variable is left out and those
    workflows fail under CI (skip elsewhere), saying why."""
    build = ROOT / "build" / "tests"
    try:
        if not (build / "CMakeCache.txt").exists():
            build = ROOT / "build" / "fault-engramd"
            session.run("cmake", "-S", str(ROOT), "-B", str(build), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                        "-DENGRAM_FAULT_INJECTION=ON", "-DENGRAM_BUILD_PYTHON=OFF", "-DENGRAM_BUILD_TESTS=OFF",
                        external=True, env=_ccache_env())  # fmt: skip
        session.run(
            "cmake", "--build", str(build), "--target", "engramd", "-j", "2", external=True, env=_ccache_env()
        )
    except CommandFailed:
        session.warn("no fault-injection engramd could be built; workflows 104 and 108 cannot run in full")
        return {}
    return {"ENGRAM_FAULT_ENGRAMD": str(build / "engramd")}


@nox.session
def acceptance(session: nox.Session) -> None:
    """The acceptance suites (quick profile unless --profile is passed), then the report and the
    analysis notebook executed on the run's results directory. The release wheel serves every
    suite but the parts of 104 and 108 that run a fault-injection engramd (_fault_engramd)."""
    _install_release(session)
    _install_harness(session, "acceptance", "bench")
    fault_env = _fault_engramd(session)
    results = ROOT / "results"
    args = session.posargs or ["--profile", "quick"]
    try:
        # The `pytest` script, not `python -m pytest`: the latter puts the checkout first on sys.path,
        # and its engram/ (sources, no compiled _core) would shadow the installed release wheel.
        session.run(
            "pytest", "acceptance", "-p", "no:cacheprovider", "-rA", *args,
            "--results-dir", str(results), "--junitxml", str(ROOT / "build" / "junit-acceptance.xml"),
            success_codes=[0, PYTEST_NO_TESTS], env=fault_env,
        )  # fmt: skip
    finally:
        runs = sorted(p for p in results.glob("*") if (p / "manifest.json").exists())
        if runs:
            session.run("engram-harness", "report", str(runs[-1]))
            session.run("python", "-c", f"print(open({str(runs[-1] / 'report.md')!r}).read())")
            _execute_notebooks(session, runs[-1])


def _execute_notebooks(session: nox.Session, run_dir: Path) -> None:
    """Execute every notebook on ``run_dir``; the executed copies go to ``run_dir/notebooks/``."""
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        out = run_dir / "notebooks" / nb.name
        session.run(
            "python", "-c",
            "import sys; from engram_harness.report.notebook import execute_notebook; "
            "print(execute_notebook(sys.argv[1], env={'ENGRAM_RESULTS_RUN': sys.argv[2]}, "
            "out=sys.argv[3]))",
            str(nb), str(run_dir), str(out),
        )  # fmt: skip


@nox.session
def notebooks(session: nox.Session) -> None:
    """Execute every notebook in notebooks/ on a results directory: the one passed as an argument, or
    the latest run under results/ (run `./dev acceptance` first)."""
    _install_release(session)
    _install_harness(session, "acceptance")
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
        "--target", str(site), f"-Cbuild-dir={build_dir}", str(source), env=_ccache_env(),
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

    `./dev gate [--base REF] [python -m engram_harness.gate options]`. REF defaults to $ENGRAM_GATE_BASE or
    HEAD (so uncommitted changes are judged; CI passes the merge target). Both builds run the baseline
    scenario in fresh processes, A B / B A alternating; exit 1 on a regression, 3 on invalid data.
    `--against stored` compares with acceptance/baselines/ instead (no base build)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    # The engine comes from the two builds below (each on PYTHONPATH in its worker), never from this
    # environment: install the harness without its `engram` requirement, and its other dependencies.
    # No tbb-devel here: both builds use the system TBB, the one they also load at run time.
    harness = tomllib.loads((ROOT / "harness" / "pyproject.toml").read_text())["project"]["dependencies"]
    engine = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    runtime = [d for d in [*harness, *engine] if not d.startswith(("engram", "tbb"))]
    session.install("scikit-build-core>=0.10", "pybind11>=2.13", *runtime)
    session.install("-q", "--no-deps", "-e", "./datasets", "-e", "./harness")
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
        "python", "-m", "engram_harness.gate", "--scenario", str(ROOT / "acceptance" / "scenarios" / "baseline.toml"),
        "--results-dir", str(ROOT / "results"), "--baselines-dir", str(ROOT / "acceptance" / "baselines"),
        "--workdir", str(work / "work"), *extra, *args,
        env={"PYTHONPATH": str(candidate)},
    )  # fmt: skip


@nox.session
def perf(session: nox.Session) -> None:
    """Benchmarks that record numbers: the ANN comparison against hnswlib and FAISS."""
    _install_release(session)
    _install_harness(session, "bench")
    session.run("engram-harness", "bench", "ann", *session.posargs)


@nox.session
def competitive_weekly(session: nox.Session) -> None:
    """Workflow 112 / suite 015, weekly and unattended (deploy/cron/engram-competitive.{cron,timer}):
    the competitive suites' full profile (ANN, hybrid and graph traversal against hnswlib, FAISS,
    USearch, NetworkX, ...), which append their rows to the committed docs/bench/history/competitive.csv
    and fail on a > 10% regression of our ratio against the last recorded run; then the ratio plots.
    ``ENGRAM_COMPETITIVE_HISTORY`` points the history elsewhere. Commit the CSV after the run."""
    _install_release(session)
    _install_harness(session, "acceptance", "bench")
    tests = sorted(str(p) for p in (ROOT / "acceptance" / "service_levels").glob("test_112_competitive_*.py"))
    args = session.posargs or ["--profile", "full"]
    session.run(
        "pytest", *tests, "-p", "no:cacheprovider", "-rA", *args, "--results-dir", str(ROOT / "results"),
    )  # fmt: skip
    session.run("python", "-m", "engram_harness.bench.competitive", "plot")


@nox.session
def nightly(session: nox.Session) -> None:
    """What does not fit CI's time budget, run before an issue is resolved (results go in the docs):
    the sanitizer builds, Clang's thread-safety analysis and the acceptance suites' full profile
    (which includes workflow 113's upgrade across releases: it builds the previous release's
    engramd from its tag, engram_harness.clients.previous). The weekly competitive run (workflow 112,
    suite 015) is its own session, ``./dev competitive_weekly``, run unattended every week by the cron
    entry or systemd timer of deploy/cron/engram-competitive.{cron,timer,service}."""
    session.notify("sanitize")
    session.notify("thread_safety")
    session.notify("acceptance", ["--profile", "full"])
