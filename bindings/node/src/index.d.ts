// Types of @mcp-discovery/client: the REST contract of discoveryd (API.md and
// the OpenAPI document it serves at /openapi.json).

export declare const VERSION: string;

export type ServiceStatus = "active" | "inactive" | "maintenance" | "unhealthy";
export type SaoLevel = "diamond" | "emerald" | "sapphire" | "opal" | "onyx";
/** "500ms", "30s", "5m", "1h". */
export type Duration = string;
/** RFC 3339 UTC, e.g. "2026-01-31T12:00:00.123Z". */
export type Timestamp = string;
export type JsonObject = { [key: string]: unknown };

/** In records every member is present; unset ones are null. */
export interface Endpoints {
  primary: string;
  health?: string | null;
  metrics?: string | null;
  mcp?: string | null;
}

export interface ServiceInfo {
  version?: string | null;
  capabilities?: string[];
  region?: string | null;
  environment?: string | null;
  endpoints: Endpoints;
}

export interface HealthStatus {
  lastCheck: Timestamp | null;
  responseTime: number | null;
  uptime: number | null;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  lastFailure: Timestamp | null;
  lastError: string | null;
}

export interface McpTool {
  name: string;
  title?: string;
  description?: string;
  [key: string]: unknown;
}

export interface McpInfo {
  protocolVersion: string;
  transport: string;
  serverInfo: { name: string; version?: string; [key: string]: unknown };
  capabilities: JsonObject;
  tools: McpTool[];
  introspectedAt: Timestamp | null;
}

export interface AlertingConfig {
  enabled: boolean;
  channels: string[];
  escalationLevels: string[];
}

export interface HealthCheckConfig {
  interval: Duration;
  timeout: Duration;
  retries: number;
  failureThreshold: number;
  successThreshold: number;
  endpoints: string[];
  /** One status, or an inclusive range such as "200-299". */
  expectedStatus: number | string;
  mcp: boolean;
  /** Heartbeat TTL; null when the service does not heartbeat. */
  ttl: Duration | null;
  alerting: AlertingConfig;
}

/** A registered MCP service instance, as the registry holds it. */
export interface ServiceRecord {
  serviceId: string;
  companyName: string;
  domain: string;
  instanceId: string;
  status: ServiceStatus;
  healthStatus: HealthStatus;
  serviceInfo: ServiceInfo;
  /** Written by the health checker when healthCheckConfig.mcp is true; null until then. */
  mcp: McpInfo | null;
  healthCheckConfig: HealthCheckConfig;
  /** Present only for readers allowed to manage the company's services. */
  personalConfig?: JsonObject;
  /** Present only for readers allowed to manage the company's services. */
  demoConfig?: JsonObject;
  saoLevel: SaoLevel;
  registeredAt: Timestamp;
  lastUpdated: Timestamp;
  tags: string[];
  metadata: JsonObject;
}

/** Deep partial with null allowed: null removes a member (RFC 7396). */
export type MergePatchOf<T> = {
  [K in keyof T]?: (T[K] extends unknown[] ? T[K] : T[K] extends object ? MergePatchOf<T[K]> : T[K]) | null;
};

/** What register accepts: companyName and serviceInfo.endpoints.primary are required. */
export interface Registration {
  companyName: string;
  instanceId?: string;
  domain?: string;
  serviceInfo: ServiceInfo;
  healthCheckConfig?: Partial<HealthCheckConfig> & { alerting?: Partial<AlertingConfig> };
  personalConfig?: JsonObject;
  demoConfig?: JsonObject;
  saoLevel?: SaoLevel;
  tags?: string[];
  metadata?: JsonObject;
}

/** The writable fields PATCH may change. */
export type ServicePatch = MergePatchOf<
  Pick<Registration, "domain" | "serviceInfo" | "healthCheckConfig" | "personalConfig" | "demoConfig" | "saoLevel" | "tags" | "metadata">
>;

/** Discover and watch filters, combined with AND. */
export interface Filters {
  company?: string;
  region?: string;
  environment?: string;
  status?: ServiceStatus;
  saoLevel?: SaoLevel;
  /** The service must have all of them. */
  capabilities?: string | string[];
  /** The service must have all of them. */
  tags?: string | string[];
  /** MCP tool names the server reported; the service must have all of them. */
  tools?: string | string[];
}

export interface DiscoverQuery extends Filters {
  /** Page size, 1 to 1000 (default 100). */
  limit?: number;
  /** nextCursor of the previous page. */
  cursor?: string | null;
  /** Long-poll: block until the change index passes this. */
  index?: number;
  /** Long-poll: longest block, a Duration or milliseconds. */
  wait?: Duration | number;
}

export interface DiscoverPage {
  services: ServiceRecord[];
  /** Records in this page. */
  count: number;
  nextCursor: string | null;
  /** The registry's change index at the time of the answer. */
  index: number;
}

export interface HealthReport {
  ok: boolean;
  responseTime?: number;
  message?: string;
}

export interface CheckResult {
  at: Timestamp;
  ok: boolean;
  responseTime: number | null;
  endpoint: string;
  error: string | null;
}

export interface HealthDetail {
  serviceId: string;
  status: ServiceStatus;
  healthStatus: HealthStatus;
  /** Newest first. */
  recentChecks: CheckResult[];
}

export interface HeartbeatResponse {
  serviceId: string;
  status: ServiceStatus;
  /** Null when the service has no ttl. */
  expiresAt: Timestamp | null;
}

export interface ChangeEvent {
  index: number;
  type: "upsert" | "delete" | "status";
  /** After the change; for a delete, its last state. */
  service: ServiceRecord;
}

export interface AuditEntry {
  at: Timestamp;
  requestId: string;
  subject: string;
  sao: SaoLevel | "";
  company: string;
  action: "register" | "update" | "status" | "heartbeat" | "health" | "deregister";
  serviceId: string;
  result: "ok" | ErrorCode;
}

export interface AuditQuery {
  since?: Date | Timestamp;
  limit?: number;
}

export interface Alert {
  /** Increasing. */
  id: number;
  at: Timestamp;
  /** Null for a fleet-wide alert (the mass-failure safeguard). */
  serviceId: string | null;
  companyName: string | null;
  instanceId: string | null;
  level: "warning" | "critical" | "emergency";
  kind: "raised" | "escalated" | "resolved";
  message: string;
  consecutiveFailures: number;
  unhealthySince: Timestamp | null;
}

export interface AlertQuery {
  /** Only this service's alerts. */
  serviceId?: string;
  /** 1 to 1000 (default 100). */
  limit?: number;
}

export interface Liveness {
  status: "ok";
}

export interface Readiness {
  status: "ready";
  services: number;
  index: number;
}

export type ErrorCode =
  | "invalid_argument"
  | "unauthenticated"
  | "permission_denied"
  | "not_found"
  | "conflict"
  | "payload_too_large"
  | "method_not_allowed"
  | "unsupported_media_type"
  | "request_header_too_large"
  | "rate_limited"
  | "internal"
  | "unavailable";

export interface ClientOptions {
  /** Default: $DISCOVERY_URL, else http://127.0.0.1:8080. */
  baseUrl?: string | URL;
  /** A bearer token, or a function returning one (called for every request, so it may refresh). */
  token?: string | (() => string | Promise<string>);
  /** Milliseconds per attempt (default 30000). A long-poll adds its wait. */
  timeout?: number;
  /** Further attempts for idempotent calls after 503, 429 (waiting Retry-After), 409, 502, 504, a timeout or a dropped connection (default 2). */
  retries?: number;
  /** First backoff in milliseconds, doubled per attempt, with jitter (default 100). */
  retryDelay?: number;
  userAgent?: string;
  /** A fetch implementation (default the global fetch). */
  fetch?: typeof globalThis.fetch;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Milliseconds for this call's attempts. */
  timeout?: number;
  /** Further attempts for this call, when it is idempotent. */
  retries?: number;
}

export interface WatchOptions {
  /** Resume after this change index (e.g. a discover answer's index, or Watch.lastEventId). */
  lastEventId?: number | string;
  signal?: AbortSignal;
  /** Reconnect with Last-Event-ID when the stream ends or drops (default true). */
  reconnect?: boolean;
  /** First reconnect delay in milliseconds (default 250), doubled up to maxReconnectDelay (default 5000). */
  reconnectDelay?: number;
  maxReconnectDelay?: number;
}

export declare class Watch implements AsyncIterable<ChangeEvent> {
  /** The id of the last event received. */
  readonly lastEventId: string | undefined;
  /** Ends the watch; iteration finishes. */
  close(): void;
  [Symbol.asyncIterator](): AsyncGenerator<ChangeEvent, void, undefined>;
}

export interface EventStreamMessage {
  event: string;
  id: string | undefined;
  data: string;
}

export declare function parseEventStream(body: AsyncIterable<Uint8Array>): AsyncGenerator<EventStreamMessage, void, undefined>;

export declare class DiscoveryClient {
  constructor(options?: ClientOptions);
  readonly baseUrl: string;

  /** Registers, or re-registers the same (companyName, instanceId). Retried only when instanceId is set. */
  register(registration: Registration, options?: CallOptions): Promise<ServiceRecord>;
  /** One page. */
  discover(query?: DiscoverQuery, options?: CallOptions): Promise<DiscoverPage>;
  /** Every page, following nextCursor. */
  discoverPages(query?: Omit<DiscoverQuery, "index" | "wait">, options?: CallOptions): AsyncGenerator<DiscoverPage, void, undefined>;
  /** Every matching record exactly once, across pages. */
  discoverAll(query?: Omit<DiscoverQuery, "index" | "wait">, options?: CallOptions): AsyncGenerator<ServiceRecord, void, undefined>;
  get(serviceId: string, options?: CallOptions): Promise<ServiceRecord>;
  /** JSON merge patch (RFC 7396): null removes a member. */
  patch(serviceId: string, patch: ServicePatch, options?: CallOptions): Promise<ServiceRecord>;
  deregister(serviceId: string, options?: CallOptions): Promise<void>;
  setStatus(serviceId: string, status: ServiceStatus, options?: CallOptions): Promise<ServiceRecord>;
  health(serviceId: string, options?: CallOptions): Promise<HealthDetail>;
  reportHealth(serviceId: string, report: HealthReport, options?: CallOptions): Promise<HealthStatus>;
  heartbeat(serviceId: string, options?: CallOptions): Promise<HeartbeatResponse>;
  /** Diamond only. */
  audit(query?: AuditQuery, options?: CallOptions): Promise<AuditEntry[]>;
  /** The health checker's recent alerts the caller may read (not for onyx). */
  alerts(query?: AlertQuery, options?: CallOptions): Promise<Alert[]>;
  watch(filters?: Filters, options?: WatchOptions): Watch;

  daemonHealth(options?: CallOptions): Promise<Liveness>;
  daemonReady(options?: CallOptions): Promise<Readiness>;
  /** Prometheus text exposition. */
  metrics(options?: CallOptions): Promise<string>;
  /** The OpenAPI 3.1 document. */
  openapi(options?: CallOptions): Promise<JsonObject>;
}

export default DiscoveryClient;

export interface DiscoveryErrorInfo {
  code: string;
  status?: number;
  field?: string;
  requestId?: string;
  cause?: unknown;
}

export declare class DiscoveryError extends Error {
  constructor(message: string, info?: DiscoveryErrorInfo);
  /** API.md's code, or "timeout" / "connection_error" when no answer came. */
  readonly code: ErrorCode | "timeout" | "connection_error" | (string & {});
  /** HTTP status; undefined when no answer came. */
  readonly status: number | undefined;
  /** For invalid_argument: the offending field or parameter. */
  readonly field: string | undefined;
  /** The answer's X-Request-Id (the audit log's requestId). */
  readonly requestId: string | undefined;
}
export declare class InvalidArgumentError extends DiscoveryError {}
export declare class UnauthenticatedError extends DiscoveryError {}
export declare class PermissionDeniedError extends DiscoveryError {}
export declare class NotFoundError extends DiscoveryError {}
export declare class MethodNotAllowedError extends DiscoveryError {}
export declare class ConflictError extends DiscoveryError {}
export declare class PayloadTooLargeError extends DiscoveryError {}
export declare class UnsupportedMediaTypeError extends DiscoveryError {}
export declare class RequestHeaderTooLargeError extends DiscoveryError {}
export declare class RateLimitedError extends DiscoveryError {
  /** Seconds from Retry-After. */
  readonly retryAfter: number | undefined;
}
export declare class InternalError extends DiscoveryError {}
export declare class UnavailableError extends DiscoveryError {}
export declare class DiscoveryTimeoutError extends DiscoveryError {}
export declare class DiscoveryConnectionError extends DiscoveryError {}
export declare function errorFromResponse(status: number, headers: Headers, text: string): DiscoveryError;
