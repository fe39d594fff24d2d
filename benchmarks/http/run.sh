#!/usr/bin/env bash
# HTTP benchmarks of discoveryd with wrk: durable register, selective
# discover over 100,000+ records, heartbeats, and the memory of 10,000 SSE
# watchers. Writes benchmarks/results/http.md.
#   benchmarks/http/run.sh [BUILD_DIR]     (default build/release)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build/release}"
export BENCH_DIR="$root/benchmarks/http"
duration="${DURATION:-10s}"
connections="${CONNECTIONS:-64}"
out="$root/benchmarks/results/http.md"
command -v wrk >/dev/null || { echo "run.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }

work="$(mktemp -d)"
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

echo "== starting discoveryd ($build)" >&2
"$build/apps/discoveryd/discoveryd" --listen 127.0.0.1:0 --data-dir "$work/data" --log-level warn \
  --max-connections 20000 >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/out")
export TOKEN=$(tail -n 1 "$work/out")
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }

run_wrk() {  # name script [extra env]
  local name=$1 script=$2
  echo "== $name: wrk -t2 -c$connections -d$duration" >&2
  wrk -t2 -c"$connections" -d"$duration" --latency -s "$BENCH_DIR/$script" "$url" > "$work/$name.txt"
  grep -E '^(rps|p50_ms|p99_ms|errors|requests|non2xx)=' "$work/$name.txt" | sed "s/^/$name./" >> "$work/figures"
  cat "$work/$name.txt" >&2
}

: > "$work/figures"
export COMPANIES=10000
run_wrk register register.lua
records=$(curl -s "$url/ready" | sed 's/.*"services":\([0-9]*\).*/\1/')
echo "records=$records" >> "$work/figures"
# About ten records per company for the selective discover.
export COMPANIES=$(( records / 10 < 10000 ? records / 10 : 10000 ))
[ "$records" -ge 100000 ] || echo "warning: only $records records registered" >&2
run_wrk discover discover.lua

echo "== registering 1000 services with a 30s TTL for heartbeats" >&2
python3 - "$url" "$TOKEN" > "$work/ids" <<'PY'
import http.client, json, sys
url, token = sys.argv[1], sys.argv[2]
host, port = url.split("//")[1].split(":")
conn = http.client.HTTPConnection(host, int(port))
for i in range(1000):
    body = json.dumps({"companyName": "hb", "instanceId": f"hb-{i}",
                       "serviceInfo": {"endpoints": {"primary": "https://mcp.hb.2100.cool"}},
                       "healthCheckConfig": {"ttl": "30s"}})
    conn.request("POST", "/api/v1/services/register", body,
                 {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    print(json.loads(conn.getresponse().read())["serviceId"])
PY
export IDS_FILE="$work/ids"
run_wrk heartbeat heartbeat.lua

echo "== opening 10000 SSE watchers" >&2
rss_before=$(rss)
mkfifo "$work/hold"
python3 "$BENCH_DIR/watchers.py" "$url" "$TOKEN" 10000 < "$work/hold" > "$work/watchers" &
wpid=$!
exec 8>"$work/hold"
for _ in $(seq 600); do grep -q "^open" "$work/watchers" 2>/dev/null && break; sleep 0.1; done
sleep 1
rss_after=$(rss)
watchers=$(curl -s "$url/metrics" | awk '/^discovery_watchers / {print $2}')
exec 8>&-
wait $wpid || true
echo "watchers=$watchers" >> "$work/figures"
echo "watchers_rss_kib=$(( rss_after - rss_before ))" >> "$work/figures"
echo "rss_kib_after=$rss_after" >> "$work/figures"

get() { grep "^$1=" "$work/figures" | cut -d= -f2; }
{
  echo "# discoveryd over HTTP (wrk)"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit $(git -C "$root" rev-parse --short HEAD)"
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); wrk on the same machine"
  echo "- command: benchmarks/http/run.sh (wrk -t2 -c$connections -d$duration --latency, bearer token on every request, SQLite storage, fsync on every commit)"
  echo
  echo "| work | requests/s | p50 ms | p99 ms | errors | goal |"
  echo "|---|---:|---:|---:|---:|---|"
  echo "| durable register | $(get register.rps) | $(get register.p50_ms) | $(get register.p99_ms) | $(get register.errors) | >= 20,000/s |"
  echo "| selective discover (1 company of $(get records) records, ~10 hits) | $(get discover.rps) | $(get discover.p50_ms) | $(get discover.p99_ms) | $(get discover.errors) | >= 50,000/s, p99 <= 2 ms |"
  echo "| heartbeat (TTL services) | $(get heartbeat.rps) | $(get heartbeat.p50_ms) | $(get heartbeat.p99_ms) | $(get heartbeat.errors) | >= 50,000/s |"
  echo
  echo "10,000 SSE watchers: $(get watchers) open, resident memory grew by $(( $(get watchers_rss_kib) / 1024 )) MiB (goal <= 100 MiB)."
} | tee "$out"
