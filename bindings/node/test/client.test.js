// The client against a real discoveryd (its own, memory storage), over real
// sockets: every endpoint, errors, retries, timeouts, pagination and watch.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import DiscoveryClient, {
  DiscoveryConnectionError,
  DiscoveryError,
  DiscoveryTimeoutError,
  InvalidArgumentError,
  NotFoundError,
  parseEventStream,
  PermissionDeniedError,
  RateLimitedError,
  UnauthenticatedError,
} from "@mcp-discovery/client";
import { startDaemon } from "@mcp-discovery/client/testing";

import { DISCOVERYD, nextWithin, registration, uniq } from "./helpers.js";

let daemon;
let admin;
/** A port nothing listens on (for now). */
const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
const clientFor = (claims, options = {}) => new DiscoveryClient({ baseUrl: daemon.url, token: daemon.token(claims), ...options });

before(async () => {
  daemon = await startDaemon({ binary: DISCOVERYD });
  admin = clientFor({ sao: "diamond", sub: "admin" });
});
after(async () => {
  assert.equal(await daemon?.stop(), 0, "discoveryd exits 0 on SIGTERM");
});

describe("services", () => {
  test("register fills defaults; re-register keeps serviceId and registeredAt", async () => {
    const company = uniq("reg");
    const client = clientFor({ sao: "sapphire", company });
    const body = registration(company);
    const first = await client.register(body);
    assert.match(first.serviceId, /^[0-9a-f-]{36}$/);
    assert.equal(first.status, "active");
    assert.equal(first.saoLevel, "sapphire");
    assert.equal(first.domain, `mcp.${company}.example.com`);
    assert.equal(first.healthCheckConfig.interval, "30s");
    assert.equal(first.healthCheckConfig.ttl, null);
    assert.equal(first.healthCheckConfig.expectedStatus, 200);
    const ranged = await client.register(registration(company, { healthCheckConfig: { expectedStatus: "200-299" } }));
    assert.equal(ranged.healthCheckConfig.expectedStatus, "200-299");
    const again = await client.register({ ...body, tags: ["beta"] });
    assert.equal(again.serviceId, first.serviceId);
    assert.equal(again.registeredAt, first.registeredAt);
    assert.deepEqual(again.tags, ["beta"]);
    assert.deepEqual(await client.get(first.serviceId), again);
  });

  test("patch is a JSON merge patch: null removes, objects merge, arrays replace", async () => {
    const company = uniq("patch");
    const rec = await admin.register(registration(company, { tags: ["a", "b"], metadata: { owner: "x", team: "y" } }));
    const patched = await admin.patch(rec.serviceId, {
      tags: ["c"],
      metadata: { team: null, tier: "gold" },
      serviceInfo: { version: "2.0.0" },
    });
    assert.deepEqual(patched.tags, ["c"]);
    assert.deepEqual(patched.metadata, { owner: "x", tier: "gold" });
    assert.equal(patched.serviceInfo.version, "2.0.0");
    assert.equal(patched.serviceInfo.region, "us-west1", "unpatched members stay");
    assert.deepEqual(await admin.get(rec.serviceId), patched);
  });

  test("setStatus, heartbeat with and without ttl, reportHealth and health", async () => {
    const company = uniq("hb");
    const client = clientFor({ sao: "sapphire", company });
    const plain = await client.register(registration(company));
    const noTtl = await client.heartbeat(plain.serviceId);
    assert.deepEqual(noTtl, { serviceId: plain.serviceId, status: "active", expiresAt: null });

    const ttl = await client.register(registration(company, { healthCheckConfig: { ttl: "30s" } }));
    const beat = await client.heartbeat(ttl.serviceId);
    assert.equal(beat.status, "active");
    const left = Date.parse(beat.expiresAt) - Date.now();
    assert.ok(left > 20_000 && left <= 31_000, `expiresAt about 30 s ahead, got ${left} ms`);

    const maintenance = await client.setStatus(plain.serviceId, "maintenance");
    assert.equal(maintenance.status, "maintenance");

    const hs = await client.reportHealth(ttl.serviceId, { ok: false, responseTime: 12.5, message: "slow" });
    assert.equal(hs.consecutiveFailures, 1);
    assert.equal(hs.lastError, "slow");
    const detail = await client.health(ttl.serviceId);
    assert.equal(detail.serviceId, ttl.serviceId);
    assert.equal(detail.recentChecks[0].ok, false);
    assert.equal(detail.recentChecks[0].endpoint, "external");
  });

  test("deregister, then the record is gone", async () => {
    const rec = await admin.register(registration(uniq("del")));
    assert.equal(await admin.deregister(rec.serviceId), undefined);
    await assert.rejects(admin.get(rec.serviceId), NotFoundError);
    await assert.rejects(admin.deregister(rec.serviceId), NotFoundError);
  });
});

describe("discover", () => {
  test("filters combine with AND; lists need every value", async () => {
    const company = uniq("flt");
    const a = await admin.register(registration(company, { tags: ["gpu", "beta"] }));
    const b = await admin.register(
      registration(company, {
        serviceInfo: { capabilities: ["tools", "search"], region: "eu-west1", environment: "staging", endpoints: { primary: "https://b.example.com" } },
      }),
    );
    const ids = async (q) => (await admin.discover({ company, ...q })).services.map((s) => s.serviceId).sort();
    assert.deepEqual(await ids({}), [a.serviceId, b.serviceId].sort());
    assert.deepEqual(await ids({ region: "eu-west1" }), [b.serviceId]);
    assert.deepEqual(await ids({ environment: "production" }), [a.serviceId]);
    assert.deepEqual(await ids({ capabilities: ["tools", "search"] }), [b.serviceId]);
    assert.deepEqual(await ids({ capabilities: "tools" }), [a.serviceId, b.serviceId].sort());
    assert.deepEqual(await ids({ tags: ["gpu", "beta"] }), [a.serviceId]);
    assert.deepEqual(await ids({ tags: ["gpu", "nope"] }), []);
    assert.deepEqual(await ids({ tools: "search" }), [], "no MCP introspection ran");
  });

  test("discoverAll walks every page exactly once in serviceId order", async () => {
    const company = uniq("page");
    const made = [];
    for (let i = 0; i < 25; i++) made.push((await admin.register(registration(company))).serviceId);
    const pages = [];
    for await (const page of admin.discoverPages({ company, limit: 10 })) pages.push(page);
    assert.deepEqual(pages.map((p) => p.count), [10, 10, 5]);
    assert.equal(pages.at(-1).nextCursor, null);
    const seen = [];
    for await (const s of admin.discoverAll({ company, limit: 10 })) seen.push(s.serviceId);
    assert.deepEqual(seen, [...made].sort());
  });

  test("long-poll returns when the index passes", async () => {
    const company = uniq("lp");
    const { index } = await admin.discover({ company });
    const started = Date.now();
    const poll = admin.discover({ company, index, wait: "20s" });
    await new Promise((r) => setTimeout(r, 100));
    const rec = await admin.register(registration(company));
    const page = await poll;
    assert.ok(page.index > index);
    assert.deepEqual(page.services.map((s) => s.serviceId), [rec.serviceId]);
    assert.ok(Date.now() - started < 15_000, "answered by the change, not the wait");
  });
});

describe("errors", () => {
  test("invalid_argument names the field", async () => {
    const company = uniq("bad");
    const body = registration(company);
    body.serviceInfo.region = "US West";
    const err = await admin.register(body).catch((e) => e);
    assert.ok(err instanceof InvalidArgumentError && err instanceof DiscoveryError);
    assert.equal(err.status, 400);
    assert.equal(err.code, "invalid_argument");
    assert.equal(err.field, "serviceInfo.region");
    assert.match(err.requestId, /\S/);
    assert.equal((await admin.discover({ company })).count, 0, "a rejected request changes nothing");
  });

  test("unauthenticated without a token or with a wrong one", async () => {
    await assert.rejects(new DiscoveryClient({ baseUrl: daemon.url }).discover(), UnauthenticatedError);
    const forged = new DiscoveryClient({ baseUrl: daemon.url, token: daemon.token({ sao: "diamond" }) + "x" });
    await assert.rejects(forged.discover(), (e) => e instanceof UnauthenticatedError && e.status === 401);
  });

  test("access: onyx may read but not patch; another company's record is not found", async () => {
    const company = uniq("acc");
    const rec = await admin.register(registration(company));
    const onyx = clientFor({ sao: "onyx", company });
    assert.equal((await onyx.get(rec.serviceId)).serviceId, rec.serviceId);
    await assert.rejects(onyx.patch(rec.serviceId, { tags: ["x"] }), (e) => e instanceof PermissionDeniedError && e.status === 403);
    await assert.rejects(onyx.health(rec.serviceId), PermissionDeniedError);
    const stranger = clientFor({ sao: "sapphire", company: uniq("other") });
    await assert.rejects(stranger.get(rec.serviceId), (e) => e instanceof NotFoundError && e.code === "not_found");
    await assert.rejects(clientFor({ sao: "emerald" }).audit(), PermissionDeniedError);
  });

  test("a refused connection is a DiscoveryConnectionError", async () => {
    const port = await freePort();
    const client = new DiscoveryClient({ baseUrl: `http://127.0.0.1:${port}`, retries: 0 });
    await assert.rejects(client.daemonHealth(), DiscoveryConnectionError);
  });

  test("a timeout is a DiscoveryTimeoutError; the caller's AbortSignal wins", async () => {
    const { index } = await admin.discover({ limit: 1 });
    await assert.rejects(admin.discover({ index, wait: "10s" }, { timeout: 200, retries: 0 }), DiscoveryTimeoutError);
    const abort = new AbortController();
    const poll = admin.discover({ index, wait: "10s" }, { signal: abort.signal });
    setTimeout(() => abort.abort(new Error("caller gave up")), 100);
    await assert.rejects(poll, /caller gave up/);
  });
});

test("429 is retried after Retry-After for idempotent calls", async () => {
  const limited = await startDaemon({ binary: DISCOVERYD, args: ["--rate-limit", "1"] });
  try {
    const token = limited.token({ sao: "diamond", sub: "limited" });
    const once = new DiscoveryClient({ baseUrl: limited.url, token, retries: 0 });
    let refused;
    for (let i = 0; i < 10 && !refused; i++) refused = await once.discover().then(() => undefined, (e) => e);
    assert.ok(refused instanceof RateLimitedError, `expected a 429, got ${refused}`);
    assert.ok(refused.retryAfter >= 1);
    const patient = new DiscoveryClient({ baseUrl: limited.url, token, retries: 3 });
    const page = await patient.discover();
    assert.equal(page.count, 0);
  } finally {
    await limited.stop();
  }
});

describe("watch", () => {
  test("events arrive in order; lastEventId resumes after a given index", async () => {
    const company = uniq("watch");
    const { index } = await admin.discover({ company, limit: 1 });
    const watch = admin.watch({ company }, { lastEventId: index });
    const events = watch[Symbol.asyncIterator]();
    const rec = await admin.register(registration(company));
    await admin.setStatus(rec.serviceId, "maintenance");
    await admin.deregister(rec.serviceId);
    const got = [];
    for (let i = 0; i < 3; i++) got.push((await nextWithin(events)).value);
    assert.deepEqual(got.map((e) => e.type), ["upsert", "status", "delete"]);
    assert.deepEqual(got[0].service, rec);
    assert.equal(watch.lastEventId, String(got[2].index));
    await events.return();

    // A new watch from the first event's index replays the two after it.
    const resumed = admin.watch({ company }, { lastEventId: got[0].index })[Symbol.asyncIterator]();
    assert.deepEqual([(await nextWithin(resumed)).value.index, (await nextWithin(resumed)).value.index], [got[1].index, got[2].index]);
    await resumed.return();
  });

  test("a watch reconnects with Last-Event-ID after the daemon restarts", async () => {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), "node-watch-restart-"));
    const args = ["--storage", "sqlite", "--listen", `127.0.0.1:${port}`];
    let first = await startDaemon({ binary: DISCOVERYD, args, dataDir: dir });
    let second;
    try {
      const client = new DiscoveryClient({ baseUrl: first.url, token: first.token({ sao: "diamond" }), retries: 5, retryDelay: 200 });
      const company = uniq("restart");
      const before = await client.register(registration(company));
      const watch = client.watch({ company }, { lastEventId: (await client.discover({ company })).index, reconnectDelay: 100, maxReconnectDelay: 500 });
      const events = watch[Symbol.asyncIterator]();
      const pending = nextWithin(events, 20_000);
      await new Promise((r) => setTimeout(r, 200)); // the stream is open
      assert.equal(await first.stop(), 0);
      second = await startDaemon({ binary: DISCOVERYD, args, dataDir: dir });
      const after = await client.register(registration(company));
      const seen = [(await pending).value];
      while (seen.at(-1).service.serviceId !== after.serviceId) seen.push((await nextWithin(events, 20_000)).value);
      assert.ok(seen.every((e) => [before.serviceId, after.serviceId].includes(e.service.serviceId)), "only the filter's records");
      assert.equal(watch.lastEventId, String(seen.at(-1).index));
      await events.return();
    } finally {
      await first.stop();
      await second?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a watch outlives the client's request timeout", async () => {
    const company = uniq("long");
    const client = clientFor({ sao: "diamond" }, { timeout: 300 });
    const { index } = await client.discover({ company });
    const events = client.watch({ company }, { lastEventId: index, reconnect: false })[Symbol.asyncIterator]();
    const pending = nextWithin(events, 10_000);
    await new Promise((r) => setTimeout(r, 1000)); // beyond the 300 ms timeout
    const rec = await admin.register(registration(company));
    const { value, done } = await pending;
    assert.equal(done, false, "the stream was cut");
    assert.equal(value.service.serviceId, rec.serviceId);
    await events.return();
  });

  test("an AbortSignal or close() ends the iteration", async () => {
    const abort = new AbortController();
    const watch = admin.watch({ company: uniq("quiet") }, { signal: abort.signal });
    setTimeout(() => abort.abort(), 200);
    const seen = [];
    for await (const event of watch) seen.push(event);
    assert.deepEqual(seen, []);

    const closing = admin.watch({ company: uniq("quiet") });
    setTimeout(() => closing.close(), 200);
    for await (const event of closing) seen.push(event);
    assert.deepEqual(seen, []);
  });

  test("a watch refused with 401 throws instead of reconnecting", async () => {
    const watch = new DiscoveryClient({ baseUrl: daemon.url }).watch();
    await assert.rejects(async () => {
      for await (const _ of watch);
    }, UnauthenticatedError);
  });

  test("parseEventStream handles CRLF, split chunks, comments and multi-line data", async () => {
    const enc = new TextEncoder();
    const chunks = [": keep-alive\r\n\r\nevent: change\r", "\nid: 7\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n", "data: x\n\n"];
    const body = (async function* () {
      for (const c of chunks) yield enc.encode(c);
    })();
    const out = [];
    for await (const m of parseEventStream(body)) out.push(m);
    assert.deepEqual(out, [
      { event: "change", id: "7", data: '{"a":\n1}' },
      { event: "message", id: "7", data: "x" },
    ]);
  });
});

describe("daemon", () => {
  test("health, ready, metrics and the OpenAPI document need no token", async () => {
    const anonymous = new DiscoveryClient({ baseUrl: daemon.url });
    assert.deepEqual(await anonymous.daemonHealth(), { status: "ok" });
    const ready = await anonymous.daemonReady();
    assert.equal(ready.status, "ready");
    assert.equal(typeof ready.index, "number");
    assert.match(await anonymous.metrics(), /^# (HELP|TYPE) /m);
    const doc = await anonymous.openapi();
    assert.equal(doc.openapi, "3.1.0");
    assert.ok(doc.paths["/api/v1/services/discover"]);
  });

  test("alerts: readable with health access, 403 for onyx, 404 for an unknown service", async () => {
    const company = uniq("alerts");
    const rec = await admin.register(registration(company));
    const alerts = await clientFor({ sao: "opal", company }).alerts({ serviceId: rec.serviceId, limit: 10 });
    assert.ok(Array.isArray(alerts));
    assert.ok(alerts.every((a) => a.serviceId === rec.serviceId));
    await assert.rejects(clientFor({ sao: "onyx", company }).alerts(), PermissionDeniedError);
    await assert.rejects(admin.alerts({ serviceId: "00000000-0000-4000-8000-000000000000" }), NotFoundError);
    await assert.rejects(admin.alerts({ limit: 0 }), (e) => e instanceof InvalidArgumentError && e.field === "limit");
  });

  test("audit lists the mutations with their request ids (diamond)", async () => {
    const rec = await admin.register(registration(uniq("audit")));
    const since = new Date(Date.now() - 60_000);
    const entries = await admin.audit({ since, limit: 1000 });
    const mine = entries.filter((e) => e.serviceId === rec.serviceId);
    assert.equal(mine.length, 1);
    assert.equal(mine[0].action, "register");
    assert.equal(mine[0].result, "ok");
    assert.equal(mine[0].subject, "admin");
  });
});
