"""The access matrix: 5 levels x every endpoint x (own company, another
company), as API.md's Access table and the Authorizer (auth.hpp) decide it.

Every level's token carries `company: OWN` (diamond and emerald are not
scoped by it). A request on another company's record is 404 for the scoped
levels (no existence leak), registering for another company is 403, onyx
gets 403 on .../health, the audit log is diamond only, and personalConfig /
demoConfig are shown only to diamond, emerald and sapphire of that company.
"""

from __future__ import annotations

import time
import uuid

import pytest

from discovery_it import LEVELS, assert_error, service_body

OWN = f"own-{uuid.uuid4().hex[:8]}"
OTHER = f"other-{uuid.uuid4().hex[:8]}"
WHOSE = ("own", "other")

# endpoint -> level -> (status on OWN's record, status on OTHER's record)
MANAGE = {"diamond": (200, 200), "emerald": (200, 200), "sapphire": (200, 404), "opal": (403, 404),
          "onyx": (403, 404)}
EXPECTED = {
    "register": {"diamond": (201, 201), "emerald": (201, 201), "sapphire": (201, 403), "opal": (403, 403),
                 "onyx": (403, 403)},
    "get": {"diamond": (200, 200), "emerald": (200, 200), "sapphire": (200, 404), "opal": (200, 404),
            "onyx": (200, 404)},
    "patch": MANAGE,
    "patch-json": MANAGE,
    "status": MANAGE,
    "delete": {lvl: (204 if own == 200 else own, 204 if oth == 200 else oth) for lvl, (own, oth) in MANAGE.items()},
    "health-get": {"diamond": (200, 200), "emerald": (200, 200), "sapphire": (200, 404), "opal": (200, 404),
                   "onyx": (403, 404)},
    "health-put": MANAGE,
    "heartbeat": MANAGE,
    "discover": {lvl: (200, 200) for lvl in LEVELS},
    "audit": {"diamond": (200, 200), "emerald": (403, 403), "sapphire": (403, 403), "opal": (403, 403),
              "onyx": (403, 403)},
}
SEES_CONFIG = {"diamond": (True, True), "emerald": (True, True), "sapphire": (True, False),
               "opal": (False, False), "onyx": (False, False)}

CASES = [(ep, lvl, whose, EXPECTED[ep][lvl][i]) for ep in EXPECTED for lvl in LEVELS for i, whose in enumerate(WHOSE)]


def token(daemon, level):
    return daemon.mint(level, OWN, sub=f"{level}-user")


def company_of(whose):
    return OWN if whose == "own" else OTHER


@pytest.fixture(scope="module")
def seeded(daemon):
    """A record in each company that no test changes (for discover)."""
    admin = daemon.admin()
    ids = {}
    for whose in WHOSE:
        r = admin.register(service_body(company_of(whose), f"seed-{whose}", personalConfig={"secret": 1},
                                        demoConfig={"demo": 2}))
        assert r.status == 201
        ids[whose] = r.body["serviceId"]
    return ids


def fresh_record(admin, company):
    r = admin.register(service_body(company, personalConfig={"secret": 1}, demoConfig={"demo": 2}))
    assert r.status == 201, r
    return r.body


def perform(client, endpoint, company, sid):
    if endpoint == "register":
        return client.register(service_body(company, personalConfig={"secret": 1}))
    if endpoint == "get":
        return client.service(sid)
    if endpoint == "patch":
        return client.patch(f"/api/v1/services/{sid}", {"tags": ["patched"]},
                            content_type="application/merge-patch+json")
    if endpoint == "patch-json":
        return client.patch(f"/api/v1/services/{sid}", {"metadata": {"x": 1}})
    if endpoint == "status":
        return client.put(f"/api/v1/services/{sid}/status", {"status": "maintenance"})
    if endpoint == "delete":
        return client.delete(f"/api/v1/services/{sid}")
    if endpoint == "health-get":
        return client.get(f"/api/v1/services/{sid}/health")
    if endpoint == "health-put":
        return client.put(f"/api/v1/services/{sid}/health", {"ok": False, "message": "probe"})
    if endpoint == "heartbeat":
        return client.post(f"/api/v1/services/{sid}/heartbeat")
    if endpoint == "discover":
        return client.discover({"company": company})
    if endpoint == "audit":
        return client.get("/api/v1/audit", query={"limit": 1})
    raise AssertionError(endpoint)


@pytest.mark.parametrize("endpoint,level,whose,expected", CASES,
                         ids=[f"{ep}-{lvl}-{whose}-{exp}" for ep, lvl, whose, exp in CASES])
def test_access(daemon, seeded, endpoint, level, whose, expected):
    admin = daemon.admin()
    company = company_of(whose)
    record = None if endpoint in ("register", "discover", "audit") else fresh_record(admin, company)
    sid = record["serviceId"] if record else None
    before_index = admin.discover({"limit": 1}).body["index"]
    before_count = len(admin.discover_all({"company": company}))

    r = perform(daemon.client(token(daemon, level)), endpoint, company, sid)
    assert r.status == expected, r

    if expected >= 400:
        assert_error(r, expected)
        if expected == 404:
            # Word for word what a missing service gets: nothing leaks.
            missing = admin.service("00000000-0000-4000-8000-000000000000").body["error"]["message"]
            assert r.body["error"]["message"] == missing.replace("00000000-0000-4000-8000-000000000000", sid)
        # A refused request changes nothing.
        assert admin.discover({"limit": 1}).body["index"] == before_index
        assert len(admin.discover_all({"company": company})) == before_count
        if record:
            assert admin.service(sid).body == record
        return

    sees = SEES_CONFIG[level][WHOSE.index(whose)]
    if endpoint in ("register", "get", "patch", "patch-json", "status"):
        assert r.body["companyName"] == company
        assert ("personalConfig" in r.body) == sees, r.body
        assert ("demoConfig" in r.body) == sees, r.body
        if sees:
            assert r.body["personalConfig"] == {"secret": 1}
    if endpoint == "discover":
        services = r.body["services"]
        scoped = level in ("sapphire", "opal", "onyx")
        if whose == "other" and scoped:
            assert services == [] and r.body["count"] == 0 and r.body["nextCursor"] is None
        else:
            assert seeded[whose] in {s["serviceId"] for s in services}
            assert all(s["companyName"] == company for s in services)
            for s in services:
                assert ("personalConfig" in s) == sees and ("demoConfig" in s) == sees
    if endpoint == "delete":
        assert admin.service(sid).status == 404
    if endpoint == "audit":
        assert "entries" in r.body


@pytest.mark.parametrize("level", LEVELS)
def test_discover_without_filter_shows_scoped_levels_only_their_company(daemon, seeded, level):
    c = daemon.client(token(daemon, level))
    services = c.discover_all()
    companies = {s["companyName"] for s in services}
    ids = {s["serviceId"] for s in services}
    assert seeded["own"] in ids
    if level in ("diamond", "emerald"):
        assert seeded["other"] in ids
    else:
        assert companies == {OWN}
    # Filters cannot widen the scope.
    for q in ({"company": OTHER}, {"company": OTHER, "status": "active"}, {"saoLevel": "diamond", "company": OTHER}):
        found = {s["companyName"] for s in c.discover_all(q)}
        assert found == ({OTHER} if level in ("diamond", "emerald") else set()), q


def test_diamond_and_emerald_without_company_claim(daemon):
    for level in ("diamond", "emerald"):
        c = daemon.client(daemon.mint(level, sub=f"{level}-nocompany"))
        r = c.register(service_body(OTHER))
        assert r.status == 201, r
        assert c.service(r.body["serviceId"]).status == 200
        assert "personalConfig" in c.service(r.body["serviceId"]).body
    assert daemon.client(daemon.mint("diamond")).get("/api/v1/audit").status == 200


@pytest.mark.parametrize("level", LEVELS)
def test_watch_scope(daemon, seeded, level):
    admin = daemon.admin()
    index = admin.discover({"limit": 1}).body["index"]
    tok = token(daemon, level)
    scoped = level in ("sapphire", "opal", "onyx")
    with daemon.watch(tok, last_event_id=index) as everything, \
            daemon.watch(tok, query={"company": OTHER}, last_event_id=index) as others, \
            daemon.watch(admin.token, last_event_id=index) as control:
        assert everything.status == others.status == 200
        theirs = fresh_record(admin, OTHER)
        mine = fresh_record(admin, OWN)
        # The control sees both, in order.
        events = control.wait_for(lambda e: e["data"]["service"]["serviceId"] == mine["serviceId"])
        assert theirs["serviceId"] in {e["data"]["service"]["serviceId"] for e in events}

        events = everything.wait_for(lambda e: e["data"]["service"]["serviceId"] == mine["serviceId"])
        got = [e["data"]["service"] for e in events]
        if scoped:
            assert all(s["companyName"] == OWN for s in got), got
        else:
            assert theirs["serviceId"] in {s["serviceId"] for s in got}
        own_event = got[-1]
        assert ("personalConfig" in own_event) == SEES_CONFIG[level][0]
        assert ("demoConfig" in own_event) == SEES_CONFIG[level][0]

        if scoped:
            time.sleep(0.5)  # a bounded look for something that must not arrive
            assert others.drain() == []
        else:
            ev = others.next_event()
            assert ev["data"]["service"]["serviceId"] == theirs["serviceId"]
            assert ("personalConfig" in ev["data"]["service"]) == SEES_CONFIG[level][1]
