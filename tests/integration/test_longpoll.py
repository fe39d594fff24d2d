"""Discover as a long-poll: ?index=I&wait=D blocks until the index passes I."""

from __future__ import annotations

import time
import uuid

from discovery_it import Background, service_body, wait_until


def uniq(prefix: str = "lp") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_long_poll_returns_soon_after_a_change(daemon, admin):
    company = uniq()
    index = admin.discover({"company": company}).body["index"]
    poll = Background(lambda: admin.discover({"company": company, "index": index, "wait": "10s"}))
    wait_until(lambda: daemon.metric("discovery_long_polls") >= 1, what="the long-poll to be waiting")
    assert poll.done_at is None, "answered before any change"
    rec = admin.register(service_body(company)).body
    registered_at = time.monotonic()
    r = poll.join(15)
    assert r.status == 200, r
    assert poll.done_at - registered_at < 3.0, "the long-poll did not return promptly after the change"
    assert r.body["index"] > index
    assert [s["serviceId"] for s in r.body["services"]] == [rec["serviceId"]]
    assert int(r.header("X-Discovery-Index")) == r.body["index"]


def test_long_poll_without_change_returns_after_wait_with_same_index(daemon, admin):
    index = admin.discover({"limit": 1}).body["index"]
    t0 = time.monotonic()
    r = admin.discover({"limit": 1, "index": index, "wait": "2s"})
    elapsed = time.monotonic() - t0
    assert r.status == 200
    assert 1.8 <= elapsed < 10, elapsed
    assert r.body["index"] == index


def test_long_poll_with_passed_index_answers_at_once(admin):
    admin.register(service_body(uniq()))
    index = admin.discover({"limit": 1}).body["index"]
    t0 = time.monotonic()
    r = admin.discover({"limit": 1, "index": index - 1, "wait": "30s"})
    assert time.monotonic() - t0 < 5
    assert r.status == 200 and r.body["index"] == index


def test_wait_zero_and_wait_without_index(admin):
    index = admin.discover({"limit": 1}).body["index"]
    t0 = time.monotonic()
    assert admin.discover({"limit": 1, "index": index, "wait": "0s"}).body["index"] == index
    assert admin.discover({"limit": 1, "wait": "30s"}).status == 200  # no index: no effect
    assert time.monotonic() - t0 < 5


def test_scoped_long_poll_wakes_on_any_change_and_stays_scoped(daemon, admin):
    company = uniq()
    c = daemon.client(daemon.mint("onyx", company))
    index = c.discover().body["index"]
    poll = Background(lambda: c.discover({"index": index, "wait": "10s"}))
    wait_until(lambda: daemon.metric("discovery_long_polls") >= 1, what="the long-poll to be waiting")
    admin.register(service_body(uniq()))  # another company's change
    r = poll.join(15)
    assert r.status == 200
    assert r.body["services"] == []


def test_max_wait_caps_the_long_poll(start_daemon):
    d = start_daemon("--max-wait", "1s")
    admin = d.admin()
    index = admin.discover().body["index"]
    t0 = time.monotonic()
    r = admin.discover({"index": index, "wait": "60s"})
    elapsed = time.monotonic() - t0
    assert r.status == 200 and r.body["index"] == index
    assert 0.8 <= elapsed < 8, elapsed
