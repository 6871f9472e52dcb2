/**
 * `Client` and `Space`: the HTTP API (v2 by default, v1 on request) with Node's built-in fetch,
 * the same calls and the same retry rules as the Python client (engram/client/sync.py,
 * calls.py, transport.py, versions.py).
 */
import { randomUUID } from "node:crypto";

import { checkId, apiPrefix, encodeEmbedding } from "./encoding.js";
import {
  type EngramError,
  MemoryPressureError,
  Overloaded,
  ServiceUnavailable,
  StorageError,
  CorruptionError,
  TransportError,
  errorFromBody,
} from "./errors.js";
import * as P from "./parse.js";
import { type RetryOptions, type RetryPolicy, sleep, toPolicy } from "./retry.js";
import { ObservationStream, type StreamOptions } from "./stream.js";
import type {
  Activated,
  Body,
  CompleteOptions,
  Completion,
  Concept,
  ConsolidateParams,
  ConsolidationReport,
  CreateSpaceOptions,
  Edge,
  Embedding,
  EmbeddingEncoding,
  LinkOptions,
  Memory,
  Neighbor,
  RecallOptions,
  Recollection,
  RememberBatchOptions,
  RememberItem,
  RememberOptions,
  Schemas,
  SearchHit,
  SearchOptions,
  Seeds,
  SpaceInfo,
  SpreadOptions,
} from "./types.js";
import { VERSION } from "./version.js";

export interface ClientOptions {
  /** The API key, sent as `Authorization: Bearer <key>` (none: no header). */
  apiKey?: string | null;
  /** Milliseconds each try may take, the answer's body included (default 10000). */
  timeoutMs?: number;
  /** How failed calls are retried (default: 4 tries, 50 ms doubling to 2 s, within 30 s). */
  retry?: RetryPolicy | RetryOptions;
  /** The API version of the paths: "v2" (the default) -> `/api/v2`, or "v1" (deprecated) -> `/api/v1`. */
  apiVersion?: string;
  /**
   * Items asked for per page of a v2 list (`?limit=`, 1..1000, default 1000). Every list call
   * follows the pages to the end and returns them merged; this only sets their size.
   */
  pageLimit?: number;
  /** The most pages one list call follows before failing with a TransportError (default 100000). */
  maxPages?: number;
  /** How embeddings travel in request bodies: "json" arrays (default) or "base64" float32. */
  embeddings?: EmbeddingEncoding;
  /** The fetch to use (default: the global one). */
  fetch?: typeof globalThis.fetch;
  /**
   * Told once per route and client when the server answers that the route is deprecated (a
   * `Deprecation` header). Default: a process warning (`process.emitWarning`, type
   * DeprecationWarning, code ENGRAM_DEPRECATED_ROUTE), once per route and server in a process.
   */
  onDeprecated?: (notice: DeprecationNotice) => void;
}

export interface DeprecationNotice {
  route: string;
  deprecation: string;
  sunset: string | null;
  link: string | null;
}

/** One request: what is sent and how the answer is read. */
export interface Call<T> {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** The path below the API prefix (`/spaces/x`), or from the root when `root` is set. */
  path: string;
  /** A route name for messages and deprecation notices (`POST /spaces/{space}/memories`). */
  route: string;
  parse: (body: unknown) => T;
  body?: unknown;
  headers?: Record<string, string>;
  /** May be resent after an ambiguous failure (reads and idempotent writes); default true. */
  safe?: boolean;
  /** The path is not under the API prefix (health routes). */
  root?: boolean;
  timeoutMs?: number;
  /**
   * The call answers a list: in API v2 it comes in pages (`?limit=&cursor=`, the answer's
   * `next_cursor`) of this key's items, which {@link Client.run} follows and merges into one
   * answer of v1's shape before `parse` reads it.
   */
  pageKey?: string;
}

/** The API version a client speaks unless told otherwise: the newest. */
export const DEFAULT_API_VERSION = "v2";
/** Items asked for per page of a v2 list (the server's maximum). */
export const PAGE_LIMIT = 1000;
/** Bound on the pages one list call follows (a server whose list never ends is a bug). */
export const MAX_PAGES = 100_000;

const NOT_SENT = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT",
]);

function errorCode(e: unknown): string | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/** Whether a fetch failure certainly happened before the request reached the server. */
function neverSent(e: unknown): boolean {
  const cause = (e as { cause?: unknown } | null)?.cause ?? e;
  const code = errorCode(cause);
  if (code !== undefined) return NOT_SENT.has(code);
  const errors = (cause as { errors?: unknown } | null)?.errors; // AggregateError (several addresses)
  return Array.isArray(errors) && errors.length > 0 && errors.every((x) => NOT_SENT.has(errorCode(x) ?? ""));
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: unknown }).cause;
  const code = errorCode(cause);
  if (cause instanceof Error) return `${e.name}: ${e.message} (${code ?? cause.name}: ${cause.message})`;
  return `${e.name}: ${e.message}`;
}

/** Whether an error is worth another try of `call` (transport.py `should_retry`). */
export function shouldRetry(call: Pick<Call<unknown>, "safe">, err: EngramError): boolean {
  if (err instanceof TransportError) return err.retryable;
  if (err instanceof Overloaded || err instanceof ServiceUnavailable) return true; // refused before any work
  if (err instanceof MemoryPressureError || err instanceof CorruptionError) return false;
  return err instanceof StorageError && call.safe !== false;
}

/** Routes already reported deprecated by the default notice: once per process, like a Node deprecation. */
const DEPRECATION_WARNED = new Set<string>();

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A connection to one server. Stateless apart from its settings: fetch pools the connections. */
export class Client {
  readonly url: string;
  /** `/api/v2`: the prefix of every API path, from the `apiVersion` option. */
  readonly apiPrefix: string;
  /** Items asked for per page of a v2 list. */
  readonly pageLimit: number;
  /** The most pages one list call follows. */
  readonly maxPages: number;
  readonly apiKey: string | null;
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  readonly embeddings: EmbeddingEncoding;
  private readonly fetchImpl: typeof globalThis.fetch;
  private readonly onDeprecated: (notice: DeprecationNotice) => void;
  private readonly deprecatedSeen = new Set<string>();

  constructor(url: string, options: ClientOptions = {}) {
    this.url = url.replace(/\/+$/, "");
    this.apiPrefix = apiPrefix(options.apiVersion ?? DEFAULT_API_VERSION);
    this.pageLimit = options.pageLimit ?? PAGE_LIMIT;
    if (!Number.isInteger(this.pageLimit) || this.pageLimit < 1 || this.pageLimit > PAGE_LIMIT) {
      throw new RangeError(`pageLimit must be an integer in [1, ${PAGE_LIMIT}], got ${this.pageLimit}`);
    }
    this.maxPages = options.maxPages ?? MAX_PAGES;
    if (!Number.isInteger(this.maxPages) || this.maxPages < 1) {
      throw new RangeError(`maxPages must be a positive integer, got ${this.maxPages}`);
    }
    this.apiKey = options.apiKey ?? null;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retry = toPolicy(options.retry);
    this.embeddings = options.embeddings ?? "json";
    if (this.embeddings !== "json" && this.embeddings !== "base64") {
      throw new RangeError(`embeddings must be "json" or "base64", got ${JSON.stringify(this.embeddings)}`);
    }
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.onDeprecated =
      options.onDeprecated ??
      ((n) => {
        const key = `${this.url} ${this.apiPrefix} ${n.route}`;
        if (DEPRECATION_WARNED.has(key)) return;
        DEPRECATION_WARNED.add(key);
        const space = n.route.indexOf(" ");
        const route = `${n.route.slice(0, space)} ${this.apiPrefix}${n.route.slice(space + 1)}`;
        const notes = n.link === null ? null : /<([^>]*)>/.exec(n.link)?.[1] ?? n.link;
        process.emitWarning(
          `the server ${this.url} deprecates ${route} (Deprecation: ${n.deprecation}` +
            `${n.sunset ? `, Sunset: ${n.sunset}` : ""})${notes ? `; migration notes at ${notes}` : ""}` +
            `; a newer API version serves it (new Client(url, { apiVersion: "${DEFAULT_API_VERSION}" }))`,
          { type: "DeprecationWarning", code: "ENGRAM_DEPRECATED_ROUTE" },
        );
      });
  }

  private headers(call: Call<unknown>): Record<string, string> {
    const h: Record<string, string> = { Accept: "application/json", "User-Agent": `engram-client-ts/${VERSION}` };
    if (this.apiKey) h["Authorization"] = `Bearer ${this.apiKey}`;
    if (call.body !== undefined) h["Content-Type"] = "application/json";
    return { ...h, ...call.headers };
  }

  private noticeDeprecation(call: Call<unknown>, resp: Response): void {
    const deprecation = resp.headers.get("deprecation");
    if (deprecation === null || this.deprecatedSeen.has(call.route)) return;
    this.deprecatedSeen.add(call.route);
    this.onDeprecated({
      route: call.route,
      deprecation,
      sunset: resp.headers.get("sunset"),
      link: resp.headers.get("link"),
    });
  }

  /** One try: the parsed value, or the error it ended with. */
  private async attempt<T>(call: Call<T>): Promise<{ value: T } | { error: EngramError }> {
    const url = this.url + (call.root ? "" : this.apiPrefix) + call.path;
    let resp: Response;
    let text: string;
    try {
      resp = await this.fetchImpl(url, {
        method: call.method,
        headers: this.headers(call),
        body: call.body === undefined ? null : JSON.stringify(call.body),
        signal: AbortSignal.timeout(call.timeoutMs ?? this.timeoutMs),
      });
      text = await resp.text();
    } catch (e) {
      // never sent: always worth another try; sent (reset, timeout): only when the call is safe
      const retryable = neverSent(e) || call.safe !== false;
      return {
        error: new TransportError(`${call.method} ${url} failed: ${describe(e)}`, { retryable, cause: e }),
      };
    }
    this.noticeDeprecation(call, resp);
    if (resp.status < 400) {
      try {
        return { value: call.parse(text === "" ? null : (JSON.parse(text) as unknown)) };
      } catch (e) {
        if (e instanceof TransportError) return { error: e };
        return { error: new TransportError(`unreadable response to ${call.method} ${url}: ${describe(e)}`) };
      }
    }
    return {
      error: errorFromBody(
        resp.status,
        tryJson(text),
        resp.headers.get("x-request-id") ?? "",
        resp.headers.get("retry-after"),
      ),
    };
  }

  /**
   * Runs a call: one request with the retry policy, or, for a list in API v2, one such request
   * per page (`?limit=pageLimit`, then `&cursor=` the previous page's `next_cursor` as it was
   * given) until a page says `next_cursor: null`, at most `maxPages`; `parse` reads the pages'
   * items merged into one answer of v1's shape.
   */
  async run<T>(call: Call<T>): Promise<T> {
    const key = call.pageKey;
    if (key === undefined || this.apiPrefix === "/api/v1") return this.request(call);
    const items: unknown[] = [];
    let cursor: string | null = null;
    for (let n = 0; n < this.maxPages; n++) {
      const query: string = `limit=${this.pageLimit}` + (cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`);
      const sep = call.path.includes("?") ? "&" : "?";
      const page: P.Json = await this.request({ ...call, path: `${call.path}${sep}${query}`, parse: (d) => P.rec(d) });
      items.push(...P.list(page, key));
      const next: unknown = page["next_cursor"];
      if (next === undefined || next === null) return call.parse({ ...page, [key]: items, next_cursor: null });
      if (typeof next !== "string") {
        throw new TransportError(`unreadable response to ${call.route}: next_cursor ${JSON.stringify(next)}`);
      }
      cursor = next;
    }
    throw new TransportError(`${call.route}: the list did not end after ${this.maxPages} pages`);
  }

  /** One request with the retry policy: bounded by its attempts and its deadline. */
  private async request<T>(call: Call<T>): Promise<T> {
    const start = performance.now();
    const policy = this.retry;
    for (let attempt = 0; ; attempt++) {
      const out = await this.attempt(call);
      if ("value" in out) return out.value;
      const err = out.error;
      if (!shouldRetry(call, err) || attempt + 1 >= policy.attempts) throw err;
      const delay = policy.delay(attempt, err.retryAfterMs);
      if (performance.now() - start + delay > policy.deadlineMs) throw err;
      await sleep(delay);
    }
  }

  // ------------------------------------------------------------------ spaces and engine

  /** Creates a space (not resent after an ambiguous failure: a second try could answer space_exists). */
  async createSpace(name: string, options: CreateSpaceOptions = {}): Promise<Space> {
    const body: Schemas["CreateSpace"] = { name };
    if (options.dim !== undefined) body.dim = options.dim;
    if (options.M !== undefined) body.M = options.M;
    if (options.efConstruction !== undefined) body.ef_construction = options.efConstruction;
    if (options.efSearch !== undefined) body.ef_search = options.efSearch;
    if (options.maxMemories !== undefined) body.max_memories = options.maxMemories;
    await this.run({ method: "POST", path: "/spaces", route: "POST /spaces", body, safe: false, parse: () => null });
    return new Space(this, name);
  }

  /** A handle to a space (no request: a missing space is reported by the first call on it). */
  space(name: string): Space {
    return new Space(this, name);
  }

  /** The names of the spaces this key may see. */
  spaces(): Promise<string[]> {
    return this.run({
      method: "GET",
      path: "/spaces",
      route: "GET /spaces",
      pageKey: "spaces",
      parse: (d) => P.strings(P.rec(d), "spaces"),
    });
  }

  async dropSpace(name: string): Promise<void> {
    await this.run({ method: "DELETE", path: spacePath(name), route: "DELETE /spaces/{space}", parse: () => null });
  }

  /** The engine's statistics and metrics (`GET /stats`). */
  stats(): Promise<Record<string, unknown>> {
    return this.run({ method: "GET", path: "/stats", route: "GET /stats", parse: (d) => P.rec(d) });
  }

  /** Whether the server is ready (`GET /health/ready`, one try). */
  async ready(): Promise<boolean> {
    try {
      const resp = await this.fetchImpl(`${this.url}/health/ready`, { signal: AbortSignal.timeout(this.timeoutMs) });
      await resp.arrayBuffer();
      return resp.ok;
    } catch {
      return false;
    }
  }

  /**
   * Opens a reconnecting observation stream into `space` (a WebSocket); resolves once the server
   * is ready for it, so a bad key or space fails here.
   */
  stream(space: string, options: StreamOptions = {}): Promise<ObservationStream> {
    return ObservationStream.open(this.url, this.apiPrefix, space, { apiKey: this.apiKey, ...options });
  }
}

function spacePath(name: string): string {
  return `/spaces/${encodeURIComponent(name)}`;
}

function strip<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/** A space on the server, with the methods of the in-process `engram.Space`. */
export class Space {
  readonly client: Client;
  readonly name: string;
  private readonly base: string;

  constructor(client: Client, name: string) {
    this.client = client;
    this.name = name;
    this.base = spacePath(name);
  }

  private emb(x: Embedding): number[] | string {
    return encodeEmbedding(x, this.client.embeddings);
  }

  /** The space as the server describes it (name, dim, number of memories). */
  info(): Promise<SpaceInfo> {
    return this.client.run({ method: "GET", path: this.base, route: "GET /spaces/{space}", parse: P.spaceInfo });
  }

  /** The space's statistics. */
  stats(): Promise<Record<string, unknown>> {
    return this.client.run({
      method: "GET",
      path: `${this.base}/stats`,
      route: "GET /spaces/{space}/stats",
      parse: (d) => P.rec(P.rec(d)["stats"], "stats"),
    });
  }

  /** Stores one episode; returns its id. Always sends an Idempotency-Key, so a retry never stores twice. */
  remember(embedding: Embedding, options: RememberOptions = {}): Promise<number> {
    const body: Schemas["Remember"] = {
      embedding: this.emb(embedding),
      content: options.content ?? "",
      confidence: options.confidence ?? 1.0,
      timestamp: options.timestamp ?? null,
      metadata: options.metadata ?? null,
    };
    return this.client.run({
      method: "POST",
      path: `${this.base}/memories`,
      route: "POST /spaces/{space}/memories",
      body,
      headers: { "Idempotency-Key": options.idempotencyKey ?? randomUUID() },
      parse: (d) => P.id(P.rec(d)),
    });
  }

  /** Stores episodes at once (all or nothing); returns their ids in order. */
  rememberBatch(items: readonly RememberItem[], options: RememberBatchOptions = {}): Promise<number[]> {
    const body: Schemas["RememberBatch"] = {
      items: items.map((it) =>
        strip<Schemas["RememberItem"]>({
          embedding: this.emb(it.embedding),
          content: it.content,
          confidence: it.confidence,
          timestamp: it.timestamp,
          metadata: it.metadata ?? undefined,
        }),
      ),
    };
    return this.client.run({
      method: "POST",
      path: `${this.base}/memories/batch`,
      route: "POST /spaces/{space}/memories/batch",
      body,
      headers: { "Idempotency-Key": options.idempotencyKey ?? randomUUID() },
      parse: (d) => P.ids(P.rec(d), "ids"),
    });
  }

  get(id: number): Promise<Memory> {
    return this.client.run({
      method: "GET",
      path: `${this.base}/memories/${checkId(id)}`,
      route: "GET /spaces/{space}/memories/{id}",
      parse: P.memory,
    });
  }

  async forget(id: number): Promise<void> {
    await this.client.run({
      method: "DELETE",
      path: `${this.base}/memories/${checkId(id)}`,
      route: "DELETE /spaces/{space}/memories/{id}",
      parse: () => null,
    });
  }

  /** The `k` nearest episodes, best first. */
  search(embedding: Embedding, options: SearchOptions = {}): Promise<SearchHit[]> {
    const body: Schemas["Search"] = { embedding: this.emb(embedding), k: options.k ?? 10, ef: options.ef ?? null };
    return this.client.run({
      method: "POST",
      path: `${this.base}/search`,
      route: "POST /spaces/{space}/search",
      body,
      parse: (d) => P.hits(P.list(P.rec(d), "results")),
    });
  }

  /** {@link search} for several queries in one request, answered in order. */
  searchBatch(embeddings: readonly Embedding[], options: SearchOptions = {}): Promise<SearchHit[][]> {
    const body: Schemas["SearchBatch"] = {
      queries: embeddings.map((e) => ({ embedding: this.emb(e), k: options.k ?? 10, ef: options.ef ?? null })),
    };
    return this.client.run({
      method: "POST",
      path: `${this.base}/search/batch`,
      route: "POST /spaces/{space}/search/batch",
      body,
      parse: (d) => P.list(P.rec(d), "results").map((rows) => P.hits(P.array(rows, "results"))),
    });
  }

  private recallBody(cue: Embedding, o: RecallOptions): Schemas["Recall"] {
    return strip<Schemas["Recall"]>({
      cue: this.emb(cue),
      k: o.k ?? 10,
      mode: o.mode ?? "blended",
      semantic_weight: o.semanticWeight ?? 0.3,
      now: o.now ?? null,
      threshold: o.threshold ?? 0.0,
      decay: o.decay,
      include_concepts: o.includeConcepts,
      spreading: o.spreading,
      spread_hops: o.spreadHops,
    });
  }

  /** Episodes and concepts recalled by a cue, blending similarity, recency and activation. */
  recall(cue: Embedding, options: RecallOptions = {}): Promise<Recollection[]> {
    return this.client.run({
      method: "POST",
      path: `${this.base}/recall`,
      route: "POST /spaces/{space}/recall",
      body: this.recallBody(cue, options),
      parse: (d) => P.list(P.rec(d), "results").map(P.recollection),
    });
  }

  /** {@link recall} for several cues with the same options, in one request, answered in order. */
  recallBatch(cues: readonly Embedding[], options: RecallOptions = {}): Promise<Recollection[][]> {
    const body: Schemas["RecallBatch"] = { queries: cues.map((c) => this.recallBody(c, options)) };
    return this.client.run({
      method: "POST",
      path: `${this.base}/recall/batch`,
      route: "POST /spaces/{space}/recall/batch",
      body,
      parse: (d) =>
        P.list(P.rec(d), "results").map((rows) => P.array(rows, "results").map(P.recollection)),
    });
  }

  /** Spreading activation from seeds along the graph's edges. */
  spread(seeds: Seeds, options: SpreadOptions = {}): Promise<Activated[]> {
    let s: Body<"Spread">["seeds"];
    if (Array.isArray(seeds)) s = (seeds as readonly number[]).map(checkId);
    else if (seeds instanceof Map) {
      s = Object.fromEntries([...(seeds as ReadonlyMap<number, number>)].map(([k, v]) => [String(checkId(k)), v]));
    }
    else s = { ...(seeds as Readonly<Record<string, number>>) };
    const body = strip<Body<"Spread">>({
      seeds: s,
      max_hops: options.maxHops ?? 3,
      decay: options.decay,
      decay_rate: options.decayRate,
      threshold: options.threshold,
      fan_effect: options.fanEffect,
      max_results: options.maxResults,
      direction_weights: options.directionWeights,
    });
    return this.client.run({
      method: "POST",
      path: `${this.base}/spread`,
      route: "POST /spaces/{space}/spread",
      body,
      parse: (d) => P.list(P.rec(d), "results").map(P.activated),
    });
  }

  /** Completes a partial pattern: `null` (or NaN) marks an unknown dimension. */
  complete(partial: readonly (number | null)[], options: CompleteOptions = {}): Promise<Completion> {
    const mask = options.mask;
    if (mask !== undefined && mask.length !== partial.length) {
      throw new RangeError(`mask has ${mask.length} entries for ${partial.length} dimensions`);
    }
    const values = partial.map((v, i) => {
      const known = mask ? mask[i] : v !== null && !Number.isNaN(v);
      return known && v !== null ? v : null;
    });
    const body = strip<Schemas["Complete"]>({
      partial: values,
      neighbors: options.neighbors,
      hypotheses: options.hypotheses,
      ca1_threshold: options.ca1Threshold,
    });
    return this.client.run({
      method: "POST",
      path: `${this.base}/complete`,
      route: "POST /spaces/{space}/complete",
      body,
      parse: P.completion,
    });
  }

  /** Adds (or replaces) the edge src -> dst; true when the edge is new. */
  link(src: number, dst: number, options: LinkOptions = {}): Promise<boolean> {
    const body: Body<"Link"> = {
      src: checkId(src),
      dst: checkId(dst),
      weight: options.weight ?? 1.0,
      kind: options.kind ?? "association",
      strength: options.strength ?? 1.0,
      contribution: options.contribution ?? 1.0,
    };
    return this.client.run({
      method: "POST",
      path: `${this.base}/links`,
      route: "POST /spaces/{space}/links",
      body,
      parse: (d) => P.bool(P.rec(d), "created"),
    });
  }

  /** Many {@link link} calls in one request; whether each edge was new. */
  linkBatch(edges: readonly Edge[]): Promise<boolean[]> {
    const body: Schemas["LinkBatch"] = {
      edges: edges.map((e) =>
        strip<Schemas["Link"]>({
          src: checkId(e.src),
          dst: checkId(e.dst),
          weight: e.weight,
          kind: e.kind,
          strength: e.strength,
          contribution: e.contribution,
        }),
      ),
    };
    return this.client.run({
      method: "POST",
      path: `${this.base}/links/batch`,
      route: "POST /spaces/{space}/links/batch",
      body,
      parse: (d) =>
        P.list(P.rec(d), "created").map((c) => {
          if (typeof c !== "boolean") throw new TransportError(`unreadable response: created: ${JSON.stringify(c)}`);
          return c;
        }),
    });
  }

  /** The out-edges of a memory. */
  neighbors(id: number): Promise<Neighbor[]> {
    return this.client.run({
      method: "GET",
      path: `${this.base}/memories/${checkId(id)}/neighbors`,
      route: "GET /spaces/{space}/memories/{id}/neighbors",
      pageKey: "neighbors",
      parse: (d) => P.neighbors(P.list(P.rec(d), "neighbors")),
    });
  }

  /** The concepts consolidation formed in this space. */
  concepts(): Promise<Concept[]> {
    return this.client.run({
      method: "GET",
      path: `${this.base}/concepts`,
      route: "GET /spaces/{space}/concepts",
      pageKey: "concepts",
      parse: (d) => P.list(P.rec(d), "concepts").map(P.concept),
    });
  }

  /** The episodes a concept binds. */
  conceptMembers(id: number): Promise<number[]> {
    return this.client.run({
      method: "GET",
      path: `${this.base}/concepts/${checkId(id)}/members`,
      route: "GET /spaces/{space}/concepts/{id}/members",
      pageKey: "members",
      parse: (d) => P.ids(P.rec(d), "members"),
    });
  }

  /** The concepts an episode belongs to. */
  episodeConcepts(id: number): Promise<number[]> {
    return this.client.run({
      method: "GET",
      path: `${this.base}/memories/${checkId(id)}/concepts`,
      route: "GET /spaces/{space}/memories/{id}/concepts",
      pageKey: "concepts",
      parse: (d) => P.ids(P.rec(d), "concepts"),
    });
  }

  /** One consolidation pass (not resent after an ambiguous failure: a second pass is not the same). */
  consolidate(params: ConsolidateParams = {}): Promise<ConsolidationReport> {
    const body = strip<Schemas["Consolidate"]>({
      similarity_threshold: params.similarityThreshold,
      coherence_threshold: params.coherenceThreshold,
      min_cluster_size: params.minClusterSize,
      max_concepts_per_run: params.maxConceptsPerRun,
    });
    return this.client.run({
      method: "POST",
      path: `${this.base}/consolidate`,
      route: "POST /spaces/{space}/consolidate",
      body,
      safe: false,
      parse: P.consolidationReport,
    });
  }
}
