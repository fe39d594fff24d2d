"""Hostile clients against a real discoveryd over real sockets.

- slowloris: 2,000 connections that send nothing or one header byte a
  second; meanwhile ordinary clients are served about as fast as without them,
  and the daemon closes the idle ones after --idle-timeout and the slow ones
  after --read-timeout (counted from a request's first byte);
- oversize bodies and headers, many at once: 413 and 431, and the daemon
  keeps serving;
- a flood from one token under --rate-limit: 429 with Retry-After, while
  another token's requests all pass, about as fast as without the flood.

Latency bounds are generous (a loaded 2-core CI machine): the point is that
the attack does not stall everyone else, not a timing goal.
"""

from __future__ import annotations

import http.client
import json
import resource
import selectors
import socket
import statistics
import threading
import time

import pytest

from discovery_it import assert_error, read_http_answer, service_body

IDLE_CONNECTIONS = 1000
SLOW_CONNECTIONS = 1000
READ_TIMEOUT = 2.0   # --read-timeout: a whole request, from its first byte
IDLE_TIMEOUT = 6.0   # --idle-timeout: a connection that sends nothing


@pytest.fixture(autouse=True, scope="module")
def _enough_fds():
    """2,000 attack sockets plus the clients' own."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = IDLE_CONNECTIONS + SLOW_CONNECTIONS + 1024
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            pytest.skip(f"open-file hard limit {hard} is below {want}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def timed_requests(d, token: str, n: int, company: str) -> list[float]:
    """n ordinary requests (a discover and a register in turn), each on a
    fresh connection as a simple client makes them; their latencies."""
    out = []
    for i in range(n):
        conn = http.client.HTTPConnection(d.host, d.port, timeout=30)
        headers = {"Authorization": f"Bearer {token}"}
        t0 = time.monotonic()
        if i % 2:
            conn.request("POST", "/api/v1/services/register",
                         body=json.dumps(service_body(company, f"{company}-{i}")),
                         headers=headers | {"Content-Type": "application/json"})
        else:
            conn.request("GET", f"/api/v1/services/discover?company={company}&limit=10", headers=headers)
        resp = conn.getresponse()
        resp.read()
        out.append(time.monotonic() - t0)
        conn.close()
        assert resp.status in (200, 201), resp.status
    return out


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def open_connections(d, n: int) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.create_connection((d.host, d.port), timeout=30)
        s.setblocking(False)
        socks.append(s)
    return socks


def test_slowloris_does_not_starve_clients_and_is_cut_off(start_daemon):
    d = start_daemon("--read-timeout", f"{READ_TIMEOUT:g}s", "--idle-timeout", f"{IDLE_TIMEOUT:g}s")
    token = d.token

    timed_requests(d, token, 10, "warmup")
    baseline = timed_requests(d, token, 60, "calm")

    # The attack: idle connections, and connections that dribble a request.
    t_open = time.monotonic()
    idle = open_connections(d, IDLE_CONNECTIONS)
    slow = open_connections(d, SLOW_CONNECTIONS)
    closed_at: dict[socket.socket, float] = {}
    stop = threading.Event()
    request = b"GET /api/v1/services/discover HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4096

    def dribble():
        # One byte a second on every slow connection, until it is closed.
        sent = 0
        while not stop.is_set() and sent < len(request):
            for s in slow:
                if s in closed_at:
                    continue
                try:
                    s.send(request[sent:sent + 1])
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    closed_at.setdefault(s, time.monotonic())
            sent += 1
            stop.wait(1.0)

    def watch_for_close():
        sel = selectors.DefaultSelector()
        for s in idle + slow:
            sel.register(s, selectors.EVENT_READ)
        open_count = len(idle) + len(slow)
        while open_count and not stop.is_set():
            for key, _ in sel.select(timeout=0.2):
                s = key.fileobj
                try:
                    data = s.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:  # EOF or reset: the daemon closed it
                    closed_at.setdefault(s, time.monotonic())
                    sel.unregister(s)
                    open_count -= 1
                # A slow connection might get an answer (408-like) first; the
                # close that follows is what counts.
        sel.close()

    threads = [threading.Thread(target=dribble, daemon=True), threading.Thread(target=watch_for_close, daemon=True)]
    for t in threads:
        t.start()
    try:
        # While every attack connection is still open (before READ_TIMEOUT),
        # ordinary clients are served.
        under_attack = timed_requests(d, token, 60, "attacked")
        attack_open = sum(1 for s in idle + slow if s not in closed_at)

        deadline = t_open + IDLE_TIMEOUT + 20
        while time.monotonic() < deadline and len(closed_at) < len(idle) + len(slow):
            time.sleep(0.2)
        after = timed_requests(d, token, 20, "after")
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        for s in idle + slow:
            s.close()

    print(f"\nlatency p95: calm {p95(baseline) * 1000:.1f} ms, under attack {p95(under_attack) * 1000:.1f} ms "
          f"(attack connections open meanwhile: {attack_open}), after {p95(after) * 1000:.1f} ms")
    assert attack_open >= (IDLE_CONNECTIONS + SLOW_CONNECTIONS) // 2, \
        f"only {attack_open} attack connections were open while measuring"
    # Generous: ten times the calm p95, or 250 ms, whichever is more.
    assert p95(under_attack) <= max(10 * p95(baseline), 0.25), (baseline, under_attack)

    slow_closed = [closed_at.get(s) for s in slow]
    idle_closed = [closed_at.get(s) for s in idle]
    assert all(t is not None for t in idle_closed), \
        f"{sum(t is None for t in idle_closed)} idle connections still open {IDLE_TIMEOUT + 20:g}s later"
    assert all(t is not None for t in slow_closed), \
        f"{sum(t is None for t in slow_closed)} slow connections still open {IDLE_TIMEOUT + 20:g}s later"
    slow_latest = max(slow_closed) - t_open
    idle_earliest = min(idle_closed) - t_open
    idle_latest = max(idle_closed) - t_open
    print(f"slow connections closed by {slow_latest:.1f}s (read timeout {READ_TIMEOUT:g}s); idle ones "
          f"between {idle_earliest:.1f}s and {idle_latest:.1f}s (idle timeout {IDLE_TIMEOUT:g}s)")
    # A connection that started a request has READ_TIMEOUT to finish it, not
    # the idle allowance; slack for opening 2,000 sockets on a busy machine.
    assert slow_latest < READ_TIMEOUT + 3.5, f"slow senders were held {slow_latest:.1f}s"
    # Idle connections are not cut before their timeout, and not long after.
    assert idle_earliest >= IDLE_TIMEOUT - 0.5, idle_earliest
    assert idle_latest < IDLE_TIMEOUT + 8, idle_latest


def test_oversize_bodies_and_headers_refused_while_serving(start_daemon):
    d = start_daemon("--max-body-bytes", "65536")
    token = d.token
    results: list = []
    lock = threading.Lock()

    def big_body(chunked: bool):
        body = json.dumps(service_body("big", "big-1", metadata={"blob": "x" * 200_000})).encode()
        head = (f"POST /api/v1/services/register HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\n")
        if chunked:
            data = (head + "Transfer-Encoding: chunked\r\n\r\n").encode()
            for i in range(0, len(body), 8192):
                part = body[i:i + 8192]
                data += f"{len(part):x}\r\n".encode() + part + b"\r\n"
            data += b"0\r\n\r\n"
        else:
            data = (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        return data

    def big_header():
        return (f"GET /api/v1/services/discover HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                + "".join(f"X-Pad-{i}: {'y' * 1000}\r\n" for i in range(40)) + "\r\n").encode()

    def lying_length():
        # Announces 10 GB: refused on the header, without reading any of it.
        return (f"POST /api/v1/services/register HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n{{").encode()

    def attack(kind: str, data: bytes):
        with socket.create_connection((d.host, d.port), timeout=30) as s:
            try:
                s.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # answered and closed before everything was sent
            status, headers, body = read_http_answer(s)
        with lock:
            results.append((kind, status, json.loads(body)["error"]["code"]))

    jobs = []
    for i in range(20):
        jobs.append(("body", big_body(False)))
        jobs.append(("chunked", big_body(True)))
        jobs.append(("header", big_header()))
        jobs.append(("length", lying_length()))
    threads = [threading.Thread(target=attack, args=job) for job in jobs]
    for t in threads:
        t.start()
    served = d.client(token).discover({"limit": 1})
    for t in threads:
        t.join(60)
    assert served.status == 200
    assert len(results) == len(jobs), f"{len(jobs) - len(results)} attack requests got no answer"
    for kind, status, code in results:
        expected = (431, "request_header_too_large") if kind == "header" else (413, "payload_too_large")
        assert (status, code) == expected, (kind, status, code)
    # Nothing was registered, and the daemon still answers everyone.
    assert d.client(token).discover({"company": "big"}).body["count"] == 0
    assert_error(d.client(token).register(service_body("big", metadata={"blob": "x" * 70_000})), 413)
    assert d.client().get("/health").status == 200


def test_rate_limit_flood_gets_429_and_spares_other_tokens(start_daemon):
    rate = 20
    d = start_daemon("--rate-limit", str(rate))
    flooder = d.mint("sapphire", "flood", sub="flooder")
    neighbour = d.mint("sapphire", "calm", sub="neighbour")
    neighbour_client = d.client(neighbour)

    def neighbour_latencies(n: int) -> list[float]:
        out = []
        for _ in range(n):
            t0 = time.monotonic()
            r = neighbour_client.discover({"limit": 5})
            out.append(time.monotonic() - t0)
            assert r.status == 200, r  # never limited: its own bucket
            time.sleep(1.0 / (rate / 2))  # half its allowance
        return out

    baseline = neighbour_latencies(20)

    stop = threading.Event()
    counts = {"sent": 0, 200: 0, 429: 0, "other": 0}
    retry_after: set = set()
    lock = threading.Lock()

    def flood():
        conn = http.client.HTTPConnection(d.host, d.port, timeout=30)
        while not stop.is_set():
            try:
                conn.request("GET", "/api/v1/services/discover?limit=1", headers={"Authorization": f"Bearer {flooder}"})
                resp = conn.getresponse()
                body = resp.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(d.host, d.port, timeout=30)
                continue
            with lock:
                counts["sent"] += 1
                if resp.status == 429:
                    counts[429] += 1
                    retry_after.add(resp.getheader("Retry-After"))
                    assert json.loads(body)["error"]["code"] == "rate_limited"
                elif resp.status == 200:
                    counts[200] += 1
                else:
                    counts["other"] += 1
        conn.close()

    flooders = [threading.Thread(target=flood, daemon=True) for _ in range(4)]
    t0 = time.monotonic()
    for t in flooders:
        t.start()
    try:
        during = neighbour_latencies(40)
    finally:
        stop.set()
        for t in flooders:
            t.join(30)
    elapsed = time.monotonic() - t0
    print(f"\nflood: {counts['sent']} requests in {elapsed:.1f}s: {counts[200]} passed, {counts[429]} got 429; "
          f"neighbour p95 {p95(baseline) * 1000:.1f} ms calm, {p95(during) * 1000:.1f} ms during the flood")
    assert counts["other"] == 0, counts
    assert counts[429] > 0, counts
    # The flooder got about its allowance (burst 2x plus rate x time), no more.
    assert counts[200] <= 2 * rate + rate * elapsed * 1.2 + 5, counts
    assert retry_after and all(v is not None and v.isdigit() and int(v) >= 1 for v in retry_after), retry_after
    assert p95(during) <= max(10 * p95(baseline), 0.25), (baseline, during)
