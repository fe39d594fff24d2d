#!/usr/bin/env bash
# Client timing: 1,000 sequential discovers (company + region filter, limit
# 10, 10 records per answer, of 200 registered) over loopback keep-alive, from
# the Node and from the Go client, against one discoveryd with memory
# storage. Not a test: figures go to benchmarks/results/clients.md by hand.
#   DISCOVERYD=build/release/apps/discoveryd/discoveryd benchmarks/clients/run.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
discoveryd="${DISCOVERYD:-$root/build/dev/apps/discoveryd/discoveryd}"
work="$(mktemp -d "${TMPDIR:-/tmp}/bench-clients.XXXXXX")"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
"$discoveryd" --listen 127.0.0.1:0 --storage memory --data-dir "$work/data" --log-level warn \
  >"$work/stdout" 2>"$work/stderr" </dev/null &
pid=$!
url=""
for _ in $(seq 300); do
  url="$(sed -n 's/^listening on \(http[^ ]*\).*/\1/p' "$work/stdout" | head -n1)"
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "discoveryd did not start" >&2; cat "$work/stderr" >&2; exit 1; }
export DISCOVERY_URL="$url" DISCOVERY_JWT_SECRET_FILE="$work/data/jwt-secret"

# Seed 200 records of company "bench": 100 in us-west1, 100 in eu-west1.
node --input-type=module -e '
import { DiscoveryClient } from "'"$root"'/bindings/node/src/index.js";
import { mintToken, readSecretFile } from "'"$root"'/bindings/node/src/testing.js";
const secret = await readSecretFile(process.env.DISCOVERY_JWT_SECRET_FILE);
const c = new DiscoveryClient({ baseUrl: process.env.DISCOVERY_URL, token: mintToken(secret, { sao: "diamond" }) });
for (let i = 0; i < 200; i++) await c.register({ companyName: "bench", instanceId: `bench-${i}`,
  serviceInfo: { region: i % 2 ? "eu-west1" : "us-west1", capabilities: ["tools"], endpoints: { primary: `https://b${i}.example.com` } } });
'
echo "machine: $(nproc) cores, $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
echo "daemon: $discoveryd"
node "$root/benchmarks/clients/discover.mjs"
(cd "$root/benchmarks/clients/go" && go run .)
