// Reconnect delays: exponential with full jitter (as gRPC and istio-agent do, so a server
// restart does not bring every agent back in the same millisecond), capped per attempt and
// bounded in attempts so no agent retries forever.
import type { Rng } from '../util/random.js';

export interface BackoffOptions {
  /** First delay before jitter (ms). */
  initialMs: number;
  /** Cap on a single delay (ms). */
  maxMs: number;
  multiplier: number;
  /** 0 = no jitter; 1 = delay uniform in [0, d] ("full jitter"); in between: d x (1 - j + j x U). */
  jitter: number;
  /** Attempts after which `next()` gives up (undefined); Infinity = only the deadline bounds it. */
  maxAttempts: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({
  initialMs: 500,
  maxMs: 30_000,
  multiplier: 2,
  jitter: 0.5,
  maxAttempts: 20,
});

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly opts: BackoffOptions,
    private readonly rng: Rng,
  ) {}

  get attempts(): number {
    return this.attempt;
  }

  /** Delay before the next attempt, or undefined once `maxAttempts` failures in a row were seen. */
  next(): number | undefined {
    if (this.attempt >= this.opts.maxAttempts) return undefined;
    const base = Math.min(this.opts.maxMs, this.opts.initialMs * this.opts.multiplier ** this.attempt);
    this.attempt++;
    const j = Math.min(1, Math.max(0, this.opts.jitter));
    return Math.round(base * (1 - j + j * this.rng()));
  }

  /** After a connection that worked: start again from the initial delay. */
  reset(): void {
    this.attempt = 0;
  }
}
