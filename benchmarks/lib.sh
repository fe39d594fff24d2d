# Shared by the benchmark scripts (sourced, after `set -euo pipefail`).
#
# bench_work NAME: a fresh work directory in $work (under $TMPDIR), and traps
# that, on any exit, stop every background process whose pid the script added
# to $pids, then remove $work (kept, and named, when the script set keep=1).
bench_work() {
  work="$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")"
  pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  local status=$?
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${keep:-0}" = 1 ]; then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
  exit "$status"
}
