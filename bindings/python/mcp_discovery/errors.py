"""The exception tree of mcp_discovery, and the one function that builds it.

Every failure the library or the daemon reports carries one of API.md's error
codes. :func:`error_from` turns a code into the matching class; the compiled
binding and the REST client both call it, so ``mcp_discovery.NotFound`` is the
same class whether a record was missing in process or over HTTP::

    DiscoveryError
    ├── InvalidArgument        400 invalid_argument   (also a ValueError)
    ├── Unauthenticated        401 unauthenticated
    ├── PermissionDenied       403 permission_denied
    ├── NotFound               404 not_found          (also a LookupError)
    ├── MethodNotAllowed       405 method_not_allowed
    ├── Conflict               409 conflict
    ├── PayloadTooLarge        413 payload_too_large
    ├── UnsupportedMediaType   415 unsupported_media_type
    ├── RateLimited            429 rate_limited       (.retry_after, seconds)
    ├── RequestHeaderTooLarge  431 request_header_too_large
    ├── Internal               500 internal
    └── Unavailable            503 unavailable
        └── TransportError     no answer: connection refused or reset, timeout
            └── Timeout        (also a TimeoutError)
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "DiscoveryError", "InvalidArgument", "Unauthenticated", "PermissionDenied", "NotFound",
    "MethodNotAllowed", "Conflict", "PayloadTooLarge", "UnsupportedMediaType", "RateLimited",
    "RequestHeaderTooLarge", "Internal", "Unavailable", "TransportError", "Timeout", "error_from",
]


class DiscoveryError(Exception):
    """Base of every error mcp_discovery raises for a failed operation.

    Attributes: ``code`` (API.md's spelling, e.g. ``"not_found"``), ``message``,
    ``field`` (dotted path of the offending field for bad input, else None),
    ``status`` (the HTTP status, also for errors raised in process), and
    ``request_id`` (the daemon's X-Request-Id when the error came over HTTP).
    """

    code: str = "internal"
    status: int = 500

    def __init__(self, message: str = "", *, field: Optional[str] = None, status: Optional[int] = None,
                 code: Optional[str] = None, request_id: Optional[str] = None) -> None:
        self.message = message
        self.field = field or None
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.request_id = request_id
        super().__init__(f"{self.field}: {message}" if self.field and not message.startswith(self.field) else message)


class InvalidArgument(DiscoveryError, ValueError):
    code, status = "invalid_argument", 400


class Unauthenticated(DiscoveryError):
    code, status = "unauthenticated", 401


class PermissionDenied(DiscoveryError):
    code, status = "permission_denied", 403


class NotFound(DiscoveryError, LookupError):
    code, status = "not_found", 404


class MethodNotAllowed(DiscoveryError):
    code, status = "method_not_allowed", 405


class Conflict(DiscoveryError):
    code, status = "conflict", 409


class PayloadTooLarge(DiscoveryError):
    code, status = "payload_too_large", 413


class UnsupportedMediaType(DiscoveryError):
    code, status = "unsupported_media_type", 415


class RateLimited(DiscoveryError):
    """429. ``retry_after`` is the server's Retry-After in seconds, when given."""

    code, status = "rate_limited", 429

    def __init__(self, message: str = "", *, retry_after: Optional[float] = None, **kw) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class RequestHeaderTooLarge(DiscoveryError):
    code, status = "request_header_too_large", 431


class Internal(DiscoveryError):
    code, status = "internal", 500


class Unavailable(DiscoveryError):
    code, status = "unavailable", 503


class TransportError(Unavailable):
    """No usable answer: the connection failed, was reset, or the answer was not HTTP/JSON."""

    code, status = "transport", 0


class Timeout(TransportError, TimeoutError):
    """The request's timeout passed before an answer came."""

    code, status = "timeout", 0


_BY_CODE = {cls.code: cls for cls in (
    InvalidArgument, Unauthenticated, PermissionDenied, NotFound, MethodNotAllowed, Conflict,
    PayloadTooLarge, UnsupportedMediaType, RateLimited, RequestHeaderTooLarge, Internal, Unavailable)}
_BY_STATUS = {cls.status: cls for cls in _BY_CODE.values()}


def error_from(code: Optional[str], message: str = "", field: Optional[str] = None, *,
               status: Optional[int] = None, request_id: Optional[str] = None,
               retry_after: Optional[float] = None) -> DiscoveryError:
    """The exception for an error code of API.md (the one translation).

    An unknown code falls back on the HTTP status, then on DiscoveryError
    itself, keeping the code and status it was given.
    """
    cls = _BY_CODE.get(code or "") or _BY_STATUS.get(status or -1) or DiscoveryError
    kw = {"field": field, "request_id": request_id}
    if status is not None and status != cls.status:
        kw["status"] = status
    if code and code != cls.code:
        kw["code"] = code
    if cls is RateLimited:
        return RateLimited(message, retry_after=retry_after, **kw)
    return cls(message, **kw)
