/**
 * Streaming ingestion with automatic reconnection: `client.stream(space)` (the Python client's
 * engram/client/stream.py, on Node's event loop).
 *
 * Every observation gets an idempotency key (`<stream id>-<index>`) and stays in memory until the
 * server acknowledges it, which it does only once the observation is stored. After a lost
 * connection the stream reconnects (exponential backoff with jitter) and resends everything not
 * yet acknowledged, in order; the server recognises the keys, so nothing is stored twice. Flow
 * messages slow the sender down, retryable rejects are resent after their delay, and the number
 * of unacknowledged observations is bounded (`send` waits), so memory stays bounded too.
 *
 * ```ts
 * const s = await client.stream("science");
 * for (const v of vectors) await s.send({ embedding: v, content: "..." });
 * const ids = await s.flush(); // index -> memory id, once all are acknowledged
 * await s.close();
 * ```
 */
import { randomUUID } from "node:crypto";

import WebSocket from "ws";

import { toId } from "./encoding.js";
import { type EngramError, TransportError, errorFromBody } from "./errors.js";
import { type RetryOptions, type RetryPolicy, sleep, toPolicy } from "./retry.js";
import type { Embedding, Metadata } from "./types.js";

/** One observation to store. */
export interface Observation {
  embedding: Embedding;
  content?: string;
  confidence?: number;
  timestamp?: number | null;
  metadata?: Metadata | null;
  /** Default: `<stream id>-<index>`. */
  idempotencyKey?: string;
}

export interface StreamOptions {
  /** The API key (default: the client's). */
  apiKey?: string | null;
  /** Most observations in flight on the connection (default 256; the server's max_outstanding caps it). */
  window?: number;
  /** Most observations unacknowledged before `send` waits (default 10000). */
  maxBuffered?: number;
  /** How a lost connection is re-established (default: 50 ms doubling to 2 s, for up to 60 s). */
  reconnect?: RetryPolicy | RetryOptions;
  /** Milliseconds to open a connection and get the server's `ready` (default 10000). */
  openTimeoutMs?: number;
}

type Message = Record<string, unknown>;

/** The state of a stream, without any I/O: what is unacknowledged, what to (re)send next. Times in ms. */
export class StreamBook {
  readonly streamId: string;
  window: number;
  /** index -> message body, until acknowledged */
  readonly payloads = new Map<number, Message>();
  /** indexes to send, in order */
  outbox: number[] = [];
  /** seq -> index, on the current connection */
  readonly inflight = new Map<number, number>();
  /** (not before, index) after a retryable reject */
  delayed: { at: number; index: number }[] = [];
  /** index -> memory id */
  readonly acked = new Map<number, number>();
  /** index -> why the server refused it for good */
  readonly failed = new Map<number, EngramError>();
  /** acks for observations the server already had (after a lost ack) */
  replayed = 0;
  /** retryable rejects, sent again after their delay */
  resent = 0;
  /** unacknowledged observations carried over to a new connection */
  carried = 0;
  nextIndex = 0;
  nextSeq = 1;
  pauseUntil = 0;
  /** the last backpressure level the server sent */
  flowState = "normal";

  constructor(streamId: string, window: number) {
    this.streamId = streamId;
    this.window = window;
  }

  add(body: Message, key: string | undefined): number {
    const i = this.nextIndex++;
    body["idempotency_key"] = key ?? `${this.streamId}-${i}`;
    this.payloads.set(i, body);
    this.outbox.push(i);
    return i;
  }

  get unacked(): number {
    return this.payloads.size;
  }

  /** The next observation to put on the wire, or null (window full, paused, nothing to send). */
  nextMessage(now: number): string | null {
    if (this.delayed.length > 0) {
      const ready = this.delayed.filter((d) => d.at <= now);
      if (ready.length > 0) {
        this.delayed = this.delayed.filter((d) => d.at > now);
        ready.sort((a, b) => a.index - b.index);
        this.outbox.unshift(...ready.map((d) => d.index));
      }
    }
    if (this.outbox.length === 0 || this.inflight.size >= this.window || now < this.pauseUntil) return null;
    const i = this.outbox.shift()!;
    const seq = this.nextSeq++;
    this.inflight.set(seq, i);
    return JSON.stringify({ type: "observation", seq, ...this.payloads.get(i) });
  }

  /** When {@link nextMessage} may have something again without any message arriving (null: only then). */
  wakeAt(now: number): number | null {
    let at: number | null = null;
    if (this.outbox.length > 0 && this.inflight.size < this.window && now < this.pauseUntil) at = this.pauseUntil;
    for (const d of this.delayed) at = at === null ? d.at : Math.min(at, d.at);
    return at;
  }

  onMessage(msg: Message, now: number): void {
    const kind = msg["type"];
    if (kind === "ack") {
      const i = this.inflight.get(Number(msg["seq"]));
      if (i === undefined) return;
      const id = toId(msg["id"]); // throws (before any bookkeeping) on an id a number cannot hold
      this.inflight.delete(Number(msg["seq"]));
      if (this.payloads.delete(i)) {
        this.acked.set(i, id);
        if (msg["replayed"] === true) this.replayed++;
      }
    } else if (kind === "reject") {
      const i = this.inflight.get(Number(msg["seq"]));
      if (i === undefined) return;
      this.inflight.delete(Number(msg["seq"]));
      if (msg["retryable"] === true) {
        this.resent++;
        const ms = typeof msg["retry_after_ms"] === "number" ? msg["retry_after_ms"] : 50;
        const delay = ms * (1 + Math.random() * 0.5);
        this.delayed.push({ at: now + delay, index: i });
        this.pauseUntil = Math.max(this.pauseUntil, now + delay / 2);
      } else {
        this.payloads.delete(i);
        this.failed.set(i, errorFromBody(400, { error: msg }));
      }
    } else if (kind === "flow") {
      // critical is the backpressure signal (80% full); slow_down its name on older servers
      const state = String(msg["state"]);
      this.flowState = state;
      if (state === "critical" || state === "slow_down") this.pauseUntil = Math.max(this.pauseUntil, now + 2);
      else if (state === "overloaded") this.pauseUntil = Math.max(this.pauseUntil, now + 50);
    } else if (kind === "ready") {
      const max = msg["max_outstanding"];
      if (typeof max === "number" && max > 0) this.window = Math.min(this.window, max);
    }
  }

  /** Everything in flight goes back to the front of the outbox, in index order. */
  onDisconnect(): void {
    const back = [...this.inflight.values()].sort((a, b) => a - b);
    this.outbox.unshift(...back);
    this.inflight.clear();
    this.nextSeq = 1; // sequence numbers are per connection
  }

  /** A new connection opened after a loss: everything unacknowledged goes out on it. */
  onReconnect(): void {
    this.carried += this.unacked;
  }
}

function text(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return data.toString("utf8");
}

function parseMessage(raw: string): Message {
  const v = JSON.parse(raw) as unknown;
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`not a JSON object: ${raw.slice(0, 200)}`);
  return v as Message;
}

/** The HTTP status an `error` message stands for (it closes with 4000 + status). */
function statusOf(msg: Message, fallback: number): number {
  const close = msg["close"];
  if (typeof close === "number" && close >= 4000 && close < 5000) return close - 4000;
  const byCode: Record<string, number> = { unauthenticated: 401, forbidden: 403, space_not_found: 404, invalid_input: 400 };
  const code = msg["code"];
  return typeof code === "string" && byCode[code] !== undefined ? byCode[code] : fallback;
}

/** A reconnecting stream of observations into one space (see the module comment). */
export class ObservationStream {
  readonly url: string;
  readonly space: string;
  readonly book: StreamBook;
  readonly maxBuffered: number;
  readonly reconnectPolicy: RetryPolicy;
  /** Connections opened so far (1 + reconnections). */
  connections = 0;
  private readonly headers: Record<string, string>;
  private readonly openTimeoutMs: number;
  private ws: WebSocket | null = null;
  private error: EngramError | null = null;
  private closing = false;
  private closed = false;
  private waiters: (() => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;

  private constructor(baseUrl: string, apiPrefix: string, space: string, options: StreamOptions) {
    const ws = baseUrl.replace(/^http:\/\//, "ws://").replace(/^https:\/\//, "wss://").replace(/\/+$/, "");
    this.url = `${ws}${apiPrefix}/spaces/${encodeURIComponent(space)}/stream`;
    this.space = space;
    this.maxBuffered = options.maxBuffered ?? 10_000;
    // rides out a partition of up to a minute: the deadline bounds the reconnection, not a count of tries
    this.reconnectPolicy = toPolicy(options.reconnect, { attempts: 1000, baseMs: 50, maxMs: 2000, deadlineMs: 60_000 });
    this.headers = options.apiKey ? { Authorization: `Bearer ${options.apiKey}` } : {};
    this.openTimeoutMs = options.openTimeoutMs ?? 10_000;
    this.book = new StreamBook(randomUUID().replaceAll("-", ""), options.window ?? 256);
  }

  /** Opens the stream (fails fast on a bad URL, key or space). */
  static async open(baseUrl: string, apiPrefix: string, space: string, options: StreamOptions = {}): Promise<ObservationStream> {
    const s = new ObservationStream(baseUrl, apiPrefix, space, options);
    await s.connect();
    return s;
  }

  // ------------------------------------------------------------------ caller side

  /**
   * Queues one observation; resolves with its index at once, or once fewer than `maxBuffered`
   * are unacknowledged (within `timeoutMs`).
   */
  async send(obs: Observation, timeoutMs = 60_000): Promise<number> {
    const body: Message = {
      embedding: Array.from(obs.embedding),
      content: obs.content ?? "",
      confidence: obs.confidence ?? 1.0,
    };
    if (obs.timestamp !== undefined && obs.timestamp !== null) body["timestamp"] = obs.timestamp;
    if (obs.metadata !== undefined && obs.metadata !== null) body["metadata"] = { ...obs.metadata };
    const deadline = performance.now() + timeoutMs;
    while (this.book.unacked >= this.maxBuffered && this.error === null && !this.closed) {
      if (!(await this.waitChange(deadline))) {
        throw new TransportError(`${this.book.unacked} observations unacknowledged after ${timeoutMs} ms`);
      }
    }
    this.raiseIfFailed();
    if (this.closing || this.closed) throw new TransportError(`the stream to ${this.url} is closed`);
    const i = this.book.add(body, obs.idempotencyKey);
    this.pump();
    return i;
  }

  /** Waits until every observation is acknowledged (or refused for good); index -> memory id. */
  async flush(timeoutMs = 60_000): Promise<Map<number, number>> {
    const deadline = performance.now() + timeoutMs;
    while (this.book.unacked > 0 && this.error === null) {
      if (!(await this.waitChange(deadline))) {
        throw new TransportError(`${this.book.unacked} observations still unacknowledged after ${timeoutMs} ms`);
      }
    }
    this.raiseIfFailed();
    return new Map(this.book.acked);
  }

  /** Observations the server refused for good (bad input), by index. */
  get failed(): Map<number, EngramError> {
    return new Map(this.book.failed);
  }

  /** Flushes, then closes the connection (it is closed even when the flush fails). */
  async close(timeoutMs = 60_000): Promise<void> {
    if (this.closed) return;
    try {
      if (this.error === null) await this.flush(timeoutMs);
    } finally {
      this.closing = true;
      this.closed = true;
      this.clearTimer();
      const ws = this.ws;
      this.ws = null;
      if (ws && ws.readyState !== WebSocket.CLOSED) {
        const gone = new Promise<void>((resolve) => ws.once("close", () => resolve()));
        ws.close(1000);
        const t = setTimeout(() => ws.terminate(), 2000);
        await gone;
        clearTimeout(t);
      }
      this.notify();
    }
  }

  private raiseIfFailed(): void {
    if (this.error !== null) throw this.error;
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves true on the next change of state, false at the deadline. */
  private waitChange(deadline: number): Promise<boolean> {
    const left = deadline - performance.now();
    if (left <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((f) => f !== done);
        resolve(false);
      }, left);
      const done = (): void => {
        clearTimeout(t);
        resolve(true);
      };
      this.waiters.push(done);
    });
  }

  // ------------------------------------------------------------------ I/O

  /** Opens a connection and waits for the server's first message (`ready`, or an `error`). */
  private connect(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(this.url, {
        headers: this.headers,
        handshakeTimeout: this.openTimeoutMs,
        perMessageDeflate: false,
      });
      let settled = false;
      const fail = (err: EngramError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.removeAllListeners();
        ws.on("error", () => undefined);
        ws.terminate();
        reject(err);
      };
      const timer = setTimeout(
        () => fail(new TransportError(`the stream ${this.url} was not ready after ${this.openTimeoutMs} ms`, { retryable: true })),
        this.openTimeoutMs,
      );
      ws.once("error", (e) => fail(new TransportError(`cannot open the stream ${this.url}: ${e.message}`, { retryable: true, cause: e })));
      ws.once("unexpected-response", (_req, res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", () => undefined);
        res.on("end", () => {
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
          } catch {
            body = undefined;
          }
          const rid = res.headers["x-request-id"];
          const ra = res.headers["retry-after"];
          fail(errorFromBody(res.statusCode ?? 0, body, typeof rid === "string" ? rid : "", typeof ra === "string" ? ra : null));
        });
      });
      ws.once("close", (code) => fail(new TransportError(`the stream ${this.url} closed before it was ready (close ${code})`, { retryable: true })));
      ws.once("message", (data) => {
        let first: Message;
        try {
          first = parseMessage(text(data));
        } catch (e) {
          fail(new TransportError(`the stream ${this.url} sent an unreadable first message: ${String(e)}`));
          return;
        }
        if (first["type"] === "error") {
          fail(errorFromBody(statusOf(first, 503), { error: first }));
          return;
        }
        settled = true;
        clearTimeout(timer);
        ws.removeAllListeners();
        if (this.connections > 0) this.book.onReconnect();
        this.book.onMessage(first, performance.now());
        this.connections++;
        this.attach(ws);
        resolve();
      });
    });
  }

  private attach(ws: WebSocket): void {
    this.ws = ws;
    ws.on("message", (data) => this.onMessage(ws, data));
    ws.on("error", () => undefined); // a close follows
    ws.once("close", () => this.onClose(ws));
    this.pump();
  }

  private onMessage(ws: WebSocket, data: WebSocket.RawData): void {
    if (ws !== this.ws) return;
    const now = performance.now();
    let msg: Message;
    try {
      msg = parseMessage(text(data));
    } catch (e) {
      this.error = new TransportError(`the stream ${this.url} sent an unreadable message: ${String(e)}`);
      ws.terminate();
      this.notify();
      return;
    }
    const kind = msg["type"];
    if (kind === "draining") {
      this.book.pauseUntil = now + 500; // the server will close; resend after reconnecting
    } else if (kind === "error") {
      // the server ended the stream for a reason retrying cannot fix; it closes next
      this.error ??= errorFromBody(statusOf(msg, 400), { error: msg });
    }
    try {
      this.book.onMessage(msg, now);
    } catch (e) {
      // an ack this client cannot read (an id beyond Number.MAX_SAFE_INTEGER): the stream fails
      // loudly rather than report a rounded id
      this.error ??= e instanceof TransportError ? e : new TransportError(`the stream ${this.url}: ${String(e)}`);
      ws.terminate();
      this.notify();
      return;
    }
    this.notify();
    this.pump();
  }

  private onClose(ws: WebSocket): void {
    if (ws !== this.ws) return;
    this.ws = null;
    this.clearTimer();
    this.book.onDisconnect();
    this.notify();
    if (this.closing || this.error !== null) return;
    void this.reconnect();
  }

  private async reconnect(): Promise<void> {
    const policy = this.reconnectPolicy;
    const start = performance.now();
    let last: EngramError | null = null;
    for (let attempt = 0; attempt < policy.attempts; attempt++) {
      await sleep(policy.delay(attempt));
      if (this.closed) return;
      try {
        await this.connect();
        return;
      } catch (e) {
        last = e as EngramError;
        if ([401, 403, 404].includes(last.status)) break; // will not get better by retrying
      }
      if (performance.now() - start > policy.deadlineMs) break;
    }
    this.error = new TransportError(`the stream to ${this.url} was lost and not re-established: ${last?.message ?? ""}`, {
      cause: last,
    });
    this.notify();
  }

  /** Sends what the window allows; when paused, wakes up again when the pause ends. */
  private pump(): void {
    const ws = this.ws;
    if (ws === null || ws.readyState !== WebSocket.OPEN || this.error !== null) return;
    const now = performance.now();
    for (let m = this.book.nextMessage(now); m !== null; m = this.book.nextMessage(now)) ws.send(m);
    const at = this.book.wakeAt(now);
    if (at !== null && at < this.timerAt) {
      this.clearTimer();
      this.timerAt = at;
      this.timer = setTimeout(() => {
        this.timer = null;
        this.timerAt = Infinity;
        this.pump();
      }, Math.max(1, at - now));
    }
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }
}
