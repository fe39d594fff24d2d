#!/usr/bin/env bash
# Builds the mcp-discovery wheel (scikit-build-core, through `python -m build`),
# installs it into a fresh virtual environment, and runs the example test
# there with the pytest plugin found through its entry point.
# The CMake build directory is kept in build/python-wheel, so later runs only
# recompile what changed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$root/build/python-wheel"
mkdir -p "$work"
rm -rf "$work/dist" "$work/venv"
"$root/tests/python-env.sh" python -m build --wheel --outdir "$work/dist" \
  -C build-dir="$work/cmake" "$root/bindings/python"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "$work"/dist/mcp_discovery-*.whl pytest==8.3.3
cd "$work"  # not the source tree: the installed package must be the one imported
"$work/venv/bin/python" - <<'PY'
import mcp_discovery, mcp_discovery._discovery as ext
assert "site-packages" in mcp_discovery.__file__, mcp_discovery.__file__
with mcp_discovery.Registry() as r:
    r.register({"companyName": "wheel", "serviceInfo": {"endpoints": {"primary": "https://w.example.com"}}})
    assert r.discover(company="wheel").count == 1
print("wheel:", mcp_discovery.__file__, ext.__version__)
PY
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$root/examples/python/test_with_fixture.py"
