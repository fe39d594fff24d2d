// Test support: start a real discoveryd on an ephemeral port, and mint HS256
// tokens of any level from its secret. For this package's tests and for
// applications that test against a real daemon.

import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const b64url = (input) => Buffer.from(input).toString("base64url");

/** The key a secret file holds: its bytes less trailing whitespace (API.md, "Access"). */
export function trimSecret(bytes) {
  let end = bytes.length;
  while (end > 0 && [0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d].includes(bytes[end - 1])) end--;
  return Buffer.from(bytes.subarray(0, end));
}

/**
 * An HS256 JWT with the claims sub, sao, company (when given), iat and exp.
 * @param {Buffer|string} secret the key bytes (already trimmed)
 * @param {{sao: string, company?: string, sub?: string, ttlSeconds?: number}} claims
 */
export function mintToken(secret, { sao, company, sub, ttlSeconds = 3600 }) {
  const now = Math.floor(Date.now() / 1000);
  const payload = { sub: sub ?? `${sao}-${company ?? "any"}`, sao, iat: now, exp: now + ttlSeconds };
  if (company !== undefined) payload.company = company;
  const input = `${b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

/** Reads and trims a secret file. */
export async function readSecretFile(path) {
  return trimSecret(await readFile(path));
}

/**
 * Starts discoveryd (memory storage, 127.0.0.1:0, a temporary data directory)
 * and resolves once it prints `listening on URL`. `args` come after those
 * defaults, so they may override them. With `dataDir` the daemon uses that
 * directory and stop() leaves it (to restart on the same data). The daemon's
 * output is not echoed: on first start it prints a token.
 * @param {{binary?: string, args?: string[], dataDir?: string, startTimeout?: number}} [options]
 */
export async function startDaemon(options = {}) {
  const binary = options.binary ?? process.env.DISCOVERYD ?? "discoveryd";
  const ownsDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "discoveryd-node-")));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("DISCOVERY_")));
  const child = spawn(
    binary,
    ["--listen", "127.0.0.1:0", "--storage", "memory", "--data-dir", dataDir, "--log-level", "warn", ...(options.args ?? [])],
    { env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`discoveryd did not start within ${options.startTimeout ?? 30000} ms: ${stderr}`)), options.startTimeout ?? 30_000);
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const m = /listening on (https?:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`discoveryd exited with ${code}: ${stderr}`));
    });
  });
  const secret = await readSecretFile(join(dataDir, "jwt-secret"));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
  return {
    url,
    dataDir,
    secret,
    process: child,
    token: (claims) => mintToken(secret, claims),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const code = await exited;
      clearTimeout(timer);
      if (ownsDir) await rm(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

/**
 * The daemon under test: the one named by DISCOVERY_URL and
 * DISCOVERY_JWT_SECRET_FILE when both are set (the conformance runner),
 * else a new one from startDaemon().
 */
export async function daemonFromEnv(options = {}) {
  const url = process.env.DISCOVERY_URL;
  const secretFile = process.env.DISCOVERY_JWT_SECRET_FILE;
  if (url && secretFile) {
    const secret = await readSecretFile(secretFile);
    return { url, secret, shared: true, token: (claims) => mintToken(secret, claims), async stop() {} };
  }
  return { ...(await startDaemon(options)), shared: false };
}
