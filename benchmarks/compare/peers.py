"""Helpers of benchmarks/compare/run.sh and benchmarks/soak.sh: seeding
discoveryd and etcd with the same fleet, and change-to-watcher latency.
Standard library only (asyncio, a minimal HTTP/1.1 client over keep-alive
connections). Tokens are read from the file named by TOKEN_FILE, never taken
on the command line.

  peers.py seed-discoveryd URL COMPANIES REGIONS PER_GROUP
  peers.py answer URL QUERY OUT              discover answer bytes, checked
  peers.py seed-etcd DISCOVERYD_URL ETCD_URL LEASE_TTL
                                             every record discoveryd holds, as
                                             etcd values, a lease per instance
  peers.py ttl-services URL N TTL OUT        register N TTL services, ids to OUT
  peers.py leases ETCD_URL FIRST N TTL       grant leases FIRST..FIRST+N-1
  peers.py etcd-range-body PREFIX [serializable]
  peers.py watch discoveryd|etcd URL N GAP_MS OUT
                                             N changes one after the other; per
                                             change: write sent -> event seen
                                             and write sent -> write answered
  peers.py seed-soak URL TARGET N INTERVAL TTL_N IDS_OUT
                                             the soak's fleet: N services
                                             health-checked on TARGET every
                                             INTERVAL, TTL_N more with a TTL
  peers.py churn-watchers URL N PERIOD_S SECONDS
                                             N SSE watch streams (half of them
                                             filtered) read and discarded; a
                                             quarter closed and reopened every
                                             PERIOD_S
"""
import asyncio
import base64
import json
import os
import statistics
import sys
import time
from urllib.parse import urlsplit

BODY_FMT = ('{{"companyName":"{c}","instanceId":"{i}","serviceInfo":{{"version":"1.0.0",'
            '"region":"{r}","environment":"production","capabilities":["tools","search"],'
            '"endpoints":{{"primary":"https://mcp.{c}.2100.cool","mcp":"https://mcp.{c}.2100.cool/mcp"}}}},'
            '"tags":["beta"]{extra}}}')


def register_body(company, instance, region="us-west1", extra="", primary=None):
    body = BODY_FMT.format(c=company, i=instance, r=region, extra=extra)
    if primary:
        body = body.replace(f"https://mcp.{company}.2100.cool", primary)
    return body


def token():
    path = os.environ.get("TOKEN_FILE")
    if not path:
        return None
    with open(path) as f:
        return f.read().strip()


def b64(text):
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def prefix_end(prefix):
    """etcd's range_end for a prefix: the prefix with its last byte plus one."""
    raw = bytearray(prefix.encode())
    raw[-1] += 1
    return bytes(raw)


class Conn:
    """One keep-alive HTTP/1.1 connection; request() answers (status, body)."""

    def __init__(self, url):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    def send(self, method, path, body=b"", headers=None):
        if isinstance(body, str):
            body = body.encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 f"Content-Length: {len(body)}"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    async def head(self):
        status = await self.reader.readline()
        if not status:
            raise ConnectionError("connection closed")
        code = int(status.split()[1])
        headers = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            k, _, v = line.decode().partition(":")
            headers[k.strip().lower()] = v.strip()
        return code, headers

    async def body(self, headers):
        if headers.get("transfer-encoding", "").lower() == "chunked":
            out = bytearray()
            async for chunk in self.chunks():
                out += chunk
            return bytes(out)
        return await self.reader.readexactly(int(headers.get("content-length", "0")))

    async def chunks(self):
        while True:
            size = int((await self.reader.readline()).split(b";")[0], 16)
            if size == 0:
                await self.reader.readline()
                return
            data = await self.reader.readexactly(size)
            await self.reader.readline()
            yield data

    async def request(self, method, path, body=b"", headers=None):
        self.send(method, path, body, headers)
        code, hdrs = await self.head()
        return code, await self.body(hdrs)

    def close(self):
        if self.writer:
            self.writer.close()


def auth_headers(json_body=True):
    h = {}
    t = token()
    if t:
        h["Authorization"] = f"Bearer {t}"
    if json_body:
        h["Content-Type"] = "application/json"
    return h


async def pool(url, jobs, worker, width=16):
    """Runs worker(conn, job) over jobs on `width` connections."""
    queue = list(reversed(jobs))
    results = []

    async def run():
        conn = await Conn(url).open()
        try:
            while queue:
                results.append(await worker(conn, queue.pop()))
        finally:
            conn.close()

    await asyncio.gather(*(run() for _ in range(width)))
    return results


async def must(conn, method, path, body=b"", headers=None, ok=(200, 201)):
    code, data = await conn.request(method, path, body, headers)
    if code not in ok:
        raise SystemExit(f"{method} {path}: HTTP {code}: {data[:300]!r}")
    return data


async def seed_discoveryd(url, companies, regions, per_group):
    regions = regions.split(",")
    jobs = [(f"c{c}", r, f"c{c}-{r}-{n}") for c in range(companies) for r in regions
            for n in range(per_group)]
    headers = auth_headers()

    async def register(conn, job):
        company, region, instance = job
        await must(conn, "POST", "/api/v1/services/register",
                   register_body(company, instance, region), headers)

    started = time.monotonic()
    await pool(url, jobs, register)
    print(f"registered {len(jobs)} services in {time.monotonic() - started:.1f} s", file=sys.stderr)


async def answer(url, query, out):
    conn = await Conn(url).open()
    data = await must(conn, "GET", query, headers=auth_headers(False), ok=(200,))
    doc = json.loads(data)
    conn.close()
    with open(out, "wb") as f:
        f.write(data)
    print(f"{doc['count']} services, {len(data)} bytes", file=sys.stderr)
    print(doc["count"])


async def all_records(url):
    conn = await Conn(url).open()
    records, cursor = [], None
    while True:
        path = "/api/v1/services/discover?limit=1000" + (f"&cursor={cursor}" if cursor else "")
        doc = json.loads(await must(conn, "GET", path, headers=auth_headers(False), ok=(200,)))
        records += doc["services"]
        cursor = doc.get("nextCursor")
        if not cursor:
            break
    conn.close()
    return records


async def seed_etcd(discoveryd_url, etcd_url, ttl):
    records = await all_records(discoveryd_url)
    # One lease per instance (IDs chosen here, so no round trip is needed to
    # learn them), then the key under /services/{company}/{region}/{instance}
    # with the record exactly as discoveryd serializes it.
    jobs = list(enumerate(records, start=1_000_000))

    async def put(conn, job):
        lease, rec = job
        await must(conn, "POST", "/v3/lease/grant", json.dumps({"TTL": ttl, "ID": lease}))
        key = f"/services/{rec['companyName']}/{rec['serviceInfo']['region']}/{rec['instanceId']}"
        value = json.dumps(rec, separators=(",", ":"))
        await must(conn, "POST", "/v3/kv/put",
                   json.dumps({"key": b64(key), "value": b64(value), "lease": lease}))

    started = time.monotonic()
    await pool(etcd_url, jobs, put)
    print(f"put {len(jobs)} keys with a lease each in {time.monotonic() - started:.1f} s", file=sys.stderr)


async def ttl_services(url, n, ttl, out):
    headers = auth_headers()

    async def register(conn, i):
        data = await must(conn, "POST", "/api/v1/services/register",
                          register_body("hb", f"hb-{i}", extra=f',"healthCheckConfig":{{"ttl":"{ttl}"}}'),
                          headers)
        return json.loads(data)["serviceId"]

    ids = await pool(url, list(range(n)), register)
    with open(out, "w") as f:
        f.write("\n".join(ids) + "\n")


async def leases(etcd_url, first, n, ttl):
    async def grant(conn, lease):
        await must(conn, "POST", "/v3/lease/grant", json.dumps({"TTL": ttl, "ID": lease}))

    await pool(etcd_url, list(range(first, first + n)), grant)


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


async def watch(kind, url, n, gap_ms, out):
    """Change-to-watcher latency: a watcher on one connection, a writer on
    another; each change is sent only after the previous one was seen."""
    seen = {}
    waiters = {}
    ready = asyncio.Event()
    watcher = await Conn(url).open()
    if kind == "discoveryd":
        watcher.send("GET", "/api/v1/services/watch?company=watchco",
                     headers={**auth_headers(False), "Accept": "text/event-stream"})
    else:
        watcher.send("POST", "/v3/watch", json.dumps({"create_request": {
            "key": b64("/services/watchco/"), "range_end": b64(prefix_end("/services/watchco/"))}}))
    code, headers = await watcher.head()
    if code != 200:
        raise SystemExit(f"watch: HTTP {code}")
    chunked = headers.get("transfer-encoding", "").lower() == "chunked"

    def got(name):
        now = time.perf_counter_ns()
        if name in waiters and name not in seen:
            seen[name] = now
            waiters[name].set()

    async def lines():
        if chunked:
            buf = b""
            async for chunk in watcher.chunks():
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    yield line
        else:
            while True:
                line = await watcher.reader.readline()
                if not line:
                    return
                yield line.rstrip(b"\r\n")

    async def read_events():
        async for line in lines():
            if kind == "discoveryd":
                ready.set()  # the stream is open once anything (even a comment) arrives
                if line.startswith(b"data:"):
                    got(json.loads(line[5:])["service"]["instanceId"])
            else:
                if not line.strip():
                    continue
                result = json.loads(line).get("result", {})
                if result.get("created"):
                    ready.set()
                for ev in result.get("events", []):
                    got(base64.b64decode(ev["kv"]["key"]).decode().rsplit("/", 1)[1])

    reader_task = asyncio.create_task(read_events())
    if kind == "etcd":
        await asyncio.wait_for(ready.wait(), 5)
    else:
        await asyncio.sleep(0.3)  # SSE sends nothing until the first change
    writer = await Conn(url).open()
    headers = auth_headers()
    e2e, acked = [], []
    for i in range(n):
        name = f"w-{i}"
        waiters[name] = asyncio.Event()
        body = register_body("watchco", name)
        t0 = time.perf_counter_ns()
        if kind == "discoveryd":
            writer.send("POST", "/api/v1/services/register", body, headers)
        else:
            writer.send("POST", "/v3/kv/put", json.dumps(
                {"key": b64(f"/services/watchco/us-west1/{name}"), "value": b64(body)}))
        code, hdrs = await writer.head()
        await writer.body(hdrs)
        t1 = time.perf_counter_ns()
        if code not in (200, 201):
            raise SystemExit(f"write {i}: HTTP {code}")
        await asyncio.wait_for(waiters[name].wait(), 5)
        e2e.append((seen[name] - t0) / 1e6)
        acked.append((t1 - t0) / 1e6)
        await asyncio.sleep(gap_ms / 1000)
    reader_task.cancel()
    watcher.close()
    writer.close()
    with open(out, "w") as f:
        f.write(f"changes={n}\n")
        for label, vals in (("watch", e2e), ("write", acked)):
            f.write(f"{label}_p50_ms={statistics.median(vals):.3f}\n")
            f.write(f"{label}_p99_ms={pct(vals, 99):.3f}\n")
            f.write(f"{label}_max_ms={max(vals):.3f}\n")
        # Propagation after the write is acknowledged (negative: the event
        # arrived before the writer's answer).
        after = [a - b for a, b in zip(e2e, acked)]
        f.write(f"after_ack_p50_ms={statistics.median(after):.3f}\n")
        f.write(f"after_ack_p99_ms={pct(after, 99):.3f}\n")


async def seed_soak(url, target, n, interval, ttl_n, ids_out):
    headers = auth_headers()

    async def register(conn, i):
        if i < n:
            extra = f',"healthCheckConfig":{{"interval":"{interval}","timeout":"2s"}}'
            company, instance = f"s{i % 50}", f"s-{i}"
        else:
            extra = f',"healthCheckConfig":{{"interval":"{interval}","timeout":"2s","ttl":"10m"}}'
            company, instance = "hb", f"hb-{i}"
        data = await must(conn, "POST", "/api/v1/services/register",
                          register_body(company, instance, ["us-west1", "eu-west1"][i % 2], extra, target),
                          headers)
        return i, json.loads(data)["serviceId"]

    done = await pool(url, list(range(n + ttl_n)), register)
    with open(ids_out, "w") as f:
        f.write("\n".join(sid for i, sid in done if i >= n) + "\n")


async def churn_watchers(url, n, period, seconds):
    headers = {**auth_headers(False), "Accept": "text/event-stream"}
    stats = {"opened": 0, "bytes": 0, "refused": 0}

    async def one(k, stop):
        conn = await Conn(url).open()
        try:
            path = "/api/v1/services/watch" + ("?company=s7" if k % 2 else "")
            conn.send("GET", path, headers=headers)
            code, _ = await conn.head()
            if code != 200:
                stats["refused"] += 1
                return
            stats["opened"] += 1
            while not stop.is_set():
                data = await conn.reader.read(65536)
                if not data:
                    return
                stats["bytes"] += len(data)
        finally:
            conn.close()

    stops = [asyncio.Event() for _ in range(n)]
    tasks = [asyncio.create_task(one(k, stops[k])) for k in range(n)]
    end = time.monotonic() + seconds
    turn = 0
    while time.monotonic() < end:
        await asyncio.sleep(min(period, max(0.0, end - time.monotonic())))
        if time.monotonic() >= end:
            break
        # Close a quarter of the streams (from the client side) and open new ones.
        for k in range(turn % 4, n, 4):
            tasks[k].cancel()
            stops[k] = asyncio.Event()
            tasks[k] = asyncio.create_task(one(k, stops[k]))
        turn += 1
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(f"watch_streams_opened={stats['opened']}")
    print(f"watch_streams_refused={stats['refused']}")
    print(f"watch_mib_read={stats['bytes'] / 1048576:.1f}")


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "seed-discoveryd":
        asyncio.run(seed_discoveryd(args[0], int(args[1]), args[2], int(args[3])))
    elif cmd == "answer":
        asyncio.run(answer(*args))
    elif cmd == "seed-etcd":
        asyncio.run(seed_etcd(args[0], args[1], int(args[2])))
    elif cmd == "ttl-services":
        asyncio.run(ttl_services(args[0], int(args[1]), args[2], args[3]))
    elif cmd == "leases":
        asyncio.run(leases(args[0], int(args[1]), int(args[2]), int(args[3])))
    elif cmd == "etcd-range-body":
        body = {"key": b64(args[0]), "range_end": b64(prefix_end(args[0]))}
        if len(args) > 1 and args[1] == "serializable":
            body["serializable"] = True
        print(json.dumps(body))
    elif cmd == "watch":
        asyncio.run(watch(args[0], args[1], int(args[2]), float(args[3]), args[4]))
    elif cmd == "seed-soak":
        asyncio.run(seed_soak(args[0], args[1], int(args[2]), args[3], int(args[4]), args[5]))
    elif cmd == "churn-watchers":
        asyncio.run(churn_watchers(args[0], int(args[1]), float(args[2]), float(args[3])))
    else:
        raise SystemExit(f"peers.py: unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
