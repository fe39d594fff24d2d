// 1,000 sequential discovers from the Node client over one keep-alive
// connection (undici's default). Needs DISCOVERY_URL and
// DISCOVERY_JWT_SECRET_FILE (run.sh sets them). Prints one JSON line.
import { DiscoveryClient } from "../../bindings/node/src/index.js";
import { mintToken, readSecretFile } from "../../bindings/node/src/testing.js";

const N = Number(process.env.BENCH_REQUESTS ?? 1000);
const WARMUP = 100;
const secret = await readSecretFile(process.env.DISCOVERY_JWT_SECRET_FILE);
const client = new DiscoveryClient({ baseUrl: process.env.DISCOVERY_URL, token: mintToken(secret, { sao: "diamond", sub: "bench" }), retries: 0 });
const query = { company: "bench", region: "us-west1", limit: 10 };

for (let i = 0; i < WARMUP; i++) await client.discover(query);
const latencies = new Float64Array(N);
const start = process.hrtime.bigint();
for (let i = 0; i < N; i++) {
  const t0 = process.hrtime.bigint();
  const page = await client.discover(query);
  latencies[i] = Number(process.hrtime.bigint() - t0) / 1e6;
  if (page.count !== 10) throw new Error(`expected 10 records, got ${page.count}`);
}
const totalMs = Number(process.hrtime.bigint() - start) / 1e6;
latencies.sort();
const pct = (p) => latencies[Math.min(N - 1, Math.floor((p / 100) * N))];
console.log(JSON.stringify({ client: "node", node: process.version, requests: N, totalMs: +totalMs.toFixed(1),
  meanMs: +(totalMs / N).toFixed(3), p50Ms: +pct(50).toFixed(3), p99Ms: +pct(99).toFixed(3), maxMs: +latencies[N - 1].toFixed(3) }));
