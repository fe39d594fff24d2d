#!/usr/bin/env bash
# The /ui dashboard in headless Chromium (Debian's chromium package, or
# $CHROMIUM), driven by playwright-core against a discoveryd the test starts
# ($DISCOVERYD, default build/dev/apps/discoveryd/discoveryd). Screenshots go to
# $UI_ARTIFACTS (default build/ui-artifacts). Installs the pinned
# playwright-core from package-lock.json when node_modules is missing or older
# than the lock file; it downloads no browser.
set -euo pipefail
cd "$(dirname "$0")"
export npm_config_update_notifier=false
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "ui: installing the pinned playwright-core (npm ci)"
  npm ci --no-audit --no-fund
fi
exec node --test --test-reporter=spec ui.test.mjs
