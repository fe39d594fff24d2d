"""mcp_discovery.Client: the REST client of discoveryd (standard library only).

    from mcp_discovery import Client, NotFound

    client = Client("http://127.0.0.1:8080", token=token)    # or Client.from_env()
    rec = client.register({"companyName": "acme", "instanceId": "acme-1",
                           "serviceInfo": {"endpoints": {"primary": "https://mcp.acme.example"}}})
    for record in client.iter_discover(company="acme", capabilities=["tools"]):
        ...
    for event in client.watch(company="acme"):
        ...

Connections: one keep-alive HTTP/1.1 connection per thread, reused across
calls (a Client may be shared between threads). A connection idle longer than
``idle_reuse`` seconds (default 30, below the daemon's 60 s idle timeout) is
replaced before use rather than risked.

Retries (``retries``, default 2, with exponential ``backoff`` and jitter):
only for calls whose replay cannot do harm, and only when no answer came
(connection refused or reset, timeout) or the answer was 429 (after its
Retry-After) or 503:

- GET, PUT (status, health report) and DELETE are retried. A DELETE whose
  retry finds the record gone (404) is reported as done: the first attempt
  removed it.
- POST /services/register is idempotent per (companyName, instanceId): a replay
  is a re-registration that keeps serviceId. The client therefore fills in an
  instanceId when the body has none (``{company}-{unix-ms}-{6 hex}``, the
  daemon's own convention), and only then retries. A replayed registration
  answers 200 instead of 201, so ``record.created`` is False after a retry of a
  registration whose first answer was lost.
- POST .../heartbeat is retried (a second heartbeat only refreshes the TTL).
- PATCH is never retried (a merge patch would apply the same change twice,
  which is harmless, but a concurrent change in between would be undone).

Errors are the exception classes of mcp_discovery.errors, built from the
API's error codes by the same function the binding uses. Tokens are sent only
in the Authorization header and never appear in a repr, a log or an error.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import secrets
import socket
import ssl
import threading
import time
import urllib.parse
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

from .errors import DiscoveryError, NotFound, RateLimited, Timeout, TransportError, Unavailable, error_from
from .models import AuditEntry, DiscoverPage, HealthDetail, HealthStatus, Heartbeat, ServiceRecord, WatchEvent

__all__ = ["Client", "WatchStream"]

_API = "/api/v1"
_LIST_FILTERS = ("capabilities", "tags", "tools")
_FILTERS = ("company", "region", "environment", "status", "sao_level", "capabilities", "tags", "tools")
_RETRY_STATUSES = (429, 503)
_USER_AGENT = "mcp-discovery-python/0.1"


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def _instance_id(company: str) -> str:
    return f"{company}-{int(time.time() * 1000)}-{secrets.token_hex(3)}"


def _duration(value: Union[None, float, str]) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    return f"{int(round(value * 1000))}ms"


def _seconds(value: Union[None, float, str]) -> float:
    if value is None:
        return 0.0
    if not isinstance(value, str):
        return float(value)
    total, number = 0.0, ""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    i = 0
    while i < len(value):
        c = value[i]
        if c.isdigit() or c == ".":
            number += c
            i += 1
            continue
        unit = "ms" if value.startswith("ms", i) else c
        total += float(number or 0) * units.get(unit, 0)
        number = ""
        i += len(unit)
    return total


class _Answer:
    __slots__ = ("status", "headers", "raw")

    def __init__(self, status: int, headers: http.client.HTTPMessage, raw: bytes) -> None:
        self.status, self.headers, self.raw = status, headers, raw

    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None


class Client:
    """A client of one discoveryd (``base_url`` such as "http://127.0.0.1:8080").

    ``token``: the bearer JWT (or ``token_file``, read once, whitespace
    trimmed). ``timeout``: seconds per request (connect and each read).
    ``retries``/``backoff``: see the module documentation. ``ssl_context``: for
    https URLs (default: verify against the system's CAs).
    """

    def __init__(self, base_url: str, token: Optional[str] = None, *, token_file: Optional[str] = None,
                 timeout: float = 10.0, retries: int = 2, backoff: float = 0.1, idle_reuse: float = 30.0,
                 ssl_context: Optional[ssl.SSLContext] = None, user_agent: str = _USER_AGENT) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"base_url must be an http:// or https:// URL, not {base_url!r}")
        if token is not None and token_file is not None:
            raise ValueError("give token or token_file, not both")
        if token_file is not None:
            with open(token_file, encoding="utf-8") as f:
                token = f.read().strip()
        if token is not None and (not token or any(c.isspace() for c in token)):
            raise ValueError("token must be a non-empty JWT without whitespace")
        if retries < 0 or timeout <= 0:
            raise ValueError("retries must be >= 0 and timeout > 0")
        self.base_url = base_url.rstrip("/")
        self._scheme = parsed.scheme
        self._host = parsed.hostname
        self._port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self._prefix = parsed.path.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.idle_reuse = idle_reuse
        self._ssl_context = ssl_context
        self._user_agent = user_agent
        self._local = threading.local()

    @classmethod
    def from_env(cls, **kw: Any) -> "Client":
        """A client from DISCOVERY_URL and DISCOVERY_TOKEN or DISCOVERY_TOKEN_FILE."""
        url = os.environ.get("DISCOVERY_URL")
        if not url:
            raise ValueError("DISCOVERY_URL is not set")
        if os.environ.get("DISCOVERY_TOKEN_FILE"):
            return cls(url, token_file=os.environ["DISCOVERY_TOKEN_FILE"], **kw)
        return cls(url, token=os.environ.get("DISCOVERY_TOKEN") or None, **kw)

    def with_token(self, token: Optional[str]) -> "Client":
        """The same server and settings with another token (new connections)."""
        return Client(self.base_url, token, timeout=self.timeout, retries=self.retries, backoff=self.backoff,
                      idle_reuse=self.idle_reuse, ssl_context=self._ssl_context, user_agent=self._user_agent)

    def __repr__(self) -> str:
        return f"Client({self.base_url!r}, token={'<set>' if self._token else None})"

    # ------------------------------------------------------------ plumbing --

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self._scheme == "https":
            ctx = self._ssl_context or ssl.create_default_context()
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=ctx)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _headers(self, extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": self._user_agent}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if extra:
            headers.update(extra)
        return headers

    def close(self) -> None:
        """Closes this thread's pooled connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _exchange(self, method: str, path: str, body: Optional[bytes], headers: Dict[str, str],
                  timeout: float) -> _Answer:
        """One request on this thread's keep-alive connection. A reused
        connection that the server had already closed (no answer at all) is
        replaced and the request sent once more: nothing was processed."""
        local = self._local
        for fresh_attempt in (False, True):
            conn = getattr(local, "conn", None)
            reused = conn is not None and not fresh_attempt
            if conn is None or fresh_attempt or time.monotonic() - getattr(local, "used", 0) > self.idle_reuse:
                if conn is not None:
                    conn.close()
                conn = local.conn = self._connect(timeout)
                reused = False
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            try:
                conn.request(method, self._prefix + path, body=body, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                conn.close()
                local.conn = None
                if reused:
                    continue  # a stale keep-alive connection: the request never reached a handler
                raise TransportError(f"{method} {path}: connection lost ({type(e).__name__})") from None
            except (socket.timeout, TimeoutError):
                conn.close()
                local.conn = None
                raise Timeout(f"{method} {path}: no answer within {timeout:g}s") from None
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                local.conn = None
                raise TransportError(f"{method} {path}: {type(e).__name__}: {e}") from None
            local.used = time.monotonic()
            if resp.will_close:
                conn.close()
                local.conn = None
            return _Answer(resp.status, resp.headers, raw)
        raise AssertionError("unreachable")

    def _request(self, method: str, path: str, *, query: Optional[List[Tuple[str, str]]] = None,
                 body: Any = None, content_type: str = "application/json", retry: bool = False,
                 timeout: Optional[float] = None, ok: Tuple[int, ...] = (200,)) -> _Answer:
        if query:
            path = path + "?" + urllib.parse.urlencode(query)
        data = None
        extra: Dict[str, str] = {}
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            extra["Content-Type"] = content_type
        headers = self._headers(extra)
        timeout = timeout or self.timeout
        attempts = 1 + (self.retries if retry else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                answer = self._exchange(method, path, data, headers, timeout)
            except TransportError:
                if last:
                    raise
                self._sleep(attempt, None)
                continue
            if answer.status in ok:
                return answer
            error = self._error(answer)
            if answer.status in _RETRY_STATUSES and not last:
                self._sleep(attempt, getattr(error, "retry_after", None))
                continue
            if attempt > 0 and method == "DELETE" and isinstance(error, NotFound):
                return _Answer(204, answer.headers, b"")  # the lost first attempt did it
            raise error
        raise AssertionError("unreachable")

    def _sleep(self, attempt: int, retry_after: Optional[float]) -> None:
        delay = self.backoff * (2 ** attempt) * (0.5 + random.random())
        if retry_after is not None:
            delay = max(delay, retry_after)
        time.sleep(min(delay, 30.0))

    @staticmethod
    def _error(answer: _Answer) -> DiscoveryError:
        code = message = field = None
        try:
            payload = answer.json()
            err = payload.get("error") if isinstance(payload, dict) else None
            if isinstance(err, dict):
                code, message, field = err.get("code"), err.get("message"), err.get("field")
        except ValueError:
            pass
        if message is None:
            message = answer.raw[:200].decode("utf-8", "replace") or f"HTTP {answer.status}"
        retry_after = None
        if answer.headers.get("Retry-After"):
            try:
                retry_after = float(answer.headers["Retry-After"])
            except ValueError:
                pass
        return error_from(code, message, field or None, status=answer.status,
                          request_id=answer.headers.get("X-Request-Id"), retry_after=retry_after)

    @staticmethod
    def _filters(filters: Mapping[str, Any]) -> List[Tuple[str, str]]:
        query: List[Tuple[str, str]] = []
        for name, value in filters.items():
            if name not in _FILTERS:
                raise TypeError(f"unknown discover filter {name!r} (one of {', '.join(_FILTERS)})")
            if value is None:
                continue
            key = "saoLevel" if name == "sao_level" else name
            if name in _LIST_FILTERS and not isinstance(value, str):
                value = ",".join(value)
            if value != "":
                query.append((key, str(value)))
        return query

    # ------------------------------------------------------------ services --

    def register(self, body: Optional[Mapping[str, Any]] = None, **fields: Any) -> ServiceRecord:
        """POST /services/register. ``record.created`` is True for a new
        registration, False for a re-registration of (companyName, instanceId).
        An instanceId is generated here when missing, so the call can be retried."""
        payload = dict(body or {})
        payload.update(fields)
        if "instanceId" not in payload and isinstance(payload.get("companyName"), str):
            payload["instanceId"] = _instance_id(payload["companyName"])
        answer = self._request("POST", f"{_API}/services/register", body=payload, ok=(200, 201),
                               retry="instanceId" in payload)
        return ServiceRecord(answer.json(), created=answer.status == 201)

    def discover(self, *, limit: Optional[int] = None, cursor: Optional[str] = None, index: Optional[int] = None,
                 wait: Union[None, float, str] = None, **filters: Any) -> DiscoverPage:
        """GET /services/discover: one page. Filters: company, region,
        environment, status, sao_level, capabilities, tags, tools (lists or
        comma-separated). ``index``/``wait`` make it a long-poll (``wait`` in
        seconds or "30s"); the request timeout grows by ``wait``."""
        query = self._filters(filters)
        if limit is not None:
            query.append(("limit", str(limit)))
        if cursor:
            query.append(("cursor", cursor))
        timeout = None
        if index is not None:
            query.append(("index", str(index)))
            if wait is not None:
                query.append(("wait", _duration(wait)))  # type: ignore[arg-type]
            timeout = self.timeout + (_seconds(wait) if wait is not None else 60.0)
        answer = self._request("GET", f"{_API}/services/discover", query=query, retry=True, timeout=timeout)
        return DiscoverPage.from_dict(answer.json())

    def iter_discover(self, *, page_size: int = 100, **filters: Any) -> Iterator[ServiceRecord]:
        """Every matching record, following nextCursor (each exactly once, even while records change)."""
        cursor = None
        while True:
            page = self.discover(limit=page_size, cursor=cursor, **filters)
            yield from page.services
            cursor = page.next_cursor
            if cursor is None:
                return

    def get(self, service_id: str) -> ServiceRecord:
        """GET /services/{id}."""
        return ServiceRecord(self._request("GET", f"{_API}/services/{_quote(service_id)}", retry=True).json())

    def patch(self, service_id: str, patch: Mapping[str, Any]) -> ServiceRecord:
        """PATCH /services/{id} with a JSON merge patch (RFC 7396). Not retried."""
        answer = self._request("PATCH", f"{_API}/services/{_quote(service_id)}", body=dict(patch),
                               content_type="application/merge-patch+json")
        return ServiceRecord(answer.json())

    update = patch

    def deregister(self, service_id: str) -> None:
        """DELETE /services/{id}."""
        self._request("DELETE", f"{_API}/services/{_quote(service_id)}", retry=True, ok=(204,))

    def set_status(self, service_id: str, status: str) -> ServiceRecord:
        """PUT /services/{id}/status: active, inactive, maintenance or unhealthy."""
        answer = self._request("PUT", f"{_API}/services/{_quote(service_id)}/status", body={"status": status},
                               retry=True)
        return ServiceRecord(answer.json())

    def health(self, service_id: str) -> HealthDetail:
        """GET /services/{id}/health: status, healthStatus, recent checks."""
        return HealthDetail(self._request("GET", f"{_API}/services/{_quote(service_id)}/health",
                                          retry=True).json())

    def report_health(self, service_id: str, ok: bool, *, response_time: Optional[float] = None,
                      message: Optional[str] = None) -> HealthStatus:
        """PUT /services/{id}/health: an external check outcome."""
        body: Dict[str, Any] = {"ok": bool(ok)}
        if response_time is not None:
            body["responseTime"] = response_time
        if message is not None:
            body["message"] = message
        return HealthStatus(self._request("PUT", f"{_API}/services/{_quote(service_id)}/health", body=body,
                                          retry=True).json())

    def heartbeat(self, service_id: str) -> Heartbeat:
        """POST /services/{id}/heartbeat: refreshes the TTL."""
        return Heartbeat(self._request("POST", f"{_API}/services/{_quote(service_id)}/heartbeat",
                                       retry=True).json())

    def audit(self, *, since: Optional[str] = None, limit: Optional[int] = None) -> List[AuditEntry]:
        """GET /audit (diamond only): entries at or after ``since`` (RFC 3339)."""
        query = []
        if since:
            query.append(("since", since))
        if limit is not None:
            query.append(("limit", str(limit)))
        body = self._request("GET", f"{_API}/audit", query=query, retry=True).json()
        return [AuditEntry(e) for e in body["entries"]]

    def watch(self, *, last_event_id: Optional[int] = None, reconnect: bool = True,
              idle_timeout: float = 45.0, **filters: Any) -> "WatchStream":
        """GET /services/watch as an iterator of WatchEvent (Server-Sent Events).

        Returns once the stream is open. Without ``last_event_id`` it starts at
        the registry's current index, so no change made after this call returns
        is missed. A dropped stream (or one silent for ``idle_timeout``
        seconds, three keep-alive periods) is resumed with Last-Event-ID when
        ``reconnect`` is true. Close it (or use ``with``) to stop."""
        query = self._filters(filters)
        if last_event_id is None:
            last_event_id = self.discover(limit=1, **filters).index
        return WatchStream(self, query, last_event_id, reconnect, idle_timeout)

    # -------------------------------------------------------------- daemon --

    def alive(self) -> bool:
        """GET /health: whether the daemon answers (no token needed)."""
        try:
            return self._request("GET", "/health", retry=False).json().get("status") == "ok"
        except DiscoveryError:
            return False

    def ready(self) -> Dict[str, Any]:
        """GET /ready: {"status": "ready", "services", "index"}; Unavailable while shutting down."""
        return self._request("GET", "/ready", retry=True).json()

    def metrics(self) -> str:
        """GET /metrics: the Prometheus text exposition."""
        return self._request("GET", "/metrics", retry=True).raw.decode()

    def openapi(self) -> Dict[str, Any]:
        """GET /openapi.json: the OpenAPI 3.1 document."""
        return self._request("GET", "/openapi.json", retry=True).json()


class WatchStream:
    """An open watch: iterate for WatchEvents. ``last_event_id`` is the index
    of the last event delivered (where a reconnect resumes)."""

    def __init__(self, client: Client, query: List[Tuple[str, str]], last_event_id: Optional[int],
                 reconnect: bool, idle_timeout: float) -> None:
        self._client = client
        self._path = f"{client._prefix}{_API}/services/watch" + ("?" + urllib.parse.urlencode(query) if query else "")
        self.last_event_id = last_event_id
        self._reconnect = reconnect
        self._idle_timeout = idle_timeout
        self._conn: Optional[http.client.HTTPConnection] = None
        self._resp: Optional[http.client.HTTPResponse] = None
        self._closed = False
        self._open()

    def _open(self) -> None:
        extra = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.last_event_id is not None:
            extra["Last-Event-ID"] = str(self.last_event_id)
        conn = self._client._connect(self._idle_timeout)
        try:
            conn.request("GET", self._path, headers=self._client._headers(extra))
            resp = conn.getresponse()
        except (socket.timeout, TimeoutError):
            conn.close()
            raise Timeout("watch: no answer") from None
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise TransportError(f"watch: {type(e).__name__}: {e}") from None
        if resp.status != 200:
            answer = _Answer(resp.status, resp.headers, resp.read())
            conn.close()
            raise Client._error(answer)
        self._conn, self._resp = conn, resp

    def _events(self) -> Iterator[WatchEvent]:
        assert self._resp is not None
        data: List[str] = []
        event_type = "message"
        event_id: Optional[str] = None
        while True:
            line = self._resp.readline()
            if not line:
                raise ConnectionResetError("stream ended")
            text = line.decode("utf-8").rstrip("\r\n")
            if not text:
                if data and event_type == "change":
                    event = WatchEvent.from_dict(json.loads("\n".join(data)))
                    if event_id is not None and event_id.isdigit() and int(event_id) > 0:
                        self.last_event_id = int(event_id)
                    yield event
                data, event_type, event_id = [], "message", None
                continue
            if text.startswith(":"):
                continue  # keep-alive comment
            name, _, value = text.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name == "event":
                event_type = value
            elif name == "id":
                event_id = value

    def __iter__(self) -> "WatchStream":
        return self

    def __next__(self) -> WatchEvent:
        while True:
            if self._closed:
                raise StopIteration
            try:
                if not hasattr(self, "_gen"):
                    self._gen = self._events()
                return next(self._gen)
            except (OSError, http.client.HTTPException, ValueError) as e:
                del self._gen
                self._drop()
                if self._closed:
                    raise StopIteration from None
                if not self._reconnect:
                    raise TransportError(f"watch: stream lost ({type(e).__name__})") from None
                self._reopen()

    def _reopen(self) -> None:
        delay = 0.05
        while not self._closed:
            try:
                self._open()
                return
            except (TransportError, Unavailable, RateLimited):
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = self._resp = None

    def close(self) -> None:
        """Ends the stream (safe from another thread: a blocked iteration stops)."""
        self._closed = True
        conn = self._conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._drop()

    def __enter__(self) -> "WatchStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self._drop()
        except Exception:
            pass
