// Compiled with `tsc --noEmit` (npm run typecheck): the declarations describe
// the API as a TypeScript user writes it, and reject what they must reject.
import DiscoveryClient, {
  DiscoveryError,
  NotFoundError,
  RateLimitedError,
  type ChangeEvent,
  type DiscoverPage,
  type ServiceRecord,
} from "@mcp-discovery/client";
import { mintToken, startDaemon } from "@mcp-discovery/client/testing";

export async function usage(): Promise<void> {
  const daemon = await startDaemon();
  const client = new DiscoveryClient({ baseUrl: daemon.url, token: () => mintToken(daemon.secret, { sao: "sapphire", company: "acme" }) });
  const record: ServiceRecord = await client.register({
    companyName: "acme",
    serviceInfo: { capabilities: ["tools"], endpoints: { primary: "https://mcp.acme.example" } },
    healthCheckConfig: { ttl: "30s" },
  });
  const page: DiscoverPage = await client.discover({ company: "acme", capabilities: ["tools", "search"], limit: 10 });
  const next: string | null = page.nextCursor;
  for await (const service of client.discoverAll({ region: "us-west1" })) service.serviceInfo.endpoints.primary.toUpperCase();
  await client.patch(record.serviceId, { tags: ["beta"], healthCheckConfig: { ttl: null }, metadata: null });
  await client.setStatus(record.serviceId, "maintenance");
  const beat = await client.heartbeat(record.serviceId);
  const expires: string | null = beat.expiresAt;
  await client.reportHealth(record.serviceId, { ok: false, message: "slow" });
  const watch = client.watch({ company: "acme" }, { lastEventId: page.index, signal: AbortSignal.timeout(1000) });
  for await (const event of watch) {
    const e: ChangeEvent = event;
    if (e.type === "delete") break;
  }
  try {
    await client.get("missing");
  } catch (err) {
    if (err instanceof NotFoundError) console.log(err.status, err.code);
    if (err instanceof RateLimitedError) console.log(err.retryAfter);
    if (err instanceof DiscoveryError) console.log(err.field, err.requestId);
  }
  const metrics: string = await client.metrics();
  for (const alert of await client.alerts({ serviceId: record.serviceId })) alert.level.toUpperCase();
  void next; void expires; void metrics;

  // @ts-expect-error serviceInfo.endpoints.primary is required
  await client.register({ companyName: "acme", serviceInfo: { endpoints: {} } });
  // @ts-expect-error not a status
  await client.setStatus(record.serviceId, "paused");
  // @ts-expect-error serviceId is read-only, not patchable
  await client.patch(record.serviceId, { serviceId: "x" });
  // @ts-expect-error not a level
  mintToken(daemon.secret, { sao: "gold" });
  await daemon.stop();
}
