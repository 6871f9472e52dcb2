/**
 * Retries, idempotency keys and what is never resent, against a local node:http server whose
 * answers are scripted per request.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { afterEach, describe, test } from "node:test";

import {
  Client,
  InvalidInput,
  MemoryPressureError,
  Overloaded,
  ServiceUnavailable,
  StorageError,
  TransportError,
} from "../src/index.js";
import { type FakeServer, type Handler, apiError, drop, fakeServer, json } from "./support/http.js";

const FAST = { attempts: 4, baseMs: 1, maxMs: 5, deadlineMs: 5000 };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let server: FakeServer | null = null;

async function serve(handler: Handler): Promise<FakeServer> {
  server = await fakeServer(handler);
  return server;
}

afterEach(async () => {
  await server?.close();
  server = null;
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("retries", () => {
  test("remember: 503 then 201 is retried with the same Idempotency-Key", async () => {
    const s = await serve((n, _req, res) =>
      n === 0 ? apiError(res, 503, "not_ready", { retry_after_ms: 5 }) : json(res, 201, { id: 42, replayed: false }),
    );
    const c = new Client(s.url, { retry: FAST });
    assert.equal(await c.space("a").remember([1, 0]), 42);
    assert.equal(s.requests.length, 2);
    const [k0, k1] = s.requests.map((r) => r.headers["idempotency-key"]);
    assert.match(String(k0), UUID);
    assert.equal(k1, k0, "the retry carries the first try's key");
    assert.equal(s.requests[0]!.url, "/api/v2/spaces/a/memories");
    assert.deepEqual(JSON.parse(s.requests[1]!.body), JSON.parse(s.requests[0]!.body));
  });

  test("each remember gets its own key; the caller's key is sent as given", async () => {
    const s = await serve((_n, _req, res) => json(res, 201, { id: 1, replayed: false }));
    const sp = new Client(s.url, { retry: FAST }).space("a");
    await sp.remember([1]);
    await sp.remember([1]);
    await sp.remember([1], { idempotencyKey: "mine-1" });
    const keys = s.requests.map((r) => r.headers["idempotency-key"]);
    assert.notEqual(keys[0], keys[1]);
    assert.equal(keys[2], "mine-1");
  });

  test("rememberBatch: 429 with Retry-After, then 201; same key, the wait honoured", async () => {
    const s = await serve((n, _req, res) =>
      n === 0
        ? apiError(res, 429, "overloaded", {}, { "Retry-After": "0.15" })
        : json(res, 201, { ids: [7, 8], replayed: false }),
    );
    const c = new Client(s.url, { retry: { ...FAST, maxMs: 100 } }); // Retry-After is capped at 4 * maxMs
    const t0 = performance.now();
    assert.deepEqual(await c.space("a").rememberBatch([{ embedding: [1] }, { embedding: [2], content: "x" }]), [7, 8]);
    assert.ok(performance.now() - t0 >= 140, "waited for Retry-After");
    assert.equal(s.requests.length, 2);
    assert.equal(s.requests[1]!.headers["idempotency-key"], s.requests[0]!.headers["idempotency-key"]);
    assert.match(String(s.requests[0]!.headers["idempotency-key"]), UUID);
  });

  test("createSpace is not resent after a dropped connection", async () => {
    const s = await serve((_n, req) => drop(req));
    const c = new Client(s.url, { retry: FAST });
    const err = await c.createSpace("x", { dim: 4 }).then(
      () => assert.fail("createSpace succeeded"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TransportError, String(err));
    assert.equal(err.retryable, false);
    assert.equal(s.requests.length, 1, "sent once: the server may have created it");
  });

  test("consolidate is not resent after a dropped connection", async () => {
    const s = await serve((_n, req) => drop(req));
    await assert.rejects(new Client(s.url, { retry: FAST }).space("a").consolidate(), TransportError);
    assert.equal(s.requests.length, 1);
  });

  test("safe calls and keyed writes are resent after a dropped connection", async () => {
    const s = await serve((n, req, res) => {
      if (n % 2 === 0) return drop(req);
      if (req.url === "/api/v2/spaces?limit=1000") return json(res, 200, { spaces: ["a"], next_cursor: null });
      json(res, 201, { id: 5, replayed: true });
    });
    const c = new Client(s.url, { retry: FAST });
    assert.deepEqual(await c.spaces(), ["a"]);
    assert.equal(await c.space("a").remember([1]), 5);
    assert.equal(s.requests.length, 4);
    assert.equal(s.requests[3]!.headers["idempotency-key"], s.requests[2]!.headers["idempotency-key"]);
  });

  test("createSpace is retried on 503 (refused before any work)", async () => {
    const s = await serve((n, _req, res) =>
      n === 0 ? apiError(res, 503, "shutting_down") : json(res, 201, { name: "x", dim: 4, memories: 0 }),
    );
    const sp = await new Client(s.url, { retry: FAST }).createSpace("x", { dim: 4 });
    assert.equal(sp.name, "x");
    assert.equal(s.requests.length, 2);
    assert.deepEqual(JSON.parse(s.requests[0]!.body), { name: "x", dim: 4 });
  });

  test("tries are bounded by attempts", async () => {
    const s = await serve((_n, _req, res) => apiError(res, 503, "not_ready"));
    const c = new Client(s.url, { retry: { ...FAST, attempts: 3 } });
    await assert.rejects(c.spaces(), (e) => e instanceof ServiceUnavailable && e.status === 503);
    assert.equal(s.requests.length, 3);
  });

  test("no retry starts past the deadline", async () => {
    const s = await serve((_n, _req, res) => apiError(res, 429, "overloaded", { retry_after_ms: 1000 }));
    const c = new Client(s.url, { retry: { attempts: 10, baseMs: 1, maxMs: 1000, deadlineMs: 200 } });
    const t0 = performance.now();
    await assert.rejects(c.spaces(), (e) => e instanceof Overloaded && e.retryAfterMs === 1000);
    assert.equal(s.requests.length, 1);
    assert.ok(performance.now() - t0 < 900, "gave up at once instead of sleeping past the deadline");
  });

  test("client errors are not retried and carry code, status and request id", async () => {
    const s = await serve((_n, _req, res) => apiError(res, 400, "dimension_mismatch"));
    const c = new Client(s.url, { retry: FAST });
    await assert.rejects(c.space("a").search([1]), (e) => {
      assert.ok(e instanceof InvalidInput);
      assert.equal(e.name, "DimensionError");
      assert.equal(e.code, "dimension_mismatch");
      assert.equal(e.status, 400);
      assert.equal(e.requestId, "req-err");
      return true;
    });
    assert.equal(s.requests.length, 1);
  });

  test("storage errors are retried for safe calls only; memory pressure never", async () => {
    const s = await serve((n, req, res) => {
      if (req.url === "/api/v2/spaces?limit=1000" && req.method === "GET") {
        return n === 0 ? apiError(res, 503, "storage_unavailable") : json(res, 200, { spaces: [], next_cursor: null });
      }
      if (req.url?.endsWith("/consolidate")) return apiError(res, 503, "storage_unavailable");
      apiError(res, 507, "memory_pressure", { retry_after_ms: 1 });
    });
    const c = new Client(s.url, { retry: FAST });
    assert.deepEqual(await c.spaces(), []);
    assert.equal(s.requests.length, 2);
    await assert.rejects(c.space("a").consolidate(), StorageError);
    assert.equal(s.requests.length, 3);
    await assert.rejects(c.space("a").remember([1]), MemoryPressureError);
    assert.equal(s.requests.length, 4);
  });

  test("a timeout is retried for a safe call, not for createSpace", async () => {
    const s = await serve((n, req, res) => {
      if (n === 0 || req.method === "POST") return; // never answers
      json(res, 200, { spaces: ["late"] });
    });
    const c = new Client(s.url, { retry: FAST, timeoutMs: 150 });
    assert.deepEqual(await c.spaces(), ["late"]);
    assert.equal(s.requests.length, 2);
    await assert.rejects(c.createSpace("x"), (e) => e instanceof TransportError && /timeout|abort/i.test(e.message));
    assert.equal(s.requests.length, 3);
  });

  test("a refused connection is retried (never sent), up to the attempts", async () => {
    const port = await closedPort();
    let tries = 0;
    const counting: typeof fetch = (input, init) => {
      tries++;
      return fetch(input, init);
    };
    const c = new Client(`http://127.0.0.1:${port}`, { retry: FAST, fetch: counting });
    await assert.rejects(c.createSpace("x"), (e) => e instanceof TransportError && e.retryable && e.status === 0);
    assert.equal(tries, FAST.attempts, "even createSpace: the server never saw it");
  });

  test("an unreadable success body is a TransportError", async () => {
    const s = await serve((_n, _req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end("{not json");
    });
    await assert.rejects(new Client(s.url, { retry: FAST }).spaces(), TransportError);
    assert.equal(s.requests.length, 1);
  });
});

describe("requests", () => {
  test("the API prefix comes from apiVersion; the key is a bearer token", async () => {
    const s = await serve((_n, _req, res) => json(res, 200, { spaces: [] }));
    await new Client(s.url + "/", { apiKey: "engram_k_s" }).spaces();
    await new Client(s.url, { apiVersion: "v1" }).spaces();
    await new Client(s.url, { apiVersion: "2" }).space("a b/c").stats().catch(() => undefined);
    assert.deepEqual(
      s.requests.map((r) => r.url),
      ["/api/v2/spaces?limit=1000", "/api/v1/spaces", "/api/v2/spaces/a%20b%2Fc/stats"],
      "v2 by default; a list of v1 is one request without paging",
    );
    assert.equal(new Client(s.url).apiPrefix, "/api/v2");
    assert.equal(s.requests[0]!.headers["authorization"], "Bearer engram_k_s");
    assert.equal(s.requests[1]!.headers["authorization"], undefined);
    assert.match(String(s.requests[0]!.headers["user-agent"]), /^engram-client-ts\//);
    assert.throws(() => new Client(s.url, { apiVersion: "latest" }), RangeError);
    assert.throws(() => new Client(s.url, { pageLimit: 0 }), RangeError);
    assert.throws(() => new Client(s.url, { pageLimit: 1001 }), RangeError);
    assert.throws(() => new Client(s.url, { maxPages: 0 }), RangeError);
  });

  test("bodies: JSON arrays by default, base64 float32 on request", async () => {
    const s = await serve((_n, _req, res) => json(res, 200, { results: [{ id: 3, score: 0.5 }] }));
    const hits = await new Client(s.url).space("a").search(new Float32Array([1, 0.5]), { k: 3 });
    assert.deepEqual(hits, [{ id: 3, score: 0.5 }]);
    await new Client(s.url, { embeddings: "base64" }).space("a").search([1, 0.5], { k: 3, ef: 20 });
    assert.deepEqual(JSON.parse(s.requests[0]!.body), { embedding: [1, 0.5], k: 3, ef: null });
    assert.deepEqual(JSON.parse(s.requests[1]!.body), { embedding: "AACAPwAAAD8=", k: 3, ef: 20 });
    assert.equal(s.requests[0]!.headers["content-type"], "application/json");
  });

  test("a deprecated route is reported once", async () => {
    const s = await serve((_n, _req, res) =>
      json(res, 200, { spaces: [] }, { Deprecation: "@1796601600", Sunset: "Wed, 01 Jul 2027 00:00:00 GMT" }),
    );
    const notices: string[] = [];
    const c = new Client(s.url, { onDeprecated: (n) => notices.push(`${n.route} ${n.deprecation} ${n.sunset}`) });
    await c.spaces();
    await c.spaces();
    assert.deepEqual(notices, ["GET /spaces @1796601600 Wed, 01 Jul 2027 00:00:00 GMT"]);
    // per route: the space and the ids are placeholders
    notices.length = 0;
    for (const [space, id] of [["a", 1], ["b", 2], ["a", 3]] as const) {
      await c.space(space).forget(id);
    }
    assert.deepEqual(notices, ["DELETE /spaces/{space}/memories/{id} @1796601600 Wed, 01 Jul 2027 00:00:00 GMT"]);
  });
});

describe("v2 lists are followed through their pages", () => {
  /** Three pages of two items; the cursors have characters a query string must encode. */
  const CURSORS = [null, "c/1 +&=x", "c2%"];
  function pages(key: string, items: unknown[]): Handler {
    return (_n, req, res) => {
      const q = new URL(req.url ?? "", "http://x").searchParams;
      const at = CURSORS.indexOf(q.get("cursor"));
      if (at < 0) return apiError(res, 400, "invalid_input");
      json(res, 200, {
        [key]: items.slice(2 * at, 2 * at + 2),
        next_cursor: at + 1 < CURSORS.length ? CURSORS[at + 1] : null,
      });
    };
  }
  function seen(s: FakeServer): { path: string; limit: string | null; cursor: string | null }[] {
    return s.requests.map((r) => {
      const u = new URL(r.url, "http://x");
      return { path: u.pathname, limit: u.searchParams.get("limit"), cursor: u.searchParams.get("cursor") };
    });
  }

  test("spaces: three pages merged, each cursor passed back as given", async () => {
    const s = await serve(pages("spaces", ["a", "b", "c", "d", "e", "f"]));
    assert.deepEqual(await new Client(s.url, { retry: FAST }).spaces(), ["a", "b", "c", "d", "e", "f"]);
    assert.deepEqual(
      seen(s),
      CURSORS.map((cursor) => ({ path: "/api/v2/spaces", limit: "1000", cursor })),
    );
  });

  test("neighbors, concepts, concept members and episode concepts (ids as strings)", async () => {
    const sp = (key: string, items: unknown[]): Promise<FakeServer> => serve(pages(key, items));
    const nb = [1, 2, 3, 4, 5, 6].map((i) => ({ id: String(i), weight: i / 10, kind: "association" }));
    let s = await sp("neighbors", nb);
    const got = await new Client(s.url, { retry: FAST }).space("x y").neighbors(9);
    assert.deepEqual(got.map((n) => n.id), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(seen(s).map((r) => [r.path, r.cursor]), CURSORS.map((c) => ["/api/v2/spaces/x%20y/memories/9/neighbors", c]));
    await s.close();

    const concept = (i: number): unknown => ({
      id: String(i),
      centroid: [1, 0],
      coherence: 0.9,
      confidence: 0.8,
      formed_at: 1,
      updated_at: 2,
      members: [String(10 * i), 10 * i + 1],
    });
    s = await sp("concepts", [1, 2, 3, 4, 5, 6].map(concept));
    const concepts = await new Client(s.url, { retry: FAST }).space("a").concepts();
    assert.deepEqual(concepts.map((c) => c.id), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(concepts[5]?.members, [60, 61]);
    assert.equal(s.requests.length, 3);
    await s.close();

    s = await sp("members", ["11", "12", "13", "14", "15", "9007199254740991"]);
    assert.deepEqual(await new Client(s.url, { retry: FAST }).space("a").conceptMembers(7), [
      11, 12, 13, 14, 15, Number.MAX_SAFE_INTEGER,
    ]);
    assert.deepEqual(seen(s).map((r) => r.path), Array(3).fill("/api/v2/spaces/a/concepts/7/members"));
    await s.close();

    s = await sp("concepts", ["1", "2", "3", "4", "5", "6"]);
    assert.deepEqual(await new Client(s.url, { retry: FAST }).space("a").episodeConcepts(3), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(seen(s).map((r) => r.cursor), CURSORS);
  });

  test("pageLimit sets the limit; a failed page is retried alone", async () => {
    let failed = false;
    const list = pages("spaces", ["a", "b", "c", "d", "e", "f"]);
    const s = await serve((n, req, res, r) => {
      if (n === 1 && !failed) {
        failed = true;
        return apiError(res, 503, "not_ready", { retry_after_ms: 1 });
      }
      list(n, req, res, r);
    });
    assert.deepEqual(await new Client(s.url, { retry: FAST, pageLimit: 2 }).spaces(), ["a", "b", "c", "d", "e", "f"]);
    assert.deepEqual(
      seen(s).map((r) => [r.limit, r.cursor]),
      [["2", null], ["2", CURSORS[1]], ["2", CURSORS[1]], ["2", CURSORS[2]]],
    );
  });

  test("a list that never ends fails after maxPages; a bad cursor is unreadable", async () => {
    let s = await serve((n, _req, res) => json(res, 200, { spaces: [String(n)], next_cursor: `p${n}` }));
    await assert.rejects(
      new Client(s.url, { retry: FAST, maxPages: 5 }).spaces(),
      (e) => e instanceof TransportError && /did not end after 5 pages/.test(e.message),
    );
    assert.equal(s.requests.length, 5);
    await s.close();
    s = await serve((_n, _req, res) => json(res, 200, { spaces: [], next_cursor: 7 }));
    await assert.rejects(new Client(s.url, { retry: FAST }).spaces(), TransportError);
  });

  test("an id beyond Number.MAX_SAFE_INTEGER fails loudly instead of being rounded", async () => {
    const s = await serve((n, _req, res) =>
      n === 0
        ? json(res, 200, { members: ["9007199254740993"], next_cursor: null })
        : res.writeHead(200, { "Content-Type": "application/json" }).end('{"results": [{"id": 9007199254740993, "score": 1}]}'),
    );
    const sp = new Client(s.url, { retry: FAST }).space("a");
    await assert.rejects(
      sp.conceptMembers(1),
      (e) => e instanceof TransportError && /9007199254740993 is beyond Number.MAX_SAFE_INTEGER/.test(e.message),
    );
    await assert.rejects(
      new Client(s.url, { retry: FAST, apiVersion: "v1" }).space("a").search([1], { k: 1 }),
      (e) => e instanceof TransportError && /MAX_SAFE_INTEGER/.test(e.message),
    );
  });
});

describe("API v2 errors", () => {
  test("field and retry_after_ms may be null; field is read when given", async () => {
    const s = await serve((n, _req, res) =>
      n === 0
        ? apiError(res, 400, "invalid_input", { field: "/items/1/embedding", retry_after_ms: null })
        : apiError(res, 400, "invalid_input", { field: null, retry_after_ms: null }),
    );
    const sp = new Client(s.url, { retry: FAST }).space("a");
    await assert.rejects(sp.rememberBatch([{ embedding: [1] }, { embedding: [] }]), (e) => {
      assert.ok(e instanceof InvalidInput);
      assert.equal(e.field, "/items/1/embedding");
      assert.equal(e.retryAfterMs, null);
      return true;
    });
    await assert.rejects(sp.search([1]), (e) => e instanceof InvalidInput && e.field === null);
  });
});
