#!/usr/bin/env bash
# Sanitizer builds of the C++ tests and of the native server, and their runs:
#   asan:        build/asan, AddressSanitizer + UndefinedBehaviorSanitizer, every C++ test;
#   tsan:        build/tsan, ThreadSanitizer, the Concurrency*, PowerLoss* and HttpTarget* tests
#                (the multi-threaded ones);
#   server-asan: engramd of build/asan under the server's conformance suite (tests/server);
#   server-tsan: engramd of build/tsan under the same suite.
# Any sanitizer report fails the run. Usage: scripts/sanitize.sh [asan|tsan|server-asan|server-tsan]...
# (default: asan tsan). JOBS (default 2) sets build parallelism. The server runs need an
# environment with engram and the harness installed: PYTHON (default python) is its interpreter;
# `nox -s sanitize` provides it, and PYTHON_LD_PRELOAD, the preload its ASan extension needs (given to
# pytest only, not to the builds). PYTEST_ARGS (e.g. "-k stream") narrows the server runs.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
jobs="${JOBS:-2}"
configs=("$@")
if [[ ${#configs[@]} -eq 0 ]]; then configs=(asan tsan); fi

build() {  # dir sanitizers targets...
  local dir="$1" san="$2"
  shift 2
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENGRAM_BUILD_TESTS=ON \
    -DENGRAM_BUILD_PYTHON=OFF -DENGRAM_BUILD_BENCH=OFF -DENGRAM_FAULT_INJECTION=ON -DENGRAM_SANITIZE="$san" >/dev/null
  ninja -C "$dir" -j "$jobs" "$@"
}

# tests/server against a sanitizer build of engramd. The server runs in subprocesses the tests
# start, often several at once, so its reports are not in any test's output: each goes to a file
# under $logs (log_path), and the run fails when any file appears there, whatever pytest said.
# engramd also exits non-zero after a report (exitcode), which fails the tests that stop it.
server_suite() {  # name build-dir timeout-scale sanitizer-options...
  local name="$1" dir="$2" scale="$3"
  shift 3
  local logs="$root/$dir/server-reports"
  local wrapper="$root/$dir/engramd-sanitized"
  rm -rf "$logs"
  mkdir -p "$logs"
  # The tests start engramd through ENGRAM_ENGRAMD (engram serve execs it, or directly): a
  # wrapper that gives it its own options and drops the ASan preload the test interpreter may
  # carry (the Python extension of `nox -s sanitize` is an ASan build; TSan cannot share it).
  {
    echo '#!/usr/bin/env bash'
    echo 'unset LD_PRELOAD'
    for opt in "$@"; do printf 'export %q\n' "$opt"; done
    printf 'exec %q "$@"\n' "$root/$dir/engramd"
  } >"$wrapper"
  chmod +x "$wrapper"
  local status=0
  LD_PRELOAD="${PYTHON_LD_PRELOAD:-}" ENGRAM_ENGRAMD="$wrapper" ENGRAM_TEST_TIMEOUT_SCALE="$scale" \
    "${PYTHON:-python}" -m pytest tests/server -q -p no:cacheprovider ${PYTEST_ARGS:-} || status=$?
  local reports
  reports=$(find "$logs" -type f | sort)
  if [[ -n "$reports" ]]; then
    echo "== $name: $(echo "$reports" | wc -l) sanitizer report file(s) from engramd:" >&2
    for f in $reports; do
      echo "--- $f" >&2
      head -n 80 "$f" >&2
    done
    exit 1
  fi
  if [[ $status -ne 0 ]]; then
    echo "== $name: tests/server failed (exit $status) with no sanitizer report" >&2
    exit "$status"
  fi
  echo "== $name: tests/server passed, no sanitizer report"
}

for config in "${configs[@]}"; do
  case "$config" in
    asan)
      echo "== AddressSanitizer + UndefinedBehaviorSanitizer: all tests"
      build build/asan address,undefined engram_tests
      # halt_on_error / -fno-sanitize-recover semantics: any UBSan report is fatal.
      ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=1" \
      UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        build/asan/engram_tests --gtest_brief=1
      ;;
    tsan)
      echo "== ThreadSanitizer: Concurrency*, PowerLoss* and HttpTarget* tests"
      build build/tsan thread engram_tests
      # cpp/tests/tsan.supp: suppressions, each with its reason (empty while none is needed).
      TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/cpp/tests/tsan.supp" \
        build/tsan/engram_tests --gtest_filter='Concurrency*:PowerLoss*:HttpTarget*' --gtest_brief=1
      ;;
    server-asan)
      echo "== AddressSanitizer + UndefinedBehaviorSanitizer: engramd under tests/server"
      build build/asan address,undefined engramd
      server_suite server-asan build/asan 3 \
        "ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:log_path=$root/build/asan/server-reports/asan" \
        "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$root/build/asan/server-reports/ubsan"
      ;;
    server-tsan)
      echo "== ThreadSanitizer: engramd under tests/server"
      build build/tsan thread engramd
      # every race is reported (not only the first): the run fails on the report files
      server_suite server-tsan build/tsan 5 \
        "TSAN_OPTIONS=halt_on_error=0:exitcode=66:second_deadlock_stack=1:suppressions=$root/cpp/tests/tsan.supp:log_path=$root/build/tsan/server-reports/tsan"
      ;;
    *)
      echo "unknown configuration '$config'; expected asan, tsan, server-asan or server-tsan" >&2
      exit 2
      ;;
  esac
done
echo "== sanitizers clean"
