"""pytest plugin of mcp_discovery: a discovery server in one line.

Installed with the package (entry point ``pytest11``), so any test can ask for
the fixture::

    def test_my_provisioner(discovery_server):
        client = discovery_server.client                   # diamond (admin)
        rec = client.register({...})
        onyx = discovery_server.client_for("onyx", company="acme")
        token = discovery_server.mint_token("sapphire", company="acme")

``discovery_server`` is a fresh in-process server per test: the real HTTP API
on 127.0.0.1 with an ephemeral port, an in-memory registry (also reachable
directly as ``discovery_server.registry``) and a generated HS256 secret.
Without the entry point (a source checkout), enable it with
``-p mcp_discovery.pytest_plugin`` or ``pytest_plugins = ["mcp_discovery.pytest_plugin"]``.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

import pytest

from .client import Client
from .tokens import mint_token as _mint

__all__ = ["DiscoveryServer", "discovery_server"]


class DiscoveryServer:
    """What the fixture yields: ``url``, ``port``, ``secret``, ``registry``,
    ``server``, ``client`` (diamond), ``mint_token()`` and ``client_for()``."""

    def __init__(self, **server_options: Any) -> None:
        from .embedded import Registry, Server

        self.registry = Registry(ttl_sweep_interval=server_options.pop("ttl_sweep_interval", 1.0))
        self.server = Server(self.registry, log_level=server_options.pop("log_level", "error"), **server_options)
        self.secret: str = self.server.secret
        self.url: str = self.server.url
        self.port: int = self.server.port
        self.client = self.client_for("diamond", subject="pytest-admin")

    def mint_token(self, sao: str = "diamond", company: Optional[str] = None, *, subject: Optional[str] = None,
                   ttl: float = 3600.0, **extra_claims: Any) -> str:
        """An HS256 token of any level and company that this server accepts
        (negative ``ttl`` for an expired one; extra claims are added)."""
        return _mint(self.secret, sao, company, subject=subject, ttl=ttl, extra=extra_claims or None)

    def client_for(self, sao: str, company: Optional[str] = None, *, subject: Optional[str] = None,
                   **client_options: Any) -> Client:
        """A Client of this server with a token of that level and company."""
        return Client(self.url, token=self.mint_token(sao, company, subject=subject), **client_options)

    def close(self) -> None:
        self.client.close()
        self.server.stop()
        self.registry.close()

    def __enter__(self) -> "DiscoveryServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def discovery_server() -> Iterator[DiscoveryServer]:
    """A fresh in-process discovery server (memory storage, HS256) per test."""
    with DiscoveryServer() as server:
        yield server
