#!/usr/bin/env bash
# Builds Toxiproxy's server (the chaos suites' network fault proxy) from the Go module proxy into
# ~/.cache/engram/toxiproxy/<version>/toxiproxy-server, once; skipped when already built or when Go
# is missing (the suites that need it then say so). $ENGRAM_TOXIPROXY may name another binary.
set -euo pipefail
version=v2.5.0
dest="${XDG_CACHE_HOME:-$HOME/.cache}/engram/toxiproxy/$version"
if [ -x "$dest/toxiproxy-server" ]; then
  exit 0
fi
if ! command -v go >/dev/null; then
  echo "warning: Go not found; toxiproxy-server not built (network chaos suites will be unavailable)" >&2
  exit 0
fi
echo "Building toxiproxy-server $version into $dest"
mkdir -p "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the module's cmd/server package installs as "server": build into a scratch GOBIN, then rename
GOBIN="$tmp" GOFLAGS=-mod=mod go install "github.com/Shopify/toxiproxy/v2/cmd/server@$version"
mv "$tmp/server" "$dest/toxiproxy-server"
