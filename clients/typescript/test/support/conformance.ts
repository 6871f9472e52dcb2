/**
 * The rules of clients/conformance/README.md in TypeScript (the Python runner is
 * tests/server/conformance.py): references to saved results, matching an actual result against
 * an expected one, and the TypeScript client's calls turned into the scenario's JSON shapes.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";

import type { Client, Embedding, Metadata, RememberItem } from "../../src/index.js";
import { startEngramd, type Engramd } from "./engramd.js";
import { CONFORMANCE_DIR } from "./paths.js";

export const NUMBER_TOLERANCE = 1e-4;
export const RANGE_SLACK = 1e-6;

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Saved = Record<string, unknown>;

export interface Step {
  name: string;
  call: string;
  args?: Record<string, Json>;
  key?: string;
  expect?: Json;
  error?: { code: string; status: number };
  save?: string;
}

export interface Scenario {
  format: number;
  server: { args: string[]; keys_file: string };
  keys: Record<string, string | null>;
  steps: Step[];
}

export function loadScenario(): Scenario {
  return JSON.parse(readFileSync(path.join(CONFORMANCE_DIR, "scenario.json"), "utf8")) as Scenario;
}

/** engramd as the README says: loopback, any port, the scenario's keys and arguments. */
export function conformanceServer(scenario: Scenario): Promise<Engramd> {
  const keys = path.resolve(CONFORMANCE_DIR, scenario.server.keys_file);
  return startEngramd(["--host", "127.0.0.1", "--port", "0", "--api-keys", keys, ...scenario.server.args]);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

/** `"$name.1.id"`: the saved result `name`, then index 1, then key `id`. */
export function lookup(saved: Saved, ref: string): unknown {
  const [name = "", ...parts] = ref.slice(1).split(".");
  if (!Object.hasOwn(saved, name)) throw new Error(`${ref}: no step saved a result named ${JSON.stringify(name)}`);
  let value: unknown = saved[name];
  for (const part of parts) {
    if (Array.isArray(value)) value = value[Number(part)] as unknown;
    else if (isObject(value) && Object.hasOwn(value, part)) value = value[part];
    else throw new Error(`${ref}: ${part} not found in ${show(value)}`);
  }
  return value;
}

/** Arguments with their `$` references replaced by saved results. */
export function resolve(value: unknown, saved: Saved): unknown {
  if (typeof value === "string" && value.startsWith("$$")) return value.slice(1);
  if (typeof value === "string" && value.startsWith("$")) return lookup(saved, value);
  if (Array.isArray(value)) return value.map((v) => resolve(v, saved));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, saved)]));
  return value;
}

function isMatcher(expected: unknown): expected is Record<string, unknown> {
  if (!isObject(expected)) return false;
  const keys = Object.keys(expected);
  return keys.length === 1 && keys[0]!.startsWith("$");
}

function typeOk(kind: unknown, actual: unknown): boolean {
  switch (kind) {
    case "id":
      return typeof actual === "number" && Number.isInteger(actual);
    case "number":
      return typeof actual === "number";
    case "string":
      return typeof actual === "string";
    case "bool":
      return typeof actual === "boolean";
    case "array":
      return Array.isArray(actual);
    case "object":
      return isObject(actual);
    case "null":
      return actual === null;
    default:
      throw new Error(`unknown $type ${show(kind)}`);
  }
}

/** null when `actual` matches `expected`; otherwise where and how it differs. */
export function mismatch(actual: unknown, expected: unknown, saved: Saved, at = "result"): string | null {
  if (typeof expected === "string" && expected.startsWith("$$")) {
    expected = expected.slice(1);
  } else if (typeof expected === "string" && expected.startsWith("$")) {
    const want = lookup(saved, expected);
    return isDeepStrictEqual(actual, want) ? null : `${at}: ${show(actual)} != ${show(want)}`;
  }
  if (isMatcher(expected)) {
    const [op, arg] = Object.entries(expected)[0]!;
    if (op === "$type") return typeOk(arg, actual) ? null : `${at}: ${show(actual)} is not of type ${show(arg)}`;
    if (op === "$len") {
      const ok = (Array.isArray(actual) || typeof actual === "string") && actual.length === arg;
      return ok ? null : `${at}: ${show(actual)} does not have length ${show(arg)}`;
    }
    if (op === "$range") {
      const [lo, hi] = arg as [number, number];
      const ok = typeof actual === "number" && lo - RANGE_SLACK <= actual && actual <= hi + RANGE_SLACK;
      return ok ? null : `${at}: ${show(actual)} is not in [${lo}, ${hi}]`;
    }
    if (op === "$all") {
      if (!Array.isArray(actual)) return `${at}: ${show(actual)} is not an array`;
      const free = actual.map((_, j) => j);
      for (const [i, m] of (arg as unknown[]).entries()) {
        const hit = free.find((j) => mismatch(actual[j], m, saved) === null);
        if (hit === undefined) return `${at}: no element matches $all[${i}] = ${show(m)} in ${show(actual)}`;
        free.splice(free.indexOf(hit), 1);
      }
      return null;
    }
    throw new Error(`unknown matcher ${show(op)}`);
  }
  if (isObject(expected)) {
    if (!isObject(actual)) return `${at}: ${show(actual)} is not an object`;
    for (const [k, v] of Object.entries(expected)) {
      if (!Object.hasOwn(actual, k)) return `${at}.${k}: missing`;
      const why = mismatch(actual[k], v, saved, `${at}.${k}`);
      if (why !== null) return why;
    }
    return null;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      return `${at}: ${show(actual)} is not an array of length ${expected.length}`;
    }
    for (let i = 0; i < expected.length; i++) {
      const why = mismatch(actual[i], expected[i], saved, `${at}.${i}`);
      if (why !== null) return why;
    }
    return null;
  }
  if (typeof expected === "number") {
    const ok =
      typeof actual === "number" && Math.abs(actual - expected) <= NUMBER_TOLERANCE * Math.max(1, Math.abs(expected));
    return ok ? null : `${at}: ${show(actual)} != ${show(expected)}`;
  }
  return actual === expected ? null : `${at}: ${show(actual)} != ${show(expected)}`;
}

// ------------------------------------------------------------------ the calls

type Args = Record<string, unknown>;

function opt<T>(args: Args, k: string): T | undefined {
  return Object.hasOwn(args, k) ? (args[k] as T) : undefined;
}

function need<T>(args: Args, k: string): T {
  if (!Object.hasOwn(args, k)) throw new Error(`the scenario call lacks the argument ${k}`);
  return args[k] as T;
}

/** One scenario call with the TypeScript client, its result in the scenario's JSON shape. */
export async function call(client: Client, name: string, args: Args): Promise<unknown> {
  switch (name) {
    case "create_space": {
      const s = await client.createSpace(need<string>(args, "name"), { dim: need<number>(args, "dim") });
      const info = await s.info(); // the space as the server describes it
      return { name: info.name, dim: info.dim };
    }
    case "spaces":
      return client.spaces();
    case "drop_space":
      await client.dropSpace(need<string>(args, "name"));
      return null;
  }
  const sp = client.space(need<string>(args, "space"));
  switch (name) {
    case "remember":
      return sp.remember(need<Embedding>(args, "embedding"), {
        content: opt<string>(args, "content"),
        confidence: opt<number>(args, "confidence"),
        metadata: opt<Metadata>(args, "metadata"),
        idempotencyKey: opt<string>(args, "idempotency_key"),
      });
    case "remember_batch":
      return sp.rememberBatch(need<RememberItem[]>(args, "items"));
    case "get": {
      const m = await sp.get(need<number>(args, "id"));
      return {
        id: m.id,
        kind: m.kind,
        embedding: m.embedding,
        content: m.content,
        confidence: m.confidence,
        timestamp: m.timestamp,
        metadata: m.metadata,
      };
    }
    case "forget":
      await sp.forget(need<number>(args, "id"));
      return null;
    case "search":
      return (
        await sp.search(need<Embedding>(args, "embedding"), { k: need<number>(args, "k"), ef: opt<number>(args, "ef") })
      ).map((h) => ({ id: h.id, score: h.score }));
    case "recall":
      return (await sp.recall(need<Embedding>(args, "cue"), { k: need<number>(args, "k") })).map((r) => ({
        id: r.id,
        kind: r.kind,
        score: r.score,
        confidence: r.confidence,
        activation: r.activation,
      }));
    case "link":
      return sp.link(need<number>(args, "src"), need<number>(args, "dst"), { weight: opt<number>(args, "weight") });
    case "neighbors":
      return (await sp.neighbors(need<number>(args, "id"))).map((n) => ({ id: n.id, weight: n.weight, kind: n.kind }));
    case "spread":
      return (await sp.spread(need<number[]>(args, "seeds"))).map((a) => ({
        id: a.id,
        activation: a.activation,
        hops: a.hops,
      }));
    case "complete": {
      const c = await sp.complete(need<(number | null)[]>(args, "partial"));
      return { vector: c.vector, confidence: c.confidence, accepted: c.accepted, sources: c.sources };
    }
    case "consolidate": {
      const r = await sp.consolidate();
      return { formed: r.formed, updated: r.updated };
    }
    case "concepts":
      return (await sp.concepts()).map((c) => ({
        id: c.id,
        members: c.members,
        coherence: c.coherence,
        confidence: c.confidence,
      }));
    case "concept_members":
      return sp.conceptMembers(need<number>(args, "id"));
    case "stream": {
      const st = await client.stream(sp.name);
      try {
        const order: number[] = [];
        for (const o of need<{ embedding: Embedding; content?: string }[]>(args, "observations")) {
          order.push(await st.send({ embedding: o.embedding, content: o.content ?? "" }));
        }
        const acked = await st.flush();
        return order.map((i) => acked.get(i));
      } finally {
        await st.close();
      }
    }
    default:
      throw new Error(`unknown scenario call ${JSON.stringify(name)}`);
  }
}
