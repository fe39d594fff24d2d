"""Limits that need their own daemon: 413 (--max-body-bytes), 429
(--rate-limit), 431 (headers over 16 KiB), 503 (--max-connections,
--max-watchers), plus --metrics-auth and --tls-cert/--tls-key."""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import uuid

import pytest

from discovery_it import assert_error, raw_exchange, read_http_answer, service_body, wait_until


def uniq(prefix: str = "lim") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def snapshot(admin):
    return admin.discover({"limit": 1}).body["index"], admin.discover_all()


def padded_body(company: str, size: int) -> bytes:
    """A valid registration body of exactly `size` bytes."""
    body = service_body(company, metadata={"pad": ""})
    base = len(json.dumps(body).encode())
    assert size >= base
    body["metadata"]["pad"] = "x" * (size - base)
    data = json.dumps(body).encode()
    assert len(data) == size
    return data


# ------------------------------------------------------------------ 413 ----

def test_413_body_over_max_body_bytes(start_daemon):
    d = start_daemon("--max-body-bytes", "1024")
    admin = d.admin()
    company = uniq()
    before = snapshot(admin)
    r = admin.register(padded_body(company, 2048))
    assert_error(r, 413)
    big = admin.register(padded_body(company, 200_000))
    assert_error(big, 413)
    assert snapshot(admin) == before
    # At the limit it is accepted, and a PATCH is bounded the same way.
    ok = admin.register(padded_body(company, 1024))
    assert ok.status == 201, ok
    sid = ok.body["serviceId"]
    r = admin.patch(f"/api/v1/services/{sid}", {"metadata": {"pad": "y" * 2000}})
    assert_error(r, 413)
    assert admin.service(sid).body == ok.body


def test_413_refusal_is_audited(start_daemon):
    d = start_daemon("--max-body-bytes", "1024")
    admin = d.admin()
    since = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    r = admin.register(padded_body(uniq(), 2048))
    assert r.status == 413
    entries = admin.get("/api/v1/audit", query={"since": since}).body["entries"]
    assert [(e["action"], e["result"]) for e in entries if e["requestId"] == r.header("X-Request-Id")] == [
        ("register", "payload_too_large")]


# ------------------------------------------------------------------ 429 ----

def test_429_with_retry_after_over_rate_limit(start_daemon):
    d = start_daemon("--rate-limit", "2")
    company = uniq()
    c = d.client(d.mint("sapphire", company, sub="busy-bot"))
    # The burst is 2 x 2 = 4: a fresh subject's first four requests pass.
    for _ in range(4):
        assert c.discover().status == 200
    limited = None
    for _ in range(60):
        r = c.discover()
        if r.status == 429:
            limited = r
            break
        assert r.status == 200
    assert limited is not None, "no 429 within 60 back-to-back requests at --rate-limit 2"
    assert_error(limited, 429)
    assert int(limited.header("Retry-After")) >= 1
    # A rate-limited mutation changes nothing.
    admin = d.admin()
    statuses = []
    for _ in range(20):
        r = c.register(service_body(company))
        statuses.append(r.status)
        if r.status == 429:
            assert_error(r, 429)
            break
        assert r.status == 201, r
    assert 429 in statuses
    assert len(admin.discover_all({"company": company})) == statuses.count(201)
    # Other subjects have their own bucket.
    assert d.client(d.mint("sapphire", company, sub="quiet-bot")).discover().status == 200


# ------------------------------------------------------------------ 431 ----

def test_431_header_over_16_kib(daemon):
    req = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * (20 * 1024) + b"\r\nConnection: close\r\n\r\n"
    status, headers, raw = raw_exchange(daemon.host, daemon.port, req)
    assert status == 431, raw
    assert headers["content-type"].startswith("application/json")
    err = json.loads(raw)["error"]
    assert err["code"] == "request_header_too_large" and err["message"]


def test_431_for_a_huge_token(daemon):
    r = daemon.client("x" * (17 * 1024)).discover()
    assert_error(r, 431)


def test_headers_just_under_the_limit_pass(daemon):
    r = daemon.client().get("/health", headers={"X-Padding": "a" * (12 * 1024)})
    assert r.status == 200


# ------------------------------------------------------------------ 503 ----

GET_HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


def test_503_over_max_connections(start_daemon):
    d = start_daemon("--max-connections", "2")
    idle = []
    try:
        for _ in range(2):
            s = socket.create_connection((d.host, d.port), timeout=30)
            s.sendall(GET_HEALTH)  # keep-alive: the connection stays open
            assert read_http_answer(s)[0] == 200
            idle.append(s)
        status, headers, raw = raw_exchange(d.host, d.port, GET_HEALTH)
        assert status == 503, raw
        assert json.loads(raw)["error"]["code"] == "unavailable"
        # The idle connections still work.
        idle[0].sendall(GET_HEALTH)
        assert read_http_answer(idle[0])[0] == 200
    finally:
        for s in idle:
            s.close()
    # Once they are closed, new connections are served again.
    wait_until(lambda: d.client().get("/health").status == 200, timeout=15, what="a free connection slot")


def test_503_over_max_connections_has_request_id(start_daemon):
    d = start_daemon("--max-connections", "1")
    s = socket.create_connection((d.host, d.port), timeout=30)
    try:
        s.sendall(GET_HEALTH)
        assert read_http_answer(s)[0] == 200
        status, headers, _ = raw_exchange(d.host, d.port, GET_HEALTH)
        assert status == 503
        assert headers.get("x-request-id")
    finally:
        s.close()


def test_503_over_max_watchers(start_daemon):
    d = start_daemon("--max-watchers", "1")
    first = d.watch(d.token)
    try:
        assert first.status == 200
        second = d.watch(d.token)
        assert second.status == 503
        assert second.body["error"]["code"] == "unavailable"
        # Ordinary requests are not affected.
        assert d.admin().discover().status == 200
    finally:
        first.close()

    def watch_again():
        w = d.watch(d.token)
        w.close()
        return w.status == 200

    wait_until(watch_again, timeout=15, what="the watcher slot to be free again")


# ------------------------------------------------------- metrics auth ----

def test_metrics_auth(start_daemon):
    d = start_daemon("--metrics-auth")
    assert_error(d.client().get("/metrics"), 401)
    assert_error(d.client(d.mint("sapphire", "acme")).get("/metrics"), 403)
    r = d.client(d.mint("emerald")).get("/metrics")
    assert r.status == 200 and "discovery_services" in r.body
    assert d.client().get("/health").status == 200  # the others stay open


# ----------------------------------------------------------------- TLS ----

def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls(start_daemon, tmp_path):
    import http.client

    cert, key = _self_signed(tmp_path)
    d = start_daemon("--tls-cert", cert, "--tls-key", key)
    assert d.scheme == "https"
    ctx = ssl.create_default_context(cafile=str(cert))
    conn = http.client.HTTPSConnection(d.host, d.port, context=ctx, timeout=30)
    try:
        conn.request("GET", "/api/v1/services/discover", headers={"Authorization": f"Bearer {d.token}"})
        r = conn.getresponse()
        assert r.status == 200
        assert json.loads(r.read())["count"] == 0
        assert conn.sock.version() == "TLSv1.3"  # preferred when both sides can
    finally:
        conn.close()
    # TLS 1.2 is the minimum: a client that offers at most TLS 1.1 is refused.
    old = ssl.create_default_context(cafile=str(cert))
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        old.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    with pytest.raises((ssl.SSLError, OSError)):
        with socket.create_connection((d.host, d.port), timeout=10) as raw:
            with old.wrap_socket(raw, server_hostname=d.host):
                pass
    # TLS 1.2 is accepted.
    v12 = ssl.create_default_context(cafile=str(cert))
    v12.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection((d.host, d.port), timeout=10) as raw:
        with v12.wrap_socket(raw, server_hostname=d.host) as tls:
            assert tls.version() == "TLSv1.2"
    # Plain HTTP on the TLS port gets no HTTP answer.
    try:
        answer = raw_exchange(d.host, d.port, GET_HEALTH, timeout=10)
    except OSError:
        answer = None
    assert answer is None or answer[0] >= 400, answer
