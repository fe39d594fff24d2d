"""mcp_discovery.Client over real sockets: against the discoveryd binary and
against the in-process Server (the same tests, parametrised)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

import mcp_discovery
from mcp_discovery import (Client, Conflict, InvalidArgument, NotFound, PermissionDenied, RateLimited, Server,
                           Timeout, TransportError, Unauthenticated, mint_token)

from conftest import body, company


class Api:
    """A server under test: its URL and a way to mint its tokens."""

    def __init__(self, url, secret):
        self.url, self.secret = url, secret

    def client(self, sao="diamond", company=None, **kw):
        return Client(self.url, token=mint_token(self.secret, sao, company), **kw)


@pytest.fixture(scope="module")
def in_process():
    with Server(log_level="error") as server:
        yield server


@pytest.fixture(params=["daemon", "in_process"])
def api(request):
    if request.param == "daemon":
        d = request.getfixturevalue("daemon")
        return Api(d.url, d.secret)
    s = request.getfixturevalue("in_process")
    return Api(s.url, s.secret)


def test_register_created_then_reregistered(api):
    c = api.client()
    co = company()
    first = c.register(body(co, f"{co}-1"))
    assert first.created is True and first.company_name == co
    again = c.register(body(co, f"{co}-1", tags=["v2"]))
    assert again.created is False and again.service_id == first.service_id and again.tags == ["v2"]
    # No instanceId: the client makes one (so the call may be retried).
    b = body(co)
    del b["instanceId"]
    made = c.register(b)
    assert made.instance_id.startswith(co + "-") and made.created is True


def test_errors_map_to_the_shared_exception_classes(api):
    c = api.client()
    co = company()
    bad = body(co)
    bad["serviceInfo"]["region"] = "US West"
    with pytest.raises(InvalidArgument) as e:
        c.register(bad)
    assert e.value.field == "serviceInfo.region" and e.value.status == 400 and e.value.request_id
    with pytest.raises(NotFound) as e:
        c.get("00000000-0000-4000-8000-000000000000")
    assert type(e.value) is mcp_discovery.errors.NotFound
    with pytest.raises(Unauthenticated):
        Client(api.url, token=mint_token("not-the-secret", "diamond")).discover()
    with pytest.raises(Unauthenticated):
        Client(api.url).discover()
    rec = c.register(body(co))
    with pytest.raises(PermissionDenied):
        api.client("onyx", co).patch(rec.service_id, {"tags": ["x"]})
    with pytest.raises(NotFound):
        api.client("sapphire", "someone-else").patch(rec.service_id, {"tags": ["x"]})
    with pytest.raises(PermissionDenied):
        api.client("emerald").audit()
    with pytest.raises(TypeError):
        c.discover(colour="blue")


def test_discover_filters_and_iter_discover(api):
    c = api.client()
    co = company()
    ids = []
    for i in range(23):
        b = body(co, f"{co}-{i}", tags=["gpu"] if i % 3 == 0 else [])
        b["serviceInfo"]["capabilities"] = ["tools", "search"] if i % 2 else ["tools"]
        ids.append(c.register(b).service_id)
    assert c.discover(company=co, limit=1000).count == 23
    assert c.discover(company=co, tags=["gpu"]).count == 8
    assert c.discover(company=co, capabilities=["tools", "search"]).count == 11
    assert c.discover(company=co, capabilities="tools,search", tags="gpu").count == 4
    assert c.discover(company=co, status="maintenance").count == 0
    walked = [r.service_id for r in c.iter_discover(company=co, page_size=5)]
    assert sorted(walked) == sorted(ids) and len(set(walked)) == 23
    with pytest.raises(InvalidArgument) as e:
        c.discover(company=co, limit=5000)
    assert e.value.field == "limit"


def test_the_life_of_a_service_over_http(api):
    c = api.client()
    co = company()
    rec = c.register(body(co, healthCheckConfig={"ttl": "30s"}))
    sid = rec.service_id
    assert c.get(sid).to_dict() == rec.to_dict()
    assert c.patch(sid, {"metadata": {"owner": "team-a"}}).metadata == {"owner": "team-a"}
    assert c.set_status(sid, "maintenance").status == "maintenance"
    beat = c.heartbeat(sid)
    assert beat.service_id == sid and beat.expires_at is not None
    hs = c.report_health(sid, False, response_time=3.5, message="disk full")
    assert hs.consecutive_failures == 1 and hs.last_error == "disk full"
    detail = c.health(sid)
    assert detail.status == "maintenance" and detail.recent_checks[0].error == "disk full"
    entries = c.audit(limit=1000)
    assert any(e.service_id == sid and e.action == "register" for e in entries)
    c.deregister(sid)
    with pytest.raises(NotFound):
        c.get(sid)
    with pytest.raises(NotFound):
        c.deregister(sid)  # a first attempt that fails is reported, not hidden


def test_keep_alive_reuses_one_connection(api):
    c = api.client()
    c.discover(limit=1)
    sock = c._local.conn.sock
    port = sock.getsockname()[1]
    for _ in range(20):
        c.discover(limit=1)
    assert c._local.conn.sock is sock and c._local.conn.sock.getsockname()[1] == port


def test_watch_sees_a_change_and_resumes(api):
    c = api.client()
    co = company()
    with c.watch(company=co) as stream:
        rec = c.register(body(co))
        event = next(stream)
        assert event.type == "upsert" and event.service.service_id == rec.service_id
        resume_from = stream.last_event_id
        assert resume_from == event.index
    c.set_status(rec.service_id, "maintenance")
    c.deregister(rec.service_id)
    # Reconnect with Last-Event-ID: the changes made while away come first.
    with c.watch(company=co, last_event_id=resume_from) as stream:
        events = [next(stream), next(stream)]
    assert [e.type for e in events] == ["status", "delete"]


def test_daemon_endpoints(api):
    c = api.client()
    assert c.alive() is True
    assert c.ready()["status"] == "ready"
    assert "discovery" in c.metrics()
    assert c.openapi()["openapi"].startswith("3.1")


def test_token_never_shows(api):
    token = mint_token(api.secret, "diamond")
    c = Client(api.url, token=token)
    assert token not in repr(c)
    with pytest.raises(ValueError):
        Client(api.url, token="two words")


def test_token_file(api, tmp_path):
    f = tmp_path / "token"
    f.write_text(mint_token(api.secret, "diamond") + "\n")
    assert Client(api.url, token_file=str(f)).discover(limit=1).index >= 0


def test_stale_keep_alive_connection_is_replaced():
    # A server restarted on the same port: the pooled connection is dead, and
    # even a PATCH (never retried) goes through on a fresh one.
    with Server(log_level="error") as first:
        port, secret = first.port, first.secret
        c = Client(first.url, token=mint_token(secret, "diamond"))
        rec = c.register(body(company()))
    reg = mcp_discovery.Registry()
    try:
        with Server(reg, secret=secret, port=port, log_level="error"):
            reg.register(body(rec.company_name, rec.instance_id))
            sid = reg.find(rec.company_name, rec.instance_id).service_id
            assert c.patch(sid, {"tags": ["after-restart"]}).tags == ["after-restart"]
    finally:
        reg.close()


def test_no_server_is_a_transport_error_after_retries():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    c = Client(f"http://127.0.0.1:{port}", token="x.y.z", retries=2, backoff=0.01)
    t0 = time.monotonic()
    with pytest.raises(TransportError):
        c.discover()
    assert time.monotonic() - t0 < 5


def test_a_silent_server_is_a_timeout():
    # Accepts connections (the kernel's backlog) but never answers.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    try:
        c = Client(f"http://127.0.0.1:{s.getsockname()[1]}", token="x.y.z", timeout=0.2, retries=1, backoff=0.01)
        with pytest.raises(Timeout) as e:
            c.get("anything")
        assert isinstance(e.value, TimeoutError)
    finally:
        s.close()


def test_rate_limited_is_retried_after_retry_after():
    with Server(log_level="error", rate_limit_rps=2) as server:
        token = server.mint_token("diamond")
        impatient = Client(server.url, token=token, retries=0)
        with pytest.raises(RateLimited) as e:
            for _ in range(20):
                impatient.discover(limit=1)
        assert e.value.retry_after and e.value.retry_after > 0
        patient = Client(server.url, token=token, retries=3, backoff=0.05)
        assert patient.discover(limit=1).index >= 0


def test_long_poll_discover(api):
    c = api.client()
    idx = c.discover(limit=1).index
    co = company()
    threading.Timer(0.2, lambda: c.with_token(c._token).register(body(co))).start()
    t0 = time.monotonic()
    page = c.discover(company=co, index=idx, wait="5s")
    assert page.index > idx and time.monotonic() - t0 < 4


def test_bad_base_url():
    with pytest.raises(ValueError):
        Client("ftp://example.com")


def test_watch_reconnects_by_itself_and_misses_nothing():
    # The server goes away under an open watch; changes made meanwhile reach
    # the watcher once a server is back (Last-Event-ID resume).
    registry = mcp_discovery.Registry()
    try:
        first = Server(registry, log_level="error")
        port, secret = first.port, first.secret
        c = Client(first.url, token=mint_token(secret, "diamond"))
        co = company()
        stream = c.watch(company=co)
        a = c.register(body(co))
        assert next(stream).service.service_id == a.service_id
        first.stop()
        b = registry.register(body(co))  # while no server listens
        with Server(registry, secret=secret, port=port, log_level="error"):
            event = next(stream)
            assert event.service.service_id == b.service_id and event.index > stream.last_event_id - 1
            stream.close()
        with pytest.raises(StopIteration):
            next(stream)
    finally:
        registry.close()


def test_watch_without_reconnect_reports_the_loss():
    with Server(log_level="error") as server:
        stream = Client(server.url, token=server.mint_token()).watch(reconnect=False)
        server.stop()
        with pytest.raises(TransportError):
            next(stream)
