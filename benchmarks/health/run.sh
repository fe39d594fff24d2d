#!/usr/bin/env bash
# The health checker's load benchmarks (issue 4): 10,000 HTTP services at a
# 1 s interval and 1,000 MCP services at 5 s, against local targets, with the
# checker's CPU, schedule lateness and memory per service.
#
#   benchmarks/health/run.sh [BUILD_DIR] [DURATION]     (default build/release, 60s)
#
# Targets: discoveryd itself with --health-checks off (its /health is cheap)
# for HTTP, and the official SDK's stateless Streamable HTTP server
# (tests/fixtures/mcp) for MCP, both on 0.0.0.0 so that each service can have
# an address of its own in 127.0.0.0/8.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build/release}"
duration="${2:-60s}"
bench="$build/benchmarks/bench_checker"
daemon="$build/apps/discoveryd/discoveryd"
[ -x "$bench" ] && [ -x "$daemon" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 2; }
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== HTTP target: discoveryd --health-checks off"
"$daemon" --listen 0.0.0.0:0 --storage memory --data-dir "$work/target" --health-checks off \
  --log-level warn --max-connections 30000 --idle-timeout 120s > "$work/target.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '^listening on' "$work/target.out" 2>/dev/null && break; sleep 0.1; done
port="$(sed -n 's/^listening on http:\/\/0.0.0.0:\([0-9]*\)$/\1/p' "$work/target.out")"
echo "== 10,000 HTTP services, 1 s interval, $duration"
"$bench" --targets "127.0.0.1:$port" --services 10000 --interval 1s --duration "$duration"

echo "== MCP target: the SDK's stateless Streamable HTTP server"
(cd "$root/tests/fixtures/mcp" && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; })
node "$root/tests/fixtures/mcp/server.mjs" --kind stateless --port 0 --host 0.0.0.0 > "$work/mcp.out" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/mcp.out" ] && break; sleep 0.1; done
mcp_port="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["port"])' "$work/mcp.out")"
echo "== 1,000 MCP services, 5 s interval, $duration"
"$bench" --kind mcp --targets "127.0.0.1:$mcp_port" --services 1000 --interval 5s --duration "$duration" --path /mcp
