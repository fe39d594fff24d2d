"""Every endpoint's success path, with the status and body shape API.md
promises (one daemon for the module; each test uses its own companies)."""

from __future__ import annotations

import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest

from discovery_it import RFC3339, service_body, wait_until

RECORD_KEYS = {"serviceId", "companyName", "domain", "instanceId", "status", "healthStatus", "serviceInfo",
               "mcp", "healthCheckConfig", "personalConfig", "demoConfig", "saoLevel", "registeredAt",
               "lastUpdated", "tags", "metadata"}
HEALTH_KEYS = {"lastCheck", "responseTime", "uptime", "consecutiveFailures", "consecutiveSuccesses",
               "lastFailure", "lastError"}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def uniq(prefix: str = "co") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def parse_time(text: str) -> datetime:
    assert RFC3339.match(text), text
    return datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")


def assert_record(rec: dict, full: bool = True):
    expected = RECORD_KEYS if full else RECORD_KEYS - {"personalConfig", "demoConfig"}
    assert set(rec) == expected, set(rec) ^ expected
    assert UUID.match(rec["serviceId"]), rec["serviceId"]
    assert rec["status"] in {"active", "inactive", "maintenance", "unhealthy"}
    assert set(rec["healthStatus"]) == HEALTH_KEYS
    assert RFC3339.match(rec["registeredAt"]) and RFC3339.match(rec["lastUpdated"])
    assert isinstance(rec["tags"], list) and isinstance(rec["metadata"], dict)
    assert "primary" in rec["serviceInfo"]["endpoints"]


# ------------------------------------------------------------- register ----

def test_register_201_then_reregister_200_keeps_id_and_registered_at(admin):
    company = uniq()
    body = service_body(company, "inst-1", personalConfig={"p": 1}, demoConfig={"d": 2}, tags=["beta"])
    r = admin.register(body)
    assert r.status == 201, r
    assert r.header("Content-Type").startswith("application/json")
    rec = r.body
    assert_record(rec)
    assert rec["companyName"] == company and rec["instanceId"] == "inst-1"
    assert rec["status"] == "active"
    assert rec["personalConfig"] == {"p": 1} and rec["demoConfig"] == {"d": 2}
    assert rec["registeredAt"] == rec["lastUpdated"]

    body["serviceInfo"]["version"] = "2.0.0"
    body["tags"] = ["beta", "gpu"]
    again = admin.register(body)
    assert again.status == 200, again
    assert again.body["serviceId"] == rec["serviceId"]
    assert again.body["registeredAt"] == rec["registeredAt"]
    assert again.body["serviceInfo"]["version"] == "2.0.0"
    assert again.body["tags"] == ["beta", "gpu"]
    assert parse_time(again.body["lastUpdated"]) >= parse_time(rec["lastUpdated"])
    # One record, not two.
    found = admin.discover({"company": company}).body
    assert found["count"] == 1 and found["services"][0]["serviceId"] == rec["serviceId"]


def test_register_defaults_instance_id_domain_health_config_and_sao_level(daemon):
    company = uniq()
    client = daemon.client(daemon.mint("sapphire", company))
    body = service_body(company)
    del body["instanceId"]
    body["serviceInfo"]["endpoints"]["primary"] = "https://mcp.example.org:8443/base"
    before_ms = int(time.time() * 1000) - 5000
    r = client.register(body)
    assert r.status == 201, r
    rec = r.body
    m = re.match(rf"^{company}-(\d+)-([0-9a-f]{{6}})$", rec["instanceId"])
    assert m, rec["instanceId"]
    assert before_ms <= int(m.group(1)) <= int(time.time() * 1000) + 5000
    assert rec["domain"] == "mcp.example.org"
    assert rec["saoLevel"] == "sapphire"
    hc = rec["healthCheckConfig"]
    assert hc["interval"] == "30s" and hc["timeout"] == "10s" and hc["retries"] == 3
    assert hc["failureThreshold"] == 3 and hc["successThreshold"] == 2
    assert hc["endpoints"] == ["/health"] and hc["expectedStatus"] == 200
    assert hc["mcp"] is False and hc["ttl"] is None
    assert rec["mcp"] is None


def test_reregistration_keeps_status_and_unchanged_one_bumps_no_index(admin):
    company = uniq()
    body = service_body(company, "keep")
    sid = admin.register(body).body["serviceId"]
    assert admin.put(f"/api/v1/services/{sid}/status", {"status": "maintenance"}).status == 200
    index = admin.discover({"limit": 1}).body["index"]
    again = admin.register(body)
    assert again.status == 200
    assert again.body["status"] == "maintenance"  # the operator's status is kept
    assert admin.discover({"limit": 1}).body["index"] == index  # nothing changed: no index bump


def test_register_after_deregister_is_a_new_record(admin):
    company = uniq()
    body = service_body(company, "again")
    first = admin.register(body).body
    assert admin.delete(f"/api/v1/services/{first['serviceId']}").status == 204
    second = admin.register(body)
    assert second.status == 201
    assert second.body["serviceId"] != first["serviceId"]


def test_register_reads_null_as_absent(admin):
    r = admin.register(service_body(uniq(), tags=None, metadata=None, personalConfig=None, domain=None))
    assert r.status == 201, r
    assert r.body["tags"] == [] and r.body["metadata"] == {}
    assert r.body["domain"] == r.body["serviceInfo"]["endpoints"]["primary"].split("//")[1].split("/")[0]


def test_head_answers_like_get_without_body(daemon):
    r = daemon.client().request("HEAD", "/health")
    assert r.status == 200 and r.raw == b""


# ------------------------------------------------------------- discover ----

@pytest.fixture(scope="module")
def catalog(daemon):
    """Six records of one company with distinct attributes."""
    admin = daemon.admin()
    company = uniq("filt")
    specs = {
        "a": dict(region="us-west1", env="production", caps=["tools", "resources"], tags=["beta", "gpu"], sao="diamond"),
        "b": dict(region="us-east1", env="production", caps=["tools"], tags=["beta"], sao="emerald"),
        "c": dict(region="us-west1", env="staging", caps=["tools", "resources", "search"], tags=["gpu"], sao="sapphire"),
        "d": dict(region="eu-west1", env="staging", caps=["search"], tags=[], sao="sapphire"),
        "e": dict(region="us-west1", env="production", caps=["resources", "search"], tags=["beta", "gpu", "x"], sao="opal"),
        "f": dict(region="eu-west1", env="dev", caps=[], tags=["gpu"], sao="onyx"),
    }
    ids = {}
    for name, s in specs.items():
        body = service_body(company, f"inst-{name}", saoLevel=s["sao"], tags=s["tags"])
        body["serviceInfo"].update(region=s["region"], environment=s["env"], capabilities=s["caps"])
        r = admin.register(body)
        assert r.status == 201, r
        ids[name] = r.body["serviceId"]
    assert admin.put(f"/api/v1/services/{ids['b']}/status", {"status": "maintenance"}).status == 200
    assert admin.put(f"/api/v1/services/{ids['d']}/status", {"status": "inactive"}).status == 200
    return company, ids


FILTER_CASES = [
    ([("region", "us-west1")], "ace"),
    ([("region", "eu-west1")], "df"),
    ([("environment", "staging")], "cd"),
    ([("environment", "production"), ("region", "us-west1")], "ae"),
    ([("status", "active")], "acef"),
    ([("status", "maintenance")], "b"),
    ([("status", "inactive")], "d"),
    ([("status", "unhealthy")], ""),
    ([("saoLevel", "sapphire")], "cd"),
    ([("saoLevel", "onyx")], "f"),
    ([("capabilities", "tools")], "abc"),
    ([("capabilities", "tools,resources")], "ac"),
    ([("capabilities", "tools"), ("capabilities", "resources")], "ac"),
    ([("capabilities", "resources,search"), ("capabilities", "tools")], "c"),
    ([("tags", "gpu")], "acef"),
    ([("tags", "beta,gpu")], "ae"),
    ([("tags", "beta"), ("tags", "gpu")], "ae"),
    ([("tags", "beta"), ("capabilities", "search")], "e"),
    ([("tools", "search")], ""),
    ([("tools", "search,fetch")], ""),
    ([], "abcdef"),
]


@pytest.mark.parametrize("params,expected", FILTER_CASES, ids=[
    "&".join(f"{k}={v}" for k, v in p) or "company-only" for p, _ in FILTER_CASES])
def test_discover_filters(admin, catalog, params, expected):
    company, ids = catalog
    r = admin.discover([("company", company)] + params)
    assert r.status == 200, r
    body = r.body
    assert set(body) == {"services", "count", "nextCursor", "index"}
    assert body["count"] == len(body["services"])
    assert body["nextCursor"] is None
    got = {s["serviceId"] for s in body["services"]}
    assert got == {ids[n] for n in expected}
    for s in body["services"]:
        assert s["companyName"] == company
        assert_record(s)
    assert [s["serviceId"] for s in body["services"]] == sorted(got)


def test_discover_index_matches_header_and_grows(admin):
    r1 = admin.discover({"limit": 1})
    assert r1.status == 200
    assert isinstance(r1.body["index"], int)
    assert int(r1.header("X-Discovery-Index")) == r1.body["index"]
    assert admin.register(service_body(uniq())).status == 201
    r2 = admin.discover({"limit": 1})
    assert r2.body["index"] > r1.body["index"]


def test_discover_cursor_walk_over_250_records_visits_each_once(daemon, admin):
    company = uniq("page")

    def reg(i):
        r = admin.register(service_body(company, f"p-{i:04d}"))
        assert r.status == 201, r
        return r.body["serviceId"]

    with ThreadPoolExecutor(8) as pool:
        originals = set(pool.map(reg, range(250)))
    assert len(originals) == 250

    # The default page is 100, with a cursor.
    first = admin.discover({"company": company})
    assert first.body["count"] == 100 and first.body["nextCursor"] is not None

    seen, pages, cursor, added = [], 0, None, set()
    while True:
        q = {"company": company, "limit": 37}
        if cursor:
            q["cursor"] = cursor
        r = admin.discover(q)
        assert r.status == 200, r
        page = r.body
        pages += 1
        assert page["count"] == len(page["services"]) <= 37
        seen.extend(s["serviceId"] for s in page["services"])
        cursor = page["nextCursor"]
        if pages == 2:
            # Changes during the walk: new records and updates of old ones.
            for i in range(5):
                added.add(reg(1000 + i))
            for sid in sorted(originals)[::50]:
                assert admin.patch(f"/api/v1/services/{sid}", {"tags": ["touched"]}).status == 200
        if cursor is None:
            break
        assert page["count"] == 37  # only the last page is short
    assert len(seen) == len(set(seen)), "a record was visited twice"
    assert originals <= set(seen), "a record present throughout the walk was skipped"
    assert set(seen) <= originals | added
    assert seen == sorted(seen), "pages are ordered by serviceId"
    assert pages >= 7


# ------------------------------------------------------ get and patch ----

def test_get_returns_the_record(admin):
    r = admin.register(service_body(uniq(), metadata={"k": "v"}))
    got = admin.service(r.body["serviceId"])
    assert got.status == 200
    assert got.body == r.body


@pytest.mark.parametrize("ctype", ["application/merge-patch+json", "application/json",
                                   "application/merge-patch+json; charset=utf-8"])
def test_patch_is_a_json_merge_patch(admin, ctype):
    body = service_body(uniq(), tags=["a", "b"], metadata={"keep": 1, "drop": 2})
    body["serviceInfo"]["endpoints"]["health"] = "https://h.example.com/health"
    rec = admin.register(body).body
    sid = rec["serviceId"]
    index = admin.discover({"limit": 1}).body["index"]
    patch = {"serviceInfo": {"version": "9.9.9", "endpoints": {"health": None}},
             "metadata": {"drop": None, "new": True}, "tags": ["c"],
             "healthCheckConfig": {"interval": "15s"}}
    r = admin.patch(f"/api/v1/services/{sid}", patch, content_type=ctype)
    assert r.status == 200, r
    out = r.body
    assert_record(out)
    assert out["serviceId"] == sid and out["registeredAt"] == rec["registeredAt"]
    assert out["serviceInfo"]["version"] == "9.9.9"
    assert out["serviceInfo"]["region"] == rec["serviceInfo"]["region"]  # nested objects merge
    assert "health" not in out["serviceInfo"]["endpoints"]                # null removes
    assert out["serviceInfo"]["endpoints"]["primary"] == rec["serviceInfo"]["endpoints"]["primary"]
    assert out["metadata"] == {"keep": 1, "new": True}
    assert out["tags"] == ["c"]
    assert out["healthCheckConfig"]["interval"] == "15s"
    assert out["healthCheckConfig"]["timeout"] == "10s"
    assert admin.service(sid).body == out
    assert admin.discover({"limit": 1}).body["index"] == index + 1
    # A patch that changes nothing is accepted and bumps no index.
    assert admin.patch(f"/api/v1/services/{sid}", {"tags": ["c"]}, content_type=ctype).status == 200
    assert admin.discover({"limit": 1}).body["index"] == index + 1


# -------------------------------------------------------------- status ----

def test_put_status_sets_operator_status(admin):
    company = uniq()
    sid = admin.register(service_body(company)).body["serviceId"]
    for status in ("maintenance", "inactive", "unhealthy", "active"):
        r = admin.put(f"/api/v1/services/{sid}/status", {"status": status})
        assert r.status == 200, r
        assert_record(r.body)
        assert r.body["status"] == status
        assert admin.service(sid).body["status"] == status
        found = admin.discover({"company": company, "status": status}).body
        assert [s["serviceId"] for s in found["services"]] == [sid]


# -------------------------------------------------------------- health ----

def test_health_reports_move_status_by_thresholds(admin):
    sid = admin.register(service_body(uniq())).body["serviceId"]
    path = f"/api/v1/services/{sid}/health"
    detail = admin.get(path)
    assert detail.status == 200
    assert set(detail.body) == {"serviceId", "status", "healthStatus", "recentChecks"}
    assert detail.body["recentChecks"] == [] and detail.body["status"] == "active"

    def report(ok, message=None, rt=None):
        body = {"ok": ok}
        if message is not None:
            body["message"] = message
        if rt is not None:
            body["responseTime"] = rt
        r = admin.put(path, body)
        assert r.status == 200, r
        assert set(r.body) == HEALTH_KEYS
        return r.body

    hs = report(False, "down 1", 10)
    assert hs["consecutiveFailures"] == 1 and hs["lastError"] == "down 1" and hs["responseTime"] == 10
    assert RFC3339.match(hs["lastCheck"]) and RFC3339.match(hs["lastFailure"])
    report(False, "down 2")
    assert admin.service(sid).body["status"] == "active", "2 failures are below the threshold of 3"
    hs = report(False, "down 3", 30)
    assert hs["consecutiveFailures"] == 3
    assert admin.service(sid).body["status"] == "unhealthy"
    hs = report(True, rt=5)
    assert hs["consecutiveSuccesses"] == 1 and hs["consecutiveFailures"] == 0
    assert admin.service(sid).body["status"] == "unhealthy", "1 success is below the threshold of 2"
    report(True, rt=6)
    assert admin.service(sid).body["status"] == "active"

    detail = admin.get(path).body
    assert detail["serviceId"] == sid and detail["status"] == "active"
    checks = detail["recentChecks"]
    assert [c["ok"] for c in checks] == [True, True, False, False, False]  # newest first
    assert [c["error"] for c in checks] == [None, None, "down 3", "down 2", "down 1"]
    assert [c["responseTime"] for c in checks] == [6, 5, 30, None, 10]
    times = [parse_time(c["at"]) for c in checks]
    assert times == sorted(times, reverse=True)
    for c in checks:
        assert set(c) == {"at", "ok", "responseTime", "endpoint", "error"}
        assert c["endpoint"] == "external"
    assert detail["healthStatus"]["consecutiveSuccesses"] == 2
    assert 0 <= detail["healthStatus"]["uptime"] <= 100


def test_health_report_never_moves_maintenance(admin):
    sid = admin.register(service_body(uniq())).body["serviceId"]
    assert admin.put(f"/api/v1/services/{sid}/status", {"status": "maintenance"}).status == 200
    for _ in range(4):
        assert admin.put(f"/api/v1/services/{sid}/health", {"ok": False}).status == 200
    rec = admin.service(sid).body
    assert rec["status"] == "maintenance"
    assert rec["healthStatus"]["consecutiveFailures"] == 4
    assert rec["healthStatus"]["lastError"] == "check failed"


# ----------------------------------------------------------- heartbeat ----

def test_heartbeat_without_ttl_has_no_expiry(admin):
    sid = admin.register(service_body(uniq())).body["serviceId"]
    index = admin.discover({"limit": 1}).body["index"]
    r = admin.post(f"/api/v1/services/{sid}/heartbeat")
    assert r.status == 200, r
    assert r.body == {"serviceId": sid, "status": "active", "expiresAt": None}
    assert admin.discover({"limit": 1}).body["index"] == index  # changes nothing


def test_heartbeat_with_ttl_returns_expiry(admin):
    body = service_body(uniq(), healthCheckConfig={"ttl": "1h"})
    rec = admin.register(body).body
    assert rec["healthCheckConfig"]["ttl"] == "1h"
    t0 = datetime.now(timezone.utc)
    r = admin.post(f"/api/v1/services/{rec['serviceId']}/heartbeat")
    assert r.status == 200, r
    assert set(r.body) == {"serviceId", "status", "expiresAt"}
    assert r.body["status"] == "active"
    expires = parse_time(r.body["expiresAt"])
    delta = (expires - t0).total_seconds()
    assert 3600 - 60 <= delta <= 3600 + 60, delta


def test_missed_ttl_makes_inactive_and_heartbeat_revives(admin):
    sid = admin.register(service_body(uniq(), healthCheckConfig={"ttl": "1s"})).body["serviceId"]
    wait_until(lambda: admin.service(sid).body["status"] == "inactive", timeout=20,
               what="the missed TTL to make the service inactive")
    r = admin.post(f"/api/v1/services/{sid}/heartbeat")
    assert r.status == 200, r
    assert r.body["status"] == "active" and r.body["expiresAt"] is not None
    assert admin.service(sid).body["status"] in {"active", "inactive"}  # may lapse again after 1 s


def test_heartbeat_does_not_revive_operator_inactive(admin):
    sid = admin.register(service_body(uniq(), healthCheckConfig={"ttl": "1h"})).body["serviceId"]
    assert admin.put(f"/api/v1/services/{sid}/status", {"status": "inactive"}).status == 200
    r = admin.post(f"/api/v1/services/{sid}/heartbeat")
    assert r.status == 200 and r.body["status"] == "inactive"


# ---------------------------------------------------------- deregister ----

def test_deregister_204_then_404(admin):
    company = uniq()
    sid = admin.register(service_body(company)).body["serviceId"]
    r = admin.delete(f"/api/v1/services/{sid}")
    assert r.status == 204, r
    assert r.raw == b""
    assert admin.service(sid).status == 404
    assert admin.delete(f"/api/v1/services/{sid}").status == 404
    assert admin.discover({"company": company}).body["count"] == 0


# --------------------------------------------------------------- audit ----

def test_audit_has_register_entries_with_request_ids(daemon, admin):
    company = uniq()
    since = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    reg = admin.register(service_body(company))
    assert reg.status == 201
    rid = reg.header("X-Request-Id")
    assert rid
    mine = admin.register(service_body(company), headers={"X-Request-Id": "my-req.42_x"})
    assert mine.header("X-Request-Id") == "my-req.42_x"
    refused = daemon.client(daemon.mint("opal", company, sub="opal-user")).register(service_body(company))
    assert refused.status == 403
    invalid = admin.register(service_body(company, bogus=1))
    assert invalid.status == 400

    r = admin.get("/api/v1/audit", query={"since": since, "limit": 1000})
    assert r.status == 200, r
    assert set(r.body) == {"entries"}
    entries = r.body["entries"]
    for e in entries:
        assert set(e) == {"at", "requestId", "subject", "sao", "company", "action", "serviceId", "result"}
        assert RFC3339.match(e["at"])
    by_id = {e["requestId"]: e for e in entries}
    e = by_id[rid]
    assert e["action"] == "register" and e["result"] == "ok"
    assert e["serviceId"] == reg.body["serviceId"] and e["company"] == company
    assert e["sao"] == "diamond"
    assert by_id["my-req.42_x"]["action"] == "register"
    denied = by_id[refused.header("X-Request-Id")]
    assert denied["result"] == "permission_denied" and denied["subject"] == "opal-user"
    assert denied["sao"] == "opal" and denied["action"] == "register"
    assert by_id[invalid.header("X-Request-Id")]["result"] == "invalid_argument"
    times = [e["at"] for e in entries]
    assert times == sorted(times), "oldest first"
    assert len(admin.get("/api/v1/audit", query={"since": since, "limit": 2}).body["entries"]) == 2


def test_request_id_is_replaced_when_not_plain(admin):
    r = admin.get("/health", headers={"X-Request-Id": "bad id with spaces"})
    rid = r.header("X-Request-Id")
    assert rid and rid != "bad id with spaces"
    assert re.match(r"^[A-Za-z0-9._-]{1,64}$", rid)


def test_heartbeats_are_audited_when_they_change_status(admin):
    # Documented choice (docs/security.md, openapi.json): a heartbeat that only
    # refreshes a TTL changes nothing durable and is not audited, as etcd does
    # not log lease keep-alives; one that revives a TTL-inactive service is.
    since = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    sid = admin.register(service_body(uniq(), healthCheckConfig={"ttl": "1h"})).body["serviceId"]
    beat = admin.post(f"/api/v1/services/{sid}/heartbeat")
    assert beat.status == 200
    entries = admin.get("/api/v1/audit", query={"since": since, "limit": 1000}).body["entries"]
    assert not any(e["requestId"] == beat.header("X-Request-Id") for e in entries)
    # A refused heartbeat is audited like every refused mutation.
    refused = admin.post("/api/v1/services/00000000-0000-4000-8000-000000000000/heartbeat")
    assert refused.status == 404
    entries = admin.get("/api/v1/audit", query={"since": since, "limit": 1000}).body["entries"]
    assert any(e["requestId"] == refused.header("X-Request-Id") and e["action"] == "heartbeat"
               and e["result"] == "not_found" for e in entries)


# ------------------------------------------------------ daemon's own ----

def test_health_and_ready(daemon):
    c = daemon.client()  # no token
    h = c.get("/health")
    assert h.status == 200 and h.body == {"status": "ok"}
    r = c.get("/ready")
    assert r.status == 200
    assert r.body["status"] == "ready"
    assert isinstance(r.body["services"], int) and isinstance(r.body["index"], int)


def test_metrics_prometheus_text(daemon, admin):
    admin.discover({"limit": 1})
    r = daemon.client().get("/metrics")
    assert r.status == 200
    assert r.header("Content-Type").startswith("text/plain")
    text = r.body
    assert re.search(r'^discovery_http_requests_total\{route="discover",status="200"\} [1-9]\d*$', text, re.M)
    assert re.search(r'^discovery_services\{status="active"\} \d+$', text, re.M)
    assert "# TYPE discovery_http_requests_total counter" in text
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert re.match(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.eE+-]+$', line), line


def test_openapi_document(daemon):
    r = daemon.client().get("/openapi.json")
    assert r.status == 200
    assert r.header("Content-Type").startswith("application/json")
    doc = json.loads(r.raw)
    assert re.match(r"^3\.1\.\d+$", doc["openapi"])
    for path in ["/api/v1/services/register", "/api/v1/services/discover", "/api/v1/services/watch",
                 "/api/v1/services/{serviceId}", "/api/v1/services/{serviceId}/status",
                 "/api/v1/services/{serviceId}/health", "/api/v1/services/{serviceId}/heartbeat",
                 "/api/v1/audit", "/health", "/ready", "/metrics", "/openapi.json"]:
        assert path in doc["paths"], path
