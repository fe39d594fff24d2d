"""The health checker inside discoveryd, end to end over real sockets.

Targets are real local servers: a small HTTP service that can be switched
down, a webhook receiver that records what it is sent, and MCP servers built
on the official TypeScript SDK (tests/fixtures/mcp). Loopback addresses are
on the checker's deny list, so these daemons run with --probe-allow.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from discovery_it import SSEStream, assert_error, service_body, wait_until

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ALLOW = ("--health-checks", "on", "--probe-allow", "127.0.0.0/8")
ON = ("--health-checks", "on")


class Target:
    """An HTTP service whose /health answers 200 while up, 503 while down."""

    def __init__(self):
        self.up = True
        self.hits = 0
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                target.hits += 1
                status = 200 if target.up else 503
                body = b'{"ok": true}' if target.up else b'{"ok": false}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Receiver:
    """A webhook receiver: records each POSTed JSON body by path. It answers
    503 to the first `fail_first` POSTs (each still recorded, in `attempts`),
    and speaks TLS when given a server context."""

    def __init__(self, tls=None, fail_first: int = 0):
        self.received: list[tuple[str, dict, dict]] = []
        self.attempts: list[tuple[float, str, bytes, dict]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                receiver.attempts.append((time.monotonic(), self.path, raw, dict(self.headers)))
                if len(receiver.attempts) <= receiver.fail_first:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                receiver.received.append((self.path, json.loads(raw or b"null"), dict(self.headers)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self, path: str) -> list[dict]:
        return [b for p, b, _ in self.received if p == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def target():
    t = Target()
    yield t
    t.close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def checked_body(company: str, primary: str, **config) -> dict:
    hc = {"interval": "1s", "timeout": "1s", "failureThreshold": 2, "successThreshold": 1,
          "endpoints": ["/health"], "alerting": {"enabled": True}}
    hc.update(config)
    body = service_body(company, domain=f"mcp.{company}.example.com")
    body["serviceInfo"]["endpoints"] = {"primary": primary}
    body["healthCheckConfig"] = hc
    return body


# ---- SSRF: what a registrant may make the checker call ----

def test_address_literals_on_the_deny_list_are_refused_at_registration(start_daemon):
    d = start_daemon("--storage", "memory", *ON)
    admin = d.admin()
    for url, why in [("http://127.0.0.1:9", "127.0.0.1 is loopback"),
                     ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is link-local"),
                     ("http://[::1]:80", "::1 is loopback"),
                     ("http://localhost:8080", "127.0.0.1 is loopback"),
                     ("http://0.0.0.0", "0.0.0.0 is unspecified")]:
        r = admin.register(checked_body("acme", url))
        assert_error(r, 400, "serviceInfo.endpoints.primary")
        assert r.body["error"]["message"].startswith("serviceInfo.endpoints.primary: " + why), r.body
        assert "--probe-allow" in r.body["error"]["message"]
    body = checked_body("acme", "https://mcp.acme.example.com")
    body["healthCheckConfig"]["endpoints"] = ["/health", "http://169.254.169.254/"]
    assert_error(admin.register(body), 400, "healthCheckConfig.endpoints[1]")
    ok = admin.register(checked_body("acme", "https://mcp.acme.example.com"))
    assert ok.status == 201
    patched = admin.patch(f"/api/v1/services/{ok.body['serviceId']}",
                          {"serviceInfo": {"endpoints": {"mcp": "http://127.0.0.1:1/mcp"}}})
    assert_error(patched, 400, "serviceInfo.endpoints.mcp")
    assert admin.discover().body["count"] == 1  # the refusals changed nothing


def test_probe_allow_admits_a_range_and_health_checks_off_checks_nothing(start_daemon, target):
    allowed = start_daemon("--storage", "memory", *ALLOW)
    assert allowed.admin().register(checked_body("acme", target.url)).status == 201
    still_denied = allowed.admin().register(checked_body("acme", "http://169.254.169.254"))
    assert_error(still_denied, 400, "serviceInfo.endpoints.primary")

    off = start_daemon("--storage", "memory", "--health-checks", "off")
    r = off.admin().register(checked_body("acme", "http://127.0.0.1:9"))
    assert r.status == 201
    time.sleep(2.5)
    assert off.admin().service(r.body["serviceId"]).body["healthStatus"]["lastCheck"] is None
    metrics = off.client(None).get("/metrics").body
    assert "discovery_health_monitored" not in metrics


def test_bad_probe_allow_is_a_start_up_error(start_daemon):
    from discovery_it import DaemonStartError
    with pytest.raises(DaemonStartError, match="--probe-allow"):
        start_daemon("--storage", "memory", *ON, "--probe-allow", "10.0.0.0/33")


# ---- a real outage: transition, alert, recovery, resolution ----

def test_an_outage_turns_unhealthy_alerts_calls_recovery_and_resolves(start_daemon, target, receiver):
    d = start_daemon("--storage", "memory", *ALLOW, "--unhealthy-interval", "1s",
                     "--alert-webhook", f"{receiver.url}/alerts",
                     "--recovery-webhook", f"{receiver.url}/recover", "--recovery-backoff", "1h")
    admin = d.admin()
    sid = admin.register(checked_body("acme", target.url)).body["serviceId"]

    def health():
        return admin.get(f"/api/v1/services/{sid}/health").body

    wait_until(lambda: health()["healthStatus"]["consecutiveSuccesses"] >= 2, timeout=10, what="passing checks")
    detail = health()
    assert detail["status"] == "active"
    assert detail["recentChecks"][0]["ok"] is True
    assert detail["recentChecks"][0]["endpoint"] == f"{target.url}/health"
    assert detail["healthStatus"]["responseTime"] is not None

    watch = SSEStream(d.host, d.port, d.token)
    try:
        target.up = False
        down_at = time.monotonic()
        wait_until(lambda: admin.service(sid).body["status"] == "unhealthy", timeout=10, what="unhealthy")
        # failureThreshold x interval + timeout = 3 s, plus scheduling slack.
        assert time.monotonic() - down_at < 5
        event = watch.next_event(timeout=5)["data"]
        assert event["type"] == "status" and event["service"]["status"] == "unhealthy"
    finally:
        watch.close()
    hs = admin.service(sid).body["healthStatus"]
    assert "503" in hs["lastError"], hs
    assert hs["lastFailure"] is not None

    wait_until(lambda: receiver.bodies("/alerts") and receiver.bodies("/recover"), timeout=10, what="webhooks")
    alert = receiver.bodies("/alerts")[0]
    assert (alert["serviceId"], alert["companyName"], alert["level"], alert["kind"]) == (sid, "acme", "warning", "raised")
    assert "503" in alert["message"]
    recover = receiver.bodies("/recover")[0]
    assert recover["serviceId"] == sid and recover["attempt"] == 1 and "503" in recover["lastError"]

    listed = admin.get("/api/v1/alerts", query={"serviceId": sid}).body["alerts"]
    assert [a["kind"] for a in listed] == ["raised"]

    target.up = True
    wait_until(lambda: admin.service(sid).body["status"] == "active", timeout=10, what="recovered")
    wait_until(lambda: len(receiver.bodies("/alerts")) >= 2, timeout=10, what="resolution alert")
    resolved = receiver.bodies("/alerts")[1]
    assert resolved["kind"] == "resolved" and resolved["serviceId"] == sid
    # One alert per transition: no storm while it was down.
    assert len(receiver.bodies("/alerts")) == 2
    assert admin.service(sid).body["healthStatus"]["uptime"] < 100

    metrics = d.client(None).get("/metrics").body
    assert "discovery_health_monitored 1" in metrics
    assert "discovery_health_checks_failed_total" in metrics


def test_alert_webhook_over_tls_in_slack_format_retries_with_its_authorization(start_daemon, target, tmp_path):
    # The webhook's own paths: TLS verified against --probe-ca-file, the
    # Slack payload, the Authorization header read from a file, and retries
    # with backoff after failed answers (503 twice, then accepted).
    import sys
    sys.path.insert(0, str(FIXTURES))
    from fault_server import make_certificates, tls_context

    ca_file, valid, _wrong, _untrusted = make_certificates(str(tmp_path))
    receiver = Receiver(tls=tls_context(valid), fail_first=2)
    auth_file = tmp_path / "webhook-auth"
    secret = "Bearer hook-secret-5f1c2a"
    auth_file.write_text(secret + "\n")
    try:
        d = start_daemon("--storage", "memory", *ALLOW, "--probe-ca-file", ca_file,
                         "--alert-webhook", f"{receiver.url}/slack", "--alert-webhook-format", "slack",
                         "--alert-webhook-auth-file", str(auth_file))
        admin = d.admin()
        sid = admin.register(checked_body("acme", target.url)).body["serviceId"]
        wait_until(lambda: admin.get(f"/api/v1/services/{sid}/health").body["healthStatus"]["consecutiveSuccesses"] >= 1,
                   timeout=10, what="a passing check")
        target.up = False
        wait_until(lambda: receiver.bodies("/slack"), timeout=15, what="the alert, after two refusals")

        assert len(receiver.attempts) == 3
        first, second, third = receiver.attempts
        assert first[2] == second[2] == third[2], "every attempt sends the same alert"
        # Exponential backoff from 500 ms: about 0.5 s, then 1 s between attempts.
        assert second[0] - first[0] >= 0.4
        assert third[0] - second[0] >= 0.9
        assert all(a[3].get("Authorization") == secret for a in receiver.attempts)
        body = receiver.bodies("/slack")[0]
        assert list(body) == ["text"]
        assert body["text"].startswith(":warning: *warning* raised")
        assert f"acme/" in body["text"] and sid in body["text"] and "503" in body["text"]
        # The header's value is a secret: never on the command line, never in the log.
        assert secret.split()[1] not in d.stderr()
        assert secret.split()[1] not in " ".join(d.command())
    finally:
        receiver.close()


def test_maintenance_is_never_overridden_by_checks(start_daemon, target):
    d = start_daemon("--storage", "memory", *ALLOW)
    admin = d.admin()
    sid = admin.register(checked_body("acme", target.url)).body["serviceId"]
    assert admin.put(f"/api/v1/services/{sid}/status", {"status": "maintenance"}).status == 200
    target.up = False
    wait_until(lambda: admin.service(sid).body["healthStatus"]["consecutiveFailures"] >= 3, timeout=10,
               what="failed checks")
    assert admin.service(sid).body["status"] == "maintenance"
    assert admin.get("/api/v1/alerts").body["alerts"] == []


def test_alerts_follow_the_health_history_access_rules(start_daemon, target):
    d = start_daemon("--storage", "memory", *ALLOW)
    admin = d.admin()
    target.up = False
    sid = admin.register(checked_body("acme", target.url)).body["serviceId"]
    wait_until(lambda: admin.get("/api/v1/alerts").body["alerts"], timeout=10, what="an alert")
    own = d.client(d.mint("opal", "acme")).get("/api/v1/alerts").body["alerts"]
    assert [a["serviceId"] for a in own] == [sid]
    assert d.client(d.mint("sapphire", "other")).get("/api/v1/alerts").body["alerts"] == []
    assert_error(d.client(d.mint("sapphire", "other")).get("/api/v1/alerts", query={"serviceId": sid}), 404)
    assert_error(d.client(d.mint("onyx", "acme")).get("/api/v1/alerts"), 403)
    assert_error(admin.get("/api/v1/alerts", query={"limit": "0"}), 400, "limit")
    assert_error(admin.get("/api/v1/alerts", query={"bogus": "1"}), 400, "bogus")


# ---- MCP servers built with the official SDK ----

def mcp_fixture_dir() -> Path:
    d = FIXTURES / "mcp"
    if not (d / "node_modules" / "@modelcontextprotocol" / "sdk").exists():
        if not shutil.which("npm"):
            pytest.skip("npm is not installed")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=d, check=True)
    return d


@pytest.fixture
def mcp_server(request):
    procs = []

    def start(kind: str):
        d = mcp_fixture_dir()
        p = subprocess.Popen(["node", "server.mjs", "--kind", kind, "--port", "0"], cwd=d,
                             stdout=subprocess.PIPE, text=True)
        procs.append(p)
        line = p.stdout.readline()
        return json.loads(line)

    yield start
    for p in procs:
        p.terminate()
        p.wait(timeout=10)


@pytest.mark.parametrize("kind,transport", [("stateless", "streamable-http"), ("stateful", "streamable-http"),
                                            ("sse", "sse")])
def test_an_mcp_server_is_checked_and_introspected_into_its_record(start_daemon, mcp_server, kind, transport):
    server = mcp_server(kind)
    d = start_daemon("--storage", "memory", *ALLOW, "--introspect-interval", "2s")
    admin = d.admin()
    body = checked_body("acme", server["url"].rsplit("/", 1)[0], endpoints=[], mcp=True)
    body["serviceInfo"]["endpoints"]["mcp"] = server["url"]
    body["serviceInfo"]["capabilities"] = ["search"]
    sid = admin.register(body).body["serviceId"]

    wait_until(lambda: admin.service(sid).body.get("mcp"), timeout=15, what="introspection")
    record = admin.service(sid).body
    mcp = record["mcp"]
    assert mcp["transport"] == transport
    assert mcp["serverInfo"] == {"name": f"fixture-{kind}", "version": "1.2.3"}
    assert {t["name"] for t in mcp["tools"]} == {"search", "echo", "clock"}
    assert mcp["capabilities"]["tools"]["listChanged"] is True
    assert "tools" in record["serviceInfo"]["capabilities"]
    assert record["status"] == "active" and record["healthStatus"]["lastError"] is None
    found = admin.discover({"tools": "echo,clock"}).body
    assert [s["serviceId"] for s in found["services"]] == [sid]

    # A tool added at runtime reaches the record, as a watched change.
    watch = SSEStream(d.host, d.port, d.token)
    try:
        urllib.request.urlopen(urllib.request.Request(
            server["url"].rsplit("/", 1)[0] + "/admin/tools?name=translate", method="POST"), timeout=5).read()
        wait_until(lambda: "translate" in {t["name"] for t in admin.service(sid).body["mcp"]["tools"]},
                   timeout=15, what="the new tool")
        event = watch.wait_for(lambda e: e["data"]["type"] == "upsert", timeout=5)[-1]["data"]
        assert "translate" in {t["name"] for t in event["service"]["mcp"]["tools"]}
    finally:
        watch.close()
    assert admin.discover({"tools": "translate"}).body["count"] == 1


def test_a_dead_mcp_endpoint_fails_with_a_precise_error(start_daemon, target):
    d = start_daemon("--storage", "memory", *ALLOW)
    admin = d.admin()
    body = checked_body("acme", target.url, endpoints=[], mcp=True)
    body["serviceInfo"]["endpoints"]["mcp"] = f"{target.url}/mcp"  # answers GET only, 200 JSON: not MCP
    sid = admin.register(body).body["serviceId"]
    wait_until(lambda: admin.service(sid).body["status"] == "unhealthy", timeout=10, what="unhealthy")
    error = admin.service(sid).body["healthStatus"]["lastError"]
    assert error.startswith("mcp"), error
    assert admin.service(sid).body.get("mcp") is None


def test_a_tcp_endpoint_is_a_connect_check(start_daemon, target):
    d = start_daemon("--storage", "memory", *ALLOW)
    admin = d.admin()
    port = target.url.rsplit(":", 1)[1]
    up = admin.register(checked_body("acme", target.url, endpoints=[f"tcp://127.0.0.1:{port}"])).body["serviceId"]
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed = s.getsockname()[1]
    s.close()  # nothing listens there now
    down = admin.register(checked_body("acme", target.url, endpoints=[f"tcp://127.0.0.1:{closed}"])).body["serviceId"]
    wait_until(lambda: admin.service(down).body["status"] == "unhealthy", timeout=10, what="unhealthy")
    assert "connection refused" in admin.service(down).body["healthStatus"]["lastError"]
    detail = admin.get(f"/api/v1/services/{up}/health").body
    assert detail["status"] == "active" and detail["healthStatus"]["consecutiveSuccesses"] >= 1
    assert detail["recentChecks"][0]["endpoint"] == f"tcp://127.0.0.1:{port}"
    assert target.hits == 0  # a connect, not an HTTP request
