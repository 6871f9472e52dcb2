/**
 * Typed errors. Every API error code maps onto a class (the same table as the Python client's
 * engram/client/errors.py `_BY_CODE` and `_BY_STATUS`), so callers can write
 * `catch (e) { if (e instanceof SpaceNotFound) ... }`. All carry the stable `code`, the HTTP
 * `status`, the `requestId` to quote when reporting a problem, the server's `retryAfterMs` and,
 * from API v2, the `field` of the request the error is about (a JSON Pointer).
 */

export interface EngramErrorInit {
  status?: number;
  code?: string;
  requestId?: string;
  retryAfterMs?: number | null;
  field?: string | null;
}

/** An error reported by (or on the way to) an Engram server. */
export class EngramError extends Error {
  /** The HTTP status (0 when no response came: see {@link TransportError}). */
  readonly status: number;
  /** The stable machine-readable code, e.g. `space_not_found` ("" when none). */
  readonly code: string;
  /** The server's request id (X-Request-Id), "" when none. */
  readonly requestId: string;
  /** How long the server asked the client to wait before retrying, if it said. */
  readonly retryAfterMs: number | null;
  /**
   * The request field the error is about, as a JSON Pointer (RFC 6901), e.g. `/items/1/embedding`
   * for the second item of a batch; null when the error is about no one field, when the answer
   * did not say (API v1 writes no `field`) or when no answer came.
   */
  readonly field: string | null;

  constructor(message: string, init: EngramErrorInit = {}) {
    super(message);
    this.name = new.target.name;
    this.status = init.status ?? 0;
    this.code = init.code ?? "";
    this.requestId = init.requestId ?? "";
    this.retryAfterMs = init.retryAfterMs ?? null;
    this.field = init.field ?? null;
  }
}

/** The request was malformed or out of range (400: invalid_input, invalid_json, limit_exceeded, ...). */
export class InvalidInput extends EngramError {}
/** The embedding's length is not the space's dimension (400 dimension_mismatch). */
export class DimensionError extends InvalidInput {}
/** No space of that name (404 space_not_found). */
export class SpaceNotFound extends EngramError {}
/** No memory of that id in the space (404 memory_not_found). */
export class MemoryNotFound extends EngramError {}
/** A space of that name exists already (409 space_exists). */
export class SpaceExists extends EngramError {}
/** The space is full (capacity_exceeded). */
export class CapacityError extends EngramError {}
/** The store could not be read or written (storage_unavailable, backup_failed); retried for safe calls. */
export class StorageError extends EngramError {}
/** The store is corrupt (corruption); never retried. */
export class CorruptionError extends StorageError {}
/** The engine's memory budget is at its critical level (507 memory_pressure); not retried. */
export class MemoryPressureError extends EngramError {}
/** An idempotency key was reused with a different payload (409 idempotency_conflict). */
export class IdempotencyConflict extends EngramError {}
/** The API key is missing, unknown or revoked (401). */
export class Unauthenticated extends EngramError {}
/** The key lacks the role or the space for this operation (403 forbidden). */
export class PermissionDenied extends EngramError {}
/** The body or batch exceeds the server's limits (413). */
export class PayloadTooLarge extends InvalidInput {}
/** The server refused work for now (429 overloaded); retried automatically. */
export class Overloaded extends EngramError {}
/** The server is not ready or is shutting down (503); retried automatically. */
export class ServiceUnavailable extends EngramError {}
/** The server failed (500 and other 5xx without a known code): a bug to report with the request id. */
export class ServerError extends EngramError {}
/** Unknown route (404 route_not_found): a client/server version mismatch. */
export class NotFound extends EngramError {}

/** No usable answer: connection refused or reset, timeout, or an unreadable response. */
export class TransportError extends EngramError {
  /** Whether the request may be sent again: it never reached the server, or the call is safe to repeat. */
  retryable: boolean;

  constructor(message: string, init: EngramErrorInit & { retryable?: boolean; cause?: unknown } = {}) {
    super(message, init);
    this.retryable = init.retryable ?? false;
    if (init.cause !== undefined) (this as { cause?: unknown }).cause = init.cause;
  }
}

type ErrorClass = new (message: string, init?: EngramErrorInit) => EngramError;

/** Error code -> class (engram/client/errors.py `_BY_CODE`). */
export const ERROR_CLASS_BY_CODE: Readonly<Record<string, ErrorClass>> = {
  invalid_input: InvalidInput,
  invalid_json: InvalidInput,
  limit_exceeded: InvalidInput,
  ambiguous_space: InvalidInput,
  dimension_mismatch: DimensionError,
  space_not_found: SpaceNotFound,
  memory_not_found: MemoryNotFound,
  space_exists: SpaceExists,
  capacity_exceeded: CapacityError,
  memory_pressure: MemoryPressureError,
  idempotency_conflict: IdempotencyConflict,
  unauthenticated: Unauthenticated,
  forbidden: PermissionDenied,
  payload_too_large: PayloadTooLarge,
  batch_too_large: PayloadTooLarge,
  overloaded: Overloaded,
  not_ready: ServiceUnavailable,
  shutting_down: ServiceUnavailable,
  storage_unavailable: StorageError,
  backup_failed: StorageError,
  corruption: CorruptionError,
  route_not_found: NotFound,
};

/** HTTP status -> class when the code is unknown (engram/client/errors.py `_BY_STATUS`). */
export const ERROR_CLASS_BY_STATUS: Readonly<Record<number, ErrorClass>> = {
  400: InvalidInput,
  401: Unauthenticated,
  403: PermissionDenied,
  409: EngramError,
  413: PayloadTooLarge,
  429: Overloaded,
  503: ServiceUnavailable,
  507: MemoryPressureError,
};

/**
 * The class for a status and code: the code's, else the status's (`_BY_STATUS`), else
 * ServerError for 5xx and EngramError for the rest. (The Python client checks `>= 500` before
 * `_BY_STATUS`, so a bare 503 from a proxy becomes ServerError there; here it stays
 * ServiceUnavailable, and is retried.)
 */
function classFor(status: number, code: string): ErrorClass {
  if (Object.hasOwn(ERROR_CLASS_BY_CODE, code)) return ERROR_CLASS_BY_CODE[code] ?? EngramError;
  if (Object.hasOwn(ERROR_CLASS_BY_STATUS, status)) return ERROR_CLASS_BY_STATUS[status] ?? EngramError;
  return status >= 500 ? ServerError : EngramError;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Seconds of a Retry-After header (delta-seconds or an HTTP date) in milliseconds, or null. */
export function parseRetryAfter(header: string | null | undefined, now: number = Date.now()): number | null {
  if (header === null || header === undefined || header.trim() === "") return null;
  const s = Number(header);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * The error for an error response: `body` is its parsed JSON (or anything else), `requestId` the
 * X-Request-Id header, `retryAfter` the Retry-After header. The code picks the class; an unknown
 * code falls back on the status. API v2's `field` and `retry_after_ms` may be null; v1 leaves
 * `field` out.
 */
export function errorFromBody(
  status: number,
  body: unknown,
  requestId = "",
  retryAfter: string | null = null,
): EngramError {
  const err = isRecord(body) ? body["error"] : undefined;
  if (!isRecord(err)) {
    const cls = classFor(status, "");
    return new cls(`HTTP ${status} without an error body`, {
      status,
      requestId,
      retryAfterMs: parseRetryAfter(retryAfter),
    });
  }
  const code = typeof err["code"] === "string" ? err["code"] : "";
  const cls = classFor(status, code);
  const ms = err["retry_after_ms"];
  const retryAfterMs = typeof ms === "number" && Number.isFinite(ms) ? ms : parseRetryAfter(retryAfter);
  const rid = typeof err["request_id"] === "string" ? err["request_id"] : requestId;
  const message = typeof err["message"] === "string" ? err["message"] : "";
  const field = typeof err["field"] === "string" ? err["field"] : null;
  return new cls(`${message} [${code}, HTTP ${status}, request ${rid}]`, {
    status,
    code,
    requestId: rid,
    retryAfterMs,
    field,
  });
}
