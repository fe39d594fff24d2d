"""GET /api/v1/services/watch: Server-Sent Events of changes."""

from __future__ import annotations

import time
import uuid

from discovery_it import service_body


def uniq(prefix: str = "w") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def current_index(admin) -> int:
    return admin.discover({"limit": 1}).body["index"]


def sid_is(sid):
    return lambda e: e["data"]["service"]["serviceId"] == sid


def test_change_arrives_as_event_with_id_and_json_data(daemon, admin):
    with daemon.watch(admin.token) as w:
        assert w.status == 200
        assert w.headers["content-type"].startswith("text/event-stream")
        assert w.headers.get("cache-control") == "no-cache"
        t0 = time.monotonic()
        rec = admin.register(service_body(uniq())).body
        ev = w.wait_for(sid_is(rec["serviceId"]), timeout=10)[-1]
        assert time.monotonic() - t0 < 10
    assert ev["event"] == "change"
    data = ev["data"]
    assert set(data) == {"index", "type", "service"}
    assert ev["id"] == str(data["index"])
    assert data["type"] == "upsert"
    assert data["service"] == rec


def test_event_types_upsert_status_delete(daemon, admin):
    company = uniq()
    with daemon.watch(admin.token, query={"company": company}, last_event_id=current_index(admin)) as w:
        rec = admin.register(service_body(company)).body
        sid = rec["serviceId"]
        patched = admin.patch(f"/api/v1/services/{sid}", {"tags": ["x"]}).body
        admin.put(f"/api/v1/services/{sid}/status", {"status": "maintenance"})
        assert admin.delete(f"/api/v1/services/{sid}").status == 204
        events = [w.next_event() for _ in range(4)]
    assert [e["data"]["type"] for e in events] == ["upsert", "upsert", "status", "delete"]
    indexes = [e["data"]["index"] for e in events]
    assert indexes == sorted(indexes) and len(set(indexes)) == 4
    assert events[1]["data"]["service"] == patched
    assert events[2]["data"]["service"]["status"] == "maintenance"
    assert events[3]["data"]["service"]["serviceId"] == sid  # the last state of the record
    assert events[3]["data"]["service"]["status"] == "maintenance"


def test_filters_apply(daemon, admin):
    a, b = uniq("a"), uniq("b")
    index = current_index(admin)
    with daemon.watch(admin.token, query={"company": a}, last_event_id=index) as wa, \
            daemon.watch(admin.token, query=[("company", a), ("tags", "gpu")], last_event_id=index) as wgpu:
        rb = admin.register(service_body(b)).body
        ra = admin.register(service_body(a)).body
        rgpu = admin.register(service_body(a, tags=["gpu"])).body
        events = wa.wait_for(sid_is(rgpu["serviceId"]))
        assert [e["data"]["service"]["serviceId"] for e in events] == [ra["serviceId"], rgpu["serviceId"]]
        assert rb["serviceId"] not in {e["data"]["service"]["serviceId"] for e in events}
        assert wgpu.next_event()["data"]["service"]["serviceId"] == rgpu["serviceId"]


def test_status_change_leaving_the_filter_is_delivered(daemon, admin):
    company = uniq()
    rec = admin.register(service_body(company)).body
    sid = rec["serviceId"]
    with daemon.watch(admin.token, query={"company": company, "status": "active"},
                      last_event_id=current_index(admin)) as w:
        assert admin.put(f"/api/v1/services/{sid}/status", {"status": "maintenance"}).status == 200
        ev = w.next_event()
        assert ev["data"]["type"] == "status"
        assert ev["data"]["service"]["serviceId"] == sid
        assert ev["data"]["service"]["status"] == "maintenance"
        # It no longer matches: a later change of it is not sent; a match is.
        admin.patch(f"/api/v1/services/{sid}", {"tags": ["ignored"]})
        other = admin.register(service_body(company)).body
        ev = w.next_event()
        assert ev["data"]["service"]["serviceId"] == other["serviceId"]


def test_health_transition_is_a_status_event(daemon, admin):
    company = uniq()
    sid = admin.register(service_body(company)).body["serviceId"]
    with daemon.watch(admin.token, query={"company": company}, last_event_id=current_index(admin)) as w:
        for _ in range(3):
            assert admin.put(f"/api/v1/services/{sid}/health", {"ok": False}).status == 200
        ev = w.next_event()
        assert ev["data"]["type"] == "status" and ev["data"]["service"]["status"] == "unhealthy"
        # Routine reports that change no status are not events.
        admin.put(f"/api/v1/services/{sid}/health", {"ok": False})
        marker = admin.register(service_body(company)).body
        assert w.next_event()["data"]["service"]["serviceId"] == marker["serviceId"]


def test_last_event_id_resume_replays_changes_after_it(daemon, admin):
    company = uniq()
    with daemon.watch(admin.token, query={"company": company}, last_event_id=current_index(admin)) as w:
        first = admin.register(service_body(company)).body
        ev1 = w.next_event()
    resume_id = ev1["id"]
    # While disconnected:
    second = admin.register(service_body(company)).body
    admin.patch(f"/api/v1/services/{first['serviceId']}", {"tags": ["later"]})
    admin.put(f"/api/v1/services/{second['serviceId']}/status", {"status": "inactive"})
    admin.register(service_body(uniq()))  # another company's change, filtered out

    for how in ("header", "query"):
        if how == "header":
            w = daemon.watch(admin.token, query={"company": company}, last_event_id=resume_id)
        else:
            w = daemon.watch(admin.token, query={"company": company, "index": resume_id})
        with w:
            events = [w.next_event() for _ in range(3)]
        assert [e["data"]["type"] for e in events] == ["upsert", "upsert", "status"], how
        assert [e["data"]["service"]["serviceId"] for e in events] == [
            second["serviceId"], first["serviceId"], second["serviceId"]]
        ids = [int(e["id"]) for e in events]
        assert ids == sorted(ids) and ids[0] > int(resume_id)


def test_resume_then_live_without_gap_or_duplicate(daemon, admin):
    company = uniq()
    index = current_index(admin)
    made = [admin.register(service_body(company)).body["serviceId"] for _ in range(3)]
    with daemon.watch(admin.token, query={"company": company}, last_event_id=index) as w:
        made += [admin.register(service_body(company)).body["serviceId"] for _ in range(3)]
        got = [w.next_event()["data"]["service"]["serviceId"] for _ in range(6)]
        assert got == made
        marker = admin.register(service_body(company)).body["serviceId"]
        assert w.next_event()["data"]["service"]["serviceId"] == marker


def test_personal_config_hidden_from_opal_in_events(daemon, admin):
    company = uniq()
    index = current_index(admin)
    with daemon.watch(daemon.mint("opal", company), last_event_id=index) as opal, \
            daemon.watch(daemon.mint("sapphire", company), last_event_id=index) as sapphire:
        admin.register(service_body(company, personalConfig={"k": 1}, demoConfig={"d": 1}))
        o = opal.next_event()["data"]["service"]
        s = sapphire.next_event()["data"]["service"]
    assert "personalConfig" not in o and "demoConfig" not in o
    assert s["personalConfig"] == {"k": 1} and s["demoConfig"] == {"d": 1}


def test_a_catch_up_larger_than_the_watch_queue_is_delivered(start_daemon):
    # Regression: the replay after Last-Event-ID used to count against the
    # queue bound, so a long catch-up dropped the stream every time and the
    # client reconnected into the same catch-up forever.
    d = start_daemon("--watch-queue-bytes", "4096")
    admin = d.admin()
    company = uniq()
    start = current_index(admin)
    made = [admin.register(service_body(company)).body["serviceId"] for _ in range(20)]  # ~20 KB of events
    with d.watch(admin.token, query={"company": company}, last_event_id=start) as w:
        got = [w.next_event()["data"]["service"]["serviceId"] for _ in range(20)]
    assert got == made
