#!/usr/bin/env bash
# Installs what building and testing mcp-discovery needs on Debian 12, and
# nothing when it is all present (so `make` stays fast and offline-friendly).
# Usage: cmake/install-deps.sh [--with-sanitizers]
set -euo pipefail

packages=(
  cmake ninja-build g++ make pkg-config
  libboost1.81-all-dev libboost-json1.81-dev   # Boost 1.81 (libboost-dev is 1.74: too old)
  libsqlite3-dev sqlite3 libssl-dev
  libbenchmark-dev
)

# The test suites also need Python with venv (pytest comes from PyPI into a
# virtual environment) and Node.js with npm (the OpenAPI validators).
python3 -c 'import venv, ensurepip' 2>/dev/null || packages+=(python3-venv)
command -v python3 >/dev/null || packages+=(python3)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
packages+=(curl)
# The dashboard's browser test (tests/ui) drives Debian's Chromium headless.
packages+=(chromium)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
