#!/usr/bin/env bash
# Validates the OpenAPI document that discoveryd serves at GET /openapi.json
# (libdiscovery/src/server/openapi.json): Redocly CLI's recommended lint,
# swagger-parser's OpenAPI 3.1 validation, and the contract checks of
# validate.mjs. Installs the pinned validators from package-lock.json when
# node_modules is missing or older than the lock file. Needs Node.js >= 20.19
# and npm; reaches the npm registry only to install, nothing at run time.
set -euo pipefail
cd "$(dirname "$0")"

# No telemetry, update checks or notices from Redocly or npm.
export REDOCLY_TELEMETRY=off
export REDOCLY_SUPPRESS_UPDATE_NOTICE=true
export REDOCLY_SUPPRESS_NOTIFICATIONS=true
export npm_config_update_notifier=false

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "openapi: node and npm are required (Node.js >= 20.19)" >&2
  exit 1
fi
echo "openapi: node $(node --version), npm $(npm --version)"

# npm writes node_modules/.package-lock.json on every install: its age is the
# age of node_modules.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "openapi: installing the pinned validators (npm ci)"
  npm ci --no-audit --no-fund
fi

exec node validate.mjs "$@"
