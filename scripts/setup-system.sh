#!/usr/bin/env bash
# Installs the system packages the build and the suites need (Debian), only when missing.
set -euo pipefail
packages=(cmake ninja-build g++ clang libclang-rt-dev libtbb-dev libeigen3-dev libgtest-dev libbenchmark-dev clang-format python3-venv
          libboost-dev libsimdjson-dev libssl-dev libtomlplusplus-dev wrk stress-ng ccache
          prometheus prometheus-alertmanager
          maven openjdk-17-jdk-headless linux-perf)  # Neo4j embedded for workflow 112 (jars from Maven Central); perf for 111
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# the chaos suites' network fault proxy (built from the Go module proxy, once)
"$(dirname "$0")/setup-toxiproxy.sh"
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing system packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
