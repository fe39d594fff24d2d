"""Restarts, crashes and graceful stops: what was acknowledged stays."""

from __future__ import annotations

import http.client
import signal
import socket
import sqlite3
import threading
import time
import uuid

import pytest

from discovery_it import Background, Client, read_http_answer, service_body, wait_until


def uniq(prefix: str = "dur") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def full_state(admin):
    index = admin.discover({"limit": 1}).body["index"]
    records = sorted(admin.discover_all(), key=lambda s: s["serviceId"])
    return index, records


def test_restart_keeps_all_records_and_index(start_daemon):
    d = start_daemon()
    admin = d.admin()
    ids = []
    for i in range(40):
        body = service_body(uniq() if i % 3 else "restart-co", tags=[f"t{i % 4}"], personalConfig={"i": i},
                            healthCheckConfig={"ttl": "1h"} if i % 5 == 0 else {})
        r = admin.register(body)
        assert r.status == 201
        ids.append(r.body["serviceId"])
    for sid in ids[:5]:
        assert admin.patch(f"/api/v1/services/{sid}", {"metadata": {"patched": True}}).status == 200
    for sid in ids[5:10]:
        assert admin.put(f"/api/v1/services/{sid}/status", {"status": "maintenance"}).status == 200
    for sid in ids[10:13]:
        for _ in range(3):
            assert admin.put(f"/api/v1/services/{sid}/health", {"ok": False, "message": "x"}).status == 200
    for sid in ids[13:18]:
        assert admin.delete(f"/api/v1/services/{sid}").status == 204
    before = full_state(admin)
    assert len(before[1]) == 35
    audit_before = admin.get("/api/v1/audit", query={"limit": 1000}).body["entries"]

    assert d.stop() == 0
    d.restart()
    assert d.token is None  # the key exists now: no new token
    admin = d.admin()
    after = full_state(admin)
    assert after[0] == before[0], "the change index survives a restart"
    assert after[1] == before[1]
    assert {s["status"] for s in after[1] if s["serviceId"] in ids[10:13]} == {"unhealthy"}
    for sid in ids[13:18]:
        assert admin.service(sid).status == 404
    assert admin.get("/api/v1/audit", query={"limit": 1000}).body["entries"][:len(audit_before)] == audit_before
    # The registry goes on from there.
    r = admin.register(service_body(uniq()))
    assert r.status == 201
    assert admin.discover({"limit": 1}).body["index"] == before[0] + 1
    assert d.client().get("/ready").body["services"] == 36


class Registrar:
    """Threads that register new services until told to stop or the daemon
    goes away. Keeps every outcome."""

    def __init__(self, host, port, token, threads=6):
        self.client = Client(host, port, token, timeout=30)
        self.acked: dict[str, str] = {}  # serviceId -> instanceId, for 2xx answers
        self.outcomes: list[tuple] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self, n):
        refused = 0
        i = 0
        while not self.stop.is_set() and refused < 3:
            instance = f"t{n}-{i}"
            i += 1
            try:
                r = self.client.register(service_body("crashco", instance))
            except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected,
                    socket.timeout, TimeoutError) as e:
                with self.lock:
                    self.outcomes.append(("connection", type(e).__name__))
                if isinstance(e, ConnectionRefusedError):
                    refused += 1
                continue
            except Exception as e:  # a half answer: IncompleteRead, bad JSON, bad status line
                with self.lock:
                    self.outcomes.append(("broken", repr(e)))
                continue
            with self.lock:
                self.outcomes.append(("answer", r.status))
                if 200 <= r.status < 300:
                    assert r.body["instanceId"] == instance
                    self.acked[r.body["serviceId"]] = instance

    def count(self):
        with self.lock:
            return len(self.acked)

    def join(self, timeout=60):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self.threads), "registering threads did not finish"


def check_all_present(admin, acked: dict):
    present = {s["serviceId"]: s["instanceId"] for s in admin.discover_all({"company": "crashco"})}
    missing = {sid: inst for sid, inst in acked.items() if present.get(sid) != inst}
    assert not missing, f"{len(missing)} acknowledged registrations lost: {list(missing.items())[:5]}"


def test_kill_9_keeps_every_acknowledged_registration(start_daemon):
    d = start_daemon()
    reg = Registrar(d.host, d.port, d.token)
    try:
        wait_until(lambda: reg.count() >= 60, timeout=60, what="60 acknowledged registrations")
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(15)
    finally:
        reg.stop.set()
        reg.join()
    assert d.proc.returncode == -signal.SIGKILL
    acked = dict(reg.acked)
    d.restart()
    check_all_present(d.admin(), acked)


def test_sigterm_with_requests_in_flight(start_daemon):
    d = start_daemon()
    reg = Registrar(d.host, d.port, d.token)
    try:
        wait_until(lambda: reg.count() >= 40, timeout=60, what="40 acknowledged registrations")
        d.proc.send_signal(signal.SIGTERM)
        rc = d.proc.wait(15)
    except BaseException:
        reg.stop.set()
        reg.join()
        raise
    reg.join(60)  # each thread ends once its requests are refused three times
    assert rc == 0
    broken = [o for o in reg.outcomes if o[0] == "broken"]
    assert not broken, f"half answers: {broken[:5]}"
    answers = {o[1] for o in reg.outcomes if o[0] == "answer"}
    assert answers <= {201, 503}, answers
    # After the stop: connection errors, not answers.
    with pytest.raises(ConnectionRefusedError):
        Client(d.host, d.port, d.token, timeout=10).discover()
    acked = dict(reg.acked)
    d.restart()
    check_all_present(d.admin(), acked)


class StoreLock:
    """Holds SQLite's write lock on the daemon's database from outside, so
    that the daemon's next commit waits (its busy timeout is 5 s): a way to
    keep a mutation in flight for as long as a test needs."""

    def __init__(self, data_dir):
        self.db = sqlite3.connect(str(data_dir / "discovery.db"), isolation_level=None, timeout=10)
        self.db.execute("BEGIN IMMEDIATE")

    def release(self):
        if self.db is not None:
            self.db.execute("ROLLBACK")
            self.db.close()
            self.db = None


def test_mutation_waiting_for_a_locked_store_is_answered_once_free(start_daemon):
    """The control of the next test: the technique itself works."""
    d = start_daemon()
    admin = d.admin()
    admin.register(service_body(uniq()))
    lock = StoreLock(d.data_dir)
    try:
        poll = Background(lambda: admin.register(service_body("lockco", "one")))
        time.sleep(0.5)  # let it reach the store; nothing observable to poll for
        assert poll.done_at is None, "the registration did not wait for the lock"
    finally:
        lock.release()
    r = poll.join(15)
    assert r.status == 201, r


def test_sigterm_lets_a_mutation_in_flight_finish(start_daemon):
    d = start_daemon()
    admin = d.admin()
    admin.register(service_body(uniq()))
    lock = StoreLock(d.data_dir)
    try:
        poll = Background(lambda: admin.register(service_body("drainco", "late")))
        time.sleep(0.5)  # let it reach the store; nothing observable to poll for
        assert poll.done_at is None
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)  # the request stays in flight for a second of the drain
    finally:
        lock.release()
    try:
        r = poll.join(20)
        outcome = r.status
    except OSError as e:
        outcome = repr(e)
    answered = poll.done_at - t0
    rc = d.proc.wait(15)
    stopped = time.monotonic() - t0
    d.restart()
    stored = d.admin().discover({"company": "drainco"}).body["count"]
    assert rc == 0
    assert (outcome, stored) == (201, 1), f"answer {outcome} after {answered:.1f}s; stored: {stored}"
    assert answered < 5, f"answered after {answered:.1f}s"
    assert stopped < 6, f"stopped after {stopped:.1f}s"


def test_sigterm_ends_watches_and_long_polls_at_once(start_daemon):
    d = start_daemon()
    admin = d.admin()
    admin.register(service_body(uniq()))
    index = admin.discover({"limit": 1}).body["index"]
    w = d.watch(d.token)
    assert w.status == 200
    poll = Background(lambda: admin.discover({"index": index, "wait": "60s"}))
    idle = socket.create_connection((d.host, d.port), timeout=30)  # an idle keep-alive connection
    try:
        idle.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_http_answer(idle)[0] == 200
        wait_until(lambda: d.metric("discovery_long_polls") >= 1 and d.metric("discovery_watchers") >= 1,
                   what="the long-poll and the watch to be open")
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        r = poll.join(15)
        assert r.status == 200, r
        assert r.body["index"] == index  # the current state
        assert poll.done_at - t0 < 5, "the long-poll was not answered at once on SIGTERM"
        assert w.ended.wait(15), "the watch stream did not end on SIGTERM"
        rc = d.proc.wait(15)
        assert rc == 0
        assert time.monotonic() - t0 < 8, "the stop waited for the idle connection or the streams"
    finally:
        idle.close()
        w.close()


def test_watch_resume_from_before_a_restart_gets_the_current_records(start_daemon):
    """After a restart no change is retained: a Last-Event-ID from before it
    is answered with every matching record as an upsert at the current index,
    then live changes."""
    d = start_daemon()
    admin = d.admin()
    company = uniq()
    admin.register(service_body(company, "a"))
    resume = admin.discover({"limit": 1}).body["index"]
    later = [admin.register(service_body(company, n)).body["serviceId"] for n in ("b", "c")]
    admin.register(service_body(uniq()))  # not matching
    assert d.stop() == 0
    d.restart()
    admin = d.admin()
    index = admin.discover({"limit": 1}).body["index"]
    current = sorted(s["serviceId"] for s in admin.discover_all({"company": company}))
    with d.watch(admin.token, query={"company": company}, last_event_id=resume) as w:
        snapshot = [w.next_event() for _ in range(len(current))]
        assert sorted(e["data"]["service"]["serviceId"] for e in snapshot) == current
        assert set(later) <= set(current)
        for e in snapshot:
            assert e["data"]["type"] == "upsert" and e["data"]["index"] == index and e["id"] == str(index)
        live = admin.register(service_body(company, "d")).body["serviceId"]
        ev = w.next_event()
        assert ev["data"]["service"]["serviceId"] == live and int(ev["id"]) == index + 1
