#!/usr/bin/env bash
# Runs the Node and Go quickstarts against a fresh discoveryd, as a newcomer
# would, so that they keep working. Builds nothing but the Go program.
#   DISCOVERYD=... DISCOVERYCTL=... examples/run_quickstarts.sh
# The token goes to the quickstarts through the environment only.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
discoveryd="${DISCOVERYD:-$root/build/dev/apps/discoveryd/discoveryd}"
discoveryctl="${DISCOVERYCTL:-$root/build/dev/apps/discoveryctl/discoveryctl}"
work="$(mktemp -d "${TMPDIR:-/tmp}/quickstarts.XXXXXX")"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

deathsig=()
if command -v setpriv >/dev/null 2>&1; then deathsig=(setpriv --pdeathsig KILL --); fi
env -u DISCOVERY_URL -u DISCOVERY_TOKEN "${deathsig[@]}" "$discoveryd" --listen 127.0.0.1:0 --storage memory \
  --data-dir "$work/data" --log-level warn >"$work/stdout" 2>"$work/stderr" </dev/null &
pid=$!
url=""
for _ in $(seq 300); do
  url="$(sed -n 's/^listening on \(http[^ ]*\).*/\1/p' "$work/stdout" | head -n1)"
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/stderr" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "quickstarts: discoveryd did not start" >&2; exit 1; }

export DISCOVERY_URL="$url"
DISCOVERY_TOKEN="$("$discoveryctl" token --sao sapphire --company acme --ttl 10m --data-dir "$work/data")"
export DISCOVERY_TOKEN

status=0
echo "::: node examples/node/quickstart.mjs"
(cd "$root/examples/node" && { [ -e node_modules/@mcp-discovery/client ] || npm install --no-audit --no-fund --offline >/dev/null 2>&1 || npm install --no-audit --no-fund >/dev/null; } && node quickstart.mjs) || status=1
echo "::: go examples/go/quickstart"
(cd "$root/examples/go" && go run ./quickstart) || status=1
if [ $status -ne 0 ]; then
  echo "::: discoveryd's log (stderr)" >&2
  tail -n 30 "$work/stderr" >&2
fi
exit $status
