"""The values mcp_discovery returns: attribute access over API.md's JSON.

Each model wraps the JSON object of API.md. Attributes are snake_case, times
are timezone-aware ``datetime`` objects, and ``to_dict()`` returns the JSON
shape itself (camelCase, RFC 3339 strings), a fresh copy each time. The same
classes come back from the in-process binding and from the REST client.

Records from the binding are converted lazily: a ServiceRecord holds the
library's immutable record and builds its dict on the first attribute that
needs it (``service_id``, ``company_name``, ``instance_id`` and ``status`` never do).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Dict, Generic, Iterator, List, Mapping, Optional, TypeVar, overload

__all__ = [
    "ServiceRecord", "ServiceInfo", "Endpoints", "HealthStatus", "HealthCheckConfig", "McpInfo", "McpTool",
    "DiscoverPage", "HealthDetail", "HealthCheck", "Heartbeat", "WatchEvent", "AuditEntry", "parse_time",
]

T = TypeVar("T")


def parse_time(text: Optional[str]) -> Optional[datetime]:
    """An RFC 3339 time of the API ("2026-01-31T12:00:00.123Z") as an aware datetime."""
    if text is None:
        return None
    return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)


class _Field(Generic[T]):
    """A read-only attribute backed by one key of the model's JSON."""

    def __init__(self, key: str, convert: Optional[Callable[[Any], T]] = None, default: Any = None) -> None:
        self.key, self.convert, self.default = key, convert, default

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> "_Field[T]": ...
    @overload
    def __get__(self, obj: "_Model", owner: type) -> T: ...

    def __get__(self, obj, owner):
        if obj is None:
            return self
        value = obj._json().get(self.key, self.default)
        if value is None or self.convert is None:
            return value
        return self.convert(value)


def _copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data (several times faster than a generic deep copy)."""
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    return value


class _Model:
    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        if not isinstance(data, Mapping):
            raise TypeError(f"{type(self).__name__} needs a JSON object, not {type(data).__name__}")
        self._data: Optional[Dict[str, Any]] = dict(data)

    def _json(self) -> Dict[str, Any]:
        return self._data  # type: ignore[return-value]

    def to_dict(self) -> Dict[str, Any]:
        """The JSON object of API.md (a deep copy: changing it changes nothing here)."""
        return _copy_json(self._json())

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._json() == other._json()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._json()!r})"


def _dict(value: Any) -> Dict[str, Any]:
    return _copy_json(value)


def _strings(value: Any) -> List[str]:
    return list(value)


class Endpoints(_Model):
    __slots__ = ()
    primary = _Field[str]("primary")
    health = _Field[Optional[str]]("health")
    metrics = _Field[Optional[str]]("metrics")
    mcp = _Field[Optional[str]]("mcp")


class ServiceInfo(_Model):
    __slots__ = ()
    version = _Field[Optional[str]]("version")
    capabilities = _Field[List[str]]("capabilities", _strings, ())
    region = _Field[Optional[str]]("region")
    environment = _Field[Optional[str]]("environment")
    endpoints = _Field[Endpoints]("endpoints", Endpoints, {})


class HealthStatus(_Model):
    __slots__ = ()
    last_check = _Field[Optional[datetime]]("lastCheck", parse_time)
    response_time = _Field[Optional[float]]("responseTime")
    uptime = _Field[Optional[float]]("uptime")
    consecutive_failures = _Field[int]("consecutiveFailures", None, 0)
    consecutive_successes = _Field[int]("consecutiveSuccesses", None, 0)
    last_failure = _Field[Optional[datetime]]("lastFailure", parse_time)
    last_error = _Field[Optional[str]]("lastError")


class HealthCheckConfig(_Model):
    """Durations stay API strings ("30s"); ``ttl`` is None without a heartbeat TTL."""

    __slots__ = ()
    interval = _Field[str]("interval")
    timeout = _Field[str]("timeout")
    retries = _Field[int]("retries")
    failure_threshold = _Field[int]("failureThreshold")
    success_threshold = _Field[int]("successThreshold")
    endpoints = _Field[List[str]]("endpoints", _strings, ())
    expected_status = _Field[Any]("expectedStatus")
    mcp = _Field[bool]("mcp", None, False)
    ttl = _Field[Optional[str]]("ttl")
    alerting = _Field[Dict[str, Any]]("alerting", _dict, {})


class McpTool(_Model):
    __slots__ = ()
    name = _Field[str]("name")
    title = _Field[Optional[str]]("title")
    description = _Field[Optional[str]]("description")


class McpInfo(_Model):
    """What the MCP server said in its handshake and tools/list (read-only)."""

    __slots__ = ()
    protocol_version = _Field[Optional[str]]("protocolVersion")
    transport = _Field[Optional[str]]("transport")
    server_info = _Field[Dict[str, Any]]("serverInfo", _dict, {})
    capabilities = _Field[Dict[str, Any]]("capabilities", _dict, {})
    tools = _Field[List[McpTool]]("tools", lambda v: [McpTool(t) for t in v], ())
    introspected_at = _Field[Optional[datetime]]("introspectedAt", parse_time)


class ServiceRecord(_Model):
    """One registered MCP instance (API.md, "Service record")."""

    __slots__ = ("_handle", "created")

    def __init__(self, data: Mapping[str, Any], *, created: Optional[bool] = None) -> None:
        super().__init__(data)
        self._handle: Any = None
        #: True/False on what register() returned (new, or a re-registration); None otherwise.
        self.created = created

    @classmethod
    def _from_handle(cls, handle: Any, created: Optional[bool] = None) -> "ServiceRecord":
        record = cls.__new__(cls)
        record._data = None
        record._handle = handle
        record.created = created
        return record

    def _json(self) -> Dict[str, Any]:
        if self._data is None:
            self._data = self._handle.to_dict()
        return self._data

    def to_dict(self) -> Dict[str, Any]:
        """The JSON object of API.md (a fresh copy: changing it changes nothing here)."""
        if self._handle is not None:
            return self._handle.to_dict()  # built anew from the immutable library record
        return _copy_json(self._data)

    # The identity fields come straight from the library record when there is one.
    @property
    def service_id(self) -> str:
        return self._handle.service_id if self._data is None else self._data["serviceId"]

    @property
    def company_name(self) -> str:
        return self._handle.company_name if self._data is None else self._data["companyName"]

    @property
    def instance_id(self) -> str:
        return self._handle.instance_id if self._data is None else self._data["instanceId"]

    @property
    def status(self) -> str:
        """active, inactive, maintenance or unhealthy."""
        return self._handle.status if self._data is None else self._data["status"]

    domain = _Field[str]("domain")
    health_status = _Field[HealthStatus]("healthStatus", HealthStatus, {})
    service_info = _Field[ServiceInfo]("serviceInfo", ServiceInfo, {})
    mcp = _Field[Optional[McpInfo]]("mcp", McpInfo)
    health_check_config = _Field[HealthCheckConfig]("healthCheckConfig", HealthCheckConfig, {})
    personal_config = _Field[Optional[Dict[str, Any]]]("personalConfig", _dict)
    demo_config = _Field[Optional[Dict[str, Any]]]("demoConfig", _dict)
    sao_level = _Field[str]("saoLevel")
    registered_at = _Field[datetime]("registeredAt", parse_time)
    last_updated = _Field[datetime]("lastUpdated", parse_time)
    tags = _Field[List[str]]("tags", _strings, ())
    metadata = _Field[Dict[str, Any]]("metadata", _dict, {})

    # Shorthands for what a caller most often wants.
    @property
    def region(self) -> Optional[str]:
        return self.service_info.region

    @property
    def capabilities(self) -> List[str]:
        return self.service_info.capabilities

    @property
    def primary_endpoint(self) -> str:
        return self.service_info.endpoints.primary

    def __repr__(self) -> str:
        return f"ServiceRecord(service_id={self.service_id!r}, company_name={self.company_name!r}, " \
               f"instance_id={self.instance_id!r}, status={self.status!r})"


class DiscoverPage:
    """One page of a discover answer; iterate it for the records.

    ``services``, ``count`` (records in this page), ``next_cursor`` (None on the
    last page) and ``index`` (the registry's change index at the answer).
    """

    __slots__ = ("services", "next_cursor", "index")

    def __init__(self, services: List[ServiceRecord], next_cursor: Optional[str], index: int) -> None:
        self.services = services
        self.next_cursor = next_cursor
        self.index = index

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DiscoverPage":
        return cls([ServiceRecord(s) for s in data["services"]], data.get("nextCursor"), int(data["index"]))

    @property
    def count(self) -> int:
        return len(self.services)

    def __iter__(self) -> Iterator[ServiceRecord]:
        return iter(self.services)

    def __len__(self) -> int:
        return len(self.services)

    def to_dict(self) -> Dict[str, Any]:
        return {"services": [s.to_dict() for s in self.services], "count": len(self.services),
                "nextCursor": self.next_cursor, "index": self.index}

    def __repr__(self) -> str:
        return f"DiscoverPage(count={self.count}, next_cursor={self.next_cursor!r}, index={self.index})"


class HealthCheck(_Model):
    __slots__ = ()
    at = _Field[datetime]("at", parse_time)
    ok = _Field[bool]("ok")
    response_time = _Field[Optional[float]]("responseTime")
    endpoint = _Field[Optional[str]]("endpoint")
    error = _Field[Optional[str]]("error")


class HealthDetail(_Model):
    """GET .../health: status, healthStatus and the recent checks (newest first)."""

    __slots__ = ()
    service_id = _Field[str]("serviceId")
    status = _Field[str]("status")
    health_status = _Field[HealthStatus]("healthStatus", HealthStatus, {})
    recent_checks = _Field[List[HealthCheck]]("recentChecks", lambda v: [HealthCheck(c) for c in v], ())


class Heartbeat(_Model):
    """POST .../heartbeat: ``expires_at`` is None when the service has no TTL."""

    __slots__ = ()
    service_id = _Field[str]("serviceId")
    status = _Field[str]("status")
    expires_at = _Field[Optional[datetime]]("expiresAt", parse_time)


class AuditEntry(_Model):
    __slots__ = ()
    at = _Field[datetime]("at", parse_time)
    request_id = _Field[str]("requestId")
    subject = _Field[str]("subject")
    sao = _Field[str]("sao")
    company = _Field[str]("company")
    action = _Field[str]("action")
    service_id = _Field[str]("serviceId")
    result = _Field[str]("result")


class WatchEvent:
    """One change: ``index``, ``type`` ("upsert", "status" or "delete") and the
    ``service`` record (for a delete, its last state)."""

    __slots__ = ("index", "type", "service")

    def __init__(self, index: int, type: str, service: ServiceRecord) -> None:
        self.index, self.type, self.service = index, type, service

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "WatchEvent":
        return cls(int(data["index"]), data["type"], ServiceRecord(data["service"]))

    def to_dict(self) -> Dict[str, Any]:
        return {"index": self.index, "type": self.type, "service": self.service.to_dict()}

    def __repr__(self) -> str:
        return f"WatchEvent(index={self.index}, type={self.type!r}, service={self.service!r})"
