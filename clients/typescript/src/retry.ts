/** Retry policy: exponential backoff with full jitter, honouring the server's Retry-After. */

export interface RetryOptions {
  /** Tries in all, the first included (default 4). */
  attempts?: number;
  /** The first backoff cap in milliseconds (default 50); it doubles each try. */
  baseMs?: number;
  /** The largest backoff cap in milliseconds (default 2000). */
  maxMs?: number;
  /** No retry starts after this long since the first try, in milliseconds (default 30000). */
  deadlineMs?: number;
}

export class RetryPolicy {
  readonly attempts: number;
  readonly baseMs: number;
  readonly maxMs: number;
  readonly deadlineMs: number;

  constructor(options: RetryOptions = {}) {
    this.attempts = options.attempts ?? 4;
    this.baseMs = options.baseMs ?? 50;
    this.maxMs = options.maxMs ?? 2000;
    this.deadlineMs = options.deadlineMs ?? 30_000;
    if (!(this.attempts >= 1)) throw new RangeError(`attempts must be at least 1, got ${this.attempts}`);
  }

  /** A policy that never retries. */
  static none(): RetryPolicy {
    return new RetryPolicy({ attempts: 1 });
  }

  /**
   * Milliseconds to wait before try `attempt + 1` (`attempt` counts from 0): uniform in
   * [0, min(maxMs, baseMs * 2^attempt)] so that clients that failed together spread out, and at
   * least the server's Retry-After (itself capped at 4 * maxMs).
   */
  delay(attempt: number, retryAfterMs: number | null = null, random: () => number = Math.random): number {
    const cap = Math.min(this.maxMs, this.baseMs * 2 ** attempt);
    let d = random() * cap;
    if (retryAfterMs !== null) d = Math.max(d, Math.min(retryAfterMs, this.maxMs * 4));
    return d;
  }
}

/** `RetryPolicy | RetryOptions` as the client options take it. */
export function toPolicy(retry: RetryPolicy | RetryOptions | undefined, fallback?: RetryOptions): RetryPolicy {
  if (retry instanceof RetryPolicy) return retry;
  return new RetryPolicy({ ...fallback, ...retry });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
