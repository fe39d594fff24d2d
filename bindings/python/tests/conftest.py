"""Shared fixtures: the real daemon (one per module) and bodies to register."""

from __future__ import annotations

import uuid

import pytest

from daemon import Daemon, binary

pytest_plugins = ["mcp_discovery.pytest_plugin"]


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
