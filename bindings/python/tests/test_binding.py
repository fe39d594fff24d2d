"""The compiled binding: Registry, QueryEngine, watches and errors, in process."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest

import mcp_discovery
from mcp_discovery import errors
from mcp_discovery import (Context, InvalidArgument, NotFound, Query, QueryEngine, Registry, ServiceRecord,
                           Unavailable)

from conftest import body, company


@pytest.fixture
def registry():
    with Registry(ttl_sweep_interval=0) as r:
        yield r


def test_register_returns_a_record_with_attributes_and_the_api_json(registry):
    rec = registry.register(body("acme", "acme-1", tags=["beta", "gpu"], metadata={"team": "search"}))
    assert isinstance(rec, ServiceRecord)
    assert rec.created is True
    assert rec.company_name == "acme" and rec.instance_id == "acme-1" and rec.status == "active"
    assert len(rec.service_id) == 36
    assert rec.domain == "mcp.acme.example.com"
    assert rec.service_info.region == "us-west1" and rec.service_info.capabilities == ["tools"]
    assert rec.service_info.endpoints.primary == "https://mcp.acme.example.com"
    assert rec.tags == ["beta", "gpu"] and rec.metadata == {"team": "search"}
    assert isinstance(rec.registered_at, datetime) and rec.registered_at.tzinfo == timezone.utc
    assert rec.health_check_config.interval == "30s" and rec.health_check_config.ttl is None
    assert rec.mcp is None
    d = rec.to_dict()
    assert d["serviceId"] == rec.service_id and d["companyName"] == "acme" and d["saoLevel"] == "diamond"
    assert d["registeredAt"].endswith("Z")
    d["companyName"] = "changed"  # a copy: the record is unchanged
    assert rec.to_dict()["companyName"] == "acme"


def test_reregistration_keeps_the_service_id(registry):
    first = registry.register(body("acme", "acme-1"))
    again = registry.register(body("acme", "acme-1", tags=["v2"]))
    assert again.created is False and again.service_id == first.service_id
    assert registry.get(first.service_id).tags == ["v2"]
    assert registry.find("acme", "acme-1").service_id == first.service_id
    assert len(registry) == 1


def test_bad_input_raises_invalid_argument_naming_the_field(registry):
    bad = body("acme")
    bad["serviceInfo"]["endpoints"]["primary"] = "ftp://nope"
    with pytest.raises(InvalidArgument) as e:
        registry.register(bad)
    assert e.value.field == "serviceInfo.endpoints.primary" and e.value.status == 400
    assert isinstance(e.value, ValueError)
    with pytest.raises(InvalidArgument) as e:
        registry.register(body("acme", metadata={"when": object()}))
    assert e.value.field == "metadata.when"
    with pytest.raises(InvalidArgument) as e:
        registry.set_status(registry.register(body("acme")).service_id, "sleeping")
    assert e.value.field == "status"
    with pytest.raises(InvalidArgument):
        registry.discover(limit=0)


def test_errors_are_the_shared_classes(registry):
    with pytest.raises(NotFound) as e:
        registry.get("00000000-0000-4000-8000-000000000000")
    assert type(e.value) is errors.NotFound is mcp_discovery.NotFound
    assert e.value.code == "not_found" and e.value.status == 404
    assert isinstance(e.value, mcp_discovery.DiscoveryError)


def test_discover_filters_and_a_cursor_walk(registry):
    ids = set()
    for i in range(25):
        b = body("walk", f"walk-{i}", tags=["even"] if i % 2 == 0 else [])
        b["serviceInfo"]["region"] = "eu-west1" if i % 5 == 0 else "us-west1"
        ids.add(registry.register(b).service_id)
    registry.register(body("other"))
    page = registry.discover(company="walk", limit=10)
    assert page.count == 10 and page.next_cursor and page.index == registry.index
    assert [r.service_id for r in page] == sorted(r.service_id for r in page)
    walked = [r.service_id for r in registry.iter_discover(company="walk", limit=7)]
    assert len(walked) == 25 and set(walked) == ids
    assert registry.discover(company="walk", region="eu-west1").count == 5
    assert registry.discover(company="walk", tags=["even"]).count == 13
    assert registry.discover(company="walk", tags="even", region="eu-west1").count == 3
    assert registry.discover(company="walk", tools=["search"]).count == 0
    assert registry.discover(Query(company="walk", status="maintenance")).count == 0
    assert QueryEngine(registry).discover(company="walk", limit=1000).count == 25


def test_the_life_of_a_service(registry):
    rec = registry.register(body("life", healthCheckConfig={"ttl": "30s"}))
    sid = rec.service_id
    patched = registry.update(sid, {"tags": ["patched"], "metadata": {"k": 1}})
    assert patched.tags == ["patched"] and patched.metadata == {"k": 1}
    with pytest.raises(InvalidArgument) as e:
        registry.update(sid, {"status": "inactive"})
    assert e.value.field == "status"
    assert registry.set_status(sid, "maintenance").status == "maintenance"
    beat = registry.heartbeat(sid)
    assert beat.service_id == sid and beat.expires_at is not None
    health = registry.report_health(sid, False, response_time=12.5, message="boom")
    assert health.consecutive_failures == 1 and health.last_error == "boom"
    detail = registry.health(sid)
    assert detail.recent_checks[0].ok is False and detail.recent_checks[0].response_time == 12.5
    assert registry.count_by_status()["maintenance"] == 1
    registry.deregister(sid)
    with pytest.raises(NotFound):
        registry.get(sid)


def test_a_context_is_audited(registry):
    ctx = Context(subject="ops-1", sao="emerald", request_id="req-42")
    registry.register(body("audited"), context=ctx)
    registry.register(body("quiet"))  # a trusted in-process call: no entry
    entries = registry.audit()
    assert [(e.subject, e.action, e.request_id) for e in entries] == [("ops-1", "register", "req-42")]
    with pytest.raises(InvalidArgument):
        Context(sao="ruby")


def test_sqlite_storage_survives_a_reopen_and_is_locked(tmp_path):
    path = tmp_path / "discovery.db"
    with Registry(path) as r:
        sid = r.register(body("durable", "durable-1")).service_id
        assert r.storage.startswith("sqlite:")
        with pytest.raises(Unavailable):
            Registry(path)  # one process-wide owner at a time
    with Registry(str(path)) as r:
        assert r.get(sid).instance_id == "durable-1"


def test_a_closed_registry_says_so(registry):
    registry.close()
    with pytest.raises(Unavailable, match="closed"):
        registry.discover()


def test_watch_delivers_matching_changes(registry):
    with registry.watch(company="watched") as w:
        registry.register(body("elsewhere"))
        rec = registry.register(body("watched"))
        registry.set_status(rec.service_id, "maintenance")
        registry.deregister(rec.service_id)
        events = [w.next(timeout=5) for _ in range(3)]
        assert [(e.type, e.service.service_id) for e in events] == [
            ("upsert", rec.service_id), ("status", rec.service_id), ("delete", rec.service_id)]
        assert events[0].index < events[1].index < events[2].index
        assert w.next(timeout=0.05) is None
    assert registry.events_since(events[0].index - 1)[0].index == events[0].index


def test_blocking_calls_release_the_gil(registry):
    # wait_for_index blocks in C++; if it held the GIL this thread could not
    # register, and the waiter would only return at its 10 s timeout.
    start = registry.index
    woke = {}

    def wait():
        t0 = time.monotonic()
        woke["index"] = registry.wait_for_index(start, 10.0)
        woke["after"] = time.monotonic() - t0

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.1)
    registry.register(body("gil"))
    t.join(10)
    assert woke["index"] > start and woke["after"] < 5


def test_long_poll_discover_after(registry):
    engine = registry.engine
    idx = registry.index
    t0 = time.monotonic()
    page = engine.discover_after(idx, 0.2, company="nobody")
    assert page.count == 0 and time.monotonic() - t0 >= 0.15


def test_ttl_expiry_in_process(registry):
    # ttl_sweep_interval=0: the test expires heartbeats itself.
    rec = registry.register(body("ttl", healthCheckConfig={"ttl": "1s"}))
    time.sleep(1.1)
    assert registry.expire_heartbeats() == 1
    assert registry.get(rec.service_id).status == "inactive"
    assert registry.heartbeat(rec.service_id).status == "active"
