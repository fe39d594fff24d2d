// The conformance scenario of tests/conformance/README.md, shared by the
// Node, Go and Python clients. With DISCOVERY_URL and
// DISCOVERY_JWT_SECRET_FILE it runs against that daemon (tests/conformance/
// run.sh starts one for all three clients), else against one of its own.
// Everything it does is in its own company, so the clients do not meet.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import DiscoveryClient, { NotFoundError, PermissionDeniedError } from "@mcp-discovery/client";
import { daemonFromEnv } from "@mcp-discovery/client/testing";

import { DISCOVERYD, nextWithin } from "./helpers.js";

const COMPANY = "conformance-node";
const RUN = Date.now().toString(36); // instance ids unique per run, for a reused daemon

let daemon;
let owner; // sapphire of COMPANY: the service's own account
const client = (claims) => new DiscoveryClient({ baseUrl: daemon.url, token: daemon.token(claims) });
const body = (name, { region = "us-west1", environment = "production", capabilities = ["tools"], tags = [], ...rest } = {}) => ({
  companyName: COMPANY,
  instanceId: `${COMPANY}-${RUN}-${name}`,
  serviceInfo: { version: "1.0.0", capabilities, region, environment, endpoints: { primary: `https://${name}.${COMPANY}.example.com` } },
  tags,
  ...rest,
});
const ids = (page) => page.services.map((s) => s.serviceId).sort();

let alpha, beta, gamma;

before(async () => {
  daemon = await daemonFromEnv({ binary: DISCOVERYD });
  owner = client({ sao: "sapphire", company: COMPANY, sub: "conformance-node-owner" });
  // A daemon reused across runs may hold this company's records: start clean.
  for await (const s of owner.discoverAll({ company: COMPANY })) await owner.deregister(s.serviceId);
});
after(async () => {
  await daemon?.stop();
});

test("1. register", async () => {
  alpha = await owner.register(body("alpha", { capabilities: ["tools", "search"], tags: ["gpu", "beta"] }));
  beta = await owner.register(body("beta", { region: "eu-west1", environment: "staging" }));
  gamma = await owner.register(body("gamma", { region: "eu-west1", saoLevel: "opal", tags: ["gpu"] }));
  for (const r of [alpha, beta, gamma]) {
    assert.equal(r.companyName, COMPANY);
    assert.equal(r.status, "active");
  }
  assert.equal(alpha.saoLevel, "sapphire", "defaults to the token's level");
  assert.equal(gamma.saoLevel, "opal");
  const again = await owner.register(body("alpha", { capabilities: ["tools", "search"], tags: ["gpu", "beta"] }));
  assert.equal(again.serviceId, alpha.serviceId, "re-registering keeps the serviceId");
});

test("2. discover with each filter", async () => {
  await owner.setStatus(beta.serviceId, "maintenance");
  const q = (filters) => owner.discover({ company: COMPANY, ...filters }).then(ids);
  assert.deepEqual(await q({}), ids({ services: [alpha, beta, gamma] }));
  assert.deepEqual(await q({ region: "eu-west1" }), ids({ services: [beta, gamma] }));
  assert.deepEqual(await q({ environment: "staging" }), [beta.serviceId]);
  assert.deepEqual(await q({ status: "maintenance" }), [beta.serviceId]);
  assert.deepEqual(await q({ status: "active" }), ids({ services: [alpha, gamma] }));
  assert.deepEqual(await q({ saoLevel: "opal" }), [gamma.serviceId]);
  assert.deepEqual(await q({ capabilities: ["tools", "search"] }), [alpha.serviceId]);
  assert.deepEqual(await q({ tags: ["gpu"] }), ids({ services: [alpha, gamma] }));
  assert.deepEqual(await q({ tags: ["gpu", "beta"] }), [alpha.serviceId]);
  assert.deepEqual(await q({ region: "eu-west1", tags: ["gpu"] }), [gamma.serviceId], "filters combine with AND");
  // No MCP introspection ran, so no record has tools: the answer is empty.
  const tools = await owner.discover({ company: COMPANY, tools: ["search"] });
  assert.deepEqual(tools.services, []);
  assert.equal(tools.count, 0);
  assert.equal(tools.nextCursor, null);
  await owner.setStatus(beta.serviceId, "active");
});

test("3. page through 250 records with limit 100, each exactly once", async () => {
  const made = new Set();
  for (let start = 0; start < 250; start += 25) {
    const batch = Array.from({ length: 25 }, (_, i) => owner.register(body(`bulk-${start + i}`, { environment: "bulk" })));
    for (const r of await Promise.all(batch)) made.add(r.serviceId);
  }
  assert.equal(made.size, 250);
  const counts = [];
  const seen = [];
  for await (const page of owner.discoverPages({ company: COMPANY, environment: "bulk", limit: 100 })) {
    counts.push(page.count);
    seen.push(...page.services.map((s) => s.serviceId));
  }
  assert.deepEqual(counts, [100, 100, 50]);
  assert.equal(new Set(seen).size, 250, "no record twice");
  assert.deepEqual(new Set(seen), made, "every record once");
  assert.deepEqual(seen, [...seen].sort(), "ordered by serviceId");
});

test("4. patch", async () => {
  const patched = await owner.patch(alpha.serviceId, { tags: ["gpu"], metadata: { owner: "team-a" }, serviceInfo: { version: "1.1.0" } });
  assert.deepEqual(patched.tags, ["gpu"]);
  assert.deepEqual(patched.metadata, { owner: "team-a" });
  assert.equal(patched.serviceInfo.version, "1.1.0");
  assert.deepEqual(patched.serviceInfo.capabilities, ["tools", "search"], "merge keeps what the patch omits");
  const removed = await owner.patch(alpha.serviceId, { metadata: { owner: null } });
  assert.deepEqual(removed.metadata, {}, "null removes a member");
});

test("5. status", async () => {
  const r = await owner.setStatus(alpha.serviceId, "maintenance");
  assert.equal(r.status, "maintenance");
  assert.equal((await owner.get(alpha.serviceId)).status, "maintenance");
  assert.equal((await owner.setStatus(alpha.serviceId, "active")).status, "active");
});

test("6. heartbeat with a ttl", async () => {
  const withTtl = await owner.patch(beta.serviceId, { healthCheckConfig: { ttl: "45s" } });
  assert.equal(withTtl.healthCheckConfig.ttl, "45s");
  const beat = await owner.heartbeat(beta.serviceId);
  assert.equal(beat.serviceId, beta.serviceId);
  assert.equal(beat.status, "active");
  const left = Date.parse(beat.expiresAt) - Date.now();
  assert.ok(left > 30_000 && left <= 46_000, `expiresAt about 45 s ahead, got ${left} ms`);
  const noTtl = await owner.heartbeat(alpha.serviceId);
  assert.equal(noTtl.expiresAt, null);
});

test("7. health report", async () => {
  const failed = await owner.reportHealth(gamma.serviceId, { ok: false, responseTime: 40, message: "timeout" });
  assert.equal(failed.consecutiveFailures, 1);
  assert.equal(failed.lastError, "timeout");
  const passed = await owner.reportHealth(gamma.serviceId, { ok: true, responseTime: 12 });
  assert.equal(passed.consecutiveSuccesses, 1);
  assert.equal(passed.consecutiveFailures, 0);
  const detail = await owner.health(gamma.serviceId);
  assert.equal(detail.status, "active", "one failure is below the threshold");
  assert.deepEqual(detail.recentChecks.slice(0, 2).map((c) => c.ok), [true, false], "newest first");
});

test("8. watch a change", async () => {
  const { index } = await owner.discover({ company: COMPANY, limit: 1 });
  const watch = owner.watch({ company: COMPANY }, { lastEventId: index });
  const events = watch[Symbol.asyncIterator]();
  const next = nextWithin(events); // the stream opens on the first next()
  await owner.setStatus(gamma.serviceId, "maintenance");
  const { value: event } = await next;
  assert.equal(event.type, "status");
  assert.equal(event.service.serviceId, gamma.serviceId);
  assert.equal(event.service.status, "maintenance");
  assert.ok(event.index > index);
  assert.equal(watch.lastEventId, String(event.index));
  await events.return();
});

test("9. access denied for a lower level; another company's record is not found", async () => {
  const onyx = client({ sao: "onyx", company: COMPANY });
  assert.equal((await onyx.get(alpha.serviceId)).serviceId, alpha.serviceId, "onyx reads its own company");
  await assert.rejects(onyx.patch(alpha.serviceId, { tags: [] }), (e) => e instanceof PermissionDeniedError && e.status === 403 && e.code === "permission_denied");
  const other = client({ sao: "sapphire", company: `${COMPANY}-other` });
  await assert.rejects(other.get(alpha.serviceId), (e) => e instanceof NotFoundError && e.status === 404 && e.code === "not_found");
  await assert.rejects(other.patch(alpha.serviceId, { tags: [] }), NotFoundError);
  assert.equal((await other.discover({ company: COMPANY })).count, 0);
});

test("10. deregister", async () => {
  await owner.deregister(alpha.serviceId);
  await assert.rejects(owner.get(alpha.serviceId), NotFoundError);
  const rest = [];
  for await (const s of owner.discoverAll({ company: COMPANY })) rest.push(s.serviceId);
  assert.ok(!rest.includes(alpha.serviceId));
  for (const id of rest) await owner.deregister(id);
  assert.equal((await owner.discover({ company: COMPANY })).count, 0);
});
