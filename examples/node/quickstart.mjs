// Quickstart: register an MCP server with discoveryd, find it, keep it alive,
// watch a change, and deregister it.
//
//   cd examples/node && npm install
//   DISCOVERY_URL=http://127.0.0.1:8080 DISCOVERY_TOKEN=<sapphire token of acme> node quickstart.mjs
//
// A token: `discoveryctl token --sao sapphire --company acme --data-dir ./data`.
// The token comes from the environment, never from the command line.
import { DiscoveryClient, NotFoundError } from "@mcp-discovery/client";

const company = process.env.DISCOVERY_COMPANY ?? "acme";
const client = new DiscoveryClient({
  baseUrl: process.env.DISCOVERY_URL ?? "http://127.0.0.1:8080",
  token: process.env.DISCOVERY_TOKEN,
});

// 1. Register (again with the same instanceId is an update, so it is safe to retry).
const service = await client.register({
  companyName: company,
  instanceId: `${company}-quickstart-node`,
  serviceInfo: {
    version: "1.0.0",
    capabilities: ["tools", "search"],
    region: "us-west1",
    environment: "production",
    endpoints: { primary: `https://mcp.${company}.example.com`, mcp: `https://mcp.${company}.example.com/mcp` },
  },
  healthCheckConfig: { ttl: "30s" }, // heartbeat within 30 s or become inactive
  tags: ["quickstart"],
});
console.log(`registered ${service.serviceId} (${service.status})`);

// 2. Discover: every page, each record once.
for await (const s of client.discoverAll({ company, capabilities: ["search"], status: "active" })) {
  console.log(`found ${s.instanceId} at ${s.serviceInfo.endpoints.primary}`);
}

// 3. Heartbeat.
const beat = await client.heartbeat(service.serviceId);
console.log(`heartbeat: ${beat.status} until ${beat.expiresAt}`);

// 4. Watch from the current index, make a change, see it.
const { index } = await client.discover({ company, limit: 1 });
const watch = client.watch({ company }, { lastEventId: index, signal: AbortSignal.timeout(10_000) });
const events = watch[Symbol.asyncIterator]();
const next = events.next(); // opens the stream
await client.patch(service.serviceId, { tags: ["quickstart", "watched"] });
const { value: event } = await next;
console.log(`watch: ${event.type} of ${event.service.instanceId}, tags ${event.service.tags.join(",")} (index ${event.index})`);
await events.return();

// 5. Deregister; the record is gone.
await client.deregister(service.serviceId);
try {
  await client.get(service.serviceId);
} catch (err) {
  if (!(err instanceof NotFoundError)) throw err;
  console.log(`deregistered ${service.serviceId}`);
}
