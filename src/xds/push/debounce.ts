// istiod's push debouncing (SPEC §9): changes are merged until PILOT_DEBOUNCE_AFTER passes with
// no new change, or PILOT_DEBOUNCE_MAX passes since the first one. With PILOT_ENABLE_EDS_DEBOUNCE
// off, endpoint-only changes skip the wait.
import { parseGoDuration } from '../../config/duration.js';

export interface DebounceOptions {
  /** PILOT_DEBOUNCE_AFTER: quiet period, ms (istiod: 100ms). */
  debounceAfterMs: number;
  /** PILOT_DEBOUNCE_MAX: longest a change waits, ms (istiod: 10s). */
  debounceMaxMs: number;
  /** PILOT_ENABLE_EDS_DEBOUNCE (istiod: true). */
  enableEdsDebounce: boolean;
}

export const DEFAULT_DEBOUNCE: DebounceOptions = Object.freeze({
  debounceAfterMs: 100,
  debounceMaxMs: 10_000,
  enableEdsDebounce: true,
});

export interface Debounced<T> {
  value: T;
  /** performance.now() of the first change merged in. */
  firstAt: number;
  /** How many changes were merged. */
  merged: number;
}

export class Debouncer<T> {
  private pending: Debounced<T> | undefined;
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Changes that bypass debouncing, released together on the next tick. */
  private immediate: Debounced<T> | undefined;
  private immediateScheduled = false;
  private closed = false;

  constructor(
    private readonly opts: DebounceOptions,
    private readonly merge: (a: T, b: T) => T,
    private readonly fire: (d: Debounced<T>) => void,
  ) {}

  /** A change; `edsOnly` when it only touches endpoints. */
  add(value: T, at: number, edsOnly: boolean): void {
    if (this.closed) return;
    if (edsOnly && !this.opts.enableEdsDebounce) {
      this.immediate = this.mergeInto(this.immediate, value, at);
      if (!this.immediateScheduled) {
        this.immediateScheduled = true;
        // Next tick, not now: the other listeners of the same config batch get to report first.
        setImmediate(() => {
          this.immediateScheduled = false;
          const d = this.immediate;
          this.immediate = undefined;
          if (d && !this.closed) this.fire(d);
        });
      }
      return;
    }
    this.pending = this.mergeInto(this.pending, value, at);
    this.lastAt = performance.now();
    if (!this.timer) this.schedule(this.opts.debounceAfterMs);
  }

  private mergeInto(d: Debounced<T> | undefined, value: T, at: number): Debounced<T> {
    if (!d) return { value, firstAt: at, merged: 1 };
    return { value: this.merge(d.value, value), firstAt: Math.min(d.firstAt, at), merged: d.merged + 1 };
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => this.tick(), Math.max(0, ms));
  }

  private tick(): void {
    this.timer = undefined;
    const d = this.pending;
    if (!d || this.closed) return;
    const now = performance.now();
    const quiet = now - this.lastAt;
    const waited = now - d.firstAt;
    if (quiet >= this.opts.debounceAfterMs || waited >= this.opts.debounceMaxMs) {
      this.pending = undefined;
      this.fire(d);
      return;
    }
    this.schedule(Math.min(this.opts.debounceAfterMs - quiet, this.opts.debounceMaxMs - waited));
  }

  /** Pushes whatever is waiting now (shutdown, tests). */
  flushNow(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const d = this.pending;
    this.pending = undefined;
    if (d && !this.closed) this.fire(d);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Durations as istiod's flags take them (Go syntax: `100ms`, `10s`, `1m30s`), or a bare number of ms. */
export function parseDuration(s: string): number {
  const t = s.trim();
  const ms = /^\d+(?:\.\d+)?$/.test(t) ? Number(t) : parseGoDuration(t);
  if (ms === undefined) throw new Error(`invalid duration "${s}" (examples: 100ms, 10s, 1m)`);
  return ms;
}

/** Reads the PILOT_* flags from the environment, over `base`. */
export function debounceFromEnv(env: NodeJS.ProcessEnv, base: DebounceOptions = DEFAULT_DEBOUNCE): DebounceOptions {
  const out = { ...base };
  if (env['PILOT_DEBOUNCE_AFTER']) out.debounceAfterMs = parseDuration(env['PILOT_DEBOUNCE_AFTER']);
  if (env['PILOT_DEBOUNCE_MAX']) out.debounceMaxMs = parseDuration(env['PILOT_DEBOUNCE_MAX']);
  if (env['PILOT_ENABLE_EDS_DEBOUNCE']) out.enableEdsDebounce = !/^(false|0|no|off)$/i.test(env['PILOT_ENABLE_EDS_DEBOUNCE']);
  return out;
}
