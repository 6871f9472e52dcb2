#!/usr/bin/env bash
# Builds the OpenTelemetry Collector with the core distribution's components the trace tests use
# (OTLP receiver, batch and memory-limiter processors, OTLP/HTTP and debug exporters) from the Go module proxy, with
# the collector's own builder (ocb), into ~/.cache/engram/otelcol/<version>/otelcol-engram, once.
# Only the full profile of the monitoring workflow needs it (`./dev nightly` runs this); skipped
# when already built. $ENGRAM_OTELCOL may name another collector binary.
set -euo pipefail
version=0.165.0   # collector modules v0.165.0 go with the stable ones at v1.71.0
stable=1.71.0
recipe=3          # bump when the manifest below changes: a new folder, a fresh build
dest="${XDG_CACHE_HOME:-$HOME/.cache}/engram/otelcol/v$version-$recipe"
if [ -x "$dest/otelcol-engram" ]; then
  echo "$dest/otelcol-engram"
  exit 0
fi
command -v go >/dev/null || { echo "error: Go is needed to build the OpenTelemetry Collector" >&2; exit 1; }
echo "Building the OpenTelemetry Collector v$version into $dest" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" go install "go.opentelemetry.io/collector/cmd/builder@v$version"
cat > "$tmp/manifest.yaml" <<YAML
dist:
  name: otelcol-engram
  description: OpenTelemetry Collector (core components) for Engram's trace tests
  output_path: $tmp/out
receivers:
  - gomod: go.opentelemetry.io/collector/receiver/otlpreceiver v$version
processors:
  - gomod: go.opentelemetry.io/collector/processor/batchprocessor v$version
  - gomod: go.opentelemetry.io/collector/processor/memorylimiterprocessor v$version
exporters:
  - gomod: go.opentelemetry.io/collector/exporter/otlphttpexporter v$version
  - gomod: go.opentelemetry.io/collector/exporter/debugexporter v$version
providers:
  - gomod: go.opentelemetry.io/collector/confmap/provider/envprovider v$stable
  - gomod: go.opentelemetry.io/collector/confmap/provider/fileprovider v$stable
YAML
"$tmp/builder" --config "$tmp/manifest.yaml" >&2
mkdir -p "$dest"
mv "$tmp/out/otelcol-engram" "$dest/otelcol-engram"
echo "$dest/otelcol-engram"
