#!/usr/bin/env bash
# Crash safety of discoveryd (SQLite) under write load: SIGKILL N times at
# random moments, restart, check every acknowledged write and the database's
# integrity. See crash.py for what is checked.
#   tests/reliability/crash.sh [KILLS] [crash.py options...]   (KILLS default 20)
# The daemon is $DISCOVERYD, else build/dev/apps/discoveryd/discoveryd.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kills="${1:-20}"
shift || true
exec python3 "$here/crash.py" --kills "$kills" "$@"
