/**
 * The values the client returns and the options it takes.
 *
 * Request bodies are typed by the server's OpenAPI document (src/generated/openapi.ts, made by
 * `npm run gen:types`). Its response schemas are empty objects today, so the response types
 * below are written by hand from API v1's response bodies (field names in camelCase; the wire
 * uses snake_case).
 */
import type { components } from "./generated/openapi.js";

/** Request body schemas of the OpenAPI document. */
export type Schemas = components["schemas"];

/**
 * A request body both API versions take: the schema `Name` (v1's, and v2's where v2 has no
 * `NameV2`) and, where v2 has its own, `NameV2` (which takes ids as strings too).
 */
export type Body<Name extends keyof Schemas> = Schemas[Name] &
  (`${Name}V2` extends keyof Schemas ? Schemas[`${Name}V2`] : unknown);

/** An embedding: an array of numbers or a typed array (sent as float32 by the server). */
export type Embedding = readonly number[] | Float32Array | Float64Array;

/** How embeddings travel in request bodies: JSON arrays of numbers, or base64 of little-endian float32. */
export type EmbeddingEncoding = "json" | "base64";

export type Metadata = Record<string, string>;

// ------------------------------------------------------------------ responses (hand-written)

/** `GET /spaces/{space}`. */
export interface SpaceInfo {
  name: string;
  dim: number;
  memories: number;
}

/** A stored memory (`GET /spaces/{space}/memories/{id}`). */
export interface Memory {
  id: number;
  kind: string;
  embedding: number[];
  content: string;
  confidence: number;
  /** Seconds since the epoch. */
  timestamp: number;
  metadata: Metadata;
}

/** One search hit. */
export interface SearchHit {
  id: number;
  score: number;
}

export interface Provenance {
  kind: string;
  episodicWeight: number;
  semanticWeight: number;
}

/** One recall result. */
export interface Recollection {
  id: number;
  kind: string;
  score: number;
  confidence: number;
  activation: number;
  provenance: Provenance;
  episodic: number;
  semantic: number;
}

/** An out-edge of a memory. */
export interface Neighbor {
  id: number;
  weight: number;
  kind: string;
}

/** A memory reached by spreading activation. */
export interface Activated {
  id: number;
  activation: number;
  hops: number;
}

export interface Hypothesis {
  vector: number[];
  confidence: number;
  source: number;
  kind: string;
}

/** A pattern completion. */
export interface Completion {
  vector: number[];
  confidence: number;
  accepted: boolean;
  sources: number[];
  sourceSimilarity: number[];
  alternatives: Hypothesis[];
  knownDims: number;
  provenance: string;
}

/** A concept formed by consolidation. */
export interface Concept {
  id: number;
  centroid: number[];
  coherence: number;
  confidence: number;
  formedAt: number;
  updatedAt: number;
  members: number[];
}

/** What a consolidation pass did (the response's fields in camelCase; `formed`/`updated` are concept ids). */
export interface ConsolidationReport {
  formed: number[];
  updated: number[];
  episodesConsidered?: number;
  conceptsFormed?: number;
  conceptsUpdated?: number;
  conceptsDissolved?: number;
  episodesBound?: number;
  clustersFound?: number;
  clustersIncoherent?: number;
  clustersDeferred?: number;
  rateBreakerTripped?: boolean;
  ratioBreakerTripped?: boolean;
  formationDisabled?: boolean;
  durationS?: number;
  blocksReused?: number;
  [field: string]: unknown;
}

// ------------------------------------------------------------------ options

export interface CreateSpaceOptions {
  /** Embedding dimension (default: the server's --dim). */
  dim?: number;
  M?: number;
  efConstruction?: number;
  efSearch?: number;
  maxMemories?: number;
}

export interface RememberOptions {
  content?: string;
  /** In [0, 1] (default 1). */
  confidence?: number;
  /** Seconds since the epoch (default: the server's clock). */
  timestamp?: number | null;
  metadata?: Metadata | null;
  /** Sent as the Idempotency-Key header (default: a random UUID per call, so retries never duplicate). */
  idempotencyKey?: string;
}

export interface RememberItem {
  embedding: Embedding;
  content?: string;
  confidence?: number;
  timestamp?: number | null;
  metadata?: Metadata | null;
}

export interface RememberBatchOptions {
  /** One key for the whole batch (default: a random UUID per call). */
  idempotencyKey?: string;
}

export interface SearchOptions {
  /** Results wanted (default 10). */
  k?: number;
  /** HNSW search breadth (default: the space's ef_search). */
  ef?: number | null;
}

export interface RecallOptions {
  k?: number;
  mode?: "blended" | "episodic" | "semantic";
  semanticWeight?: number;
  /** The time recall decays to, in seconds since the epoch (default: the server's clock). */
  now?: number | null;
  threshold?: number;
  decay?: "two_component" | "exponential" | "power_law" | "hybrid" | null;
  includeConcepts?: boolean;
  spreading?: boolean;
  spreadHops?: number;
}

export interface SpreadOptions {
  maxHops?: number;
  decay?: "exponential" | "power_law" | "linear";
  decayRate?: number | null;
  threshold?: number;
  fanEffect?: boolean;
  maxResults?: number | null;
  directionWeights?: Partial<Record<"upward" | "downward" | "lateral" | "episodic", number>> | null;
}

/** Seeds of spreading activation: ids (activation 1 each) or id -> activation in (0, 1]. */
export type Seeds = readonly number[] | ReadonlyMap<number, number> | Readonly<Record<string, number>>;

export interface CompleteOptions {
  /** Which dimensions are known (default: those of `partial` that are neither null nor NaN). */
  mask?: readonly boolean[];
  neighbors?: number;
  hypotheses?: number;
  ca1Threshold?: number;
}

export interface LinkOptions {
  weight?: number;
  kind?: "association" | "binding" | "hierarchy";
  strength?: number;
  contribution?: number;
}

export interface Edge extends LinkOptions {
  src: number;
  dst: number;
}

export interface ConsolidateParams {
  similarityThreshold?: number | null;
  coherenceThreshold?: number | null;
  minClusterSize?: number | null;
  maxConceptsPerRun?: number | null;
}
