/**
 * The client against a real engramd: what the conformance scenario does not cover (base64
 * embeddings, typed arrays, batches, options, stats, the typed errors' fields) and a larger
 * observation stream.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import {
  Client,
  IdempotencyConflict,
  InvalidInput,
  MemoryNotFound,
  NotFound,
  PermissionDenied,
  SpaceNotFound,
  Unauthenticated,
} from "../src/index.js";
import { loadScenario } from "./support/conformance.js";
import { type Engramd, startEngramd } from "./support/engramd.js";
import { CONFORMANCE_DIR } from "./support/paths.js";

const KEYS = loadScenario().keys;
const ADMIN = KEYS["admin"]!;

describe("against engramd", () => {
  let server: Engramd;
  let client: Client;

  before(async () => {
    const keys = path.join(CONFORMANCE_DIR, "keys.json");
    server = await startEngramd(["--host", "127.0.0.1", "--port", "0", "--api-keys", keys, "--in-memory", "--dim", "4"]);
    client = new Client(server.url, { apiKey: ADMIN });
  });

  after(async () => {
    await server?.stop();
  });

  test("base64 embeddings and typed arrays round-trip exactly", async () => {
    const b64 = new Client(server.url, { apiKey: ADMIN, embeddings: "base64" });
    const sp = await b64.createSpace("b64", { dim: 4 });
    const v = new Float32Array([0.1, -0.2, 0.3, 1 / 3]);
    const id = await sp.remember(v, { content: "x", metadata: { k: "v" }, timestamp: 1700000000.5, confidence: 0.25 });
    const m = await sp.get(id);
    assert.deepEqual(m.embedding, Array.from(v), "float32 bits preserved");
    assert.deepEqual(m.metadata, { k: "v" });
    assert.equal(m.timestamp, 1700000000.5);
    assert.equal(m.confidence, 0.25);
    const ids = await sp.rememberBatch([
      { embedding: new Float64Array([0, 1, 0, 0]), metadata: { a: "1" } },
      { embedding: [0, 0, 1, 0], timestamp: 5 },
    ]);
    assert.equal(ids.length, 2);
    assert.deepEqual((await sp.search(v, { k: 1 }))[0]?.id, id);
    const batch = await sp.searchBatch([v, [0, 1, 0, 0]], { k: 1 });
    assert.deepEqual(batch.map((r) => r[0]?.id), [id, ids[0]]);
    const rb = await sp.recallBatch([v], { k: 2, mode: "episodic", spreading: false });
    assert.equal(rb.length, 1);
    assert.equal(rb[0]?.[0]?.id, id);
    assert.equal(rb[0]?.[0]?.provenance.kind, "episodic");
    assert.deepEqual(await sp.info(), { name: "b64", dim: 4, memories: 3 });
    await b64.dropSpace("b64");
  });

  test("graph calls, options and reports", async () => {
    const sp = await client.createSpace("graph", { dim: 4, M: 8, efSearch: 32 });
    const [a, b, c] = await sp.rememberBatch([
      { embedding: [1, 0, 0, 0] },
      { embedding: [0, 1, 0, 0] },
      { embedding: [0, 0, 1, 0] },
    ]);
    assert.ok(a !== undefined && b !== undefined && c !== undefined);
    assert.deepEqual(await sp.linkBatch([{ src: a, dst: b, weight: 0.5 }, { src: b, dst: c, kind: "association", weight: 0.75 }]), [true, true]);
    assert.deepEqual(await sp.neighbors(b), [{ id: c, weight: 0.75, kind: "association" }]);
    const spread = await sp.spread(new Map([[a, 0.9]]), { maxHops: 1, threshold: 0.0001 });
    assert.deepEqual(spread.map((x) => x.id).sort(), [a, b].sort());
    const spread2 = await sp.spread({ [String(a)]: 1 }, { maxHops: 2, threshold: 0.0001 });
    assert.equal(spread2.length, 3);
    const comp = await sp.complete([1, Number.NaN, 0, 0], { hypotheses: 2 });
    assert.equal(comp.knownDims, 3);
    assert.equal(comp.vector.length, 4);
    assert.ok(comp.alternatives.length <= 2);
    const report = await sp.consolidate({ minClusterSize: 2 });
    assert.deepEqual(report.formed, []);
    assert.equal(typeof report.episodesConsidered, "number");
    assert.deepEqual(await sp.episodeConcepts(a), []);
    const stats = await sp.stats();
    assert.equal(stats["episodes"], 3);
    assert.ok("spaces" in (await client.stats()));
    assert.equal(await client.ready(), true);
    await sp.forget(c);
    await assert.rejects(sp.get(c), MemoryNotFound);
  });

  test("typed errors from the server carry code, status and request id", async () => {
    await assert.rejects(client.space("nowhere").get(1), (e) => {
      assert.ok(e instanceof SpaceNotFound);
      assert.equal(e.status, 404);
      assert.match(e.requestId, /^[0-9a-f]{16,}$/);
      return true;
    });
    await assert.rejects(new Client(server.url).spaces(), Unauthenticated);
    await assert.rejects(new Client(server.url, { apiKey: KEYS["reader"]! }).createSpace("r"), PermissionDenied);
    await assert.rejects(new Client(server.url, { apiKey: ADMIN, apiVersion: "v9" }).spaces(), (e) => {
      // a version this server does not serve: 404 route_not_found, or 400 unsupported_api_version once v2 exists
      return e instanceof NotFound || (e instanceof Error && "code" in e && e.code === "unsupported_api_version");
    });
    const sp = await client.createSpace("keys", { dim: 4 });
    const first = await sp.remember([1, 0, 0, 0], { idempotencyKey: "k-1" });
    assert.equal(await sp.remember([1, 0, 0, 0], { idempotencyKey: "k-1" }), first);
    await assert.rejects(sp.remember([0, 1, 0, 0], { idempotencyKey: "k-1" }), IdempotencyConflict);
  });

  test("v2 lists are followed through pages of pageLimit items; v1 answers in one", async () => {
    const urls: string[] = [];
    const counting: typeof fetch = (input, init) => {
      urls.push(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
      return fetch(input, init);
    };
    const paged = new Client(server.url, { apiKey: ADMIN, pageLimit: 2, fetch: counting });
    for (let i = 0; i < 5; i++) await paged.createSpace(`paged-${i}`, { dim: 4 });
    const v1 = new Client(server.url, { apiKey: ADMIN, apiVersion: "v1", onDeprecated: () => undefined });
    const all = await v1.spaces();
    assert.ok(all.length >= 5);
    urls.length = 0;
    assert.deepEqual(await paged.spaces(), all, "the pages merged, in the server's order");
    assert.equal(urls.length, Math.ceil(all.length / 2), urls.join("\n"));
    assert.match(urls[0]!, /\/api\/v2\/spaces\?limit=2$/);
    assert.match(urls[1]!, /\/api\/v2\/spaces\?limit=2&cursor=./);

    const sp = paged.space("paged-0");
    const ids = await sp.rememberBatch([0, 1, 2, 3, 4, 5].map((i) => ({ embedding: [1, i, 0, 0] })));
    const [src, ...dsts] = ids as [number, ...number[]];
    await sp.linkBatch(dsts.map((dst, i) => ({ src, dst, weight: (i + 1) / 10 })));
    urls.length = 0;
    const nb = await sp.neighbors(src);
    assert.equal(urls.length, 3, "5 neighbours in pages of 2");
    assert.deepEqual(nb, await v1.space("paged-0").neighbors(src));
    assert.deepEqual(nb.map((n) => n.id).sort((a, b) => a - b), dsts);
    for (let i = 0; i < 5; i++) await paged.dropSpace(`paged-${i}`);
  });

  test("v2 errors name the field they are about; v1 errors do not", async () => {
    const sp = await client.createSpace("fields", { dim: 4 });
    const batch = [{ embedding: [1, 0, 0, 0] }, { embedding: [] }];
    await assert.rejects(sp.rememberBatch(batch), (e) => {
      assert.ok(e instanceof InvalidInput, String(e));
      assert.equal(e.code, "invalid_input");
      assert.equal(e.field, "/items/1/embedding");
      assert.equal(e.retryAfterMs, null);
      return true;
    });
    const b64 = new Client(server.url, { apiKey: ADMIN, embeddings: "base64" }).space("fields");
    await assert.rejects(b64.rememberBatch(batch), (e) => e instanceof InvalidInput && e.field === "/items/1/embedding");
    await assert.rejects(sp.search([1, 0, 0, 0], { k: 0 }), (e) => e instanceof InvalidInput && e.field === "/k");
    await assert.rejects(client.space("nowhere").info(), (e) => e instanceof SpaceNotFound && e.field === null);
    const v1 = new Client(server.url, { apiKey: ADMIN, apiVersion: "v1", onDeprecated: () => undefined });
    await assert.rejects(v1.space("fields").rememberBatch(batch), (e) => e instanceof InvalidInput && e.field === null);
  });

  test("a deprecated route is a DeprecationWarning once per route (v1), none in v2", async () => {
    const warnings: Error[] = [];
    const listen = (w: Error): void => {
      if ((w as Error & { code?: string }).code === "ENGRAM_DEPRECATED_ROUTE") warnings.push(w);
    };
    process.on("warning", listen);
    try {
      const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 20)); // warnings are emitted on a later tick
      const v2 = new Client(server.url, { apiKey: ADMIN });
      const sp2 = await v2.createSpace("deprecation-a", { dim: 4 });
      const id2 = await sp2.remember([1, 0, 0, 0]);
      await sp2.get(id2);
      await v2.spaces();
      await tick();
      assert.equal(warnings.length, 0, "v2 is not deprecated");

      const v1 = new Client(server.url, { apiKey: ADMIN, apiVersion: "v1" });
      await v1.createSpace("deprecation-b", { dim: 4 });
      const ids = await v1.space("deprecation-b").rememberBatch([{ embedding: [1, 0, 0, 0] }, { embedding: [0, 1, 0, 0] }]);
      await tick();
      warnings.length = 0;
      await v1.space("deprecation-b").get(ids[0]!);
      await v1.space("deprecation-b").get(ids[1]!);
      await v1.space("deprecation-a").get(id2); // another space, the same route
      await tick();
      assert.equal(warnings.length, 1, warnings.map((w) => w.message).join("\n"));
      const w = warnings[0]!;
      assert.equal(w.name, "DeprecationWarning");
      assert.match(w.message, /deprecates GET \/api\/v1\/spaces\/\{space\}\/memories\/\{id\} /);
      assert.match(w.message, /Sunset: Wed, 01 Jul 2027 00:00:00 GMT/);
      assert.match(w.message, /migration notes at \/api\/migration\/v1-to-v2/);
      await v1.spaces(); // another route: told once too
      await v1.spaces();
      await new Client(server.url, { apiKey: ADMIN, apiVersion: "v1" }).spaces(); // once per process
      await tick();
      assert.equal(warnings.length, 2);
      assert.match(warnings[1]!.message, /deprecates GET \/api\/v1\/spaces \(/);
    } finally {
      process.removeListener("warning", listen);
    }
  });

  test("a stream of 300 observations with a small window: every one stored once, in order", async () => {
    const sp = await client.createSpace("stream", { dim: 4 });
    const st = await client.stream("stream", { window: 16, maxBuffered: 64 });
    const order: number[] = [];
    for (let i = 0; i < 300; i++) {
      order.push(await st.send({ embedding: [1, i / 300, 0, 0], content: `n${i}`, metadata: { i: String(i) } }));
    }
    const acked = await st.flush();
    await st.close();
    const ids = order.map((i) => {
      const id = acked.get(i);
      assert.equal(typeof id, "number", `observation ${i} acknowledged`);
      return id as number;
    });
    assert.equal(new Set(ids).size, 300);
    assert.deepEqual([...ids].sort((x, y) => x - y), ids, "stored in send order");
    assert.equal((await sp.info()).memories, 300);
    const last = await sp.get(ids[299] ?? -1);
    assert.equal(last.content, "n299");
    assert.deepEqual(last.metadata, { i: "299" });
    assert.equal(st.connections, 1);
  });

  test("a stream is refused at open for an unknown space or a reader key", async () => {
    await assert.rejects(client.stream("nowhere"), (e) => e instanceof SpaceNotFound && e.status === 404);
    const reader = new Client(server.url, { apiKey: KEYS["reader"]! });
    await assert.rejects(reader.stream("stream"), (e) => e instanceof PermissionDenied && e.status === 403);
  });
});
