/**
 * Reading response bodies into the client's (hand-written) types, checking each field: a body
 * that does not have the expected shape is a TransportError ("unreadable response"), never a
 * value with undefined fields.
 */
import { TransportError } from "./errors.js";
import { toId, toIds } from "./encoding.js";
import type {
  Activated,
  Completion,
  Concept,
  ConsolidationReport,
  Memory,
  Neighbor,
  Recollection,
  SearchHit,
  SpaceInfo,
} from "./types.js";

export type Json = Record<string, unknown>;

function bad(what: string, v: unknown): TransportError {
  const text = JSON.stringify(v) ?? String(v);
  return new TransportError(`unreadable response: ${what}, got ${text.length > 200 ? text.slice(0, 200) + "..." : text}`);
}

export function rec(v: unknown, what = "body"): Json {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad(`${what}: expected an object`, v);
  return v as Json;
}

export function array(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw bad(`${what}: expected an array`, v);
  return v;
}

export function num(o: Json, k: string): number {
  const v = o[k];
  if (typeof v !== "number") throw bad(`${k}: expected a number`, v);
  return v;
}

export function str(o: Json, k: string): string {
  const v = o[k];
  if (typeof v !== "string") throw bad(`${k}: expected a string`, v);
  return v;
}

export function bool(o: Json, k: string): boolean {
  const v = o[k];
  if (typeof v !== "boolean") throw bad(`${k}: expected a boolean`, v);
  return v;
}

export function list(o: Json, k: string): unknown[] {
  const v = o[k];
  if (!Array.isArray(v)) throw bad(`${k}: expected an array`, v);
  return v;
}

export function nums(o: Json, k: string): number[] {
  return list(o, k).map((x) => {
    if (typeof x !== "number") throw bad(`${k}: expected numbers`, x);
    return x;
  });
}

export function strings(o: Json, k: string): string[] {
  return list(o, k).map((x) => {
    if (typeof x !== "string") throw bad(`${k}: expected strings`, x);
    return x;
  });
}

export function ids(o: Json, k: string): number[] {
  return toIds(o[k]);
}

export function id(o: Json, k = "id"): number {
  return toId(o[k]);
}

/** `{"metadata": {...}}` with string values (absent or null: empty). */
function metadata(v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  const o = rec(v, "metadata");
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(o)) {
    if (typeof x !== "string") throw bad(`metadata.${k}: expected a string`, x);
    out[k] = x;
  }
  return out;
}

export function spaceInfo(d: unknown): SpaceInfo {
  const o = rec(d);
  return { name: str(o, "name"), dim: num(o, "dim"), memories: num(o, "memories") };
}

export function memory(d: unknown): Memory {
  const o = rec(d, "memory");
  return {
    id: id(o),
    kind: str(o, "kind"),
    embedding: nums(o, "embedding"),
    content: str(o, "content"),
    confidence: num(o, "confidence"),
    timestamp: num(o, "timestamp"),
    metadata: metadata(o["metadata"]),
  };
}

export function hits(rows: unknown[]): SearchHit[] {
  return rows.map((r) => {
    const o = rec(r, "search result");
    return { id: id(o), score: num(o, "score") };
  });
}

export function recollection(r: unknown): Recollection {
  const o = rec(r, "recall result");
  const p = rec(o["provenance"], "provenance");
  return {
    id: id(o),
    kind: str(o, "kind"),
    score: num(o, "score"),
    confidence: num(o, "confidence"),
    activation: num(o, "activation"),
    provenance: {
      kind: str(p, "kind"),
      episodicWeight: num(p, "episodic_weight"),
      semanticWeight: num(p, "semantic_weight"),
    },
    episodic: typeof o["episodic"] === "number" ? o["episodic"] : 0,
    semantic: typeof o["semantic"] === "number" ? o["semantic"] : 0,
  };
}

export function neighbors(rows: unknown[]): Neighbor[] {
  return rows.map((r) => {
    const o = rec(r, "neighbour");
    return { id: id(o), weight: num(o, "weight"), kind: str(o, "kind") };
  });
}

export function activated(r: unknown): Activated {
  const o = rec(r, "spread result");
  return { id: id(o), activation: num(o, "activation"), hops: num(o, "hops") };
}

export function completion(d: unknown): Completion {
  const o = rec(d);
  return {
    vector: nums(o, "vector"),
    confidence: num(o, "confidence"),
    accepted: bool(o, "accepted"),
    sources: ids(o, "sources"),
    sourceSimilarity: nums(o, "source_similarity"),
    alternatives: list(o, "alternatives").map((h) => {
      const x = rec(h, "alternative");
      return { vector: nums(x, "vector"), confidence: num(x, "confidence"), source: id(x, "source"), kind: str(x, "kind") };
    }),
    knownDims: num(o, "known_dims"),
    provenance: typeof o["provenance"] === "string" ? o["provenance"] : "pattern-completed",
  };
}

export function concept(c: unknown): Concept {
  const o = rec(c, "concept");
  return {
    id: id(o),
    centroid: nums(o, "centroid"),
    coherence: num(o, "coherence"),
    confidence: num(o, "confidence"),
    formedAt: num(o, "formed_at"),
    updatedAt: num(o, "updated_at"),
    members: ids(o, "members"),
  };
}

function camel(k: string): string {
  return k.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

export function consolidationReport(d: unknown): ConsolidationReport {
  const o = rec(d);
  const out: ConsolidationReport = { formed: ids(o, "formed"), updated: ids(o, "updated") };
  for (const [k, v] of Object.entries(o)) {
    if (k !== "formed" && k !== "updated") out[camel(k)] = v;
  }
  return out;
}
