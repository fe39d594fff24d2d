#!/usr/bin/env bash
# Scale: discoveryd (release build) on a SQLite store of 1,000,000 services.
# Writes benchmarks/results/scale.md.
#
#   benchmarks/scale/run.sh [--services N]     records in the store (default 1000000)
#                           [--watchers N]     SSE watch streams (default 10000)
#                           [--events N]       changes written while they watch (default 100)
#                           [--rate R]         changes per second (default 5)
#                           [--duration D]     wrk time per discover query (default 20s)
#                           [--connections N]  wrk connections, fixed (default 16; wrk -t1)
#                           [--build DIR]      default build/release
#                           [--out NAME]       default scale.md, in benchmarks/results
#                           [--keep]           keep the work directory
#   A quick run: --services 20000 --watchers 500 --events 20 --duration 3s --out scale-quick.md
#
# Steps, each printed as it starts:
#   1. the store: benchmarks/scale/load_store writes the fleet of benchmarks/fleet.hpp
#      (50 instances a company, 3 regions, 2 environments, 6 capabilities, tags,
#      3 MCP tools each) through the library's SQLite Storage in batches of 20,000.
#      The file is cached in BUILD/scale-cache/ and copied for each run, so a
#      second run skips the load (the copy leaves it in the page cache: a warm start).
#   2. an empty daemon's resident memory (the baseline per record is counted from).
#   3. time to ready: discoveryd started on the store, /ready polled every 10 ms
#      until it answers 200; then resident memory (and the peak, VmHWM).
#   4. discover over HTTP: wrk --latency, one thread, N connections, four queries
#      (selective; a company's region; a broad first page of 100; a page deep in
#      a cursor walk).
#   5. watchers: benchmarks/scale/watchers (Go) opens N streams of
#      GET /api/v1/services/watch, then registers new services at R/s; each event
#      carries its send time, so every watcher measures delivery latency. The
#      daemon runs with --max-watchers N+1000 and --max-connections
#      max(20000, N+2000) (defaults 10,000 and 20,000); ulimit -n is raised to
#      its hard limit for the script and its children.
# The daemon runs with --health-checks off: the fleet's endpoints are made up,
# and the checker at scale is benchmarks/health/run.sh's subject.
# A "## Notes" section already at the end of the results file is kept.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/benchmarks/scale"
build="$root/build/release"
args="$*"
services=1000000 watchers=10000 events=100 rate=5 duration=20s connections=16 out=scale.md keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --services) services="$2"; shift 2 ;;
    --watchers) watchers="$2"; shift 2 ;;
    --events) events="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --build) build="$(cd "$2" && pwd)"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
log() { echo "== $(date -u +%H:%M:%S) $*" >&2; }
die() { echo "scale/run.sh: $*" >&2; exit 1; }
for tool in wrk curl python3 go; do command -v "$tool" >/dev/null || die "$tool is missing"; done
daemon="$build/apps/discoveryd/discoveryd"
ctl="$build/apps/discoveryctl/discoveryctl"
loader="$build/benchmarks/load_store"
for bin in "$daemon" "$ctl" "$loader"; do
  [ -x "$bin" ] || die "$bin is missing; build it first:
  cmake --preset release && cmake --build build/release --target discoveryd discoveryctl load_store"
done
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $(( watchers + 1100 )) ] ||
  die "ulimit -n is $(ulimit -n) (hard limit); $watchers watchers need $(( watchers + 1100 ))"

# shellcheck source=../lib.sh
source "$root/benchmarks/lib.sh"
bench_work scale
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
log "scale run: $services services, $watchers watchers; $(nproc) cores, load $load_before"

log "building the watcher client (Go, standard library)"
(cd "$here/watchers" && go build -o "$work/watchers" .) || die "go build failed"

# ---- 1. the store ----
cache="$build/scale-cache"
mkdir -p "$cache"
db="$cache/fleet-$services.db"
if [ -s "$db" ] && [ -s "$db.loaded" ]; then
  log "store: reusing $db ($(du -h "$db" | cut -f1)); delete it to load again"
else
  rm -f "$db" "$db-wal" "$db-shm" "$db.loaded"
  log "store: loading $services services into $db"
  "$loader" "$db" "$services" > "$work/load.out" || die "load_store failed"
  cp "$work/load.out" "$db.loaded"
fi
load_line="$(cat "$db.loaded")"
db_bytes="$(stat -c %s "$db")"
mkdir -p "$work/data" "$work/empty"
cp --reflink=auto "$db" "$work/data/discovery.db"

# ---- 2. an empty daemon ----
start_daemon() {  # data-dir name; sets dpid
  "$daemon" --listen 127.0.0.1:0 --data-dir "$1" --health-checks off --log-level warn \
    --max-watchers $(( watchers + 1000 )) --max-connections "$(( watchers + 2000 > 20000 ? watchers + 2000 : 20000 ))" \
    > "$work/$2.out" 2> "$work/$2.err" &
  dpid=$!; pids+=("$dpid")
}
wait_ready() {  # name -> url on stdout; polls /ready every 10 ms
  local url=""
  for _ in $(seq 60000); do
    kill -0 "$dpid" 2>/dev/null || die "discoveryd exited: $(tail -n 20 "$work/$1.err")"
    [ -z "$url" ] && url="$(sed -n 's/^listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$work/$1.out")"
    if [ -n "$url" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/ready")" = 200 ]; then
      echo "$url"; return
    fi
    sleep 0.01
  done
  die "discoveryd was not ready within 10 minutes"
}
stop_daemon() {
  kill -TERM "$dpid"; wait "$dpid" 2>/dev/null || true
}
log "empty store: resident memory of an idle daemon"
start_daemon "$work/empty" empty
wait_ready empty > /dev/null
sleep 1
rss_empty="$(rss "$dpid")"
stop_daemon

# ---- 3. time to ready ----
log "starting discoveryd on $services services; polling /ready"
sync
t0="$(now_ms)"
start_daemon "$work/data" daemon
url="$(wait_ready daemon)"
t_ready=$(( $(now_ms) - t0 ))
rss_ready="$(rss "$dpid")"; hwm_ready="$(hwm "$dpid")"
log "ready after $t_ready ms; $(( rss_ready / 1024 )) MiB resident (peak $(( hwm_ready / 1024 )) MiB)"
grep '^store ' "$work/daemon.out" >&2 || true
(umask 077; "$ctl" token --data-dir "$work/data" --sao diamond --ttl 6h --subject scale > "$work/token")
count="$(curl -s -H "Authorization: Bearer $(cat "$work/token")" "$url/metrics" |
  awk '$1 ~ /^discovery_services/ {s += $2} END {printf "%.0f", s}')"
log "the daemon reports $count services"

# ---- 4. discover ----
# Company c's instances are 50c .. 50c+49; pick one in the middle of the fleet.
company="company$(( services / 50 / 2 ))"
cursor="$(TOKEN="$(cat "$work/token")" python3 - "$url" "$services" <<'PY'
import json, os, sys, urllib.request
url, services = sys.argv[1], int(sys.argv[2])
# Walk a tenth of the broad query's matches (limit 1000 a page) for a cursor deep in it.
pages = max(1, services // 6 // 10 // 1000)
cursor = None
for _ in range(pages):
    q = f"{url}/api/v1/services/discover?region=eu-west1&environment=production&limit=1000"
    if cursor: q += "&cursor=" + cursor
    req = urllib.request.Request(q, headers={"Authorization": "Bearer " + os.environ["TOKEN"]})
    cursor = json.load(urllib.request.urlopen(req))["nextCursor"] or cursor
print(cursor or "")
PY
)"
queries=(
  "selective|company=$company&region=eu-west1&capabilities=search"
  "company-region|company=$company&region=us-west1"
  "broad-first-page|region=eu-west1&environment=production&limit=100"
)
# A small fleet's broad query fits one page of 1,000: no cursor to go deep with.
if [ -n "$cursor" ]; then
  queries+=("broad-deep-page|region=eu-west1&environment=production&limit=100&cursor=$cursor")
else
  log "the broad query fits one page at $services services: no deep page to measure"
fi
for q in "${queries[@]}"; do
  name="${q%%|*}"; query="${q#*|}"
  hits="$(curl -s -H "Authorization: Bearer $(cat "$work/token")" "$url/api/v1/services/discover?$query" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')"
  log "discover $name ($hits records an answer): wrk -t1 -c$connections -d$duration"
  TOKEN_FILE="$work/token" REQ_PATH="/api/v1/services/discover?$query" \
    wrk -t1 -c"$connections" -d"$duration" --latency -s "$here/get.lua" "$url" > "$work/wrk.$name" 2>&1 ||
    die "wrk failed: $(cat "$work/wrk.$name")"
  echo "hits=$hits" >> "$work/wrk.$name"
  echo "query=$query" >> "$work/wrk.$name"
  grep -E '^(rps|p50_ms|p99_ms)=' "$work/wrk.$name" | tr '\n' ' ' >&2; echo >&2
done
rss_queries="$(rss "$dpid")"

# ---- 5. watchers ----
log "watchers: opening $watchers streams, then $events changes at $rate/s"
"$work/watchers" -url "$url" -token-file "$work/token" -watchers "$watchers" -events "$events" \
  -rate "$rate" -pid "$dpid" -json "$work/watchers.json" || die "the watcher client failed"
dropped="$(curl -s -H "Authorization: Bearer $(cat "$work/token")" "$url/metrics" |
  awk '$1 ~ /^discovery_watchers_dropped_total/ {s += $2} END {printf "%.0f", s}')"
rss_end="$(rss "$dpid")"; hwm_end="$(hwm "$dpid")"
stop_daemon
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- the results ----
commit="$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- libdiscovery apps benchmarks/scale || echo '+changes')"
mkdir -p "$root/benchmarks/results"
python3 - "$work" "$root/benchmarks/results/$out" <<PY
import json, os, sys
work, out = sys.argv[1], sys.argv[2]
def kv(path):
    d = {}
    for line in open(path):
        if "=" in line and not line.startswith(" "):
            k, v = line.rstrip("\n").split("=", 1)
            d[k] = v
    return d
services, watchers = $services, $watchers
rss_empty, rss_ready, hwm_ready = $rss_empty, $rss_ready, $hwm_ready
rss_queries, rss_end, hwm_end = $rss_queries, $rss_end, $hwm_end
t_ready = $t_ready
w = json.load(open(f"{work}/watchers.json"))
mib = lambda kib: kib / 1024
per_record = (rss_ready - rss_empty) * 1024 / services
db_bytes = $db_bytes
lines = []
a = lines.append
a("# Scale: discoveryd on 1,000,000 services" if services == 1000000 else f"# Scale: discoveryd on {services:,} services")
a("")
a(f"- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit $commit")
a("- command: \`" + "benchmarks/scale/run.sh $args".strip() + "\`")
a(f"- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), "
  f"$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo) GiB; shared with other engineers' builds; "
  f"load average $load_before before, $load_after after")
a(f"- daemon: release discoveryd, SQLite store, --health-checks off, --max-watchers {watchers + 1000}, "
  f"--max-connections {max(20000, watchers + 2000)} (defaults 10,000 and 20,000), 2 io threads (one per core), "
  f"ulimit -n $(ulimit -n); clients on the same 2 cores")
a(f"- store: {services:,} records of benchmarks/fleet.hpp ({services // 50:,} companies × 50 instances, 3 regions, "
  f"2 environments, 6 capabilities, tags, 3 MCP tools each), written by benchmarks/scale/load_store "
  f"($load_line); {db_bytes / 2**20:.0f} MiB on disk, {db_bytes / services:.0f} bytes a record")
a("")
a("## Start and memory")
a("")
a("| measure | figure | goal (spec) | |")
a("|---|---|---|---|")
a(f"| time to ready (process start → \`/ready\` 200, the store in the page cache) | {t_ready / 1000:.2f} s | none | |")
a(f"| resident memory when ready | {mib(rss_ready):.0f} MiB (peak during start {mib(hwm_ready):.0f} MiB) | none | |")
a(f"| resident memory of an empty daemon | {mib(rss_empty):.1f} MiB | | |")
a(f"| memory per record ((ready − empty) / records) | {per_record:.0f} bytes | none | |")
a(f"| ... after the discover runs | {mib(rss_queries):.0f} MiB | | |")
a("")
a("## Discover over HTTP")
a("")
a(f"wrk -t1 -c$connections -d$duration --latency, one query at a time; the spec's goal is a response time under 100 ms.")
a("")
a("| query | records an answer | bytes an answer | requests/s | p50 ms | p99 ms | max ms | errors | p99 < 100 ms |")
a("|---|---:|---:|---:|---:|---:|---:|---:|---|")
for name in ["selective", "company-region", "broad-first-page", "broad-deep-page"]:
    if not os.path.exists(f"{work}/wrk.{name}"): continue  # no deep page in a small fleet
    d = kv(f"{work}/wrk.{name}")
    q = d["query"]
    if "cursor=" in q: q = q.split("&cursor=")[0] + "&cursor=…"
    met = "met" if float(d["p99_ms"]) < 100 else "missed"
    a(f"| {name}: \`{q}\` | {d['hits']} | {d['bytes_per_request']} | {d['rps']} | {d['p50_ms']} | {d['p99_ms']} | "
      f"{d['max_ms']} | {d['errors']} | {met} |")
a("")
a("## Watchers")
a("")
per_watcher = (w["rss_kib_open"] - w["rss_kib_before"]) * 1024 / max(1, w["opened"])
a(f"{w['opened']:,} SSE streams of \`GET /api/v1/services/watch\` (unfiltered) opened in {w['open_seconds']:.1f} s "
  f"({w['refused']} refused); then {w['events_written']} registrations at {w['rate']:g}/s "
  f"({w['write_errors']} failed), each seen by every stream.")
a("")
a("| measure | figure |")
a("|---|---|")
a(f"| delivery latency (write sent → event read by the watcher), over all {w['deliveries']:,} deliveries | "
  f"p50 {w['latency_ms_p50']:.1f} ms, p99 {w['latency_ms_p99']:.1f} ms, max {w['latency_ms_max']:.1f} ms |")
a(f"| deliveries | {w['deliveries']:,} of {w['deliveries_wanted']:,} |")
a(f"| watchers that saw every event | {w['complete_watchers']:,} of {w['opened']:,} |")
a(f"| watchers dropped by the daemon (queue over --watch-queue-bytes) | $dropped |")
a(f"| resident memory: before the streams, with them open, after the changes | "
  f"{mib(w['rss_kib_before']):.0f}, {mib(w['rss_kib_open']):.0f}, {mib(w['rss_kib_after']):.0f} MiB |")
a(f"| memory per open watcher | {per_watcher / 1024:.1f} KiB |")
a(f"| peak resident memory of the whole run | {mib(hwm_end):.0f} MiB |")
a("")
notes = ""
if os.path.exists(out):
    old = open(out).read()
    if "\n## Notes" in old:
        notes = old[old.index("\n## Notes") + 1:]
open(out, "w").write("\n".join(lines).rstrip("\n") + "\n" + ("\n" + notes if notes else ""))
PY
log "wrote benchmarks/results/$out"
cat "$root/benchmarks/results/$out" >&2
