#!/usr/bin/env bash
# Soak: discoveryd under a mixed load for a set time, its resident memory and
# open descriptors sampled every few seconds. Writes benchmarks/results/soak.md.
#
#   benchmarks/soak.sh [--duration 10m] [--interval 5s] [--build DIR] [--keep]
#                      [--out NAME]      (default soak.md, in benchmarks/results)
#
# The soaked daemon: release build, SQLite in a temporary directory, health
# checks on (--probe-allow 127.0.0.0/8) against a second discoveryd
# (--health-checks off, memory storage) as the local target. Load, all at once
# for the whole duration (one wrk thread each, full speed):
#   - discover: company + region, 20 services a answer (wrk, 8 connections)
#   - register: re-registrations of the same 1,000 instances, each with a new
#     version (a real change: a durable write and a watch event; 4 connections)
#   - heartbeat: 1,000 services with a TTL (4 connections)
#   - watch: 40 SSE streams, half of them filtered, a quarter closed and
#     reopened every 10 s
#   - health checks: 2,000 services every 2 s, plus the others at their intervals.
# Warm-up is the first fifth of the run. Memory growth = the mean of the last
# three samples under load (the last 2 intervals, as the load winds down, left
# out) against the mean of the three at the end of warm-up
# (goal <= 5 %). Descriptor leak = open descriptors once the load has stopped
# and its connections are closed, against the same count before the load
# started (goal: none); each count is the minimum of 20 over 5 s, as the
# health checker's own connections come and go.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
here="$root/benchmarks/compare"
build="$root/build/release"
duration=10m interval=5 keep=0 out=soak.md
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --interval) interval="${2%s}"; shift 2 ;;
    --build) build="$(cd "$2" && pwd)"; shift 2 ;;
    --keep) keep=1; shift ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
seconds() {  # 90, 90s, 10m, 1h -> seconds
  case "$1" in
    *h) echo $(( ${1%h} * 3600 )) ;; *m) echo $(( ${1%m} * 60 )) ;;
    *s) echo "${1%s}" ;; *) echo "$1" ;;
  esac
}
total="$(seconds "$duration")"
[ "$total" -ge 30 ] 2>/dev/null || { echo "soak.sh: --duration must be at least 30s" >&2; exit 2; }
warmup=$(( total / 5 ))
results="$root/benchmarks/results"
log() { echo "== $(date -u +%H:%M:%S) $*" >&2; }
die() { echo "soak.sh: $*" >&2; exit 1; }

for tool in wrk python3 curl; do command -v "$tool" >/dev/null || die "$tool is missing (apt-get install -y $tool)"; done
daemon="$build/apps/discoveryd/discoveryd"
ctl="$build/apps/discoveryctl/discoveryctl"
for bin in "$daemon" "$ctl"; do
  [ -x "$bin" ] || die "$bin is missing; build it first:
  cmake --preset release && cmake --build build/release --target discoveryd discoveryctl"
done

# shellcheck source=lib.sh
source "$root/benchmarks/lib.sh"
bench_work soak
wait_listening() {  # file what
  for _ in $(seq 200); do grep -q '^listening on' "$1" 2>/dev/null && break; sleep 0.05; done
  grep -q '^listening on' "$1" || die "$2 did not start: $(tail -n 20 "$1")"
  sed -n 's/^listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$1"
}
peers() { python3 "$here/peers.py" "$@"; }

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
log "soak for $total s (warm-up $warmup s), a sample every $interval s; $(nproc) cores, load $load_before"
"$daemon" --listen 127.0.0.1:0 --storage memory --data-dir "$work/target" --health-checks off \
  --log-level warn > "$work/target.out" 2>&1 &
pids+=($!)
turl="$(wait_listening "$work/target.out" "the target discoveryd")"
"$daemon" --listen 127.0.0.1:0 --data-dir "$work/data" --health-checks on --probe-allow 127.0.0.0/8 \
  --log-level warn > "$work/daemon.out" 2> "$work/daemon.err" &
dpid=$!; pids+=("$dpid")
durl="$(wait_listening "$work/daemon.out" discoveryd)"
(umask 077; "$ctl" token --data-dir "$work/data" --sao diamond --ttl 6h --subject soak > "$work/token")
export TOKEN_FILE="$work/token" COMPARE_DIR="$here"
log "discoveryd $durl (pid $dpid), health-check target $turl"

log "registering 2,000 services checked every 2 s and 1,000 with a TTL (checked every 10 s)"
peers seed-soak "$durl" "$turl" 2000 2s 0 "$work/none"
peers seed-soak "$durl" "$turl" 0 10s 1000 "$work/ids"
# The discover load must render records: s7's 40 instances are in eu-west1.
# (Until 2026-11-25 it asked for us-west1 and every answer was empty.)
answered="$(peers answer "$durl" "/api/v1/services/discover?company=s7&region=eu-west1" "$work/answer")"
[ "$answered" -gt 0 ] || die "the soak's discover query matches no service"
log "the discover query answers $answered services"
sleep 5  # let the checker reach its steady state before the baseline

rss() { awk '/^VmRSS/ {print $2}' "/proc/$dpid/status"; }
fds() { ls "/proc/$dpid/fd" | wc -l; }
fd_kinds() {  # sockets, pipes, anon, files (a descriptor closed while listed is skipped)
  local s=0 p=0 a=0 f=0 t
  for l in /proc/"$dpid"/fd/*; do
    t="$(readlink "$l" 2>/dev/null || true)"
    case "$t" in "") ;; socket:*) s=$((s+1)) ;; pipe:*) p=$((p+1)) ;; anon_inode:*) a=$((a+1)) ;; *) f=$((f+1)) ;; esac
  done
  echo "$s sockets, $p pipes, $a anon, $f files"
}
# The health checker's connections come and go with its checks in flight, so
# a single count is noisy; a leaked descriptor never goes away, so the
# minimum of 20 counts over 5 s is what is compared. Prints "MIN KINDS".
fds_floor() {
  local best=999999 kinds="" n
  for _ in $(seq 20); do
    n="$(fds)"
    if [ "$n" -lt "$best" ]; then best="$n"; kinds="$(fd_kinds)"; fi
    sleep 0.25
  done
  echo "$best|$kinds"
}
metric() {  # the sum of a metric's series
  curl -s "$durl/metrics" | awk -v m="$1" '$1 == m || index($1, m "{") == 1 {s += $2} END {printf "%.0f\n", s}'
}
floor="$(fds_floor)"; fds_idle_before="${floor%%|*}"; kinds_before="${floor#*|}"; rss_idle_before="$(rss)"
checks_before="$(metric discovery_health_checks_passed_total)"
log "before the load: $(( rss_idle_before / 1024 )) MiB resident, $fds_idle_before descriptors ($kinds_before)"

export PRIMARY="$turl"
REQ_PATH="/api/v1/services/discover?company=s7&region=eu-west1" \
  wrk -t1 -c8 -d"${total}s" --latency -s "$here/get.lua" "$durl" > "$work/wrk.discover" 2>&1 &
pids+=($!)
INSTANCES=1000 COMPANIES=20 RUN=soak VARY=1 \
  wrk -t1 -c4 -d"${total}s" --latency -s "$here/register.lua" "$durl" > "$work/wrk.register" 2>&1 &
pids+=($!)
IDS_FILE="$work/ids" \
  wrk -t1 -c4 -d"${total}s" --latency -s "$here/heartbeat.lua" "$durl" > "$work/wrk.heartbeat" 2>&1 &
pids+=($!)
peers churn-watchers "$durl" 40 10 "$total" > "$work/watchers" 2>&1 &
pids+=($!)

start="$(date +%s)"
echo -e "seconds\trss_kib\tfds" > "$work/samples"
while :; do
  now=$(( $(date +%s) - start ))
  [ "$now" -ge "$total" ] && break
  kill -0 "$dpid" 2>/dev/null || die "discoveryd exited during the soak: $(tail -n 20 "$work/daemon.err")"
  r="$(rss)"; f="$(fds)"
  echo -e "$now\t$r\t$f" >> "$work/samples"
  log "$(printf '%4d/%d s  %6.1f MiB resident  %5d descriptors  services %s  watchers %s  load %s' \
    "$now" "$total" "$(awk -v r="$r" 'BEGIN {print r / 1024}')" "$f" "$(metric discovery_services)" \
    "$(metric discovery_watchers)" "$(cut -d' ' -f1 /proc/loadavg)")"
  sleep "$interval"
done
log "load over; waiting for the clients to finish"
for p in "${pids[@]:2}"; do wait "$p" || true; done
sleep 3
floor="$(fds_floor)"; fds_idle_after="${floor%%|*}"; kinds_after="${floor#*|}"; rss_idle_after="$(rss)"
checks_after="$(metric discovery_health_checks_passed_total)"
failed_checks="$(metric discovery_health_checks_failed_total)"
watchers_left="$(metric discovery_watchers)"
watchers_dropped="$(metric discovery_watchers_dropped_total)"
log "after the load: $(( rss_idle_after / 1024 )) MiB resident, $fds_idle_after descriptors ($kinds_after)"

figure() { grep "^$2=" "$work/wrk.$1" | cut -d= -f2; }
python3 - "$work/samples" "$warmup" "$(( total - 2 * interval ))" > "$work/growth" <<'PY'
import sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n")[1:] if l]
rows = [(int(s), int(r), int(f)) for s, r, f in rows]
warm = int(sys.argv[2])
# The load's clients start a moment before the first sample and so end a
# moment before the last ones: those, while the load winds down, are left out.
rows = [r for r in rows if r[0] <= int(sys.argv[3])] or rows
after = [r for r in rows if r[0] >= warm]
at_warm = after[:3]
last = rows[-3:]
base = sum(r[1] for r in at_warm) / len(at_warm)
end = sum(r[1] for r in last) / len(last)
peak = max(r[1] for r in after)
# least-squares slope of resident memory after warm-up, KiB per minute
n = len(after)
mx = sum(r[0] for r in after) / n
my = sum(r[1] for r in after) / n
den = sum((r[0] - mx) ** 2 for r in after) or 1
slope = sum((r[0] - mx) * (r[1] - my) for r in after) / den * 60
print(f"base={base:.0f}\nend={end:.0f}\npeak={peak}\ngrowth={100 * (end / base - 1):.2f}\n"
      f"peak_growth={100 * (peak / base - 1):.2f}\nslope={slope:.0f}\nsamples={len(rows)}\n"
      f"fds_min={min(r[2] for r in rows)}\nfds_max={max(r[2] for r in rows)}")
# the lowest descriptor count in the first and the last minute after warm-up
end_s = rows[-1][0]
early = [r[2] for r in after if r[0] < warm + 60] or [after[0][2]]
late = [r[2] for r in after if r[0] > end_s - 60] or [after[-1][2]]
print(f"fds_floor_early={min(early)}\nfds_floor_late={min(late)}")
PY
g() { grep "^$1=" "$work/growth" | cut -d= -f2; }
growth="$(g growth)"
leak=$(( fds_idle_after - fds_idle_before ))
mem_ok=missed; awk -v g="$growth" 'BEGIN {exit !(g <= 5)}' && mem_ok=met
fd_ok=missed; [ "$leak" -le 0 ] && fd_ok=met
label=""
[ "$total" -lt 600 ] && label=" (a SHORT run of $total s, not the 10-minute soak)"
{
  echo "# Soak: discoveryd under mixed load$label"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- command: \`benchmarks/soak.sh --duration $duration\` ($total s, warm-up $warmup s, a sample every $interval s)"
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after; the load runs on the same cores"
  echo "- daemon: release discoveryd, SQLite (fsync on), health checks on against a second discoveryd (--health-checks off) on 127.0.0.1; 3,000 services checked (2,000 every 2 s, 1,000 with a 10m TTL every 10 s)"
  echo "- load, all at once for the whole run: discover \`company=s7&region=eu-west1\` (wrk -t1 -c8), re-register of the same 1,000 instances with a new version each time (wrk -t1 -c4), heartbeat on 1,000 TTL services (wrk -t1 -c4), 40 SSE watchers (half filtered) with a quarter reconnecting every 10 s"
  echo
  echo "| load | requests | requests/s | p99 ms | errors |"
  echo "|---|---:|---:|---:|---:|"
  for w in discover register heartbeat; do
    echo "| $w | $(figure $w requests) | $(figure $w rps) | $(figure $w p99_ms) | $(figure $w errors) |"
  done
  echo "| watch | $(sed -n 's/^watch_streams_opened=//p' "$work/watchers") streams opened, $(sed -n 's/^watch_mib_read=//p' "$work/watchers") MiB of events read | | | $(sed -n 's/^watch_streams_refused=//p' "$work/watchers") refused |"
  echo "| health checks | $(( checks_after - checks_before )) passed | $(( (checks_after - checks_before) / total )) | | $failed_checks failed in all |"
  echo
  echo "| measure | figure | goal | |"
  echo "|---|---|---|---|"
  echo "| resident memory growth after warm-up (last 3 samples vs 3 at warm-up end) | $growth % ($(( $(g base) / 1024 )) → $(( $(g end) / 1024 )) MiB; peak $(( $(g peak) / 1024 )) MiB, $(g peak_growth) %; trend $(g slope) KiB/min) | ≤ 5 % | $mem_ok |"
  echo "| descriptors once the load stopped vs before it (minimum of 20 counts over 5 s) | $fds_idle_after vs $fds_idle_before ($(printf '%+d' "$leak")); before: $kinds_before; after: $kinds_after | no leak | $fd_ok |"
  echo "| descriptors under load | $(g fds_min)–$(g fds_max); lowest in the first minute after warm-up $(g fds_floor_early), in the last minute $(g fds_floor_late) | | |"
  echo "| watchers left open after the load | ${watchers_left:-?} | 0 | |"
  echo "| watch streams dropped by the daemon (too slow to read) | ${watchers_dropped:-?} | | |"
  echo
  echo "Resident memory idle before the load: $(( rss_idle_before / 1024 )) MiB; idle after it: $(( rss_idle_after / 1024 )) MiB."
  echo
  echo "<details><summary>samples (seconds, resident KiB, descriptors)</summary>"
  echo
  echo '```'
  cat "$work/samples"
  echo '```'
  echo "</details>"
} > "$results/$out"
cat "$results/$out"
