// discoveryd's MCP Registry API (/v0.1/servers, docs/mcp-registry.md) against
// the official MCP Registry OpenAPI document and server.json schema, copied
// verbatim in spec/ (see spec/SOURCE.md). Starts real daemons ($DISCOVERYD,
// else build/dev/apps/discoveryd/discoveryd).
//
//   cd tests/mcp-registry && npm ci && node --test registry.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import Ajv from 'ajv';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import YAML from 'yaml';

import { startDaemon } from '../support/daemon.mjs';

const here = dirname(fileURLToPath(import.meta.url));

// ---- the official schemas --------------------------------------------------

const openapi = YAML.parse(readFileSync(join(here, 'spec/openapi.yaml'), 'utf8'));
const ajv2020 = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv2020);
ajv2020.addSchema(openapi);
const component = (name) => {
  const v = ajv2020.getSchema(`${openapi.$id}#/components/schemas/${name}`);
  assert.ok(v, `no component ${name} in the official OpenAPI document`);
  return v;
};
const validateServerList = component('ServerList');
const validateServerResponse = component('ServerResponse');

const serverSchema = JSON.parse(readFileSync(join(here, 'spec/server.schema.json'), 'utf8'));
const ajv7 = new Ajv({ strict: false, allErrors: true });
addFormats(ajv7);
const validateServerJson = ajv7.compile(serverSchema);

function assertValid(validate, value, what) {
  const ok = validate(value);
  assert.ok(ok, `${what} does not match the official schema: ${JSON.stringify(validate.errors?.slice(0, 5))}\n${JSON.stringify(value).slice(0, 600)}`);
}

// A ServerList answer: the official OpenAPI schema, and each server against server.schema.json.
function checkList(res, what) {
  assert.equal(res.status, 200, `${what}: ${res.status} ${res.text}`);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  assertValid(validateServerList, res.json, what);
  assert.equal(res.json.metadata.count, res.json.servers.length, `${what}: metadata.count`);
  for (const entry of res.json.servers) checkEntry(entry, what);
  return res.json;
}

function checkEntry(entry, what) {
  assertValid(validateServerResponse, entry, `${what}: ServerResponse`);
  assertValid(validateServerJson, entry.server, `${what}: server.json of ${entry.server?.name}`);
  const official = entry._meta['io.modelcontextprotocol.registry/official'];
  assert.ok(official, `${what}: official _meta`);
  const health = entry._meta['io.mcp-discovery/health'];
  assert.ok(health && Array.isArray(health.instanceHealth), `${what}: health _meta`);
  // MCP _meta key rules: labels start with a letter, end with a letter or digit.
  for (const key of Object.keys(entry._meta))
    assert.match(key, /^([a-zA-Z]([a-zA-Z0-9-]*[a-zA-Z0-9])?\.)*[a-zA-Z]([a-zA-Z0-9-]*[a-zA-Z0-9])?\/[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$/);
}

function checkOne(res, what) {
  assert.equal(res.status, 200, `${what}: ${res.status} ${res.text}`);
  checkEntry(res.json, what);
  return res.json;
}

function checkError(res, status, code, what) {
  assert.equal(res.status, status, `${what}: ${res.status} ${res.text}`);
  assert.equal(res.json?.error?.code, code, `${what}: ${res.text}`);
  assert.equal(typeof res.json.error.message, 'string');
}

const enc = encodeURIComponent;
const key = (e) => `${e.server.name}@${e.server.version}`;

async function pageAll(d, token, query = '', limit = 25) {
  const entries = [];
  let cursor;
  let pages = 0;
  do {
    const q = new URLSearchParams(query);
    q.set('limit', String(limit));
    if (cursor) q.set('cursor', cursor);
    const list = checkList(await d.fetch(`/v0.1/servers?${q}`, { token }), `page ${pages}`);
    assert.ok(list.servers.length <= limit);
    entries.push(...list.servers);
    cursor = list.metadata.nextCursor;
    if (cursor) assert.equal(list.servers.length, limit, 'a page before the last is full');
    pages += 1;
    assert.ok(pages < 1000, 'the cursor walk ends');
  } while (cursor);
  return entries;
}

async function inBatches(items, size, fn) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

// ---- the fleet ---------------------------------------------------------------

// acme: 120 services s0..s119 at 1.0.0; every 10th also an instance at 2.0.0;
// every 20th a second instance at 1.0.0 (another URL). beta: 100 services at
// 0.i.0. gamma: 80 services with an MCP endpoint. 312 server versions in all.
function fleet() {
  const regs = [];
  for (let i = 0; i < 120; i++) {
    const domain = `s${i}.acme.example.com`;
    regs.push({ companyName: 'acme', domain, instanceId: `s${i}-a`, serviceInfo: { version: '1.0.0', region: 'us-west1', environment: 'production', endpoints: { primary: `https://${domain}/a` } } });
    if (i % 20 === 0)
      regs.push({ companyName: 'acme', domain, instanceId: `s${i}-b`, serviceInfo: { version: '1.0.0', region: 'eu-west1', environment: 'production', endpoints: { primary: `https://${domain}/b` } } });
  }
  for (let i = 0; i < 120; i += 10) {
    const domain = `s${i}.acme.example.com`;
    regs.push({ companyName: 'acme', domain, instanceId: `s${i}-v2`, serviceInfo: { version: '2.0.0', region: 'us-west1', endpoints: { primary: `https://${domain}/v2` } } });
  }
  for (let i = 0; i < 100; i++) {
    const domain = `t${i}.beta.example.org`;
    regs.push({ companyName: 'beta', domain, instanceId: `t${i}`, serviceInfo: { version: `0.${i}.0`, region: 'us-central1', endpoints: { primary: `https://${domain}` } }, metadata: { description: `Beta tool number ${i}` } });
  }
  for (let i = 0; i < 80; i++) {
    const domain = `svc${i}.gamma.2100.cool`;
    regs.push({ companyName: 'gamma', domain, instanceId: `svc${i}`, serviceInfo: { version: '3.1.4', region: 'eu-west1', endpoints: { primary: `https://${domain}`, mcp: `https://${domain}/mcp` } } });
  }
  return regs;
}
const TOTAL = 132 + 100 + 80;

describe('MCP Registry API', () => {
  let d;  // public company: acme
  let admin;
  const ids = new Map();  // instanceId -> serviceId

  before(async () => {
    d = await startDaemon(['--registry-public-company', 'acme']);
    admin = d.token('diamond', undefined, 'registry-test-admin');
    await inBatches(fleet(), 16, async (body) => {
      const res = await d.fetch('/api/v1/services/register', { method: 'POST', token: admin, body });
      assert.equal(res.status, 201, res.text);
      ids.set(body.instanceId, res.json.serviceId);
    });
  });

  after(async () => {
    if (d) assert.equal(await d.stop(), 0, 'discoveryd exits 0 on SIGTERM');
  });

  test('the validators reject what the official schemas forbid (the checks can fail)', () => {
    const good = { servers: [{ server: { name: 'com.example/x', description: 'd', version: '1.0.0' } }], metadata: { count: 1 } };
    assert.ok(validateServerList(good));
    assert.ok(!validateServerList({ servers: [{ server: { name: 'no-slash', description: 'd', version: '1' } }] }));
    assert.ok(!validateServerJson({ name: 'com.example/x', description: 'x'.repeat(101), version: '1' }));
    assert.ok(!validateServerResponse({ server: good.servers[0].server, _meta: { 'io.modelcontextprotocol.registry/official': { status: 'gone' } } }));
    assert.ok(!validateServerJson({ name: 'com.example/x', description: 'd', version: '1', remotes: [{ type: 'stdio' }] }));
  });

  test('a cursor walk visits every server version exactly once, in order', async () => {
    const entries = await pageAll(d, admin, '', 25);
    assert.equal(entries.length, TOTAL);
    const keys = entries.map(key);
    assert.equal(new Set(keys).size, TOTAL, 'no duplicates');
    const sorted = [...entries].sort((a, b) => (a.server.name < b.server.name ? -1 : a.server.name > b.server.name ? 1 : a.server.version < b.server.version ? -1 : a.server.version > b.server.version ? 1 : 0));
    assert.deepEqual(keys, sorted.map(key));
    // The default page size and the /v0 alias.
    const first = checkList(await d.fetch('/v0/servers', { token: admin }), '/v0/servers');
    assert.equal(first.servers.length, 30);
    assert.ok(first.metadata.nextCursor);
  });

  test('the mapping: name, versions, latest, remotes, health and description', async () => {
    const name = 'com.example.acme/s20';
    const versions = checkList(await d.fetch(`/v0.1/servers/${enc(name)}/versions`, { token: admin }), 'versions');
    assert.deepEqual(versions.servers.map((e) => e.server.version), ['2.0.0', '1.0.0'], 'newest publication first');
    assert.deepEqual(versions.servers.map((e) => e._meta['io.modelcontextprotocol.registry/official'].isLatest), [true, false]);

    const latest = checkOne(await d.fetch(`/v0.1/servers/${enc(name)}/versions/latest`, { token: admin }), 'latest');
    assert.equal(latest.server.version, '2.0.0');
    const v1 = checkOne(await d.fetch(`/v0.1/servers/${enc(name)}/versions/1.0.0`, { token: admin }), '1.0.0');
    assert.deepEqual([...v1.server.remotes].sort((a, b) => a.url.localeCompare(b.url)), [
      { type: 'streamable-http', url: 'https://s20.acme.example.com/a' },
      { type: 'streamable-http', url: 'https://s20.acme.example.com/b' },
    ]);
    const health = v1._meta['io.mcp-discovery/health'];
    assert.equal(health.status, 'healthy');
    assert.equal(health.instances, 2);
    assert.deepEqual(health.instanceHealth.map((i) => i.serviceId).sort(), [ids.get('s20-a'), ids.get('s20-b')].sort());
    assert.equal(v1.server.description, 'MCP server s20 of acme');

    // The same through an unencoded name and the generic API's /v0/servers/{name}.
    const plain = checkOne(await d.fetch(`/v0.1/servers/${name}/versions/1.0.0`, { token: admin }), 'unencoded');
    assert.deepEqual(plain.server, v1.server);
    const v0 = checkOne(await d.fetch(`/v0/servers/${enc(name)}`, { token: admin }), '/v0 latest');
    assert.equal(v0.server.version, '2.0.0');

    // endpoints.mcp is the remote's URL; metadata.description the description.
    const gamma = checkOne(await d.fetch(`/v0.1/servers/${enc('cool.2100.gamma/svc7')}/versions/3.1.4`, { token: admin }), 'gamma');
    assert.deepEqual(gamma.server.remotes, [{ type: 'streamable-http', url: 'https://svc7.gamma.2100.cool/mcp' }]);
    const beta = checkOne(await d.fetch(`/v0.1/servers/${enc('org.example.beta/t3')}/versions/latest`, { token: admin }), 'beta');
    assert.equal(beta.server.description, 'Beta tool number 3');

    // version= filter: latest only, and one exact version.
    const latestOnly = await pageAll(d, admin, 'version=latest&search=acme', 50);
    assert.equal(latestOnly.length, 120);
    assert.ok(latestOnly.every((e) => e._meta['io.modelcontextprotocol.registry/official'].isLatest));
    const exact = await pageAll(d, admin, 'version=2.0.0', 50);
    assert.equal(exact.length, 12);
    const search = await pageAll(d, admin, 'search=GAMMA/SVC1', 50);
    assert.deepEqual(search.map((e) => e.server.name).sort(),
      ['cool.2100.gamma/svc1', ...Array.from({ length: 10 }, (_, i) => `cool.2100.gamma/svc1${i}`)].sort());
  });

  test('an instance out of service leaves the remotes; health says degraded', async () => {
    const res = await d.fetch(`/api/v1/services/${ids.get('s40-b')}/status`, { method: 'PUT', token: admin, body: { status: 'maintenance' } });
    assert.equal(res.status, 200, res.text);
    const v1 = checkOne(await d.fetch(`/v0.1/servers/${enc('com.example.acme/s40')}/versions/1.0.0`, { token: admin }), 's40');
    assert.deepEqual(v1.server.remotes, [{ type: 'streamable-http', url: 'https://s40.acme.example.com/a' }]);
    assert.equal(v1._meta['io.mcp-discovery/health'].status, 'degraded');
    assert.equal(v1._meta['io.mcp-discovery/health'].servingInstances, 1);
  });

  test('updated_since returns exactly what changed, deletions included', async () => {
    const all = await pageAll(d, admin, 'include_deleted=true', 100);
    const newest = all.map((e) => e._meta['io.modelcontextprotocol.registry/official'].updatedAt).sort().at(-1);
    await new Promise((r) => setTimeout(r, 20));

    const patch = (id, body) => d.fetch(`/api/v1/services/${id}`, { method: 'PATCH', token: admin, body });
    assert.equal((await patch(ids.get('t5'), { serviceInfo: { version: '9.9.9' } })).status, 200);
    assert.equal((await patch(ids.get('t6'), { metadata: { description: 'Changed' } })).status, 200);
    assert.equal((await d.fetch(`/api/v1/services/${ids.get('svc3')}`, { method: 'DELETE', token: admin })).status, 204);
    assert.equal((await d.fetch(`/api/v1/services/${ids.get('s60-b')}`, { method: 'DELETE', token: admin })).status, 204);

    const changed = await pageAll(d, admin, `updated_since=${newest}`, 2);
    const byKey = Object.fromEntries(changed.map((e) => [key(e), e]));
    assert.deepEqual(Object.keys(byKey).sort(), [
      'com.example.acme/s60@1.0.0',   // one of its two instances left
      'cool.2100.gamma/svc3@3.1.4',  // deregistered
      'org.example.beta/t5@0.5.0',   // its only instance moved to 9.9.9
      'org.example.beta/t5@9.9.9',
      'org.example.beta/t6@0.6.0',
    ].sort());
    const status = (k) => byKey[k]._meta['io.modelcontextprotocol.registry/official'].status;
    assert.equal(status('cool.2100.gamma/svc3@3.1.4'), 'deleted');
    assert.equal(status('org.example.beta/t5@0.5.0'), 'deleted');
    assert.equal(status('org.example.beta/t5@9.9.9'), 'active');
    assert.equal(status('com.example.acme/s60@1.0.0'), 'active');
    assert.ok(byKey['cool.2100.gamma/svc3@3.1.4']._meta['io.modelcontextprotocol.registry/official'].statusChangedAt);
    assert.equal(byKey['org.example.beta/t6@0.6.0'].server.description, 'Changed');
    assert.equal(byKey['cool.2100.gamma/svc3@3.1.4'].server.remotes, undefined, 'a deleted version has no remotes');

    // Deleted versions only with include_deleted.
    const live = await pageAll(d, admin, '', 100);
    assert.equal(live.length, TOTAL - 2 + 1);
    assert.ok(!live.some((e) => key(e) === 'cool.2100.gamma/svc3@3.1.4'));
    checkError(await d.fetch(`/v0.1/servers/${enc('cool.2100.gamma/svc3')}/versions/3.1.4`, { token: admin }), 404, 'not_found', 'deleted, hidden');
    const gone = checkOne(await d.fetch(`/v0.1/servers/${enc('cool.2100.gamma/svc3')}/versions/3.1.4?include_deleted=true`, { token: admin }), 'deleted, shown');
    assert.equal(gone._meta['io.modelcontextprotocol.registry/official'].status, 'deleted');
    const t5 = checkList(await d.fetch(`/v0.1/servers/${enc('org.example.beta/t5')}/versions?include_deleted=true`, { token: admin }), 't5 versions');
    assert.deepEqual(t5.servers.map((e) => e.server.version).sort(), ['0.5.0', '9.9.9']);

    // Nothing changed since the newest answer: an empty list.
    const latestUpdate = changed.map((e) => e._meta['io.modelcontextprotocol.registry/official'].updatedAt).sort().at(-1);
    const none = checkList(await d.fetch(`/v0.1/servers?updated_since=${latestUpdate}`, { token: admin }), 'nothing new');
    assert.equal(none.servers.length, 0);
    assert.equal(none.metadata.nextCursor, undefined);
  });

  test('anonymous readers see the public company only; nothing else exists for them', async () => {
    const anon = await pageAll(d, undefined, '', 100);
    assert.ok(anon.length > 100);
    assert.ok(anon.every((e) => e.server.name.startsWith('com.example.acme/')), 'acme only');
    checkError(await d.fetch(`/v0.1/servers/${enc('org.example.beta/t1')}/versions`), 404, 'not_found', 'beta, anonymous');
    checkError(await d.fetch(`/v0.1/servers/${enc('org.example.beta/nope')}/versions`), 404, 'not_found', 'missing, anonymous');
    checkError(await d.fetch(`/v0.1/servers/${enc('org.example.beta/t1')}/versions/latest`), 404, 'not_found', 'beta latest, anonymous');
    const searched = checkList(await d.fetch('/v0.1/servers?search=beta'), 'anonymous search');
    assert.equal(searched.servers.length, 0);
    // A token that is present must be valid: never silently anonymous.
    checkError(await d.fetch('/v0.1/servers', { token: 'not.a.token' }), 401, 'unauthenticated', 'bad token');
  });

  test('a token adds its own company, and no other', async () => {
    const onyxBeta = d.token('onyx', 'beta');
    const seen = await pageAll(d, onyxBeta, '', 100);
    const companies = new Set(seen.map((e) => e.server.name.split('/')[0]));
    assert.deepEqual([...companies].sort(), ['com.example.acme', 'org.example.beta']);
    checkError(await d.fetch(`/v0.1/servers/${enc('cool.2100.gamma/svc1')}/versions/latest`, { token: onyxBeta }), 404, 'not_found', 'gamma for beta');
    checkOne(await d.fetch(`/v0.1/servers/${enc('org.example.beta/t1')}/versions/latest`, { token: onyxBeta }), 'own company');

    const sapphireGamma = d.token('sapphire', 'gamma');
    const gammaSeen = await pageAll(d, sapphireGamma, 'search=beta', 100);
    assert.equal(gammaSeen.length, 0, 'beta is invisible to gamma');
  });

  test('bad input answers 400 in the API.md error format; other methods 405', async () => {
    for (const [q, field] of [['limit=0', 'limit'], ['limit=101', 'limit'], ['limit=x', 'limit'], ['cursor=zz', 'cursor'],
      ['updated_since=yesterday', 'updated_since'], ['include_deleted=maybe', 'include_deleted'], ['colour=red', 'colour']]) {
      const res = await d.fetch(`/v0.1/servers?${q}`, { token: admin });
      checkError(res, 400, 'invalid_argument', q);
      assert.equal(res.json.error.field, field, q);
    }
    checkError(await d.fetch(`/v0.1/servers/${enc('com.example.acme/s1')}/versions?limit=3`, { token: admin }), 400, 'invalid_argument', 'versions: unknown parameter');
    checkError(await d.fetch('/v0.1/servers/bad%zzname/versions', { token: admin }), 400, 'invalid_argument', 'bad escape');
    checkError(await d.fetch('/v0.1/servers/no-slash/versions', { token: admin }), 404, 'not_found', 'a name without namespace');
    const post = await d.fetch('/v0.1/servers', { method: 'POST', token: admin, body: {} });
    checkError(post, 405, 'method_not_allowed', 'POST');
    assert.equal(post.headers.get('allow'), 'GET');
  });
});

describe('MCP Registry API without public companies (the default)', () => {
  let d;
  before(async () => { d = await startDaemon(); });
  after(async () => { if (d) assert.equal(await d.stop(), 0); });

  test('anonymous reads are refused; tokens see their own company', async () => {
    const admin = d.token('diamond');
    for (const [company, domain] of [['acme', 'mcp.acme.2100.cool'], ['beta', 'mcp.beta.2100.cool']]) {
      const res = await d.fetch('/api/v1/services/register', { method: 'POST', token: admin, body: { companyName: company, domain, serviceInfo: { version: '1.0.0', endpoints: { primary: `https://${domain}` } } } });
      assert.equal(res.status, 201, res.text);
    }
    const anon = await d.fetch('/v0.1/servers');
    checkError(anon, 401, 'unauthenticated', 'anonymous list');
    assert.equal(anon.headers.get('www-authenticate'), 'Bearer');
    checkError(await d.fetch(`/v0.1/servers/${enc('cool.2100.acme/mcp')}/versions/latest`), 401, 'unauthenticated', 'anonymous get');
    const mine = checkList(await d.fetch('/v0.1/servers', { token: d.token('opal', 'acme') }), 'opal acme');
    assert.deepEqual(mine.servers.map((e) => e.server.name), ['cool.2100.acme/mcp']);
    const every = checkList(await d.fetch('/v0.1/servers', { token: d.token('emerald') }), 'emerald');
    assert.deepEqual(every.servers.map((e) => e.server.name), ['cool.2100.acme/mcp', 'cool.2100.beta/mcp']);
  });
});
