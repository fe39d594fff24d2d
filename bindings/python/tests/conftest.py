"""Shared fixtures: the real daemon (one per module) and bodies to register."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

try:
    import mcp_discovery  # noqa: F401  (installed, or the build tree on PYTHONPATH)
except ImportError:
    # A source checkout without a build: the REST client is pure Python.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from daemon import Daemon, binary

# The plugin's fixture, imported rather than listed in pytest_plugins: where
# the package is installed its entry point has loaded the plugin already, and
# registering the module a second time under another name is an error.
from mcp_discovery.pytest_plugin import discovery_server  # noqa: E402,F401


def body(company: str, instance: str | None = None, **fields):
    """A valid registration body; keywords replace top-level fields."""
    out = {
        "companyName": company,
        "instanceId": instance or f"{company}-{uuid.uuid4().hex[:12]}",
        "serviceInfo": {
            "version": "1.0.0",
            "capabilities": ["tools"],
            "region": "us-west1",
            "environment": "production",
            "endpoints": {"primary": f"https://mcp.{company}.example.com"},
        },
        "tags": [],
    }
    out.update(fields)
    return out


def company() -> str:
    return "co-" + uuid.uuid4().hex[:10]


@pytest.fixture(scope="module")
def daemon():
    if binary() is None:
        pytest.skip("discoveryd is not built")
    d = Daemon()
    yield d
    d.stop()
