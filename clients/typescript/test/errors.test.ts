/** Error mapping (engram/client/errors.py's tables), the retry rules and the policy's delays. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";

import {
  CapacityError,
  CorruptionError,
  DimensionError,
  ERROR_CLASS_BY_CODE,
  EngramError,
  IdempotencyConflict,
  InvalidInput,
  MemoryNotFound,
  MemoryPressureError,
  NotFound,
  Overloaded,
  PayloadTooLarge,
  PermissionDenied,
  RetryPolicy,
  ServerError,
  ServiceUnavailable,
  SpaceExists,
  SpaceNotFound,
  StorageError,
  TransportError,
  Unauthenticated,
  VERSION,
  base64F32le,
  errorFromBody,
  f32leBase64,
  parseRetryAfter,
  shouldRetry,
} from "../src/index.js";
import { packageRoot } from "./support/paths.js";

const body = (code: string, extra: Record<string, unknown> = {}): unknown => ({
  error: { code, message: "why", status: 0, request_id: "rid-1", ...extra },
});

describe("errorFromBody", () => {
  // engram/client/errors.py _BY_CODE, every entry
  const byCode: [string, number, new (...a: never[]) => EngramError][] = [
    ["invalid_input", 400, InvalidInput],
    ["invalid_json", 400, InvalidInput],
    ["limit_exceeded", 400, InvalidInput],
    ["ambiguous_space", 400, InvalidInput],
    ["dimension_mismatch", 400, DimensionError],
    ["space_not_found", 404, SpaceNotFound],
    ["memory_not_found", 404, MemoryNotFound],
    ["space_exists", 409, SpaceExists],
    ["capacity_exceeded", 409, CapacityError],
    ["memory_pressure", 507, MemoryPressureError],
    ["idempotency_conflict", 409, IdempotencyConflict],
    ["unauthenticated", 401, Unauthenticated],
    ["forbidden", 403, PermissionDenied],
    ["payload_too_large", 413, PayloadTooLarge],
    ["batch_too_large", 413, PayloadTooLarge],
    ["overloaded", 429, Overloaded],
    ["not_ready", 503, ServiceUnavailable],
    ["shutting_down", 503, ServiceUnavailable],
    ["storage_unavailable", 503, StorageError],
    ["backup_failed", 500, StorageError],
    ["corruption", 500, CorruptionError],
    ["route_not_found", 404, NotFound],
  ];
  test("the table has every code of the Python client", () => {
    assert.deepEqual(Object.keys(ERROR_CLASS_BY_CODE).sort(), byCode.map(([c]) => c).sort());
  });
  for (const [code, status, cls] of byCode) {
    test(`${code} -> ${cls.name}`, () => {
      const e = errorFromBody(status, body(code));
      assert.equal(e.constructor, cls);
      assert.ok(e instanceof EngramError && e instanceof Error);
      assert.equal(e.name, cls.name);
      assert.equal(e.code, code);
      assert.equal(e.status, status);
      assert.equal(e.requestId, "rid-1");
      assert.match(e.message, new RegExp(`^why \\[${code}, HTTP ${status}, request rid-1\\]$`));
    });
  }

  test("an unknown code falls back on the status (_BY_STATUS)", () => {
    const cases: [number, new (...a: never[]) => EngramError][] = [
      [400, InvalidInput],
      [401, Unauthenticated],
      [403, PermissionDenied],
      [409, EngramError],
      [413, PayloadTooLarge],
      [429, Overloaded],
      [503, ServiceUnavailable],
      [507, MemoryPressureError],
      [500, ServerError],
      [502, ServerError],
      [418, EngramError],
    ];
    for (const [status, cls] of cases) {
      assert.equal(errorFromBody(status, body("something_new")).constructor, cls, `HTTP ${status}`);
      assert.equal(errorFromBody(status, "<html>bad gateway</html>").constructor, cls, `HTTP ${status} without a body`);
    }
    const bare = errorFromBody(502, null, "rid-h");
    assert.equal(bare.code, "");
    assert.equal(bare.requestId, "rid-h");
    assert.match(bare.message, /HTTP 502 without an error body/);
  });

  test("retry_after_ms, else Retry-After (seconds or a date)", () => {
    assert.equal(errorFromBody(429, body("overloaded", { retry_after_ms: 250 }), "", "9").retryAfterMs, 250);
    assert.equal(errorFromBody(429, body("overloaded"), "", "1.5").retryAfterMs, 1500);
    assert.equal(errorFromBody(503, null, "", "2").retryAfterMs, 2000);
    assert.equal(errorFromBody(429, body("overloaded")).retryAfterMs, null);
    assert.equal(parseRetryAfter("Thu, 01 Jan 1970 00:00:10 GMT", 4000), 6000);
    assert.equal(parseRetryAfter("soon"), null);
  });

  test("field: API v2's JSON Pointer, null when absent (v1), null or not a string", () => {
    assert.equal(errorFromBody(400, body("invalid_input", { field: "/items/1/embedding" })).field, "/items/1/embedding");
    assert.equal(errorFromBody(400, body("invalid_input", { field: null, retry_after_ms: null })).field, null);
    assert.equal(errorFromBody(400, body("invalid_input")).field, null);
    assert.equal(errorFromBody(502, "<html>").field, null);
    assert.equal(new TransportError("x").field, null);
    assert.equal(new InvalidInput("x", { field: "/k" }).field, "/k");
  });

  test("the hierarchy of the in-process errors", () => {
    assert.ok(new DimensionError("x") instanceof InvalidInput);
    assert.ok(new PayloadTooLarge("x") instanceof InvalidInput);
    assert.ok(new CorruptionError("x") instanceof StorageError);
    const t = new TransportError("x", { retryable: true });
    assert.equal(t.status, 0);
    assert.equal(t.retryable, true);
    assert.equal(t.retryAfterMs, null);
  });
});

describe("the retry rules", () => {
  const safe = { safe: true };
  const unsafe = { safe: false };
  test("what is retried (transport.py should_retry)", () => {
    assert.ok(shouldRetry(unsafe, new Overloaded("x")));
    assert.ok(shouldRetry(unsafe, new ServiceUnavailable("x")));
    assert.ok(shouldRetry(safe, new StorageError("x")));
    assert.ok(!shouldRetry(unsafe, new StorageError("x")));
    assert.ok(!shouldRetry(safe, new CorruptionError("x")));
    assert.ok(!shouldRetry(safe, new MemoryPressureError("x")));
    assert.ok(!shouldRetry(safe, new InvalidInput("x")));
    assert.ok(!shouldRetry(safe, new ServerError("x")));
    assert.ok(shouldRetry(unsafe, new TransportError("x", { retryable: true })));
    assert.ok(!shouldRetry(safe, new TransportError("x", { retryable: false })));
  });

  test("delays: full jitter under a doubling cap, at least the server's Retry-After", () => {
    const p = new RetryPolicy({ baseMs: 50, maxMs: 2000 });
    assert.equal(p.delay(0, null, () => 0.999999) < 50, true);
    assert.equal(p.delay(3, null, () => 1), 400);
    assert.equal(p.delay(10, null, () => 1), 2000);
    assert.equal(p.delay(0, 300, () => 0), 300);
    assert.equal(p.delay(0, 60_000, () => 0), 8000, "Retry-After capped at 4 * maxMs");
    assert.equal(new RetryPolicy().attempts, 4);
    assert.equal(RetryPolicy.none().attempts, 1);
    assert.throws(() => new RetryPolicy({ attempts: 0 }), RangeError);
  });
});

describe("encoding", () => {
  test("base64 of little-endian float32 round-trips", () => {
    const v = [1, -0.5, 3.25, 1e-3];
    const s = f32leBase64(v);
    assert.equal(f32leBase64([1, 0, 0, 0]), "AACAPwAAAAAAAAAAAAAAAA==");
    assert.deepEqual(Array.from(base64F32le(s)), Array.from(new Float32Array(v)));
  });

  test("VERSION is package.json's", () => {
    const pkg = JSON.parse(readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version: string };
    assert.equal(VERSION, pkg.version);
  });
});
