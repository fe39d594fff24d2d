#!/usr/bin/env bash
# discoveryd's MCP Registry API against the official OpenAPI document and
# server.json schema (spec/). Installs the pinned validators from
# package-lock.json when node_modules is missing or older than the lock file;
# reaches the npm registry only then. Needs Node.js >= 20.19, and the daemon
# in $DISCOVERYD (default build/dev/apps/discoveryd/discoveryd).
set -euo pipefail
cd "$(dirname "$0")"
export npm_config_update_notifier=false
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "mcp-registry: installing the pinned validators (npm ci)"
  npm ci --no-audit --no-fund
fi
exec node --test --test-reporter=spec registry.test.mjs
