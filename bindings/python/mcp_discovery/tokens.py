"""HS256 tokens with the standard library, for tests, scripts and the fixture.

The daemon's claims (API.md, "Access"): ``sub``, ``sao`` (diamond, emerald,
sapphire, opal, onyx), ``company`` (required below emerald), ``iat``, ``exp``.
The key of a secret file is its bytes with trailing whitespace trimmed
(:func:`read_secret`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, Dict, Optional, Union

__all__ = ["mint_token", "read_secret", "LEVELS"]

LEVELS = ("diamond", "emerald", "sapphire", "opal", "onyx")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def read_secret(path: str) -> bytes:
    """The HS256 key in a secret file: its bytes, trailing whitespace removed."""
    with open(path, "rb") as f:
        return f.read().rstrip(b" \t\r\n\v\f")


def mint_token(secret: Union[str, bytes], sao: str, company: Optional[str] = None, *,
               subject: Optional[str] = None, ttl: float = 3600.0, extra: Optional[Dict[str, Any]] = None) -> str:
    """An HS256 JWT the daemon accepts for ``sao`` (and ``company``, required
    for sapphire, opal and onyx), valid for ``ttl`` seconds."""
    if sao not in LEVELS:
        raise ValueError(f"sao must be one of {', '.join(LEVELS)}, not {sao!r}")
    if sao in ("sapphire", "opal", "onyx") and not company:
        raise ValueError(f"a {sao} token needs a company")
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise ValueError("the secret is empty")
    now = int(time.time())
    claims: Dict[str, Any] = {"sub": subject or f"{sao}-{company or 'any'}", "sao": sao, "iat": now,
                              "exp": now + int(ttl)}
    if company:
        claims["company"] = company
    if extra:
        claims.update(extra)
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"
