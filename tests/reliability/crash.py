"""Crash safety of the whole daemon: SIGKILL under write load, restart, check.

Writers (threads, each owning its own keys) register, patch and deregister
services over HTTP as fast as the daemon answers. At random moments the
daemon gets SIGKILL; the writers' requests in flight fail. Before each restart
the SQLite file (a copy of it, with its WAL, so that the daemon's own recovery
is what the restart exercises) must pass PRAGMA integrity_check. After each
restart, with the writers paused, every key is checked against what the
writers were told:

- an acknowledged register or patch is visible with at least that content
  (the generation it wrote, or that of a later write);
- an acknowledged deregister stays deregistered (unless a later write
  re-registered the key);
- a write whose answer was lost (the kill) may be applied or not, but never
  half: every write sets metadata.gen, serviceInfo.version and tags together,
  and a record whose three disagree is a torn write.

Standard library only (plus tests/integration/discovery_it.py).
  python3 tests/reliability/crash.py --kills 20 [--writers 8] [--report FILE]
Exit status 0 when every check passed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from discovery_it import Daemon  # noqa: E402

COMPANY = "crash"
DELETED = None  # the model's value for "not registered"


class Key:
    """What one key may look like now: the generations (or DELETED) that
    the writes since the last acknowledged one could have left."""

    def __init__(self, name: str):
        self.name = name
        self.service_id: str | None = None
        self.allowed: list = [DELETED]  # never written: absent
        self.acked_gen = 0
        self.next_gen = 1

    def acknowledged(self, value):
        self.allowed = [value]

    def unknown(self, value):
        if value not in self.allowed:
            self.allowed.append(value)


def body_for(key: str, gen: int) -> dict:
    return {
        "companyName": COMPANY,
        "instanceId": key,
        "serviceInfo": {"version": f"{gen}.0.0", "region": "us-west1", "environment": "test",
                        "endpoints": {"primary": f"https://{key}.crash.example"}},
        "tags": [f"g{gen}"],
        "metadata": {"gen": gen, "pad": "x" * 200},
    }


def patch_for(gen: int) -> dict:
    return {"serviceInfo": {"version": f"{gen}.0.0"}, "tags": [f"g{gen}"], "metadata": {"gen": gen}}


def generation_of(record: dict):
    """The generation a record carries, or raises when its fields disagree."""
    gen = record["metadata"]["gen"]
    version = record["serviceInfo"]["version"]
    tags = record["tags"]
    if version != f"{gen}.0.0" or tags != [f"g{gen}"]:
        raise AssertionError(f"torn write on {record['instanceId']}: metadata.gen={gen}, "
                             f"version={version}, tags={tags}")
    return gen


class Target:
    """Where the daemon is now; swapped while the writers are paused."""

    def __init__(self):
        self.host = "127.0.0.1"
        self.port = 0
        self.token = ""
        self.epoch = 0  # bumped by each restart


class Writer(threading.Thread):
    def __init__(self, index: int, keys: int, target: Target, stats: dict, seed: int):
        super().__init__(daemon=True, name=f"writer{index}")
        self.keys = [Key(f"w{index}-k{k}") for k in range(keys)]
        self.target = target
        self.stats = stats
        self.rng = random.Random(seed)
        self.lock = threading.Lock()  # held during a request; the killer takes it to pause
        self.stop = False
        self.conn: http.client.HTTPConnection | None = None
        self.error: BaseException | None = None
        self.down_epoch: int | None = None  # the daemon was unreachable in this epoch

    def request(self, method: str, path: str, body=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.target.host, self.target.port, timeout=20)
        headers = {"Authorization": f"Bearer {self.target.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/merge-patch+json" if method == "PATCH" else "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return resp.status, (json.loads(raw) if raw and "json" in (resp.getheader("Content-Type") or "") else None)

    def one_op(self):
        key = self.rng.choice(self.keys)
        gen = key.next_gen
        key.next_gen += 1
        # After a lost answer the service id may be unknown: register again.
        if key.service_id is None or key.allowed != [key.allowed[0]] or key.allowed[0] is DELETED:
            op, value = "register", gen
        else:
            op = self.rng.choices(["register", "patch", "delete"], weights=[3, 5, 2])[0]
            value = DELETED if op == "delete" else gen
        try:
            if op == "register":
                status, body = self.request("POST", "/api/v1/services/register", body_for(key.name, gen))
                ok = status in (200, 201)
            elif op == "patch":
                status, body = self.request("PATCH", f"/api/v1/services/{key.service_id}", patch_for(gen))
                ok = status == 200
            else:
                status, body = self.request("DELETE", f"/api/v1/services/{key.service_id}")
                ok = status == 204
        except (OSError, http.client.HTTPException):
            key.unknown(value)
            self.stats["unacknowledged"] += 1
            # The daemon is down: wait for its restart rather than pile up
            # requests that cannot have been applied.
            self.down_epoch = self.target.epoch
            return
        if not ok:
            raise AssertionError(f"{op} {key.name} answered {status}: {body}")
        key.acknowledged(value)
        self.stats["acknowledged"] += 1
        self.stats[op] += 1
        if op == "delete":
            key.service_id = None
        else:
            key.service_id = body["serviceId"]
            if op == "register":
                assert body["metadata"]["gen"] == gen, body

    def run(self):
        try:
            while not self.stop:
                if self.down_epoch == self.target.epoch:
                    time.sleep(0.005)
                    continue
                with self.lock:
                    if self.stop:
                        break
                    self.one_op()
        except BaseException as e:  # reported by the main thread
            self.error = e


def check_integrity(data_dir: Path, scratch: Path) -> str:
    """PRAGMA integrity_check on a copy of the database and its WAL."""
    copy = scratch / "copy"
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir(parents=True)
    for f in data_dir.glob("discovery.db*"):
        shutil.copy2(f, copy / f.name)
    conn = sqlite3.connect(copy / "discovery.db")
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def discover_all(target: Target) -> list:
    conn = http.client.HTTPConnection(target.host, target.port, timeout=60)
    out, cursor = [], None
    try:
        while True:
            path = f"/api/v1/services/discover?company={COMPANY}&limit=1000" + (f"&cursor={cursor}" if cursor else "")
            conn.request("GET", path, headers={"Authorization": f"Bearer {target.token}"})
            resp = conn.getresponse()
            page = json.loads(resp.read())
            assert resp.status == 200, page
            out.extend(page["services"])
            cursor = page["nextCursor"]
            if cursor is None:
                return out
    finally:
        conn.close()


def verify(target: Target, writers: list[Writer], stats: dict) -> int:
    """Every key against the model; returns the number of records."""
    records = {r["instanceId"]: r for r in discover_all(target)}
    problems = []
    for w in writers:
        for key in w.keys:
            record = records.pop(key.name, None)
            value = DELETED if record is None else generation_of(record)
            if len(key.allowed) > 1 and value in key.allowed:
                # A lost answer: was its write applied (the newest possibility)?
                stats["lost_applied" if value == key.allowed[-1] else "lost_not_applied"] += 1
            if value not in key.allowed:
                problems.append(f"{key.name}: found {'absent' if value is None else f'gen {value}'}, "
                                f"allowed {key.allowed}")
            # Whatever it is, it is now known: later checks start from here.
            key.allowed = [value]
            key.service_id = None if record is None else record["serviceId"]
    if records:
        problems.append(f"records nobody wrote: {sorted(records)[:5]}")
    if problems:
        raise AssertionError("acknowledged writes lost or torn after a restart:\n  " + "\n  ".join(problems[:20]))
    return sum(1 for w in writers for k in w.keys if k.allowed != [DELETED])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--keys", type=int, default=25, help="keys per writer")
    ap.add_argument("--min-interval", type=float, default=0.3, help="shortest run between kills (s)")
    ap.add_argument("--max-interval", type=float, default=2.0, help="longest run between kills (s)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--report", help="append a Markdown summary to this file")
    ap.add_argument("--daemon-arg", action="append", default=[],
                    help="extra discoveryd flag (repeatable), e.g. --daemon-arg=--storage=memory to see the check fail")
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"crash: {args.kills} kills, {args.writers} writers x {args.keys} keys, seed {seed}", flush=True)

    scratch = Path(tempfile.mkdtemp(prefix="discovery-crash-"))
    data_dir = scratch / "data"
    daemon = Daemon(data_dir, args.daemon_arg)
    target = Target()
    stats = {"acknowledged": 0, "unacknowledged": 0, "register": 0, "patch": 0, "delete": 0,
             "lost_applied": 0, "lost_not_applied": 0}
    restarts, ok = [], False
    started = time.monotonic()
    writers: list[Writer] = []
    try:
        daemon.start()
        target.port, target.token = daemon.port, daemon.token
        writers = [Writer(i, args.keys, target, stats, seed + i) for i in range(args.writers)]
        for w in writers:
            w.start()
        for kill in range(1, args.kills + 1):
            before = stats["acknowledged"]
            time.sleep(rng.uniform(args.min_interval, args.max_interval))
            daemon.proc.kill()  # SIGKILL, mid-load
            daemon.proc.wait(10)
            for w in writers:  # pause: each finishes (fails) its request in flight
                w.lock.acquire()
                if w.conn is not None:
                    w.conn.close()
                    w.conn = None
            for w in writers:
                if w.error:
                    raise w.error
            integrity = check_integrity(data_dir, scratch)
            if integrity != "ok":
                raise AssertionError(f"integrity_check after kill {kill}: {integrity}")
            t0 = time.monotonic()
            daemon.restart()
            restarts.append(time.monotonic() - t0)
            target.port = daemon.port
            target.epoch += 1
            records = verify(target, writers, stats)
            print(f"kill {kill}: acknowledged {stats['acknowledged']} (+{stats['acknowledged'] - before}), "
                  f"lost answers {stats['unacknowledged']}, records {records}, restart {restarts[-1]:.2f}s, "
                  f"integrity ok", flush=True)
            for w in writers:
                w.lock.release()
        for w in writers:
            w.stop = True
        for w in writers:
            w.join(30)
            if w.error:
                raise w.error
        records = verify(target, writers, stats)
        rc = daemon.stop()
        if rc != 0:
            raise AssertionError(f"discoveryd exited {rc} on SIGTERM")
        integrity = check_integrity(data_dir, scratch)
        if integrity != "ok":
            raise AssertionError(f"integrity_check after the final stop: {integrity}")
        ok = True
    finally:
        for w in writers:
            w.stop = True
        daemon.kill()
        elapsed = time.monotonic() - started
        if ok and not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
        elif not ok:
            print(f"crash: data and daemon logs kept in {scratch} (seed {seed})", file=sys.stderr)
    summary = (f"| {args.kills} | {args.writers}x{args.keys} | {stats['acknowledged']} "
               f"({stats['register']} register, {stats['patch']} patch, {stats['delete']} delete) | "
               f"{stats['unacknowledged']} ({stats['lost_applied']} applied, {stats['lost_not_applied']} not) | {records} | {max(restarts):.2f} s (mean {sum(restarts) / len(restarts):.2f} s) | "
               f"{elapsed:.0f} s | {seed} |")
    print("crash: passed: every acknowledged write survived every kill; integrity_check ok")
    print(summary)
    if args.report:
        with open(args.report, "a") as f:
            f.write(summary + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
