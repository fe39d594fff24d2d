// REST client for discoveryd (API.md). Built on the global fetch (undici keeps
// connections alive by default), with typed errors, per-attempt timeouts,
// retries for idempotent calls, async-iterator pagination, and an SSE watch
// that resumes with Last-Event-ID.

import {
  ConflictError,
  DiscoveryConnectionError,
  DiscoveryError,
  DiscoveryTimeoutError,
  errorFromResponse,
  RateLimitedError,
  UnavailableError,
} from "./errors.js";

export * from "./errors.js";

export const VERSION = "0.1.0";

const SERVICES = "/api/v1/services";
const LIST_FILTERS = ["capabilities", "tags", "tools"];
const SCALAR_FILTERS = ["company", "region", "environment", "status", "saoLevel"];

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/** "30s" stays "30s"; a number is milliseconds. */
function duration(value) {
  return typeof value === "number" ? `${Math.max(0, Math.round(value))}ms` : String(value);
}

function durationMs(value) {
  if (typeof value === "number") return value;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(String(value));
  if (!m) return 0;
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2]];
}

/** The discover/watch filters as query parameters (lists repeated). */
function filterParams(filters = {}, params = new URLSearchParams()) {
  for (const name of SCALAR_FILTERS) {
    if (filters[name] !== undefined && filters[name] !== null) params.set(name, String(filters[name]));
  }
  for (const name of LIST_FILTERS) {
    const value = filters[name];
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) params.append(name, String(item));
  }
  return params;
}

function encodeId(serviceId) {
  if (typeof serviceId !== "string" || serviceId === "") {
    throw new TypeError("serviceId must be a non-empty string");
  }
  return encodeURIComponent(serviceId);
}

/**
 * A client of one discoveryd. Safe to share: every call is independent, and
 * connections are pooled by fetch.
 */
export class DiscoveryClient {
  #baseUrl;
  #token;
  #timeout;
  #retries;
  #retryDelay;
  #userAgent;
  #fetch;

  /**
   * @param {import("./index.d.ts").ClientOptions} options
   */
  constructor(options = {}) {
    const baseUrl = options.baseUrl ?? process.env.DISCOVERY_URL ?? "http://127.0.0.1:8080";
    this.#baseUrl = String(baseUrl).replace(/\/+$/, "");
    this.#token = options.token;
    this.#timeout = options.timeout ?? 30_000;
    this.#retries = options.retries ?? 2;
    this.#retryDelay = options.retryDelay ?? 100;
    this.#userAgent = options.userAgent ?? `mcp-discovery-node/${VERSION}`;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  get baseUrl() {
    return this.#baseUrl;
  }

  // ------------------------------------------------------------ services --

  /** Registers, or re-registers the same (companyName, instanceId). */
  async register(registration, options = {}) {
    // Re-registering the same (company, instance) is an update, so a retry is
    // safe only when the request names its instanceId.
    const idempotent = typeof registration?.instanceId === "string";
    return (await this.#request("POST", `${SERVICES}/register`, { ...options, body: registration, idempotent })).body;
  }

  /** One page of a discover query. */
  async discover(query = {}, options = {}) {
    const params = filterParams(query);
    if (query.limit !== undefined) params.set("limit", String(query.limit));
    if (query.cursor) params.set("cursor", query.cursor);
    let timeout = options.timeout;
    if (query.index !== undefined && query.index !== null) {
      params.set("index", String(query.index));
      if (query.wait !== undefined) params.set("wait", duration(query.wait));
      // A long-poll may legitimately take its whole wait (default 1m).
      timeout ??= this.#timeout + (query.wait !== undefined ? durationMs(query.wait) : 60_000);
    }
    return (await this.#request("GET", `${SERVICES}/discover`, { ...options, timeout, params })).body;
  }

  /** Every page of a query, following nextCursor until it is null. */
  async *discoverPages(query = {}, options = {}) {
    let cursor = query.cursor;
    const { index: _index, wait: _wait, ...filters } = query;
    for (;;) {
      const page = await this.discover({ ...filters, cursor }, options);
      yield page;
      if (page.nextCursor === null || page.nextCursor === undefined) return;
      cursor = page.nextCursor;
    }
  }

  /** Every matching record, each once, across pages. */
  async *discoverAll(query = {}, options = {}) {
    for await (const page of this.discoverPages(query, options)) yield* page.services;
  }

  async get(serviceId, options = {}) {
    return (await this.#request("GET", `${SERVICES}/${encodeId(serviceId)}`, options)).body;
  }

  /** A JSON merge patch (RFC 7396) of the writable fields: null removes. */
  async patch(serviceId, mergePatch, options = {}) {
    return (
      await this.#request("PATCH", `${SERVICES}/${encodeId(serviceId)}`, {
        ...options,
        body: mergePatch,
        contentType: "application/merge-patch+json",
        idempotent: true,
      })
    ).body;
  }

  async deregister(serviceId, options = {}) {
    await this.#request("DELETE", `${SERVICES}/${encodeId(serviceId)}`, { ...options, idempotent: true });
  }

  /** The operator status: "active", "inactive", "maintenance" or "unhealthy". */
  async setStatus(serviceId, status, options = {}) {
    return (
      await this.#request("PUT", `${SERVICES}/${encodeId(serviceId)}/status`, {
        ...options,
        body: { status },
        idempotent: true,
      })
    ).body;
  }

  /** Health detail: status, healthStatus and the recent checks (newest first). */
  async health(serviceId, options = {}) {
    return (await this.#request("GET", `${SERVICES}/${encodeId(serviceId)}/health`, options)).body;
  }

  /** An external health report, counted like a check. Not retried: each one counts. */
  async reportHealth(serviceId, report, options = {}) {
    return (
      await this.#request("PUT", `${SERVICES}/${encodeId(serviceId)}/health`, {
        ...options,
        body: report,
        idempotent: false,
      })
    ).body;
  }

  async heartbeat(serviceId, options = {}) {
    return (
      await this.#request("POST", `${SERVICES}/${encodeId(serviceId)}/heartbeat`, { ...options, idempotent: true })
    ).body;
  }

  /** The audit log (diamond only), oldest first. */
  async audit(query = {}, options = {}) {
    const params = new URLSearchParams();
    if (query.since !== undefined) {
      params.set("since", query.since instanceof Date ? query.since.toISOString() : String(query.since));
    }
    if (query.limit !== undefined) params.set("limit", String(query.limit));
    return (await this.#request("GET", "/api/v1/audit", { ...options, params })).body.entries;
  }

  /**
   * The health checker's recent alerts the caller may read (levels that may
   * read health history; fleet-wide alerts for diamond and emerald only).
   */
  async alerts(query = {}, options = {}) {
    const params = new URLSearchParams();
    if (query.serviceId !== undefined) params.set("serviceId", query.serviceId);
    if (query.limit !== undefined) params.set("limit", String(query.limit));
    return (await this.#request("GET", "/api/v1/alerts", { ...options, params })).body.alerts;
  }

  /**
   * Changes as an async iterable of events; see Watch.
   * @returns {Watch}
   */
  watch(filters = {}, options = {}) {
    return new Watch(this, filters, options);
  }

  // -------------------------------------------------------------- daemon --

  async daemonHealth(options = {}) {
    return (await this.#request("GET", "/health", { ...options, auth: false })).body;
  }

  async daemonReady(options = {}) {
    return (await this.#request("GET", "/ready", { ...options, auth: false })).body;
  }

  /** Prometheus text exposition. Sends the token when the client has one. */
  async metrics(options = {}) {
    return (await this.#request("GET", "/metrics", { ...options, auth: "optional" })).body;
  }

  /** The OpenAPI 3.1 document. */
  async openapi(options = {}) {
    return (await this.#request("GET", "/openapi.json", { ...options, auth: false })).body;
  }

  // ------------------------------------------------------------ plumbing --

  async authorization() {
    const token = typeof this.#token === "function" ? await this.#token() : this.#token;
    return token ? `Bearer ${token}` : undefined;
  }

  /** Opens a GET for the watch stream; used by Watch. */
  async openStream(path, params, headers, signal) {
    return this.#attempt("GET", path, { params, headers, signal, timeout: this.#timeout, stream: true });
  }

  async #request(method, path, opts = {}) {
    const idempotent = opts.idempotent ?? (method === "GET" || method === "PUT" || method === "DELETE");
    const retries = opts.retries ?? this.#retries;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#attempt(method, path, opts);
      } catch (err) {
        const retryable =
          idempotent &&
          attempt < retries &&
          (err instanceof UnavailableError ||
            err instanceof RateLimitedError ||
            err instanceof ConflictError || // a concurrent write won; API.md: retrying is safe
            err instanceof DiscoveryConnectionError ||
            err instanceof DiscoveryTimeoutError ||
            (err instanceof DiscoveryError && (err.status === 502 || err.status === 504)));
        if (!retryable) throw err;
        const backoff = this.#retryDelay * 2 ** attempt * (0.5 + Math.random());
        const wait = err instanceof RateLimitedError && err.retryAfter ? Math.min(err.retryAfter * 1000, 30_000) : backoff;
        await sleep(wait, opts.signal);
      }
    }
  }

  async #attempt(method, path, opts) {
    const url = new URL(this.#baseUrl + path);
    if (opts.params) url.search = opts.params.toString();
    const headers = { "user-agent": this.#userAgent, accept: "application/json", ...opts.headers };
    if (opts.auth !== false) {
      const authorization = await this.authorization();
      if (authorization) headers.authorization = authorization;
    }
    let body;
    if (opts.body !== undefined) {
      headers["content-type"] = opts.contentType ?? "application/json";
      body = JSON.stringify(opts.body);
    }
    // The deadline covers the answer; for a stream only its head, so that a
    // watch outlives it.
    const timeout = opts.timeout ?? this.#timeout;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new DOMException(`no answer within ${timeout} ms`, "TimeoutError")), timeout);
    const signal = opts.signal ? AbortSignal.any([opts.signal, deadline.signal]) : deadline.signal;
    try {
      let response;
      try {
        response = await this.#fetch(url, { method, headers, body, signal });
      } catch (err) {
        throw this.#transportError(err, method, url, deadline.signal, timeout, opts.signal);
      }
      if (opts.stream && response.ok) return response;

      let text;
      try {
        text = await response.text();
      } catch (err) {
        throw this.#transportError(err, method, url, deadline.signal, timeout, opts.signal);
      }
      if (!response.ok) throw errorFromResponse(response.status, response.headers, text);
      const type = response.headers.get("content-type") ?? "";
      const parsed = text && type.includes("json") ? JSON.parse(text) : text;
      return { status: response.status, headers: response.headers, body: parsed };
    } finally {
      clearTimeout(timer);
    }
  }

  #transportError(err, method, url, timeoutSignal, timeout, userSignal) {
    if (userSignal?.aborted) return userSignal.reason;
    const where = `${method} ${url.pathname}`;
    if (timeoutSignal.aborted) {
      return new DiscoveryTimeoutError(`${where}: no answer within ${timeout} ms`, { code: "timeout", cause: err });
    }
    const reason = err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(err);
    return new DiscoveryConnectionError(`${where}: ${reason}`, { code: "connection_error", cause: err });
  }
}

/**
 * A watch on the registry's changes. Iterate it with `for await`; breaking
 * out, close(), or the AbortSignal ends it. When the stream ends or the
 * connection drops it reconnects with Last-Event-ID, so no retained change is
 * missed or repeated.
 */
export class Watch {
  #client;
  #filters;
  #options;
  #lastEventId;
  #controller = new AbortController();
  #started = false;

  constructor(client, filters = {}, options = {}) {
    this.#client = client;
    this.#filters = filters;
    this.#options = options;
    this.#lastEventId = options.lastEventId === undefined || options.lastEventId === null ? undefined : String(options.lastEventId);
    if (options.signal) {
      if (options.signal.aborted) this.#controller.abort(options.signal.reason);
      else options.signal.addEventListener("abort", () => this.#controller.abort(options.signal.reason), { once: true });
    }
  }

  /** The id of the last event received: pass it as lastEventId to resume later. */
  get lastEventId() {
    return this.#lastEventId;
  }

  /** Ends the watch; a pending next() returns done. */
  close() {
    this.#controller.abort(new DOMException("watch closed", "AbortError"));
  }

  [Symbol.asyncIterator]() {
    if (this.#started) throw new Error("a Watch can be iterated once");
    this.#started = true;
    return this.#events();
  }

  async *#events() {
    const reconnect = this.#options.reconnect ?? true;
    const maxDelay = this.#options.maxReconnectDelay ?? 5000;
    let delay = this.#options.reconnectDelay ?? 250;
    const signal = this.#controller.signal;
    try {
      for (;;) {
        let response;
        try {
          const headers = { accept: "text/event-stream" };
          if (this.#lastEventId !== undefined) headers["last-event-id"] = this.#lastEventId;
          response = await this.#client.openStream(`${SERVICES}/watch`, filterParams(this.#filters), headers, signal);
        } catch (err) {
          if (signal.aborted) return;
          const transient =
            err instanceof UnavailableError ||
            err instanceof RateLimitedError ||
            err instanceof DiscoveryConnectionError ||
            err instanceof DiscoveryTimeoutError;
          if (!reconnect || !transient) throw err;
          await this.#pause(delay);
          delay = Math.min(delay * 2, maxDelay);
          continue;
        }
        delay = this.#options.reconnectDelay ?? 250;
        try {
          for await (const message of parseEventStream(response.body)) {
            if (message.id !== undefined) this.#lastEventId = message.id;
            if (message.event !== "change" || message.data === undefined) continue;
            yield JSON.parse(message.data);
          }
        } catch (err) {
          if (signal.aborted) return;
          if (!reconnect) throw new DiscoveryConnectionError(`watch: ${err?.message ?? err}`, { code: "connection_error", cause: err });
        }
        if (signal.aborted || !reconnect) return;
        await this.#pause(delay);
      }
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    } finally {
      this.#controller.abort(new DOMException("watch ended", "AbortError"));
    }
  }

  async #pause(ms) {
    await sleep(ms * (0.5 + Math.random()), this.#controller.signal);
  }
}

/**
 * Server-Sent Events (WHATWG HTML, "event stream interpretation") from a byte
 * stream: yields {event, id, data} per dispatched message.
 * @param {ReadableStream<Uint8Array>} body
 */
export async function* parseEventStream(body) {
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "message";
  let data = [];
  let id;
  let sawData = false;
  const handle = (line) => {
    if (line === "") {
      const message = sawData ? { event, id, data: data.join("\n") } : null;
      event = "message";
      data = [];
      sawData = false;
      return message;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") {
      data.push(value);
      sawData = true;
    } else if (field === "id" && !value.includes("\0")) id = value;
    return null;
  };
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (;;) {
      const match = /\r\n|\r|\n/g;
      match.lastIndex = start;
      const found = match.exec(buffer);
      // A trailing "\r" may be half of "\r\n": wait for the next chunk.
      if (!found || (found[0] === "\r" && found.index === buffer.length - 1)) break;
      const message = handle(buffer.slice(start, found.index));
      start = found.index + found[0].length;
      if (message) yield message;
    }
    buffer = buffer.slice(start);
  }
}

export default DiscoveryClient;
