"""Discover answers kept whole by the daemon (docs/operations.md): over real
HTTP, a repeated answer comes from the cache, yet any change, indexed or in
place, shows in the next answer, and callers with different views never get
each other's answer. Routine heartbeats (answered without storage) keep
API.md's semantics."""

from __future__ import annotations

import uuid

from discovery_it import service_body


def uniq(prefix: str = "ac") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_a_repeated_answer_is_kept_and_a_change_in_place_still_shows(daemon, admin):
    company = uniq()
    sid = admin.register(service_body(company, personalConfig={"owner": "ops"})).body["serviceId"]
    first = admin.discover({"company": company})
    assert first.status == 200, first
    hits = daemon.metric("discovery_answer_cache_hits_total")
    again = admin.discover({"company": company})
    assert again.raw == first.raw
    assert again.header("X-Discovery-Index") == first.header("X-Discovery-Index")
    assert daemon.metric("discovery_answer_cache_hits_total") >= hits + 1
    # An external health report updates healthStatus in place: no index bump.
    assert admin.put(f"/api/v1/services/{sid}/health", {"ok": True, "responseTime": 7}).status == 200
    after = admin.discover({"company": company})
    assert after.body["index"] == first.body["index"]
    assert after.body["services"][0]["healthStatus"]["lastCheck"] is not None
    assert after.body["services"][0]["healthStatus"]["responseTime"] == 7
    # HEAD: the GET's headers, Content-Length of the kept answer, no body.
    head = admin.request("HEAD", "/api/v1/services/discover", query={"company": company})
    assert head.status == 200 and head.raw == b""
    assert int(head.header("Content-Length")) == len(after.raw)
    assert daemon.metric("discovery_answer_cache_bytes") <= 64 << 20


def test_callers_of_other_companies_and_levels_get_their_own_answers(daemon, admin):
    acme, globex = uniq("acme"), uniq("globex")
    admin.register(service_body(acme, personalConfig={"owner": "ops@acme"}))
    admin.register(service_body(globex))
    sapphire_acme = daemon.client(daemon.mint("sapphire", acme))
    opal_acme = daemon.client(daemon.mint("opal", acme))
    sapphire_globex = daemon.client(daemon.mint("sapphire", globex))
    for _ in range(2):  # the second round is served from the cache
        full = sapphire_acme.discover({"company": acme}).body
        assert full["count"] == 1 and full["services"][0]["personalConfig"] == {"owner": "ops@acme"}
        redacted = opal_acme.discover({"company": acme}).body
        assert redacted["count"] == 1 and "personalConfig" not in redacted["services"][0]
        hidden = sapphire_globex.discover({"company": acme}).body
        assert hidden["count"] == 0 and hidden["services"] == []  # no existence leak
        assert admin.discover({"company": acme}).body["services"][0]["personalConfig"] == {"owner": "ops@acme"}


def test_routine_heartbeats_keep_their_meaning(daemon, admin):
    company = uniq()
    sid = admin.register(service_body(company, healthCheckConfig={"ttl": "1h"})).body["serviceId"]
    owner = daemon.client(daemon.mint("sapphire", company))
    r = owner.post(f"/api/v1/services/{sid}/heartbeat")
    assert r.status == 200 and r.body["status"] == "active" and r.body["expiresAt"] is not None
    other = daemon.client(daemon.mint("sapphire", uniq()))
    hidden = other.post(f"/api/v1/services/{sid}/heartbeat")
    unknown = other.post("/api/v1/services/00000000-0000-4000-8000-000000000000/heartbeat")
    assert hidden.status == unknown.status == 404
    assert hidden.body["error"]["code"] == unknown.body["error"]["code"] == "not_found"
    assert daemon.client(daemon.mint("opal", company)).post(f"/api/v1/services/{sid}/heartbeat").status == 403
    assert daemon.client(None).post(f"/api/v1/services/{sid}/heartbeat").status == 401
    # Refusals are still audited.
    entries = admin.get("/api/v1/audit", query={"limit": 1000}).body["entries"]
    assert any(e["action"] == "heartbeat" and e["result"] == "not_found" and e["serviceId"] == sid for e in entries)
    # A POST to a path that takes none is answered (not left to the writers).
    assert admin.post("/api/v1/services/discover").status == 405
