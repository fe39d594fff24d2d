#!/usr/bin/env bash
# Installs what building and testing mcp-discovery needs on Debian 12, and
# nothing when it is all present (so `make` stays fast and offline-friendly).
# Usage: cmake/install-deps.sh [--with-fuzz]
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
# The Python binding (DISCOVERY_BUILD_PYTHON, pip install ./bindings/python)
# compiles against Python.h; pybind11 itself comes from PyPI into the venv.
python3 -c 'import os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))' \
  2>/dev/null || packages+=(python3-dev)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
packages+=(curl)
# The Python binding compiles against Python's headers.
python3 -c 'import os, sysconfig; raise SystemExit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null \
  || packages+=(python3-dev)
# The Go client's tests (bindings/go targets Go 1.19, Debian 12's golang-go).
command -v go >/dev/null || packages+=(golang-go)
# The dashboard's browser test (tests/ui) drives Debian's Chromium headless.
packages+=(chromium)

# The asan build (make test-asan, part of make test) is clang's: its ASan/UBSan
# and libFuzzer runtimes, which --no-install-recommends would leave out.
# (--with-fuzz, once needed for them, is still accepted.)
packages+=(clang lld libclang-rt-14-dev)

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
