"""Support for the integration suite: the real discoveryd over real sockets.

Everything here uses the standard library only (plus `cryptography` for the
RS256/ES256 keys, imported where needed):

- Daemon: starts build/dev/apps/discoveryd/discoveryd (or $DISCOVERYD) on
  127.0.0.1:0 with its own data directory, waits for `listening on ...`,
  captures the diamond token printed on first start, stops it with SIGTERM.
- mint_hs256 / sign_jwt: tokens for any level and company.
- Client: one HTTP request per connection, answers as Response(status,
  headers, body) where body is the parsed JSON, or text.
- SSEStream: a watch stream read by a background thread, one event at a time.
- raw_exchange: bytes in, parsed answer out, for the limit tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BINARY = REPO / "build" / "dev" / "apps" / "discoveryd" / "discoveryd"

LEVELS = ("diamond", "emerald", "sapphire", "opal", "onyx")
STATUSES = ("active", "inactive", "maintenance", "unhealthy")
ERROR_CODES = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    431: "request_header_too_large",
    500: "internal",
    503: "unavailable",
}
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")

# Generous bounds for a loaded 2-core machine.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
EVENT_TIMEOUT = 10.0


def binary() -> str:
    return os.environ.get("DISCOVERYD") or str(DEFAULT_BINARY)


def clean_env(extra: dict | None = None) -> dict:
    """The test's environment without any DISCOVERY_* setting (so that a
    developer's shell cannot change what the daemon under test does)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISCOVERY_")}
    if extra:
        env.update({k: str(v) for k, v in extra.items()})
    return env


def wait_until(predicate, timeout: float = EVENT_TIMEOUT, interval: float = 0.02, what: str = "condition"):
    """Polls `predicate` until it returns something truthy; returns that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------- tokens ----

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_claims(token: str) -> dict:
    return json.loads(b64url_decode(token.split(".")[1]))


def claims_for(sao: str | None, company: str | None = None, sub: str | None = None, ttl: float = 3600,
               iat: float | None = None, extra: dict | None = None, omit=()) -> dict:
    now = int(time.time()) if iat is None else int(iat)
    claims = {"sub": sub or f"{sao}-{company or 'any'}", "sao": sao, "iat": now, "exp": int(now + ttl)}
    if company is not None:
        claims["company"] = company
    if extra:
        claims.update(extra)
    for name in omit:
        claims.pop(name, None)
    return claims


def encode_unsigned(header: dict, claims: dict) -> str:
    return b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + b64url(
        json.dumps(claims, separators=(",", ":")).encode())


def hs256(secret: bytes | str, header: dict, claims: dict) -> str:
    if isinstance(secret, str):
        secret = secret.encode()
    signing_input = encode_unsigned(header, claims)
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(sig)


def mint_hs256(secret: bytes | str, sao: str | None, company: str | None = None, **kw) -> str:
    """An HS256 token with claims sub, sao, company (when given), iat, exp.
    Keywords: sub, ttl (seconds, negative for an expired token), iat, extra
    (claims to add or override), omit (claim names to leave out), header."""
    header = kw.pop("header", None) or {"alg": "HS256", "typ": "JWT"}
    return hs256(secret, header, claims_for(sao, company, **kw))


def sign_jwt(private_key, alg: str, claims: dict, header: dict | None = None) -> str:
    """RS256 or ES256 with a `cryptography` private key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    signing_input = encode_unsigned(header or {"alg": alg, "typ": "JWT"}, claims).encode()
    if alg == "RS256":
        sig = private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "ES256":
        der = private_key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        raise ValueError(alg)
    return signing_input.decode() + "." + b64url(sig)


class Background:
    """Runs a request in a thread; records the answer and when it came."""

    def __init__(self, fn):
        self.result = self.error = self.done_at = None
        self.thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self.started_at = time.monotonic()
        self.thread.start()

    def _run(self, fn):
        try:
            self.result = fn()
        except BaseException as e:  # reported by join()
            self.error = e
        self.done_at = time.monotonic()

    def join(self, timeout: float):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"still blocked after {timeout}s"
        if self.error:
            raise self.error
        return self.result


# ------------------------------------------------------------------ HTTP ----

class Response:
    """status, headers (case-insensitive), body (JSON value, or text)."""

    def __init__(self, status: int, headers, body, raw: bytes):
        self.status = status
        self.headers = headers
        self.body = body
        self.raw = raw

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def header(self, name: str, default=None):
        return self.headers.get(name, default)

    def __repr__(self):
        return f"<Response {self.status} {self.raw[:300]!r}>"


def _decode_body(headers, raw: bytes):
    ctype = (headers.get("Content-Type") or "").lower()
    if "json" in ctype:
        return json.loads(raw) if raw else None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw


def build_path(path: str, query=None) -> str:
    if not query:
        return path
    return path + ("&" if "?" in path else "?") + urllib.parse.urlencode(query, doseq=True)


class Client:
    """HTTP/1.1 client; a fresh connection per request (closed afterwards)."""

    def __init__(self, host: str, port: int, token: str | None = None, timeout: float = 60.0):
        self.host, self.port, self.token, self.timeout = host, port, token, timeout

    def with_token(self, token: str | None) -> "Client":
        return Client(self.host, self.port, token, self.timeout)

    def request(self, method: str, path: str, body=None, *, query=None, token: str | None = ...,
                headers: dict | None = None, content_type: str | None = None, timeout: float | None = None
                ) -> Response:
        hdrs = dict(headers or {})
        tok = self.token if token is ... else token
        if tok is not None:
            hdrs.setdefault("Authorization", f"Bearer {tok}")
        data = None
        if body is not None:
            if isinstance(body, (bytes, str)):
                data = body.encode() if isinstance(body, str) else body
            else:
                data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", content_type or "application/json")
        elif content_type:
            hdrs["Content-Type"] = content_type
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)
        try:
            conn.request(method, build_path(path, query), body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            return Response(resp.status, resp.headers, _decode_body(resp.headers, raw), raw)
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # -- the API, by name --
    def register(self, body, **kw):
        return self.post("/api/v1/services/register", body, **kw)

    def discover(self, query=None, **kw):
        return self.get("/api/v1/services/discover", query=query, **kw)

    def service(self, sid, **kw):
        return self.get(f"/api/v1/services/{sid}", **kw)

    def discover_all(self, query=None, page: int = 1000, **kw) -> list:
        """Every matching record, following nextCursor."""
        out, q = [], list((query or {}).items()) if isinstance(query, dict) else list(query or [])
        cursor = None
        while True:
            params = q + [("limit", page)] + ([("cursor", cursor)] if cursor else [])
            r = self.discover(params, **kw)
            assert r.status == 200, r
            out.extend(r.body["services"])
            cursor = r.body["nextCursor"]
            if cursor is None:
                return out


def service_body(company: str, instance: str | None = None, **fields) -> dict:
    """A valid registration body; keyword arguments replace top-level fields."""
    body = {
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
    body.update(fields)
    return body


def assert_error(resp: Response, status: int, field: str | None = None):
    """API.md's error format: {"error": {"code", "message", "field"?}}."""
    assert resp.status == status, resp
    assert (resp.header("Content-Type") or "").startswith("application/json"), resp.headers
    assert isinstance(resp.body, dict) and set(resp.body) == {"error"}, resp.body
    err = resp.body["error"]
    assert err["code"] == ERROR_CODES[status], err
    assert isinstance(err["message"], str) and err["message"], err
    assert set(err) <= {"code", "message", "field"}, err
    if field is not None:
        assert err.get("field") == field, err
    return err


def raw_exchange(host: str, port: int, data: bytes, timeout: float = 30.0, connect_only: bool = False):
    """Sends raw bytes and reads one answer. Returns (status, headers dict with
    lower-case names, body bytes), or raises OSError (connection errors)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        if not connect_only:
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer before reading everything
        return read_http_answer(sock)


def read_http_answer(sock: socket.socket):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a complete header: {buf!r}")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed inside the body")
        rest += chunk
    return status, headers, rest[:length]


# ------------------------------------------------------------------- SSE ----

class SSEStream:
    """GET .../watch, read by a thread. `status`/`headers` once connected;
    next_event() returns {"event", "id", "data"} with data parsed as JSON."""

    def __init__(self, host: str, port: int, token: str | None, query=None, last_event_id=None,
                 timeout: float = 30.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        path = build_path("/api/v1/services/watch", query)
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Accept: text/event-stream"]
        if token:
            lines.append(f"Authorization: Bearer {token}")
        if last_event_id is not None:
            lines.append(f"Last-Event-ID: {last_event_id}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.file = self.sock.makefile("rb")
        status_line = self.file.readline().decode("latin-1")
        if not status_line:
            raise ConnectionError("watch: connection closed before the status line")
        self.status = int(status_line.split()[1])
        self.headers = {}
        while True:
            line = self.file.readline().decode("latin-1").rstrip("\r\n")
            if not line:
                break
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.body = None
        self.events: queue.Queue = queue.Queue()
        self.comments = 0
        self.ended = threading.Event()
        if self.status != 200:
            n = int(self.headers.get("content-length", "0"))
            raw = self.file.read(n) if n else b""
            self.body = json.loads(raw) if raw else None
            self.close()
            return
        self.sock.settimeout(None)  # the reader blocks until the stream ends or close()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        event = {}
        try:
            for raw in self.file:
                line = raw.decode().rstrip("\r\n")
                if line == "":
                    if "data" in event or "event" in event:
                        if "data" in event:
                            event["data"] = json.loads(event["data"])
                        self.events.put(event)
                    event = {}
                elif line.startswith(":"):
                    self.comments += 1
                else:
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "data" and "data" in event:
                        event["data"] += "\n" + value
                    else:
                        event[name] = value
        except (OSError, ValueError):
            pass
        finally:
            self.ended.set()

    def next_event(self, timeout: float = EVENT_TIMEOUT) -> dict:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no watch event within {timeout}s (stream ended: {self.ended.is_set()})")

    def wait_for(self, predicate, timeout: float = EVENT_TIMEOUT) -> list:
        """Events up to and including the first that satisfies `predicate`."""
        seen, deadline = [], time.monotonic() + timeout
        while True:
            ev = self.next_event(max(0.01, deadline - time.monotonic()))
            seen.append(ev)
            if predicate(ev):
                return seen

    def drain(self) -> list:
        out = []
        while True:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                return out

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.file.close()
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------- daemon ----

# The daemon dies with the test process even when that is killed outright (a
# CTest timeout): setpriv sets the parent-death signal, then execs the daemon
# under the same pid.
_DEATH_SIGNAL = [shutil.which("setpriv"), "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []

_LISTEN = re.compile(r"listening on (https?)://(\[[^\]]+\]|[^:\s]+):(\d+)")


class DaemonStartError(RuntimeError):
    pass


class Daemon:
    """One discoveryd process. Not started until start()."""

    all_started: list["Daemon"] = []  # every process started, for a last-resort kill

    def __init__(self, data_dir: Path, args=(), env: dict | None = None, data_dir_flag: bool = True):
        self.data_dir = Path(data_dir)
        self.args = [str(a) for a in args]
        self.env = env or {}
        self.data_dir_flag = data_dir_flag
        self.proc: subprocess.Popen | None = None
        self.stdout_lines: list[str] = []
        self._cv = threading.Condition()
        self.token: str | None = None  # the diamond token printed on first start
        self.scheme = self.host = None
        self.port = None
        self.stderr_path = None
        self.returncode = None

    # -- lifecycle --
    def command(self) -> list[str]:
        cmd = [binary(), "--listen", "127.0.0.1:0"]
        if self.data_dir_flag:
            cmd += ["--data-dir", str(self.data_dir)]
        # The records of these tests point at made-up hosts: a running health
        # checker would change their healthStatus under assertions that
        # nothing changed. test_health_checks.py turns it on.
        if not any(a.split("=")[0] == "--health-checks" for a in self.args):
            cmd += ["--health-checks", "off"]
        return cmd + self.args

    def start(self, timeout: float = START_TIMEOUT, expect_token: bool | None = None) -> "Daemon":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if expect_token is None:
            keyed = ("--jwt-secret-file", "--jwt-public-key-file")
            expect_token = (not (self.data_dir / "jwt-secret").exists()
                            and not any(a.split("=")[0] in keyed for a in self.args)
                            and not any(k in ("DISCOVERY_JWT_SECRET_FILE", "DISCOVERY_JWT_PUBLIC_KEY_FILE")
                                        for k in self.env)
                            and "--config" not in self.args and "DISCOVERY_CONFIG" not in self.env
                            and self.data_dir_flag)
        n = sum(1 for d in Daemon.all_started if d.data_dir == self.data_dir)
        self.stderr_path = self.data_dir.parent / f"{self.data_dir.name}.stderr.{n}.log"
        # Fresh per process: the previous process's reader may still be
        # finishing, and must not touch this one's lines.
        self.stdout_lines = lines = []
        self._pump_done = done = threading.Event()
        self.token = None
        self.returncode = None
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(_DEATH_SIGNAL + self.command(), stdout=subprocess.PIPE, stderr=err,
                                         stdin=subprocess.DEVNULL, env=clean_env(self.env))
        Daemon.all_started.append(self)
        self._pump_thread = threading.Thread(target=self._pump, args=(self.proc, lines, done), daemon=True)
        self._pump_thread.start()
        try:
            line = self.wait_for_line(lambda l: _LISTEN.search(l), timeout)
            m = _LISTEN.search(line)
            self.scheme, self.host, self.port = m.group(1), m.group(2).strip("[]"), int(m.group(3))
            # "store ..." follows in the same flush as the token, if any.
            self.wait_for_line(lambda l: l.startswith("store "), timeout)
            if expect_token or any("a diamond token" in l for l in self.stdout_lines):
                self.wait_for_line(lambda l: "a diamond token" in l, timeout)
                with self._cv:
                    i = next(i for i, l in enumerate(self.stdout_lines) if "a diamond token" in l)
                    self._cv.wait_for(lambda: len(self.stdout_lines) > i + 1 or self._pump_done.is_set(), timeout)
                    self.token = self.stdout_lines[i + 1].strip()
                assert self.token.count(".") == 2, self.token
        except BaseException:
            self.kill()
            raise
        return self

    def _pump(self, proc, lines, done):
        for raw in proc.stdout:
            with self._cv:
                lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._cv.notify_all()
        with self._cv:
            done.set()
            self._cv.notify_all()

    def wait_for_line(self, predicate, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for line in self.stdout_lines:
                    if predicate(line):
                        return line
                if self._pump_done.is_set():
                    try:
                        rc = self.proc.wait(5)
                    except subprocess.TimeoutExpired:
                        rc = "(closed its standard output but still runs)"
                    raise DaemonStartError(
                        f"discoveryd exited with {rc} before the line; stdout: "
                        f"{self.stdout_lines!r}; stderr: {self.stderr()!r}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DaemonStartError(f"discoveryd did not print the line within {timeout}s; "
                                           f"stdout: {self.stdout_lines!r}; stderr: {self.stderr()!r}")
                self._cv.wait(min(left, 0.2))

    def stderr(self) -> str:
        try:
            return Path(self.stderr_path).read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then wait. Returns the exit code, or None if it did not
        exit in time (it is then killed)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.returncode = None
                return None
        self.returncode = self.proc.returncode
        return self.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc is not None:
            self.returncode = self.proc.returncode

    def restart(self, **kw) -> "Daemon":
        """Same data directory and flags (a new port)."""
        assert not self.running
        return self.start(**kw)

    # -- access --
    @property
    def secret(self) -> bytes:
        raw = (self.data_dir / "jwt-secret").read_bytes()
        return raw.rstrip(b" \t\r\n\v\f")

    def mint(self, sao: str, company: str | None = None, **kw) -> str:
        return mint_hs256(self.secret, sao, company, **kw)

    def client(self, token: str | None = None) -> Client:
        return Client(self.host, self.port, token)

    def admin(self) -> Client:
        """A diamond client (the printed token when there was one)."""
        return self.client(self.token or self.mint("diamond", sub="admin"))

    def watch(self, token: str | None, query=None, last_event_id=None) -> SSEStream:
        return SSEStream(self.host, self.port, token, query, last_event_id)

    def metric(self, name: str) -> float | None:
        """The value of an unlabelled sample in /metrics."""
        r = self.client().get("/metrics")
        for line in r.body.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None
