#!/usr/bin/env bash
# Builds the C++ unit tests under sanitizers and runs them:
#   build/asan: AddressSanitizer + UndefinedBehaviorSanitizer, every test;
#   build/tsan: ThreadSanitizer, the Concurrency*, PowerLoss* and HttpTarget* tests (the multi-threaded ones).
# Any sanitizer report fails the run. Usage: scripts/sanitize.sh [asan|tsan]... (default: both).
# JOBS (default 2) sets build parallelism.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
jobs="${JOBS:-2}"
configs=("$@")
if [[ ${#configs[@]} -eq 0 ]]; then configs=(asan tsan); fi

build() {  # dir sanitizers
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENGRAM_BUILD_TESTS=ON \
    -DENGRAM_BUILD_PYTHON=OFF -DENGRAM_BUILD_BENCH=OFF -DENGRAM_FAULT_INJECTION=ON -DENGRAM_SANITIZE="$2" >/dev/null
  ninja -C "$1" -j "$jobs" engram_tests
}

for config in "${configs[@]}"; do
  case "$config" in
    asan)
      echo "== AddressSanitizer + UndefinedBehaviorSanitizer: all tests"
      build build/asan address,undefined
      # halt_on_error / -fno-sanitize-recover semantics: any UBSan report is fatal.
      ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=1" \
      UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        build/asan/engram_tests --gtest_brief=1
      ;;
    tsan)
      echo "== ThreadSanitizer: Concurrency*, PowerLoss* and HttpTarget* tests"
      build build/tsan thread
      # cpp/tests/tsan.supp silences known reports inside TBB's own scheduler only (see the file).
      TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/cpp/tests/tsan.supp" \
        build/tsan/engram_tests --gtest_filter='Concurrency*:PowerLoss*:HttpTarget*' --gtest_brief=1
      ;;
    *)
      echo "unknown configuration '$config'; expected asan or tsan" >&2
      exit 2
      ;;
  esac
done
echo "== sanitizers clean"
