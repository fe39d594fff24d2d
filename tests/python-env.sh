#!/usr/bin/env bash
# Runs a command in the tests' Python virtual environment, creating it (and
# installing tests/requirements.txt from PyPI) when missing or out of date.
#   tests/python-env.sh python -m pytest tests/integration
# The environment lives in $DISCOVERY_VENV (default build/venv).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${DISCOVERY_VENV:-$root/build/venv}"
req="$root/tests/requirements.txt"
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$stamp"; then
  echo "python-env: preparing $venv" >&2
  # Concurrent test runs share the environment; one builds it.
  mkdir -p "$(dirname "$venv")"
  exec 9>"$venv.lock"
  flock 9
  if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$stamp"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
  fi
  flock -u 9
fi
exec "$venv/bin/$1" "${@:2}"
