#!/usr/bin/env bash
# The conformance scenario (README.md beside this file) for every REST client
# against ONE discoveryd: starts the daemon ($DISCOVERYD, default the dev
# build), then runs the Node, Go and Python conformance tests against it, one
# after the other; fails if any fails. Builds nothing.
#
#   DISCOVERYD=build/dev/apps/discoveryd/discoveryd tests/conformance/run.sh [node|go|python ...]
#
# The tests receive DISCOVERY_URL and DISCOVERY_JWT_SECRET_FILE and mint
# their own tokens; no token or secret appears on a command line or in a log.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
discoveryd="${DISCOVERYD:-$root/build/dev/apps/discoveryd/discoveryd}"
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(node go python)

if [ ! -x "$discoveryd" ]; then
  echo "conformance: no discoveryd at $discoveryd (set DISCOVERYD)" >&2
  exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/conformance.XXXXXX")"
daemon_pid=""
cleanup() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The daemon's first start prints a diamond token: it stays in $work, which
# is private (mktemp -d) and removed on exit. setpriv makes it die with us.
deathsig=()
if command -v setpriv >/dev/null 2>&1; then deathsig=(setpriv --pdeathsig KILL --); fi
env -u DISCOVERY_URL -u DISCOVERY_JWT_SECRET_FILE -u DISCOVERY_CONFIG -u DISCOVERY_DATA_DIR \
  "${deathsig[@]}" "$discoveryd" --listen 127.0.0.1:0 --storage memory --data-dir "$work/data" \
  --log-level warn >"$work/stdout" 2>"$work/stderr" </dev/null &
daemon_pid=$!

url=""
for _ in $(seq 300); do
  url="$(sed -n 's/^listening on \(https\{0,1\}:\/\/[^ ]*\).*/\1/p' "$work/stdout" | head -n1)"
  [ -n "$url" ] && break
  if ! kill -0 "$daemon_pid" 2>/dev/null; then
    echo "conformance: discoveryd exited before listening:" >&2
    tail -n 20 "$work/stderr" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "conformance: discoveryd did not start within 30 s" >&2
  exit 1
fi
export DISCOVERY_URL="$url"
export DISCOVERY_JWT_SECRET_FILE="$work/data/jwt-secret"
export DISCOVERYD="$discoveryd"
echo "conformance: discoveryd at $url"

declare -A outcome
failed=0
# run_client NAME DIR COMMAND...: runs COMMAND in DIR and records the outcome.
run_client() {
  local name="$1" dir="$2"; shift 2
  local start=$SECONDS
  echo "::: conformance $name: (cd ${dir#"$root/"} && $*)"
  if (cd "$dir" && "$@"); then
    outcome[$name]="passed ($((SECONDS - start)) s)"
  else
    outcome[$name]="FAILED ($((SECONDS - start)) s)"
    failed=$((failed + 1))
  fi
}

for client in "${clients[@]}"; do
  case "$client" in
    node)
      if ! command -v node >/dev/null 2>&1; then
        outcome[node]="FAILED (node not installed)"; failed=$((failed + 1)); continue
      fi
      run_client node "$root/bindings/node" node --test test/conformance.test.js ;;
    go)
      if ! command -v go >/dev/null 2>&1; then
        outcome[go]="FAILED (go not installed)"; failed=$((failed + 1)); continue
      fi
      run_client go "$root/bindings/go" go test -count=1 ./conformance ;;
    python)
      test_file="$root/bindings/python/tests/test_conformance.py"
      if [ ! -f "$test_file" ]; then
        outcome[python]="not run (no $test_file yet)"; continue
      fi
      run_client python "$root" tests/python-env.sh python -m pytest -q -p no:cacheprovider "$test_file" ;;
    *)
      echo "conformance: unknown client '$client' (node, go, python)" >&2; exit 2 ;;
  esac
done

if ! kill -0 "$daemon_pid" 2>/dev/null; then
  echo "conformance: discoveryd died during the run:" >&2
  tail -n 20 "$work/stderr" >&2
  failed=$((failed + 1))
fi

echo "::: conformance summary"
for client in "${clients[@]}"; do echo "  $client: ${outcome[$client]:-not run}"; done
exit $(( failed > 0 ))
