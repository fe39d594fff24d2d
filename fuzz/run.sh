#!/usr/bin/env bash
# Builds the libFuzzer targets (the fuzz preset: clang, ASan, UBSan) and runs
# each for SECONDS (default 60) from its seed corpus in fuzz/corpus/<target>/.
#   fuzz/run.sh [SECONDS] [TARGET...]
# New inputs go to build/fuzz/fuzz/corpus/<target>/ (kept between runs);
# crashes to build/fuzz/fuzz/artifacts/<target>/. Each target's last line of
# libFuzzer statistics (execs, cov, ft) goes to build/fuzz/fuzz/summary.txt.
# Exit status: 1 when any target found a crash.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_record_json fuzz_discover_query fuzz_jwt fuzz_merge_patch fuzz_http_router fuzz_mcp_wire)

cd "$root"
cmake --preset fuzz >/dev/null || exit 2
cmake --build build/fuzz -j "${JOBS:-$(nproc)}" --target "${targets[@]}" || exit 2

out="$root/build/fuzz/fuzz"
: >"$out/summary.txt"
failed=0
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
for t in "${targets[@]}"; do
  mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
  dict=()
  [ -f "$root/fuzz/dict/$t.dict" ] && dict=(-dict="$root/fuzz/dict/$t.dict")
  echo "== $t: ${seconds}s" >&2
  "$out/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/$t/" "${dict[@]}" "$out/corpus/$t" "$root/fuzz/corpus/$t" \
    >"$out/$t.log" 2>&1
  rc=$?
  stats=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$out/$t.log" | tail -1)
  execs=$(grep -E '^stat::number_of_executed_units' "$out/$t.log" | awk '{print $2}')
  echo "$t rc=$rc execs=${execs:-?} last: $stats" | tee -a "$out/summary.txt"
  if [ $rc -ne 0 ]; then
    failed=1
    grep -E 'ERROR|invariant|SUMMARY|Test unit written' "$out/$t.log" | head -5 >&2
  fi
done
exit $failed
