// A real discoveryd for the Node test suites (tests/mcp-registry, tests/ui):
// started on 127.0.0.1:0 with in-memory storage and a known HS256 secret, so
// tests mint their own tokens. Node built-ins only.
//
//   const d = await startDaemon(['--registry-public-company', 'acme']);
//   const res = await d.fetch('/v0.1/servers', { token: d.token('diamond') });
//   await d.stop();   // SIGTERM; the daemon must exit 0
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function daemonBinary() {
  return process.env.DISCOVERYD || join(root, 'build/dev/apps/discoveryd/discoveryd');
}

const b64url = (data) => Buffer.from(data).toString('base64url');

export function mintToken(secret, { sao, company, sub = `test-${sao}`, ttlSeconds = 3600 }) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub, sao, exp: now + ttlSeconds, iat: now };
  if (company) claims.company = company;
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

export async function startDaemon(extraArgs = [], { timeoutMs = 15000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'discovery-node-'));
  const secret = randomBytes(32).toString('hex');
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, secret, { mode: 0o600 });
  const args = ['--listen', '127.0.0.1:0', '--storage', 'memory', '--data-dir', dir,
    '--jwt-secret-file', secretFile, '--log-level', 'warn', ...extraArgs];
  const child = spawn(daemonBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const url = await new Promise((resolvePromise, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`discoveryd did not start in ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/[^\s]+)/);
      if (m) { clearTimeout(timer); resolvePromise(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`discoveryd exited ${code}: ${stderr}`)); });
  });
  child.stdout.resume();
  let exited = false;
  const exitCode = new Promise((r) => child.on('exit', (code, signal) => { exited = true; r(code ?? signal); }));

  const daemon = {
    url,
    secret,
    get stderr() { return stderr; },
    token: (sao, company, sub) => mintToken(secret, { sao, company, sub }),
    async fetch(path, { method = 'GET', token, body, headers = {} } = {}) {
      const h = { ...headers };
      if (token) h.Authorization = `Bearer ${token}`;
      if (body !== undefined) h['Content-Type'] = 'application/json';
      const res = await fetch(url + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      let json;
      try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
      return { status: res.status, headers: res.headers, text, json };
    },
    async stop() {
      if (!exited) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
      const code = await exitCode;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
  return daemon;
}
