// The error tree of the client: one DiscoveryError base, one subclass per
// error code of the REST contract (API.md, "Errors"), and two for failures
// that never reached an answer (timeout, connection).

export class DiscoveryError extends Error {
  /**
   * @param {string} message
   * @param {{code: string, status?: number, field?: string, requestId?: string, cause?: unknown}} info
   */
  constructor(message, { code, status, field, requestId, cause } = { code: "unknown" }) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.field = field;
    this.requestId = requestId;
  }
}

export class InvalidArgumentError extends DiscoveryError {}
export class UnauthenticatedError extends DiscoveryError {}
export class PermissionDeniedError extends DiscoveryError {}
export class NotFoundError extends DiscoveryError {}
export class MethodNotAllowedError extends DiscoveryError {}
export class ConflictError extends DiscoveryError {}
export class PayloadTooLargeError extends DiscoveryError {}
export class UnsupportedMediaTypeError extends DiscoveryError {}
export class RequestHeaderTooLargeError extends DiscoveryError {}
export class RateLimitedError extends DiscoveryError {
  constructor(message, info) {
    super(message, info);
    /** Seconds the server asked to wait (Retry-After), when it said. */
    this.retryAfter = info?.retryAfter;
  }
}
export class InternalError extends DiscoveryError {}
export class UnavailableError extends DiscoveryError {}
/** The request did not complete within the client's timeout. */
export class DiscoveryTimeoutError extends DiscoveryError {}
/** No HTTP answer: refused, reset, DNS, TLS. */
export class DiscoveryConnectionError extends DiscoveryError {}

const BY_CODE = {
  invalid_argument: InvalidArgumentError,
  unauthenticated: UnauthenticatedError,
  permission_denied: PermissionDeniedError,
  not_found: NotFoundError,
  method_not_allowed: MethodNotAllowedError,
  conflict: ConflictError,
  payload_too_large: PayloadTooLargeError,
  unsupported_media_type: UnsupportedMediaTypeError,
  request_header_too_large: RequestHeaderTooLargeError,
  rate_limited: RateLimitedError,
  internal: InternalError,
  unavailable: UnavailableError,
};

const CODE_BY_STATUS = {
  400: "invalid_argument",
  401: "unauthenticated",
  403: "permission_denied",
  404: "not_found",
  405: "method_not_allowed",
  409: "conflict",
  413: "payload_too_large",
  415: "unsupported_media_type",
  429: "rate_limited",
  431: "request_header_too_large",
  500: "internal",
  503: "unavailable",
};

/**
 * The error for a non-2xx answer. The body is API.md's error object when the
 * daemon wrote it; a proxy's answer without one still maps by status.
 * @param {number} status
 * @param {Headers} headers
 * @param {string} text the body
 */
export function errorFromResponse(status, headers, text) {
  let code, message, field;
  try {
    const body = JSON.parse(text);
    if (body && typeof body.error === "object" && body.error !== null) {
      ({ code, message, field } = body.error);
    }
  } catch {
    // not JSON: keep the status's code below
  }
  code ??= CODE_BY_STATUS[status] ?? (status >= 500 ? "internal" : "unknown");
  message ??= `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ""}`;
  const requestId = headers.get("x-request-id") ?? undefined;
  const retryAfterHeader = headers.get("retry-after");
  const retryAfter = retryAfterHeader !== null && /^\d+$/.test(retryAfterHeader) ? Number(retryAfterHeader) : undefined;
  const Class = BY_CODE[code] ?? DiscoveryError;
  return new Class(message, { code, status, field: field ?? undefined, requestId, retryAfter });
}
