"""The pytest fixture: what a user's test gets from `discovery_server`."""

from __future__ import annotations

import pytest

from mcp_discovery import Client, NotFound, PermissionDenied, TransportError, Unauthenticated
from mcp_discovery.pytest_plugin import DiscoveryServer

from conftest import body


def test_fixture_gives_a_ready_admin_client(discovery_server):
    assert discovery_server.url == f"http://127.0.0.1:{discovery_server.port}"
    assert discovery_server.port > 0
    rec = discovery_server.client.register(body("acme"))
    # The in-process registry behind it is the same one.
    assert discovery_server.registry.get(rec.service_id).company_name == "acme"
    assert [e.action for e in discovery_server.client.audit()] == ["register"]


def test_fixture_mints_tokens_of_any_level(discovery_server):
    sid = discovery_server.client.register(body("acme")).service_id
    assert discovery_server.client_for("onyx", "acme").get(sid).service_id == sid
    with pytest.raises(PermissionDenied):
        discovery_server.client_for("onyx", "acme").patch(sid, {"tags": ["x"]})
    with pytest.raises(NotFound):
        discovery_server.client_for("opal", "globex").get(sid)
    token = discovery_server.mint_token("sapphire", "acme", subject="provisioner")
    assert Client(discovery_server.url, token=token).set_status(sid, "maintenance").status == "maintenance"
    expired = discovery_server.mint_token("diamond", ttl=-120)
    with pytest.raises(Unauthenticated):
        Client(discovery_server.url, token=expired).discover()
    with pytest.raises(ValueError):
        discovery_server.mint_token("onyx")  # onyx needs a company


def test_each_test_gets_a_fresh_server(discovery_server):
    assert discovery_server.client.discover().count == 0


def test_the_server_is_gone_after_the_fixture():
    with DiscoveryServer() as s:
        c = Client(s.url, token=s.mint_token(), retries=0)
        assert c.discover().count == 0
    with pytest.raises(TransportError):
        c.discover()
