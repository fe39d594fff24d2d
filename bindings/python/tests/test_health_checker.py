"""HealthChecker through the binding: real probes of a real HTTP endpoint on
loopback, statuses and alerts in the registry, alerts over the Server."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mcp_discovery import Client, HealthChecker, InvalidArgument, Registry, Server

from conftest import body


class HealthEndpoint:
    """An HTTP server on 127.0.0.1 whose /health answers `status`."""

    def __init__(self):
        endpoint = self
        self.status = 200

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(endpoint.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a probe cancelled mid-request (the checker stopping) is not news

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def endpoint():
    e = HealthEndpoint()
    yield e
    e.close()


def until(predicate, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def checker_for(registry, **options):
    return HealthChecker(registry, log=False, **options)


def checked_body(url, **config):
    b = body("checked")
    b["serviceInfo"]["endpoints"] = {"primary": url}
    b["healthCheckConfig"] = {"interval": "200ms", "timeout": "200ms", "retries": 0, "failureThreshold": 2,
                              "successThreshold": 1, "endpoints": ["/health"], **config}
    return b


def test_checks_move_a_service_to_unhealthy_and_back_with_alerts(endpoint):
    with Registry(min_check_interval=0.1) as registry, \
            checker_for(registry, probe_allow=["127.0.0.0/8"], unhealthy_interval=0.2) as checker:
        sid = registry.register(checked_body(endpoint.url)).service_id
        until(lambda: registry.get(sid).health_status.consecutive_successes >= 1, what="a passing check")
        assert registry.get(sid).health_status.response_time is not None

        endpoint.status = 500
        until(lambda: registry.get(sid).status == "unhealthy", what="unhealthy")
        raised = checker.recent_alerts(sid)
        assert raised and raised[0].kind == "raised" and raised[0].service_id == sid
        assert "500" in (registry.get(sid).health_status.last_error or "")

        with Server(registry, health_checker=checker, log_level="error") as server:
            alerts = Client(server.url, token=server.mint_token()).alerts(service_id=sid)
            # Escalations may arrive meanwhile: the raised alert is among them.
            assert raised[0].id in {a.id for a in alerts} and all(a.service_id == sid for a in alerts)

        endpoint.status = 200
        until(lambda: registry.get(sid).status == "active", what="recovery")
        until(lambda: checker.recent_alerts(sid)[0].kind == "resolved", what="a resolved alert")
        stats = checker.stats()
        assert stats["monitored"] == 1 and stats["checks_passed"] >= 2 and stats["checks_failed"] >= 2


def test_loopback_is_refused_without_probe_allow(endpoint):
    with Registry(min_check_interval=0.1) as registry, checker_for(registry):
        sid = registry.register(checked_body(endpoint.url)).service_id
        err = until(lambda: registry.get(sid).health_status.last_error, what="a refused check")
        assert "loopback" in err


def test_bad_checker_settings_are_rejected():
    with Registry() as registry:
        with pytest.raises(InvalidArgument) as e:
            HealthChecker(registry, probe_allow=["not-a-cidr"], log=False)
        assert e.value.field == "probe_allow[0]"
        with pytest.raises(InvalidArgument):
            HealthChecker(registry, mass_failure_threshold=2.0, log=False)


def test_a_manual_clock_drives_ttls_without_sleeping():
    with Registry(manual_clock=True, ttl_sweep_interval=0) as registry:
        rec = registry.register(body("ttl", healthCheckConfig={"ttl": "30s"}))
        registry.advance_clock(29)
        assert registry.expire_heartbeats() == 0
        registry.advance_clock(2)
        assert registry.expire_heartbeats() == 1 and registry.get(rec.service_id).status == "inactive"
        assert registry.heartbeat(rec.service_id).status == "active"
    with Registry() as system_time:
        with pytest.raises(InvalidArgument):
            system_time.advance_clock(1)


def test_manual_drive_runs_checks_when_told(endpoint):
    with Registry(manual_clock=True, ttl_sweep_interval=0, min_check_interval=0.1) as registry, \
            checker_for(registry, probe_allow=["127.0.0.0/8"], manual_drive=True) as checker:
        sid = registry.register(checked_body(endpoint.url)).service_id
        started = 0
        for _ in range(20):  # one interval (200 ms) in steps, nothing runs by itself
            registry.advance_clock(0.05)
            started += checker.run_due()
        assert started >= 1
        until(lambda: (checker.run_due(), registry.get(sid).health_status.last_check)[1], what="a completed check")
