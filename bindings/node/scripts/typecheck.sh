#!/usr/bin/env bash
# Type-checks the package's declarations (src/*.d.ts) and test/types-check.ts,
# which uses the API as a TypeScript user does and must reject what the
# declarations forbid, with the pinned TypeScript of package-lock.json
# (installed by `npm ci` when node_modules is missing or older than the lock).
set -euo pipefail
cd "$(dirname "$0")/.."
export npm_config_update_notifier=false
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "node client: installing the pinned TypeScript (npm ci)"
  npm ci --no-audit --no-fund
fi
node_modules/.bin/tsc --version
exec node_modules/.bin/tsc --noEmit -p .
