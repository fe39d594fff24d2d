#!/usr/bin/env bash
# schemathesis against a real discoveryd (see run.py). Its own virtual
# environment ($DISCOVERY_SCHEMATHESIS_VENV, default build/venv-schemathesis),
# created from requirements.txt (pinned, from PyPI) when missing or changed.
#   tests/schemathesis/run.sh [--short] [--max-examples N] [--seed S]
# The daemon is $DISCOVERYD, else build/dev/apps/discoveryd/discoveryd.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${DISCOVERY_SCHEMATHESIS_VENV:-$root/build/venv-schemathesis}"
req="$here/requirements.txt"
if [ ! -x "$venv/bin/schemathesis" ] || ! cmp -s "$req" "$venv/.requirements"; then
  echo "schemathesis: preparing $venv" >&2
  mkdir -p "$(dirname "$venv")"
  exec 9>"$venv.lock"
  flock 9
  if [ ! -x "$venv/bin/schemathesis" ] || ! cmp -s "$req" "$venv/.requirements"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$venv/.requirements"
  fi
  flock -u 9
fi
exec "$venv/bin/python" "$here/run.py" "$@"
