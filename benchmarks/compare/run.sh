#!/usr/bin/env bash
# discoveryd against its peers on the same machine, the same work and the same
# load generator (wrk, same threads and connections for every peer):
#   - etcd (Debian's etcd-server) used as a discovery store the usual way: a key
#     per instance under /services/{company}/{region}/, a lease per instance,
#     keep-alives as heartbeats, watch on a prefix; driven through its JSON
#     gateway (/v3/kv/range, /v3/kv/put, /v3/lease/keepalive, /v3/watch);
#   - nginx serving discoveryd's exact discover answer as a static file;
#   - a bare Beast server (bare_beast) answering the same bytes with no work.
# Writes benchmarks/results/compare.md and compare.png.
#
#   benchmarks/compare/run.sh [--build DIR] [--duration 10s] [--runs 3]
#                             [--connections 64] [--threads 2] [--watch-changes 1000]
#                             [--only discover,register,heartbeat,watch]
#                             [--perf] [--keep]
#
# --only runs just the listed work (for trying a change); it prints the figures
# and leaves benchmarks/results/ alone.
# --perf records discoveryd with perf during one extra run of discover,
# register and heartbeat each, and adds the top of the profiles to the results. --keep keeps the work directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/benchmarks/compare"
build="$root/build/release"
duration=10s runs=3 connections=64 threads=2 watch_changes=1000 perf=0 keep=0 only=
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$(cd "$2" && pwd)"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --watch-changes) watch_changes="$2"; shift 2 ;;
    --only) only=",$2,"; shift 2 ;;
    --perf) perf=1; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$duration" in
  *m) duration_s=$(( ${duration%m} * 60 )) ;; *s) duration_s="${duration%s}" ;; *) duration_s="$duration" ;;
esac
results="$root/benchmarks/results"
log() { echo "== $(date -u +%H:%M:%S) $*" >&2; }
die() { echo "compare/run.sh: $*" >&2; exit 1; }
wanted() { [ -z "$only" ] || [[ "$only" == *",$1,"* ]]; }

# --- tools ------------------------------------------------------------------
missing=()
for tool in wrk etcd etcdctl nginx python3 curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  die "missing: ${missing[*]}. Install them with:
  apt-get install -y wrk etcd-server etcd-client nginx python3 curl"
fi
daemon="$build/apps/discoveryd/discoveryd"
ctl="$build/apps/discoveryctl/discoveryctl"
bare="$build/benchmarks/bare_beast"
for bin in "$daemon" "$ctl" "$bare"; do
  [ -x "$bin" ] || die "$bin is missing; build it first:
  cmake --preset release && cmake --build build/release --target discoveryd discoveryctl bare_beast"
done
if [ "$perf" = 1 ]; then command -v perf >/dev/null || die "--perf needs perf (apt-get install -y linux-perf)"; fi

# shellcheck source=../lib.sh
source "$root/benchmarks/lib.sh"
bench_work compare

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for_line() {  # file pattern what
  for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  die "$3 did not start; its output:
$(tail -n 20 "$1")"
}
peers() { python3 "$here/peers.py" "$@"; }

: > "$work/figures"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
log "machine: $(nproc) cores, load $load_before; work directory $work"
{
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "cores=$(nproc)"
  echo "memory=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "kernel=$(uname -r)"
  echo "load_before=$load_before"
  echo "data_fs=$(df -T "$work" | awk 'NR == 2 {print $2 " on " $1}')"
  echo "etcd_version=$(etcd --version | awk '/etcd Version/ {print $3}')"
  echo "nginx_version=$(nginx -v 2>&1 | sed 's/.*nginx\///')"
  echo "wrk_version=$(wrk -v 2>&1 | awk 'NR==1 {print $2}')"
  echo "discoveryd_version=$("$daemon" --version 2>&1 | head -n1)"
  echo "boost_version=$(awk '/define BOOST_LIB_VERSION/ {gsub(/"/,"",$3); print $3}' /usr/include/boost/version.hpp 2>/dev/null)"
  echo "duration=$duration"; echo "runs=$runs"; echo "connections=$connections"; echo "threads=$threads"
} >> "$work/figures"

# --- discoveryd -------------------------------------------------------------
log "starting discoveryd (release, SQLite in $work/discoveryd, --health-checks off, --io-threads $threads)"
"$daemon" --listen 127.0.0.1:0 --data-dir "$work/discoveryd" --health-checks off --log-level warn \
  --io-threads "$threads" --max-connections 20000 > "$work/discoveryd.out" 2> "$work/discoveryd.err" &
dpid=$!; pids+=("$dpid")
wait_for_line "$work/discoveryd.out" '^listening on' discoveryd
durl="$(sed -n 's/^listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$work/discoveryd.out")"
# A diamond token minted offline into a file (never on a command line); the
# wrk scripts and peers.py read it from TOKEN_FILE.
(umask 077; "$ctl" token --data-dir "$work/discoveryd" --sao diamond --ttl 6h --subject bench > "$work/token")
export TOKEN_FILE="$work/token" COMPARE_DIR="$here"

# The fleet: 50 companies x 2 regions x 100 instances = 10,000 records; the
# query (one company, one region) answers 100 of them.
companies=50 per_group=100
query="/api/v1/services/discover?company=c7&region=us-west1"
log "registering $((companies * 2 * per_group)) services in discoveryd"
peers seed-discoveryd "$durl" "$companies" us-west1,eu-west1 "$per_group"
mkdir -p "$work/www/api/v1/services"
answer="$work/www/api/v1/services/discover"
count="$(peers answer "$durl" "$query" "$answer")"
[ "$count" = "$per_group" ] || die "the discover answer has $count services, not $per_group"
echo "fleet=$((companies * 2 * per_group))" >> "$work/figures"
echo "answer_bytes=$(stat -c %s "$answer")" >> "$work/figures"
echo "query=$query" >> "$work/figures"

# --- etcd ---------------------------------------------------------------------
eport="$(free_port)"; epeer="$(free_port)"
eurl="http://127.0.0.1:$eport"
log "starting etcd on $eurl (data in $work/etcd, fsync on, GOMAXPROCS=$threads)"
GOMAXPROCS="$threads" etcd --name bench --data-dir "$work/etcd" \
  --listen-client-urls "$eurl" --advertise-client-urls "$eurl" \
  --listen-peer-urls "http://127.0.0.1:$epeer" --initial-advertise-peer-urls "http://127.0.0.1:$epeer" \
  --initial-cluster "bench=http://127.0.0.1:$epeer" --logger zap --log-level warn \
  --quota-backend-bytes 8589934592 > "$work/etcd.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do curl -sf "$eurl/health" 2>/dev/null | grep -q true && break; sleep 0.05; done
curl -sf "$eurl/health" | grep -q true || die "etcd did not start: $(tail -n 20 "$work/etcd.log")"
log "putting the same 10,000 records into etcd (a lease and a key each)"
peers seed-etcd "$durl" "$eurl" 3600
peers etcd-range-body "/services/c7/us-west1/" > "$work/range.json"
peers etcd-range-body "/services/c7/us-west1/" serializable > "$work/range-serializable.json"
ecount="$(curl -sf -X POST "$eurl/v3/kv/range" --data-binary @"$work/range.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')"
[ "$ecount" = "$per_group" ] || die "etcd's range answers $ecount keys, not $per_group"

# --- nginx and the bare Beast server ------------------------------------------
nport="$(free_port)"
mkdir -p "$work/nginx/tmp"
user_line=""; [ "$(id -u)" = 0 ] && user_line="user root;"
cat > "$work/nginx/nginx.conf" <<EOF
daemon off;
$user_line
worker_processes $threads;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 100000000; keepalive_timeout 75s;
  open_file_cache max=16 inactive=60s;
  client_body_temp_path $work/nginx/tmp/body; proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi; uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  default_type application/json;
  server { listen 127.0.0.1:$nport; root $work/www; location / { } }
}
EOF
log "starting nginx on 127.0.0.1:$nport ($threads workers) and bare_beast ($threads threads)"
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" > "$work/nginx.out" 2>&1 &
pids+=($!)
"$bare" "$answer" 0 "$threads" > "$work/bare.out" 2>&1 &
pids+=($!)
wait_for_line "$work/bare.out" '^listening on' bare_beast
burl="$(sed -n 's/^listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$work/bare.out")"
nurl="http://127.0.0.1:$nport"
for _ in $(seq 100); do curl -sf -o /dev/null "$nurl$query" && break; sleep 0.05; done
for u in "$nurl" "$burl"; do
  curl -sf "$u$query" -o "$work/check" || die "$u does not answer: $(cat "$work/nginx/error.log" 2>/dev/null)"
  cmp -s "$work/check" "$answer" || die "$u does not answer discoveryd's bytes"
done

run_wrk() {  # work peer run script url
  local name="$1.$2.$3" script="$4" url="$5"
  log "$1 / $2 (run $3): wrk -t$threads -c$connections -d$duration"
  wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$here/$script" "$url" > "$work/$name.txt" 2>&1 \
    || die "wrk failed: $(cat "$work/$name.txt")"
  grep -E '^(requests|rps|mib_s|p50_ms|p90_ms|p99_ms|errors|non2xx)=' "$work/$name.txt" | sed "s/^/$name./" >> "$work/figures"
  echo "   $(grep -E '^(rps|p50_ms|p99_ms|errors)=' "$work/$name.txt" | tr '\n' ' ')" >&2
}

# --- discover -------------------------------------------------------------------
# The peers take turns in every run so that a change in the machine's load
# falls on all of them.
export REQ_PATH="$query"
for r in $(seq "$runs"); do
  wanted discover || break
  run_wrk discover discoveryd "$r" get.lua "$durl"
  run_wrk discover nginx "$r" get.lua "$nurl"
  run_wrk discover bare_beast "$r" get.lua "$burl"
  REQ_PATH=/v3/kv/range BODY_FILE="$work/range.json" run_wrk discover etcd "$r" post.lua "$eurl"
  REQ_PATH=/v3/kv/range BODY_FILE="$work/range-serializable.json" run_wrk discover etcd_serializable "$r" post.lua "$eurl"
done
# The answer must not have changed during the runs (no write happened).
peers answer "$durl" "$query" "$work/after" > /dev/null
cmp -s "$work/after" "$answer" || die "discoveryd's answer changed during the discover runs"

perf_profile() {  # work script url: one more wrk run with perf recording discoveryd
  [ "$perf" = 1 ] || return 0
  log "perf: recording discoveryd during one more $1 run"
  perf record -F 999 -p "$dpid" -o "$work/perf.$1.data" -- sleep "$duration_s" > /dev/null 2>&1 &
  local perf_pid=$!
  wrk -t"$threads" -c"$connections" -d"$duration" -s "$here/$2" "$3" > /dev/null 2>&1
  wait "$perf_pid" || true
  {
    echo "--- $1 (self time by shared object and symbol, >= 1.5 %)"
    perf report -i "$work/perf.$1.data" --no-children --sort dso,symbol --percent-limit 1.5 --stdio 2>/dev/null \
      | grep -E '^ +[0-9]' | sed -E 's/[ -]+$//' | cut -c1-150 | head -n 25 || true
  } >> "$work/perf.txt"
}
wanted discover && perf_profile discover get.lua "$durl"

# --- durable register -----------------------------------------------------------
if wanted register; then
log "granting 1,000 etcd leases for the puts"
peers leases "$eurl" 2000000 1000 3600
for r in $(seq "$runs"); do
  RUN="$r" run_wrk register discoveryd "$r" register.lua "$durl"
  RUN="$r" LEASE_FIRST=2000000 LEASES=1000 run_wrk register etcd "$r" etcd_put.lua "$eurl"
done
RUN=perf perf_profile register register.lua "$durl"
fi

# --- heartbeats -----------------------------------------------------------------
if wanted heartbeat; then
log "1,000 services with a 10m TTL in discoveryd, 1,000 leases of 600 s in etcd"
peers ttl-services "$durl" 1000 10m "$work/ids"
peers leases "$eurl" 3000000 1000 600
for r in $(seq "$runs"); do
  IDS_FILE="$work/ids" run_wrk heartbeat discoveryd "$r" heartbeat.lua "$durl"
  LEASE_FIRST=3000000 LEASES=1000 run_wrk heartbeat etcd "$r" keepalive.lua "$eurl"
done
IDS_FILE="$work/ids" perf_profile heartbeat heartbeat.lua "$durl"
fi

# --- change to watcher ------------------------------------------------------------
for peer in discoveryd etcd; do
  wanted watch || break
  url="$durl"; [ "$peer" = etcd ] && url="$eurl"
  log "watch / $peer: $watch_changes changes one after the other, write sent -> event seen"
  peers watch "$peer" "$url" "$watch_changes" 5 "$work/watch.$peer"
  sed "s/^/watch.$peer.1./" "$work/watch.$peer" >> "$work/figures"
  echo "   $(tr '\n' ' ' < "$work/watch.$peer")" >&2
done

echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$work/figures"
if [ -n "$only" ]; then
  log "--only: figures below; benchmarks/results/ left as it was"
  grep -E '\.(rps|p50_ms|p99_ms|errors)=' "$work/figures" >&2 || true
  [ "$perf" = 1 ] && cat "$work/perf.txt" >&2
  exit 0
fi
cp "$work/figures" "$results/compare-figures.txt"
log "writing $results/compare.md and compare.png"
py=python3
if [ ! -x "$root/build/compare-venv/bin/python" ]; then
  log "creating a venv with matplotlib in build/compare-venv"
  python3 -m venv "$root/build/compare-venv" && "$root/build/compare-venv/bin/pip" install -q matplotlib \
    || log "matplotlib could not be installed; the chart will be a hand-written SVG"
fi
"$root/build/compare-venv/bin/python" -c 'import matplotlib' 2>/dev/null && py="$root/build/compare-venv/bin/python"
"$py" "$here/report.py" "$work/figures" "$results" "$work/perf.txt"
cat "$results/compare.md"
