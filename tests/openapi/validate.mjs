#!/usr/bin/env node
// Validates the OpenAPI document that discoveryd serves at GET /openapi.json
// (libdiscovery/src/server/openapi.json) with real validators, then checks
// in plain JS that it describes the contract of API.md: every path and
// operationId, authentication, the error statuses of each operation, and
// schemas that accept API.md's examples and refuse what API.md forbids.
//
// Nothing here touches the network: Redocly's telemetry and update notices
// are switched off, and every $ref in the document is internal.
//
// Usage: node validate.mjs [path/to/openapi.json]   (exit 1 on any failure)

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const here = dirname(fileURLToPath(import.meta.url));
const docPath = resolve(process.argv[2] ?? join(here, '../../libdiscovery/src/server/openapi.json'));

let passed = 0;
let failed = 0;

async function check(name, body) {
  try {
    const detail = await body();
    passed += 1;
    console.log(`ok   ${name}${detail ? ` (${detail})` : ''}`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name}\n     ${String(error.message ?? error).split('\n').join('\n     ')}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

// Failures of a loop, reported together so one run shows them all.
function assertNone(problems, what) {
  assert(problems.length === 0, `${what}:\n${problems.join('\n')}`);
}

// ---------------------------------------------------------------------------
// The contract (API.md)

const UNAUTHENTICATED = new Set(['getHealth', 'getReady', 'getMetrics', 'getOpenApi', 'getDashboard']);

// operationId -> [method, path, error statuses it must document]
const AUTHED = [401, 405, 429, 431, 500, 503];
const OPERATIONS = {
  registerService: ['post', '/api/v1/services/register', [400, 403, 409, 413, 415, ...AUTHED]],
  discoverServices: ['get', '/api/v1/services/discover', [400, ...AUTHED]],
  getService: ['get', '/api/v1/services/{serviceId}', [404, ...AUTHED]],
  updateService: ['patch', '/api/v1/services/{serviceId}', [400, 403, 404, 413, 415, ...AUTHED]],
  deregisterService: ['delete', '/api/v1/services/{serviceId}', [403, 404, ...AUTHED]],
  setServiceStatus: ['put', '/api/v1/services/{serviceId}/status', [400, 403, 404, 413, 415, ...AUTHED]],
  getServiceHealth: ['get', '/api/v1/services/{serviceId}/health', [403, 404, ...AUTHED]],
  reportServiceHealth: ['put', '/api/v1/services/{serviceId}/health', [400, 403, 404, 413, 415, ...AUTHED]],
  heartbeat: ['post', '/api/v1/services/{serviceId}/heartbeat', [403, 404, ...AUTHED]],
  watchServices: ['get', '/api/v1/services/watch', [400, ...AUTHED]],
  getAuditLog: ['get', '/api/v1/audit', [400, 403, ...AUTHED]],
  getHealth: ['get', '/health', [405, 431, 500, 503]],
  getReady: ['get', '/ready', [405, 431, 500, 503]],
  getMetrics: ['get', '/metrics', [405, 431, 500, 503]],
  getOpenApi: ['get', '/openapi.json', [405, 431, 500, 503]],
  getDashboard: ['get', '/ui', [405, 431, 500, 503]],
  // The MCP Registry API (docs/mcp-registry.md): a token, or none for public companies.
  listMcpServers: ['get', '/v0.1/servers', [400, ...AUTHED]],
  listMcpServersV0: ['get', '/v0/servers', [400, ...AUTHED]],
  listMcpServerVersions: ['get', '/v0.1/servers/{serverName}/versions', [400, 404, ...AUTHED]],
  getMcpServerVersion: ['get', '/v0.1/servers/{serverName}/versions/{version}', [400, 404, ...AUTHED]],
};

const SUCCESS = {
  registerService: ['200', '201'],
  discoverServices: ['200'],
  getService: ['200'],
  updateService: ['200'],
  deregisterService: ['204'],
  setServiceStatus: ['200'],
  getServiceHealth: ['200'],
  reportServiceHealth: ['200'],
  heartbeat: ['200'],
  watchServices: ['200'],
  getAuditLog: ['200'],
  getHealth: ['200'],
  getReady: ['200'],
  getMetrics: ['200'],
  getOpenApi: ['200'],
  getDashboard: ['200'],
  listMcpServers: ['200'],
  listMcpServersV0: ['200'],
  listMcpServerVersions: ['200'],
  getMcpServerVersion: ['200'],
};

const DISCOVER_FILTERS = ['company', 'region', 'environment', 'status', 'saoLevel', 'capabilities', 'tags', 'tools'];
const DISCOVER_PARAMETERS = [...DISCOVER_FILTERS, 'limit', 'cursor', 'index', 'wait'];

const ERROR_CODES = {
  400: 'invalid_argument', 401: 'unauthenticated', 403: 'permission_denied', 404: 'not_found',
  405: 'method_not_allowed', 409: 'conflict', 413: 'payload_too_large', 415: 'unsupported_media_type',
  429: 'rate_limited', 431: 'request_header_too_large', 500: 'internal', 503: 'unavailable',
};

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

// ---------------------------------------------------------------------------
// Helpers

let doc;

// Follows internal $refs ("#/components/...") until a non-reference object.
function deref(node) {
  let current = node;
  for (let hops = 0; current && typeof current === 'object' && '$ref' in current; hops += 1) {
    assert(hops < 32, `reference loop at ${node.$ref}`);
    const ref = current.$ref;
    assert(ref.startsWith('#/'), `external reference ${ref}`);
    current = ref
      .slice(2)
      .split('/')
      .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
      .reduce((at, key) => (at === undefined ? undefined : at[key]), doc);
    assert(current !== undefined, `unresolved reference ${ref}`);
  }
  return current;
}

function operations() {
  const out = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of HTTP_METHODS) {
      if (item[method]) out.push({ path, method, item, op: item[method] });
    }
  }
  return out;
}

function findOperation(operationId) {
  return operations().find(({ op }) => op.operationId === operationId);
}

// Every object in the document with the JSON pointer that reaches it.
function* walk(node, pointer = '#') {
  if (node === null || typeof node !== 'object') return;
  yield [node, pointer];
  for (const [key, value] of Object.entries(node)) {
    yield* walk(value, `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`);
  }
}

function redocly(file) {
  const cli = join(here, 'node_modules/@redocly/cli/bin/cli.js');
  const result = spawnSync(
    process.execPath,
    [cli, 'lint', '--extends', 'recommended', '--format', 'json', file],
    {
      cwd: here,
      encoding: 'utf8',
      env: {
        ...process.env,
        REDOCLY_TELEMETRY: 'off',
        REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
        REDOCLY_SUPPRESS_NOTIFICATIONS: 'true',
      },
      timeout: 120_000,
    },
  );
  if (result.error) throw result.error;
  let report;
  try {
    report = JSON.parse(result.stdout);
  } catch {
    throw new Error(`redocly printed no JSON report (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
  return { status: result.status, report };
}

// The document's component schemas as one JSON Schema 2020-12 resource, so
// that Ajv resolves their $refs to each other.
function schemaValidator() {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  const defs = JSON.parse(
    JSON.stringify(doc.components.schemas).replaceAll('"#/components/schemas/', '"#/$defs/'),
  );
  ajv.addSchema({ $id: 'urn:mcp-discovery:openapi', $defs: defs });
  return (name) => {
    const validate = ajv.getSchema(`urn:mcp-discovery:openapi#/$defs/${name}`);
    assert(validate, `no schema ${name}`);
    return validate;
  };
}

const clone = (value) => structuredClone(value);

// ---------------------------------------------------------------------------
// Checks

console.log(`validating ${docPath}`);

await check('the document is strict JSON', () => {
  doc = JSON.parse(readFileSync(docPath, 'utf8'));
  return `${Object.keys(doc.paths ?? {}).length} paths`;
});
if (!doc) {
  console.log(`\n${passed} passed, ${failed} failed`);
  process.exit(1);
}

await check('redocly lint, recommended ruleset: no errors', () => {
  const { status, report } = redocly(docPath);
  const lines = report.problems.map(
    (p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer ?? '?'}`,
  );
  assert(
    report.totals.errors === 0 && status === 0,
    [`${report.totals.errors} errors, ${report.totals.warnings} warnings (exit ${status})`, ...lines].join('\n'),
  );
  const summary = `@redocly/cli ${report.version}: 0 errors, ${report.totals.warnings} warnings`;
  return [summary, ...lines].join('\n     ');
});

await check('swagger-parser validates it (OpenAPI 3.1 schema and semantics)', async () => {
  await SwaggerParser.validate(clone(doc));
  const version = JSON.parse(
    readFileSync(join(here, 'node_modules/@apidevtools/swagger-parser/package.json'), 'utf8'),
  ).version;
  return `@apidevtools/swagger-parser ${version}`;
});

await check('openapi 3.1.0, info, license, server', () => {
  assert(doc.openapi === '3.1.0', `openapi is ${doc.openapi}`);
  assert(doc.info?.title === 'mcp-discovery REST API', 'info.title');
  assert(doc.info?.version === '1.0.0', 'info.version');
  assert(doc.info?.license?.name === 'Apache-2.0', 'info.license');
  assert(doc.servers?.[0]?.url === 'http://127.0.0.1:8080', 'servers[0].url');
});

await check('every path and operationId of API.md', () => {
  const problems = [];
  for (const [operationId, [method, path]] of Object.entries(OPERATIONS)) {
    const found = findOperation(operationId);
    if (!found) problems.push(`missing operationId ${operationId}`);
    else if (found.method !== method || found.path !== path)
      problems.push(`${operationId} is ${found.method.toUpperCase()} ${found.path}, expected ${method.toUpperCase()} ${path}`);
  }
  const ids = operations().map(({ op }) => op.operationId);
  const duplicates = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (duplicates.length) problems.push(`duplicate operationIds: ${duplicates.join(', ')}`);
  assertNone(problems, 'operations');
  return `${Object.keys(OPERATIONS).length} operations`;
});

await check('bearerAuth (http bearer JWT) applies globally; health, ready, metrics, openapi.json have security []', () => {
  const scheme = doc.components?.securitySchemes?.bearerAuth;
  assert(scheme?.type === 'http' && scheme.scheme === 'bearer' && scheme.bearerFormat === 'JWT', 'bearerAuth scheme');
  assert(JSON.stringify(doc.security) === JSON.stringify([{ bearerAuth: [] }]), 'global security');
  const problems = [];
  for (const { op } of operations()) {
    const open = UNAUTHENTICATED.has(op.operationId);
    if (open && !(Array.isArray(op.security) && op.security.length === 0))
      problems.push(`${op.operationId} must have security: []`);
    if (!open && op.security !== undefined && !op.security.some((r) => 'bearerAuth' in r))
      problems.push(`${op.operationId} overrides security without bearerAuth`);
  }
  assertNone(problems, 'security');
});

await check('every authenticated operation documents 401', () => {
  const missing = operations()
    .filter(({ op }) => !UNAUTHENTICATED.has(op.operationId) && !op.responses?.['401'])
    .map(({ op, method, path }) => `${op.operationId ?? `${method} ${path}`}`);
  assertNone(missing, 'no 401 response');
});

await check('success and error statuses of each operation', () => {
  const problems = [];
  for (const [operationId, [, , errors]] of Object.entries(OPERATIONS)) {
    const found = findOperation(operationId);
    if (!found) continue;
    const documented = Object.keys(found.op.responses ?? {});
    for (const status of [...SUCCESS[operationId], ...errors.map(String)]) {
      if (!documented.includes(status)) problems.push(`${operationId}: no ${status}`);
    }
  }
  assertNone(problems, 'missing responses');
});

await check('every error response is an Error with the matching code; 429 has Retry-After, 405 Allow, 401 WWW-Authenticate', () => {
  const problems = [];
  for (const { op } of operations()) {
    for (const [status, response] of Object.entries(op.responses ?? {})) {
      if (Number(status) < 400) continue;
      const resolved = deref(response);
      const schema = resolved.content?.['application/json']?.schema;
      if (schema?.$ref !== '#/components/schemas/Error')
        problems.push(`${op.operationId} ${status}: not application/json Error`);
      const code = resolved.content?.['application/json']?.example?.error?.code;
      if (ERROR_CODES[status] && code !== ERROR_CODES[status])
        problems.push(`${op.operationId} ${status}: example code ${code}, expected ${ERROR_CODES[status]}`);
      const header = { 429: 'Retry-After', 405: 'Allow', 401: 'WWW-Authenticate' }[status];
      if (header && !resolved.headers?.[header]) problems.push(`${op.operationId} ${status}: no ${header} header`);
    }
  }
  const codes = deref({ $ref: '#/components/schemas/ErrorCode' }).enum ?? [];
  for (const code of Object.values(ERROR_CODES)) {
    if (!codes.includes(code)) problems.push(`ErrorCode lacks ${code}`);
  }
  for (const status of Object.keys(ERROR_CODES)) {
    const reusable = Object.values(doc.components.responses ?? {}).some(
      (r) => r.content?.['application/json']?.example?.error?.code === ERROR_CODES[status],
    );
    if (!reusable) problems.push(`no reusable response for ${status}`);
  }
  assertNone(problems, 'error responses');
});

await check('discover and watch parameters', () => {
  const names = (operationId) =>
    (findOperation(operationId)?.op.parameters ?? []).map((p) => deref(p)).map((p) => `${p.in}:${p.name}`);
  const problems = [];
  for (const name of DISCOVER_PARAMETERS) {
    if (!names('discoverServices').includes(`query:${name}`)) problems.push(`discover lacks ${name}`);
  }
  for (const name of DISCOVER_FILTERS) {
    if (!names('watchServices').includes(`query:${name}`)) problems.push(`watch lacks ${name}`);
  }
  if (!names('watchServices').includes('header:Last-Event-ID')) problems.push('watch lacks Last-Event-ID');
  if (!names('watchServices').includes('query:index')) problems.push('watch lacks index');
  for (const name of ['since', 'limit']) {
    if (!names('getAuditLog').includes(`query:${name}`)) problems.push(`audit lacks ${name}`);
  }
  const discover = Object.fromEntries(
    (findOperation('discoverServices')?.op.parameters ?? []).map((p) => deref(p)).map((p) => [p.name, p]),
  );
  const limit = discover.limit?.schema ?? {};
  if (limit.minimum !== 1 || limit.maximum !== 1000 || limit.default !== 100) problems.push('limit is not 1..1000, default 100');
  for (const name of ['capabilities', 'tags', 'tools']) {
    const p = discover[name] ?? {};
    if (p.style !== 'form' || p.explode !== true || p.schema?.type !== 'array')
      problems.push(`${name} is not an exploded form array`);
  }
  const watch = findOperation('watchServices')?.op.responses?.['200']?.content ?? {};
  if (!watch['text/event-stream']) problems.push('watch 200 is not text/event-stream');
  assertNone(problems, 'parameters');
});

await check('every schema and schema property has a description; no x- extensions', () => {
  const problems = [];
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    if (!schema.description) problems.push(`schema ${name} has no description`);
  }
  for (const [node, pointer] of walk(doc)) {
    for (const key of Object.keys(node)) {
      if (key.startsWith('x-') && !pointer.includes('/properties')) problems.push(`${pointer}/${key}`);
    }
    if (node.properties && typeof node.properties === 'object' && pointer.includes('/schema')) {
      for (const [prop, value] of Object.entries(node.properties)) {
        const described = value.description || (value.$ref && deref(value).description);
        if (!described) problems.push(`${pointer}/properties/${prop} has no description`);
      }
    }
  }
  assertNone(problems, 'descriptions and extensions');
});

await check('schemas compile as strict JSON Schema 2020-12 and accept the document\'s examples', () => {
  const schema = schemaValidator();
  for (const name of Object.keys(doc.components.schemas)) schema(name);
  const problems = [];
  // Every example of a media type against its schema.
  for (const { op } of operations()) {
    const media = [
      ...Object.entries(op.requestBody?.content ?? {}),
      ...Object.values(op.responses ?? {}).flatMap((r) => Object.entries(deref(r).content ?? {})),
    ];
    for (const [type, content] of media) {
      const ref = content.schema?.$ref;
      if (!ref?.startsWith('#/components/schemas/')) continue;
      const validate = schema(ref.split('/').pop());
      const examples = [
        ...(content.example !== undefined ? [content.example] : []),
        ...Object.values(content.examples ?? {}).map((e) => deref(e).value),
      ];
      for (const example of examples) {
        if (!validate(example))
          problems.push(`${op.operationId} ${type}: ${ajvMessage(validate)}`);
      }
    }
  }
  assertNone(problems, 'examples that do not validate');
  return `${Object.keys(doc.components.schemas).length} schemas`;
});

function ajvMessage(validate) {
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
}

// API.md's example record, verbatim.
const API_RECORD = {
  serviceId: '3f0c6a52-9b8e-4a53-8a55-0f7d1b6b2f10',
  companyName: 'acme',
  domain: 'mcp.acme.2100.cool',
  instanceId: 'acme-1767225600000-9f2c1a',
  status: 'active',
  healthStatus: {
    lastCheck: '2026-01-31T12:00:00.123Z', responseTime: 12.4, uptime: 99.98,
    consecutiveFailures: 0, consecutiveSuccesses: 7, lastFailure: null, lastError: null,
  },
  serviceInfo: {
    version: '1.4.2',
    capabilities: ['tools', 'resources', 'search'],
    region: 'us-west1',
    environment: 'production',
    endpoints: {
      primary: 'https://mcp.acme.2100.cool',
      health: 'https://mcp.acme.2100.cool/health',
      metrics: 'https://mcp.acme.2100.cool/metrics',
      mcp: 'https://mcp.acme.2100.cool/mcp',
    },
  },
  mcp: {
    protocolVersion: '2025-06-18',
    transport: 'streamable-http',
    serverInfo: { name: 'acme-tools', version: '1.4.2' },
    capabilities: { tools: { listChanged: true } },
    tools: [{ name: 'search', title: 'Search', description: 'Full-text search' }],
    introspectedAt: '2026-01-31T12:00:00.000Z',
  },
  healthCheckConfig: {
    interval: '30s', timeout: '10s', retries: 3, failureThreshold: 3, successThreshold: 2,
    endpoints: ['/health', '/ready'], expectedStatus: 200, mcp: true, ttl: null,
    alerting: { enabled: true, channels: ['webhook'], escalationLevels: ['warning', 'critical', 'emergency'] },
  },
  personalConfig: {},
  demoConfig: {},
  saoLevel: 'sapphire',
  registeredAt: '2026-01-31T11:00:00.000Z',
  lastUpdated: '2026-01-31T12:00:00.123Z',
  tags: ['beta', 'gpu'],
  metadata: {},
};

const MINIMAL_REGISTRATION = { companyName: 'acme', serviceInfo: { endpoints: { primary: 'https://mcp.acme.2100.cool' } } };

await check('schemas encode API.md\'s rules', () => {
  const schema = schemaValidator();
  const cases = [];
  const expect = (name, value, valid, label) => cases.push({ name, value, valid, label });
  const with_ = (base, mutate) => {
    const copy = clone(base);
    mutate(copy);
    return copy;
  };

  expect('ServiceRecord', API_RECORD, true, 'API.md example record');
  expect('ServiceRecord', with_(API_RECORD, (r) => { delete r.personalConfig; delete r.demoConfig; }), true, 'record redacted for opal/onyx');
  expect('ServiceRecord', with_(API_RECORD, (r) => { r.mcp = null; r.serviceInfo.region = null; }), true, 'mcp and region null');
  expect('ServiceRecord', with_(API_RECORD, (r) => { r.status = 'degraded'; }), false, 'unknown status');
  expect('ServiceRecord', with_(API_RECORD, (r) => { r.saoLevel = 'ruby'; }), false, 'unknown saoLevel');
  expect('RegistrationRequest', MINIMAL_REGISTRATION, true, 'companyName and primary only');
  expect('RegistrationRequest', { companyName: 'acme', serviceInfo: { endpoints: {} } }, false, 'no primary');
  expect('RegistrationRequest', { serviceInfo: MINIMAL_REGISTRATION.serviceInfo }, false, 'no companyName');
  for (const field of ['serviceId', 'status', 'healthStatus', 'mcp', 'registeredAt', 'lastUpdated', 'unknown']) {
    expect('RegistrationRequest', { ...MINIMAL_REGISTRATION, [field]: API_RECORD[field] ?? 1 }, false, `${field} refused`);
  }
  expect('RegistrationRequest', { ...MINIMAL_REGISTRATION, companyName: 'Acme' }, false, 'companyName uppercase');
  expect('RegistrationRequest', { ...MINIMAL_REGISTRATION, companyName: '-acme' }, false, 'companyName leading -');
  expect('RegistrationRequest', { ...MINIMAL_REGISTRATION, companyName: 'a'.repeat(64) }, false, 'companyName 64 chars');
  expect('RegistrationRequest', { ...MINIMAL_REGISTRATION, instanceId: 'a/b' }, false, 'instanceId with /');
  expect('RegistrationRequest', { ...MINIMAL_REGISTRATION, instanceId: 'A.b_c-1' }, true, 'instanceId A.b_c-1');
  expect('RegistrationRequest', with_(MINIMAL_REGISTRATION, (r) => { r.serviceInfo.region = 'US-West'; }), false, 'region uppercase');
  expect('RegistrationRequest', with_(MINIMAL_REGISTRATION, (r) => { r.serviceInfo.endpoints.primary = 'ftp://x'; }), false, 'primary not http(s)');
  expect('RegistrationRequest', { ...MINIMAL_REGISTRATION, tags: ['a', 'a'] }, false, 'duplicate tag');
  expect('RegistrationRequest', { ...MINIMAL_REGISTRATION, tags: ['a b'] }, false, 'tag with space');
  expect('RegistrationRequest', { ...MINIMAL_REGISTRATION, tags: ['mcp:tools', 'v1.2_x-y'] }, true, 'namespaced tags');
  expect('RegistrationRequest', { ...MINIMAL_REGISTRATION, tags: Array.from({ length: 65 }, (_, i) => `t${i}`) }, false, '65 tags');
  const hc = (config) => ({ ...MINIMAL_REGISTRATION, healthCheckConfig: config });
  expect('RegistrationRequest', hc({ interval: '1m30s', timeout: '500ms', ttl: '30s' }), true, 'durations 1m30s, 500ms, 30s');
  expect('RegistrationRequest', hc({ interval: '30' }), false, 'duration without unit');
  expect('RegistrationRequest', hc({ ttl: null }), true, 'ttl null');
  expect('RegistrationRequest', hc({ retries: 11 }), false, 'retries 11');
  expect('RegistrationRequest', hc({ failureThreshold: 0 }), false, 'failureThreshold 0');
  expect('RegistrationRequest', hc({ expectedStatus: '200-299' }), true, 'expectedStatus range');
  expect('RegistrationRequest', hc({ expectedStatus: 600 }), false, 'expectedStatus 600');
  expect('RegistrationRequest', hc({ expectedStatus: '2xx' }), false, 'expectedStatus 2xx');
  expect('RegistrationRequest', hc({ endpoints: [], mcp: true }), true, 'no HTTP endpoints: the MCP check alone');
  expect('RegistrationRequest', hc({ endpoints: ['tcp://db.example.com:5432'] }), true, 'a TCP connect check');
  expect('RegistrationRequest', hc({ endpoints: ['ftp://a.example/h'] }), false, 'an ftp endpoint');
  expect('RegistrationRequest', hc({ alerting: { escalationLevels: ['fatal'] } }), false, 'unknown escalation level');
  expect('RegistrationRequest', hc({ alerting: { channels: Array.from({ length: 9 }, (_, i) => `c${i}`) } }), false, '9 alert channels');
  expect('MergePatch', { tags: null, healthCheckConfig: { ttl: null, alerting: null }, serviceInfo: { endpoints: { health: null } } }, true, 'merge patch with nulls');
  for (const field of ['serviceId', 'companyName', 'instanceId', 'status', 'healthStatus', 'mcp', 'registeredAt', 'lastUpdated']) {
    expect('MergePatch', { [field]: API_RECORD[field] }, false, `patch of ${field} refused`);
  }
  expect('StatusRequest', { status: 'maintenance' }, true, 'status maintenance');
  expect('StatusRequest', { status: 'down' }, false, 'status down');
  expect('HealthReport', { ok: true }, true, 'health report ok only');
  expect('HealthReport', { responseTime: 3 }, false, 'health report without ok');
  expect('HealthReport', { ok: false, responseTime: -1 }, false, 'negative responseTime');
  expect('HealthReport', { ok: false, message: 'x'.repeat(1025) }, false, 'message over 1024');
  expect('HeartbeatResponse', { serviceId: API_RECORD.serviceId, status: 'active', expiresAt: null }, true, 'heartbeat without ttl');
  expect('DiscoverResponse', { services: [API_RECORD], count: 1, nextCursor: null, index: 7 }, true, 'discover page');
  expect('ChangeEvent', { index: 8, type: 'delete', service: API_RECORD }, true, 'delete event');
  expect('ChangeEvent', { index: 8, type: 'removed', service: API_RECORD }, false, 'unknown event type');
  expect('AuditEntry', { at: '2026-01-31T11:00:00.000Z', requestId: 'r1', subject: '', sao: '', company: '', action: 'register', serviceId: '', result: 'unauthenticated' }, true, 'audit entry of an unauthenticated request');
  expect('AuditEntry', { at: '2026-01-31T11:00:00.000Z', requestId: 'r1', subject: 's', sao: 'onyx', company: 'acme', action: 'update', serviceId: API_RECORD.serviceId, result: 'nope' }, false, 'unknown audit result');
  expect('Error', { error: { code: 'invalid_argument', message: 'serviceInfo.region: must match [a-z0-9-]+', field: 'serviceInfo.region' } }, true, 'API.md error');
  expect('Error', { error: { code: 'bad', message: 'x' } }, false, 'unknown error code');

  const problems = [];
  for (const { name, value, valid, label } of cases) {
    const validate = schema(name);
    if (validate(value) !== valid)
      problems.push(`${name}, ${label}: expected ${valid ? 'valid' : 'invalid'}${valid ? `: ${ajvMessage(validate)}` : ''}`);
  }
  assertNone(problems, 'cases');
  return `${cases.length} cases`;
});

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
