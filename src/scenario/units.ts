// The small value syntaxes of scenario files: durations ("500ms", "10s", "1m30s"), fractions
// ("10%" or 0.1) and rates ("100/s" or 100). Schemas check the spelling; these read the value.

import { parseGoDuration } from '../config/duration.js';

/** Go's duration syntax without its sub-millisecond units (ns, us). */
export const DURATION_PATTERN = '^(\\d+(\\.\\d+)?(ms|s|m|h))+$';
const DURATION = new RegExp(DURATION_PATTERN);
export const PERCENT_PATTERN = '^\\d+(\\.\\d+)?%$';
export const RATE_PATTERN = '^\\d+(\\.\\d+)?/(s|m)$';

/** Milliseconds of a duration string; throws on a spelling the schema would have rejected. */
export function parseDuration(s: string): number {
  const ms = DURATION.test(s) ? parseGoDuration(s) : undefined;
  if (ms === undefined) throw new Error(`not a duration: "${s}"`);
  return Math.round(ms);
}

/** "10%" -> 0.1; numbers are fractions already. */
export function parseFraction(v: number | string): number {
  if (typeof v === 'number') return v;
  if (!new RegExp(PERCENT_PATTERN).test(v)) throw new Error(`not a percentage: "${v}"`);
  return Number(v.slice(0, -1)) / 100;
}

/** Per second: "100/s" -> 100, "60/m" -> 1, numbers as they are. */
export function parseRate(v: number | string): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)\/(s|m)$/.exec(v);
  if (!m) throw new Error(`not a rate: "${v}"`);
  return m[2] === 's' ? Number(m[1]) : Number(m[1]) / 60;
}

/** Compact human duration: 950ms, 12.5s, 2m05s. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m}m${String(s).padStart(2, '0')}s`;
}

export function formatPercent(x: number, digits = 1): string {
  return `${(x * 100).toFixed(digits)}%`;
}
