/**
 * The observation stream against a scripted WebSocket server: resending what was not
 * acknowledged after a lost connection, retryable and final rejects, fatal errors, the window,
 * and StreamBook's bookkeeping on its own.
 */
import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";

import {
  Client,
  DimensionError,
  EngramError,
  StreamBook,
  TransportError,
  Unauthenticated,
  type ObservationStream,
} from "../src/index.js";
import { type FakeStreamServer, type Msg, ack, fakeStreamServer, indexOf } from "./support/ws.js";

const RECONNECT = { baseMs: 5, maxMs: 20, deadlineMs: 5000 };

let server: FakeStreamServer | null = null;
let stream: ObservationStream | null = null;

afterEach(async () => {
  await stream?.close(1000).catch(() => undefined);
  stream = null;
  await server?.close();
  server = null;
});

const obs = (i: number): { embedding: number[]; content: string } => ({ embedding: [i, 1, 0, 0], content: `o${i}` });

async function sendAll(s: ObservationStream, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await s.send(obs(i)));
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("ObservationStream", () => {
  test("after a lost connection, everything unacknowledged is resent in order with the same keys", async () => {
    server = await fakeStreamServer({
      onObservation: (c, o) => {
        if (c.n === 0) {
          if (indexOf(o) < 2) ack(c, o); // 2 is stored but its ack is lost with the connection
          if (c.received.length === 5) c.ws.terminate();
        } else {
          ack(c, o, indexOf(o) === 2);
        }
      },
    });
    const client = new Client(server.url, { apiKey: "engram_k_secret" });
    stream = await client.stream("sci ence", { reconnect: RECONNECT });
    assert.deepEqual(await sendAll(stream, 5), [0, 1, 2, 3, 4]);
    const ids = await stream.flush(5000);
    assert.deepEqual([...ids.entries()].sort((a, b) => a[0] - b[0]), [
      [0, 1000],
      [1, 1001],
      [2, 1002],
      [3, 1003],
      [4, 1004],
    ]);
    const [first, second] = server.connections;
    assert.ok(first && second);
    assert.equal(first.path, "/api/v2/spaces/sci%20ence/stream");
    assert.equal(first.headers["authorization"], "Bearer engram_k_secret");
    assert.equal(second.headers["authorization"], "Bearer engram_k_secret");
    assert.deepEqual(first.received.map((m) => m["seq"]), [1, 2, 3, 4, 5]);
    assert.deepEqual(second.received.map(indexOf), [2, 3, 4], "the unacknowledged ones, in order");
    assert.deepEqual(second.received.map((m) => m["seq"]), [1, 2, 3], "seq starts again on a new connection");
    assert.deepEqual(
      second.received.map((m) => m["idempotency_key"]),
      first.received.slice(2).map((m) => m["idempotency_key"]),
      "the same keys, so the server stores nothing twice",
    );
    const m0 = first.received[0]!;
    assert.equal(m0["type"], "observation");
    assert.deepEqual(m0["embedding"], [0, 1, 0, 0]);
    assert.equal(m0["content"], "o0");
    assert.equal(m0["confidence"], 1);
    assert.match(String(m0["idempotency_key"]), /^[0-9a-f]{32}-0$/);
    assert.equal(stream.connections, 2);
    assert.equal(stream.book.carried, 3);
    assert.equal(stream.book.replayed, 1);
  });

  test("a retryable reject is resent after its delay", async () => {
    const sentAt: number[] = [];
    server = await fakeStreamServer({
      onObservation: (c, o) => {
        if (indexOf(o) !== 0) return ack(c, o);
        sentAt.push(performance.now());
        if (sentAt.length === 1) {
          c.send({ type: "reject", seq: o["seq"], code: "overloaded", message: "busy", retryable: true, retry_after_ms: 40 });
        } else {
          ack(c, o);
        }
      },
    });
    stream = await new Client(server.url).stream("s", { reconnect: RECONNECT });
    await sendAll(stream, 2);
    const ids = await stream.flush(5000);
    assert.equal(ids.get(0), 1000);
    assert.equal(ids.get(1), 1001);
    assert.equal(sentAt.length, 2);
    assert.ok(sentAt[1]! - sentAt[0]! >= 35, `resent after ${sentAt[1]! - sentAt[0]!} ms`);
    const keys = server.connections[0]!.received.filter((m) => indexOf(m) === 0).map((m) => m["idempotency_key"]);
    assert.equal(keys[0], keys[1]);
    assert.equal(stream.book.resent, 1);
    assert.equal(stream.connections, 1);
  });

  test("a final reject is reported in failed; the others are stored", async () => {
    server = await fakeStreamServer({
      onObservation: (c, o) =>
        indexOf(o) === 1
          ? c.send({ type: "reject", seq: o["seq"], code: "dimension_mismatch", message: "4 != 3", retryable: false })
          : ack(c, o),
    });
    stream = await new Client(server.url).stream("s");
    await sendAll(stream, 3);
    const ids = await stream.flush(5000);
    assert.deepEqual([...ids.keys()].sort(), [0, 2]);
    const err = stream.failed.get(1);
    assert.ok(err instanceof DimensionError);
    assert.equal(err.code, "dimension_mismatch");
  });

  test("an error message ends the stream for good", async () => {
    server = await fakeStreamServer({
      onObservation: (c) => {
        c.send({ type: "error", code: "protocol_error", message: "seq 1 does not follow 1", close: 4400 });
        c.ws.close(4400, "protocol_error");
      },
    });
    stream = await new Client(server.url).stream("s", { reconnect: RECONNECT });
    await stream.send(obs(0));
    await assert.rejects(stream.flush(5000), (e) => e instanceof EngramError && e.code === "protocol_error" && e.status === 400);
    await assert.rejects(stream.send(obs(1)), (e) => e instanceof EngramError && e.code === "protocol_error");
    await sleep(100);
    assert.equal(server.connections.length, 1, "no reconnection after a fatal error");
  });

  test("a refused stream fails at open with the typed error", async () => {
    server = await fakeStreamServer({
      onOpen: (c) => {
        c.send({ type: "error", code: "unauthenticated", message: "unknown API key" });
        c.ws.close(4401, "unauthenticated");
      },
      onObservation: () => undefined,
    });
    await assert.rejects(
      new Client(server.url, { apiKey: "bad" }).stream("s"),
      (e) => e instanceof Unauthenticated && e.status === 401 && e.code === "unauthenticated",
    );
  });

  test("acks with string ids (API v2) are read; an id beyond 2^53 ends the stream loudly", async () => {
    server = await fakeStreamServer({
      onObservation: (c, o) =>
        c.send({ type: "ack", seq: o["seq"], id: indexOf(o) === 0 ? "1099511627777" : "9007199254740993" }),
    });
    stream = await new Client(server.url).stream("s", { reconnect: RECONNECT });
    await stream.send(obs(0));
    await stream.send(obs(1));
    await assert.rejects(
      stream.flush(5000),
      (e) => e instanceof TransportError && /9007199254740993 is beyond Number.MAX_SAFE_INTEGER/.test(e.message),
    );
    assert.equal(stream.book.acked.get(0), 1099511627777);
  });

  test("a lost server is given up after the reconnection deadline", async () => {
    server = await fakeStreamServer({ onObservation: () => undefined });
    stream = await new Client(server.url).stream("s", { reconnect: { baseMs: 5, maxMs: 20, deadlineMs: 200 } });
    await stream.send(obs(0));
    await server.close();
    server = null;
    const t0 = performance.now();
    await assert.rejects(stream.flush(5000), (e) => e instanceof TransportError && /not re-established/.test(e.message));
    assert.ok(performance.now() - t0 < 2000);
  });

  test("no more than the server's max_outstanding are in flight", async () => {
    let unacked = 0;
    let most = 0;
    server = await fakeStreamServer({
      onOpen: (c) => c.send({ type: "ready", session: "s", max_outstanding: 3, queue_limit: 100 }),
      onObservation: (c, o) => {
        unacked++;
        most = Math.max(most, unacked);
        setTimeout(() => {
          unacked--;
          ack(c, o);
        }, 2);
      },
    });
    stream = await new Client(server.url).stream("s");
    await sendAll(stream, 20);
    assert.equal((await stream.flush(5000)).size, 20);
    assert.equal(most, 3);
    assert.equal(stream.book.window, 3);
  });

  test("send waits while maxBuffered observations are unacknowledged", async () => {
    server = await fakeStreamServer({ onObservation: (c, o) => setTimeout(() => ack(c, o), 150) });
    stream = await new Client(server.url).stream("s", { maxBuffered: 2 });
    const t0 = performance.now();
    await stream.send(obs(0));
    await stream.send(obs(1));
    assert.ok(performance.now() - t0 < 100);
    await stream.send(obs(2));
    assert.ok(performance.now() - t0 >= 140, "the third send waited for an ack");
    await assert.rejects(
      (async () => {
        await stream.send(obs(3));
        await stream.send(obs(4), 10);
      })(),
      TransportError,
    );
    assert.equal((await stream.flush(5000)).size, 4);
  });

  test("a draining server is left and the rest is sent on a new connection", async () => {
    server = await fakeStreamServer({
      onObservation: (c, o) => {
        ack(c, o);
        if (c.n === 0) {
          c.send({ type: "draining", outstanding: 0 });
          c.ws.close(1001, "server shutting down");
        }
      },
    });
    stream = await new Client(server.url).stream("s", { reconnect: RECONNECT });
    await stream.send(obs(0));
    assert.equal((await stream.flush(5000)).get(0), 1000);
    await stream.send(obs(1));
    assert.equal((await stream.flush(5000)).get(1), 1001);
    assert.equal(server.connections.length, 2);
    assert.deepEqual(server.connections[1]!.received.map(indexOf), [1]);
  });
});

describe("StreamBook", () => {
  const body = (): Msg => ({ embedding: [1], content: "" });

  test("in-flight observations go back to the front of the outbox, in index order", () => {
    const b = new StreamBook("sid", 3);
    for (let i = 0; i < 5; i++) b.add(body(), undefined);
    const sent = [b.nextMessage(0), b.nextMessage(0), b.nextMessage(0), b.nextMessage(0)];
    assert.equal(sent[3], null, "the window is full");
    assert.deepEqual(
      sent.slice(0, 3).map((m) => (JSON.parse(m!) as Msg)["seq"]),
      [1, 2, 3],
    );
    b.onMessage({ type: "ack", seq: 2, id: 77, replayed: false }, 0);
    b.onDisconnect();
    assert.deepEqual(b.outbox, [0, 2, 3, 4]);
    assert.equal(b.nextSeq, 1);
    assert.equal(b.unacked, 4);
    assert.deepEqual([...b.acked], [[1, 77]]);
    const again = JSON.parse(b.nextMessage(0)!) as Msg;
    assert.equal(again["seq"], 1);
    assert.equal(again["idempotency_key"], "sid-0");
  });

  test("retryable rejects wait for their delay and pause the sender; flow slows it", () => {
    const b = new StreamBook("sid", 10);
    b.add(body(), "own-key");
    b.add(body(), undefined);
    b.nextMessage(0);
    b.onMessage({ type: "reject", seq: 1, code: "overloaded", retryable: true, retry_after_ms: 100 }, 0);
    assert.ok(b.pauseUntil >= 50 && b.pauseUntil <= 75);
    assert.equal(b.nextMessage(10), null, "paused");
    assert.equal(b.wakeAt(10), b.pauseUntil);
    const next = JSON.parse(b.nextMessage(80)!) as Msg;
    assert.equal(next["idempotency_key"], "sid-1", "the other one goes first while 0 waits");
    const resent = JSON.parse(b.nextMessage(151)!) as Msg;
    assert.equal(resent["idempotency_key"], "own-key");
    b.onMessage({ type: "flow", state: "overloaded", queue_depth: 9 }, 200);
    assert.equal(b.flowState, "overloaded");
    assert.equal(b.pauseUntil, 250);
  });

  test("ready caps the window; stray acks are ignored", () => {
    const b = new StreamBook("sid", 256);
    b.onMessage({ type: "ready", max_outstanding: 16 }, 0);
    assert.equal(b.window, 16);
    b.onMessage({ type: "ack", seq: 99, id: 1 }, 0);
    assert.equal(b.acked.size, 0);
  });
});
