"""Conformance scenario, Python side (the Node and Go clients run the same one).

Contract with tests/conformance/run.sh, which starts ONE daemon for all three:
  DISCOVERY_URL              the daemon's base URL
  DISCOVERY_JWT_SECRET_FILE  its HS256 secret file (key = bytes, trailing whitespace trimmed)
Each client mints its own tokens (sub, sao, company, exp) and works only in its
own company, here `conformance-python`. Without the variables the test starts
its own discoveryd (skipped when none is built).
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from mcp_discovery import Client, NotFound, PermissionDenied
from mcp_discovery.tokens import mint_token, read_secret

COMPANY = "conformance-python"
OTHER = "conformance-python-other"
PAGED = 250


@pytest.fixture(scope="module")
def target():
    url, secret_file = os.environ.get("DISCOVERY_URL"), os.environ.get("DISCOVERY_JWT_SECRET_FILE")
    if url and secret_file:
        yield url, read_secret(secret_file)
        return
    from daemon import Daemon, binary

    if binary() is None:
        pytest.skip("no DISCOVERY_URL and no discoveryd built")
    d = Daemon()
    try:
        yield d.url, d.secret
    finally:
        d.stop()


def service(instance: str, run: str, *, region="us-west1", environment="production", capabilities=("tools",),
            tags=(), ttl=None) -> dict:
    body = {
        "companyName": COMPANY,
        "instanceId": instance,
        "serviceInfo": {
            "version": "1.0.0",
            "capabilities": list(capabilities),
            "region": region,
            "environment": environment,
            "endpoints": {"primary": f"https://{instance}.{COMPANY}.example.com"},
        },
        "tags": [run, *tags],
    }
    if ttl:
        body["healthCheckConfig"] = {"ttl": ttl}
    return body


def test_conformance_scenario(target):
    url, secret = target
    run = "run-" + uuid.uuid4().hex[:8]  # isolates this run's records from earlier ones
    admin = Client(url, token=mint_token(secret, "diamond", subject="conformance-python-admin"))
    owner = Client(url, token=mint_token(secret, "sapphire", COMPANY, subject="conformance-python-owner"))
    onyx = Client(url, token=mint_token(secret, "onyx", COMPANY, subject="conformance-python-onyx"))
    stranger = Client(url, token=mint_token(secret, "sapphire", OTHER, subject="conformance-python-stranger"))

    # Leftovers of an earlier run against the same daemon go first.
    for rec in list(admin.iter_discover(company=COMPANY, page_size=1000)):
        admin.deregister(rec.service_id)

    # -- register (201), re-register (200, same serviceId) --
    a = owner.register(service("py-a", run, capabilities=("tools", "search"), tags=("gpu",)))
    assert a.created is True and a.status == "active" and a.sao_level == "sapphire"
    assert owner.register(service("py-a", run, capabilities=("tools", "search"), tags=("gpu",))).service_id \
        == a.service_id
    b = owner.register(service("py-b", run, region="eu-west1", environment="staging"))
    both = {a.service_id, b.service_id}

    def ids(**filters):
        return {r.service_id for r in owner.iter_discover(tags=[run, *filters.pop("tags", [])], **filters)}

    # -- discover with each filter --
    assert ids(company=COMPANY) == both
    assert ids(region="eu-west1") == {b.service_id}
    assert ids(environment="production") == {a.service_id}
    assert ids(status="active") == both
    assert ids(sao_level="sapphire") == both
    assert ids(sao_level="onyx") == set()
    assert ids(capabilities=["tools", "search"]) == {a.service_id}
    assert ids(tags=["gpu"]) == {a.service_id}
    # Tool names come from MCP introspection, which has not run here.
    page = owner.discover(company=COMPANY, tools=["search"])
    assert page.count == 0 and page.services == [] and page.next_cursor is None

    # -- 250 records, pages of 100: each exactly once --
    paged_tag = run + "-paged"
    registered = {owner.register(service(f"py-page-{i:03d}", run, tags=(paged_tag,))).service_id
                  for i in range(PAGED)}
    seen, pages, cursor = [], [], None
    while True:
        p = owner.discover(company=COMPANY, tags=[paged_tag], limit=100, cursor=cursor)
        pages.append(p.count)
        seen.extend(r.service_id for r in p.services)
        cursor = p.next_cursor
        if cursor is None:
            break
    assert pages == [100, 100, 50]
    assert len(seen) == PAGED and set(seen) == registered

    # -- patch --
    patched = owner.patch(a.service_id, {"metadata": {"conformance": run}, "tags": [run, "gpu", "patched"]})
    assert patched.metadata == {"conformance": run} and "patched" in owner.get(a.service_id).tags

    # -- status --
    assert owner.set_status(b.service_id, "maintenance").status == "maintenance"
    assert ids(status="maintenance") == {b.service_id}

    # -- heartbeat, with and without a TTL --
    c = owner.register(service("py-ttl", run, ttl="30s"))
    beat = owner.heartbeat(c.service_id)
    assert beat.status == "active" and beat.expires_at is not None
    now = datetime.now(timezone.utc)
    assert now + timedelta(seconds=20) < beat.expires_at < now + timedelta(seconds=40)
    assert owner.heartbeat(a.service_id).expires_at is None

    # -- health report --
    health = owner.report_health(a.service_id, False, response_time=25.0, message="conformance failure")
    assert health.consecutive_failures == 1 and health.last_error == "conformance failure"
    detail = owner.health(a.service_id)
    assert detail.recent_checks[0].ok is False and detail.recent_checks[0].response_time == 25.0

    # -- watch: start it, make a change, see the event --
    with owner.watch(company=COMPANY) as stream:
        owner.patch(c.service_id, {"metadata": {"watched": True}})
        event = next(stream)
    assert event.type == "upsert" and event.service.service_id == c.service_id
    assert event.service.metadata == {"watched": True}

    # -- access: a lower level is refused, another company sees nothing --
    with pytest.raises(PermissionDenied):
        onyx.patch(a.service_id, {"tags": [run]})
    assert onyx.get(a.service_id).service_id == a.service_id  # onyx may read
    with pytest.raises(NotFound):
        stranger.get(a.service_id)
    with pytest.raises(NotFound):
        stranger.patch(a.service_id, {"tags": [run]})
    assert stranger.discover(company=COMPANY).count == 0

    # -- deregister --
    for sid in [a.service_id, b.service_id, c.service_id, *registered]:
        owner.deregister(sid)
    with pytest.raises(NotFound):
        owner.get(a.service_id)
    assert owner.discover(company=COMPANY, tags=[run]).count == 0
