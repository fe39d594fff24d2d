"""mcp_discovery: service discovery for fleets of MCP servers, from Python.

- In process (the compiled library): :class:`Registry`, :class:`QueryEngine`,
  :class:`Server` (the HTTP API on a port, e.g. for tests), :class:`Query`,
  :class:`Context`.
- Over HTTP (standard library only): :class:`Client`.
- One exception tree for both: :class:`DiscoveryError` and its subclasses.
- A pytest plugin (``mcp_discovery.pytest_plugin``): the ``discovery_server`` fixture.
"""

from __future__ import annotations

from typing import Any

from .client import Client, WatchStream
from .errors import (Conflict, DiscoveryError, Internal, InvalidArgument, MethodNotAllowed, NotFound,
                     PayloadTooLarge, PermissionDenied, RateLimited, RequestHeaderTooLarge, Timeout,
                     TransportError, Unauthenticated, Unavailable, UnsupportedMediaType, error_from)
from .models import (AuditEntry, DiscoverPage, Endpoints, HealthCheck, HealthCheckConfig, HealthDetail,
                     HealthStatus, Heartbeat, McpInfo, McpTool, ServiceInfo, ServiceRecord, WatchEvent)
from .tokens import mint_token

__version__ = "0.1.0"

_EMBEDDED = ("Registry", "QueryEngine", "Server", "Watch", "Query", "Context", "generate_secret")


def __getattr__(name: str) -> Any:
    # The compiled part loads on first use, so the REST client works (and
    # says why the rest does not) where the extension is not built.
    if name in _EMBEDDED:
        try:
            from . import embedded
        except ImportError as e:
            raise ImportError(f"mcp_discovery.{name} needs the compiled module _discovery ({e}); "
                              "install the package with pip, or build with -DDISCOVERY_BUILD_PYTHON=ON") from e
        if name == "generate_secret":
            from ._discovery import generate_secret

            return generate_secret
        return getattr(embedded, name)
    raise AttributeError(f"module 'mcp_discovery' has no attribute {name!r}")


__all__ = [
    "Client", "WatchStream", "mint_token",
    "Registry", "QueryEngine", "Server", "Watch", "Query", "Context", "generate_secret",
    "DiscoveryError", "InvalidArgument", "Unauthenticated", "PermissionDenied", "NotFound", "MethodNotAllowed",
    "Conflict", "PayloadTooLarge", "UnsupportedMediaType", "RateLimited", "RequestHeaderTooLarge", "Internal",
    "Unavailable", "TransportError", "Timeout", "error_from",
    "ServiceRecord", "ServiceInfo", "Endpoints", "HealthStatus", "HealthCheckConfig", "McpInfo", "McpTool",
    "DiscoverPage", "HealthDetail", "HealthCheck", "Heartbeat", "WatchEvent", "AuditEntry",
]
