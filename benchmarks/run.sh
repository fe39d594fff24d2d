#!/usr/bin/env bash
# Runs the in-process benchmarks of the library core and writes the figures,
# with the machine and the command, to benchmarks/results/core.md.
#   benchmarks/run.sh [BUILD_DIR]   (default build/release; `make bench` builds it)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
out=benchmarks/results
mkdir -p "$out" "$build/bench-data"

{
  echo "# Library core benchmarks"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "- kernel: $(uname -r); compiler: $(c++ --version | head -1)"
  echo "- command: benchmarks/run.sh $build"
  echo
  echo "## Discover over 1,000,000 records, reopen, memory (bench_query)"
  echo
  echo '```'
  "$build/benchmarks/bench_query" --db "$build/bench-data/bench-1m.db" \
      --benchmark_repetitions=5 --benchmark_report_aggregates_only=true 2>&1 | grep -v '^generating'
  echo '```'
  echo
  echo "## Durable registrations and heartbeats on SQLite (bench_register)"
  echo
  echo '```'
  "$build/benchmarks/bench_register" 2>&1
  echo '```'
} | tee "$out/core-raw.md"
