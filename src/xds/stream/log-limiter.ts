// Bad input can arrive thousands of times a second; log each kind once, then at most once per
// interval with the number of occurrences suppressed in between.
import type { Logger } from 'pino';

export class LogLimiter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 60_000,
  ) {}

  warn(kind: string, fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const s = this.last.get(kind);
    if (s && now - s.at < this.intervalMs) {
      s.suppressed++;
      return;
    }
    this.last.set(kind, { at: now, suppressed: 0 });
    this.log.warn({ kind, ...fields, ...(s?.suppressed ? { suppressed: s.suppressed } : {}) }, msg);
  }
}

/** Token bucket: `rate` requests per second, bursts up to `burst`. */
export class TokenBucket {
  private tokens: number;
  private at = performance.now();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}
