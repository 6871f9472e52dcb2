/** Embeddings on the wire, ids and the API prefix: the small conversions every call shares. */
import { TransportError } from "./errors.js";
import type { Embedding, EmbeddingEncoding } from "./types.js";

/** The API's path prefix for a version ("v1" -> "/api/v1"): the one place the prefix is made. */
export function apiPrefix(version: string): string {
  const v = version.startsWith("v") ? version : `v${version}`;
  if (!/^v[0-9]+$/.test(v)) throw new RangeError(`apiVersion must look like "v1", got ${JSON.stringify(version)}`);
  return `/api/${v}`;
}

/** Base64 (RFC 4648, padded) of the little-endian float32 values of `x`. */
export function f32leBase64(x: Embedding): string {
  const buf = Buffer.allocUnsafe(x.length * 4);
  for (let i = 0; i < x.length; i++) buf.writeFloatLE(x[i] ?? Number.NaN, i * 4);
  return buf.toString("base64");
}

/** The float32 values of a base64 string of little-endian float32 (the inverse of {@link f32leBase64}). */
export function base64F32le(s: string): Float32Array {
  const buf = Buffer.from(s, "base64");
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

/** An embedding as a JSON body holds it: an array of numbers, or its base64 text. */
export function encodeEmbedding(x: Embedding, encoding: EmbeddingEncoding): number[] | string {
  return encoding === "base64" ? f32leBase64(x) : Array.from(x);
}

/**
 * A memory id from a response, as a `number`: API v2 writes ids as strings of decimal digits,
 * API v1 as JSON integers. A JavaScript number holds integers exactly only up to
 * Number.MAX_SAFE_INTEGER (2^53 - 1), so an id beyond it is never rounded to a neighbouring id:
 * it is a TransportError that says so. (Ids are `(space ordinal << 40) | local`, so this takes
 * a server with more than 8191 spaces.)
 */
export function toId(v: unknown): number {
  if (typeof v === "number" && Number.isSafeInteger(v)) return v;
  if (typeof v === "string" && /^-?[0-9]+$/.test(v)) {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
    throw new TransportError(
      `memory id ${v} is beyond Number.MAX_SAFE_INTEGER (2^53 - 1): a JavaScript number cannot hold it exactly, ` +
        "and this client does not round ids",
    );
  }
  if (typeof v === "number" && Number.isInteger(v)) {
    throw new TransportError(
      `memory id ${v} is beyond Number.MAX_SAFE_INTEGER (2^53 - 1): JSON.parse has already rounded it ` +
        "(API v1 writes ids as numbers; API v2, the default, writes them as strings)",
    );
  }
  throw new TransportError(`unreadable memory id ${JSON.stringify(v)}: expected a string of decimal digits or an integer`);
}

export function toIds(v: unknown): number[] {
  if (!Array.isArray(v)) throw new TransportError(`expected an array of memory ids, got ${JSON.stringify(v)}`);
  return v.map(toId);
}

/** A memory id for a path or a body. */
export function checkId(id: number): number {
  if (!Number.isSafeInteger(id)) throw new RangeError(`a memory id is an integer below 2^53, got ${id}`);
  return id;
}
