/**
 * @engram/client: the TypeScript client of an Engram server (engramd), API v2 (v1 on request:
 * `apiVersion: "v1"`).
 *
 * ```ts
 * import { Client } from "@engram/client";
 * const client = new Client("http://127.0.0.1:7432", { apiKey: process.env.ENGRAM_API_KEY });
 * const space = await client.createSpace("notes", { dim: 4 });
 * const id = await space.remember([1, 0, 0, 0], { content: "alpha" });
 * const hits = await space.search([1, 0, 0, 0], { k: 5 });
 * ```
 */
export { Client, DEFAULT_API_VERSION, MAX_PAGES, PAGE_LIMIT, Space, shouldRetry } from "./client.js";
export type { Call, ClientOptions, DeprecationNotice } from "./client.js";
export { ObservationStream, StreamBook } from "./stream.js";
export type { Observation, StreamOptions } from "./stream.js";
export { RetryPolicy } from "./retry.js";
export type { RetryOptions } from "./retry.js";
export {
  CapacityError,
  CorruptionError,
  DimensionError,
  ERROR_CLASS_BY_CODE,
  ERROR_CLASS_BY_STATUS,
  EngramError,
  IdempotencyConflict,
  InvalidInput,
  MemoryNotFound,
  MemoryPressureError,
  NotFound,
  Overloaded,
  PayloadTooLarge,
  PermissionDenied,
  ServerError,
  ServiceUnavailable,
  SpaceExists,
  SpaceNotFound,
  StorageError,
  TransportError,
  Unauthenticated,
  errorFromBody,
  parseRetryAfter,
} from "./errors.js";
export type { EngramErrorInit } from "./errors.js";
export { apiPrefix, base64F32le, f32leBase64 } from "./encoding.js";
export { VERSION } from "./version.js";
export type * from "./types.js";
export type { components, paths, operations } from "./generated/openapi.js";
