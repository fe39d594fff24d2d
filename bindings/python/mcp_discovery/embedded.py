"""The library in process: Registry, QueryEngine, Server (the compiled binding).

    from mcp_discovery import Registry, Server

    with Registry() as registry:                     # memory storage
        rec = registry.register({"companyName": "acme",
                                 "serviceInfo": {"endpoints": {"primary": "https://mcp.acme.example"}}})
        page = registry.discover(company="acme")

    registry = Registry("/var/lib/discovery/discovery.db")   # SQLite (WAL), durable

Calls are trusted (diamond) unless a ``context=Context(...)`` says who asks;
a context is written to the audit log. Every call that may block releases
the GIL, so threads calling into one registry run concurrently.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

from . import _discovery
from .models import AuditEntry, DiscoverPage, HealthDetail, HealthStatus, Heartbeat, ServiceRecord, WatchEvent

__all__ = ["Registry", "QueryEngine", "Server", "Watch", "Query", "Context"]

Query = _discovery.Query
Context = _discovery.Context

_FILTERS = ("company", "region", "environment", "status", "sao_level", "capabilities", "tags", "tools")


def _list(value: Union[None, str, Iterable[str]]) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    return list(value)


def make_query(query: Optional[Query] = None, *, company: Optional[str] = None, region: Optional[str] = None,
               environment: Optional[str] = None, status: Optional[str] = None, sao_level: Optional[str] = None,
               capabilities: Union[None, str, Iterable[str]] = None, tags: Union[None, str, Iterable[str]] = None,
               tools: Union[None, str, Iterable[str]] = None, limit: int = 100, cursor: Optional[str] = None
               ) -> Query:
    """A Query from keyword filters (lists may also be comma-separated strings)."""
    if query is not None:
        given = [name for name, value in (("company", company), ("region", region), ("environment", environment),
                                          ("status", status), ("sao_level", sao_level),
                                          ("capabilities", capabilities), ("tags", tags), ("tools", tools),
                                          ("cursor", cursor)) if value is not None]
        if given or limit != 100:
            raise TypeError(f"give a Query or keyword filters, not both ({', '.join(given) or 'limit'})")
        return query
    return Query(company=company or "", region=region or "", environment=environment or "", status=status,
                 sao_level=sao_level, capabilities=_list(capabilities), tags=_list(tags), tools=_list(tools),
                 limit=limit, cursor=cursor or "")


def _page(raw: Tuple[List[Any], Optional[str], int]) -> DiscoverPage:
    handles, next_cursor, index = raw
    wrap = ServiceRecord._from_handle
    return DiscoverPage([wrap(h) for h in handles], next_cursor, index)


def _event(raw) -> WatchEvent:
    index, kind, record, _previous = raw
    return WatchEvent(index, kind, ServiceRecord._from_handle(record))


class Registry:
    """The records of a fleet and every change to them.

    ``Registry()`` or ``Registry(":memory:")`` keeps everything in memory;
    ``Registry(path)`` opens (creating) a SQLite database, which one process
    at a time may hold. Thread-safe. Use as a context manager or call
    :meth:`close`; a server or watch started on it keeps it open until it stops.

    Keywords: ``min_check_interval`` (seconds, the shortest
    healthCheckConfig.interval accepted, default 1), ``ttl_sweep_interval``
    (seconds between heartbeat-TTL sweeps, 0 to disable and call
    :meth:`expire_heartbeats` yourself), ``sqlite_sync`` (fsync each commit),
    ``retained_events`` (changes kept for :meth:`events_since`).
    """

    def __init__(self, path: Union[None, str, "os.PathLike[str]"] = None, *, min_check_interval: float = 1.0,
                 ttl_sweep_interval: float = 1.0, sqlite_sync: bool = True, retained_events: int = 10000) -> None:
        self._core = _discovery.Registry(None if path is None else os.fspath(path),
                                         min_check_interval=min_check_interval,
                                         ttl_sweep_interval=ttl_sweep_interval, sqlite_sync=sqlite_sync,
                                         retained_events=retained_events)
        self.engine = QueryEngine(self)

    # -- lifetime --
    def close(self) -> None:
        """Releases the registry (and the SQLite file, once no server or watch uses it)."""
        self._core.close()

    @property
    def closed(self) -> bool:
        return self._core.closed

    @property
    def storage(self) -> str:
        """"memory" or "sqlite:/path"."""
        return self._core.storage

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- changes --
    def register(self, body: Optional[Mapping[str, Any]] = None, *, context: Optional[Context] = None,
                 **fields: Any) -> ServiceRecord:
        """Registers a service (the JSON body of POST /services/register, as a dict;
        keyword arguments are added as top-level fields). Re-registering the same
        (companyName, instanceId) updates it and keeps its serviceId; the record's
        ``created`` tells which happened."""
        payload = dict(body or {})
        payload.update(fields)
        handle, created = self._core.register(payload, context)
        return ServiceRecord._from_handle(handle, created)

    def update(self, service_id: str, patch: Mapping[str, Any], *, context: Optional[Context] = None
               ) -> ServiceRecord:
        """Applies a JSON merge patch (RFC 7396) to the writable fields."""
        return ServiceRecord._from_handle(self._core.update(service_id, dict(patch), context))

    def set_status(self, service_id: str, status: str, *, context: Optional[Context] = None) -> ServiceRecord:
        """Operator status: active, inactive, maintenance or unhealthy."""
        return ServiceRecord._from_handle(self._core.set_status(service_id, status, context))

    def heartbeat(self, service_id: str, *, context: Optional[Context] = None) -> Heartbeat:
        return Heartbeat(self._core.heartbeat(service_id, context))

    def report_health(self, service_id: str, ok: bool, *, response_time: Optional[float] = None,
                      message: str = "", context: Optional[Context] = None) -> HealthStatus:
        """Counts an external check outcome, as PUT .../health does."""
        return HealthStatus(self._core.report_health(service_id, bool(ok), response_time, message, "external",
                                                     context))

    def deregister(self, service_id: str, *, context: Optional[Context] = None) -> None:
        self._core.deregister(service_id, context)

    # -- reads --
    def get(self, service_id: str) -> ServiceRecord:
        """The record, or NotFound."""
        return ServiceRecord._from_handle(self._core.get(service_id))

    def find(self, company: str, instance_id: str) -> ServiceRecord:
        """The record of (company, instanceId), or NotFound."""
        return ServiceRecord._from_handle(self._core.find(company, instance_id))

    def health(self, service_id: str) -> HealthDetail:
        return HealthDetail(self._core.health(service_id))

    def discover(self, query: Optional[Query] = None, **filters: Any) -> DiscoverPage:
        """One page of records matching every filter (see :func:`make_query`)."""
        return _page(self._core.discover(make_query(query, **filters)))

    def iter_discover(self, query: Optional[Query] = None, **filters: Any) -> Iterator[ServiceRecord]:
        """Every matching record, page after page (each exactly once)."""
        return self.engine.iter_discover(query, **filters)

    @property
    def index(self) -> int:
        """The highest change index applied."""
        return self._core.index

    def __len__(self) -> int:
        return self._core.size()

    def count_by_status(self) -> Dict[str, int]:
        return self._core.count_by_status()

    def wait_for_index(self, index: int, timeout: float) -> int:
        """Blocks (GIL released) until the index passes ``index`` or ``timeout`` seconds pass."""
        return self._core.wait_for_index(index, timeout)

    def expire_heartbeats(self) -> int:
        """Marks inactive every service whose heartbeat TTL has passed; returns how many."""
        return self._core.expire_heartbeats()

    def events_since(self, index: int) -> Optional[List[WatchEvent]]:
        """Retained changes after ``index``, oldest first; None when ``index`` is older than what is kept."""
        raw = self._core.events_since(index)
        return None if raw is None else [_event(e) for e in raw]

    def audit(self, since: Optional[str] = None, limit: int = 100) -> List[AuditEntry]:
        """Audit entries at or after ``since`` (RFC 3339), oldest first."""
        return [AuditEntry(e) for e in self._core.audit(since, limit)]

    def watch(self, query: Optional[Query] = None, *, max_queue: int = 10000, **filters: Any) -> "Watch":
        """Changes from now on (a record entering or leaving the filter counts)."""
        q = make_query(query, **filters) if (query is not None or filters) else None
        return Watch(self._core.watch(q, max_queue))


class QueryEngine:
    """Discover queries over a registry's indexes (results ordered by serviceId)."""

    def __init__(self, registry: Registry) -> None:
        self._core = registry._core

    def discover(self, query: Optional[Query] = None, **filters: Any) -> DiscoverPage:
        return _page(self._core.discover(make_query(query, **filters)))

    def discover_after(self, index: int, timeout: float, query: Optional[Query] = None, **filters: Any
                       ) -> DiscoverPage:
        """Long-poll: waits (GIL released) until the index passes ``index``, then answers."""
        return _page(self._core.discover_after(make_query(query, **filters), index, timeout))

    def iter_discover(self, query: Optional[Query] = None, **filters: Any) -> Iterator[ServiceRecord]:
        q = make_query(query, **filters)
        while True:
            page = _page(self._core.discover(q))
            yield from page.services
            if page.next_cursor is None:
                return
            q.cursor = page.next_cursor


class Watch:
    """Iterate for WatchEvents; ``next(timeout)`` waits at most ``timeout`` seconds (None on timeout)."""

    def __init__(self, core: Any) -> None:
        self._core = core

    @property
    def start_index(self) -> int:
        return self._core.start_index

    def next(self, timeout: Optional[float] = None) -> Optional[WatchEvent]:
        raw = self._core.next(timeout)
        return None if raw is None else _event(raw)

    def __iter__(self) -> Iterator[WatchEvent]:
        while True:
            raw = self._core.next(None)
            if raw is None:
                return
            yield _event(raw)

    def close(self) -> None:
        self._core.close()

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Server:
    """discoveryd's HTTP API (API.md) served in this process, on a registry.

        with Server(secret=secret) as server:       # a fresh in-memory registry
            client = Client(server.url, token=server.mint_token("diamond"))

    ``registry``: the one to serve (default: a new in-memory one, closed with
    the server). ``secret``: the HS256 key (default: a generated one, see
    :attr:`secret`); ``public_key_pem`` for RS256/ES256 instead or as well.
    ``port`` 0 picks a free port (:attr:`port`, :attr:`url`). Other keywords:
    ``host``, ``io_threads``, ``write_threads``, ``log_level`` (debug, info,
    warn, error, off), ``metrics_require_auth``, ``rate_limit_rps``,
    ``max_body_bytes``, ``drain_grace`` (seconds).
    """

    def __init__(self, registry: Optional[Registry] = None, *, secret: Optional[Union[str, bytes]] = None,
                 public_key_pem: Optional[str] = None, host: str = "127.0.0.1", port: int = 0,
                 io_threads: int = 1, write_threads: int = 8, log_level: str = "warn",
                 metrics_require_auth: bool = False, rate_limit_rps: float = 0.0,
                 max_body_bytes: int = 1 << 20, drain_grace: float = 10.0) -> None:
        self._owns_registry = registry is None
        self.registry = registry if registry is not None else Registry()
        if isinstance(secret, bytes):
            secret = secret.decode()
        if secret is None and not public_key_pem:
            secret = _discovery.generate_secret()
        self._secret = secret or ""
        try:
            self._core = _discovery.Server(self.registry._core, hs256_secret=self._secret,
                                           public_key_pem=public_key_pem or "", host=host, port=port,
                                           io_threads=io_threads, write_threads=write_threads, log_level=log_level,
                                           metrics_require_auth=metrics_require_auth,
                                           rate_limit_rps=rate_limit_rps, max_body_bytes=max_body_bytes,
                                           drain_grace=drain_grace)
        except BaseException:
            if self._owns_registry:
                self.registry.close()
            raise

    @property
    def port(self) -> int:
        return self._core.port

    @property
    def url(self) -> str:
        """"http://127.0.0.1:PORT"."""
        return self._core.url

    @property
    def running(self) -> bool:
        return self._core.running

    @property
    def secret(self) -> str:
        """The HS256 key tokens must be signed with (never logged)."""
        return self._secret

    def mint_token(self, sao: str = "diamond", company: str = "", *, subject: Optional[str] = None,
                   ttl: float = 3600.0) -> str:
        """An HS256 token this server accepts, minted by the library itself."""
        if not self._secret:
            raise ValueError("this server has no HS256 secret")
        return _discovery.mint_hs256_token(self._secret, subject or f"{sao}-{company or 'any'}", sao, company, ttl)

    def client(self, sao: str = "diamond", company: str = "", **kw: Any):
        """A REST Client of this server with a token of that level."""
        from .client import Client

        return Client(self.url, token=self.mint_token(sao, company), **kw)

    def stop(self) -> None:
        """Graceful stop: ends watches and long-polls, lets requests in flight finish."""
        self._core.stop()
        if self._owns_registry:
            self.registry.close()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Server(url={self.url!r})" if self.running else "Server(stopped)"
