// Parsers for the fleet's compact flag syntax: durations, fractions, locality spreads, IPs.
// They throw FleetConfigError with a message naming what was wrong; the CLI turns that into
// exit code 2.
import type { AgentLocality } from '../agent/identity.js';

export class FleetConfigError extends Error {}

/** `30s`, `1.5m`, `250ms`, `2h`, or a bare number of seconds -> milliseconds. */
export function parseDuration(s: string, what = 'duration'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(s);
  if (!m) throw new FleetConfigError(`${what}: expected a duration like 30s, 500ms, 2m; got "${s}"`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000;
  return Math.round(ms);
}

/** `0.25` or `25%` -> 0.25, within [0, 1]. */
export function parseFraction(s: string, what = 'fraction'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%)?\s*$/.exec(s);
  if (!m) throw new FleetConfigError(`${what}: expected a number in 0..1 or a percentage; got "${s}"`);
  const v = m[2] ? Number(m[1]) / 100 : Number(m[1]);
  if (!(v >= 0 && v <= 1)) throw new FleetConfigError(`${what}: must be within 0..1 (0%..100%); got "${s}"`);
  return v;
}

export function parsePositiveInt(s: string, what: string, min = 1): number {
  if (!/^\s*\d+\s*$/.test(s)) throw new FleetConfigError(`${what}: expected an integer; got "${s}"`);
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < min) throw new FleetConfigError(`${what}: must be >= ${min}; got "${s}"`);
  return n;
}

/** `region/zone/subzone` (missing parts empty); dots are accepted as separators too. */
export function parseAgentLocality(s: string): AgentLocality {
  const parts = s.trim().split(/[/.]/);
  if (parts.length > 3 || parts.some((p) => /\s/.test(p))) throw new FleetConfigError(`locality: expected region/zone/subzone; got "${s}"`);
  return { region: parts[0] ?? '', zone: parts[1] ?? '', subZone: parts[2] ?? '' };
}

export interface WeightedLocality {
  locality: AgentLocality;
  weight: number;
}

/**
 * A spread of agents over localities:
 * - `r1/z1/s1:0.5,r2/z1/s1:0.5` (weights, normalised; a missing weight counts 1);
 * - `3x3x3`: a regions x zones x subzones grid named like the topology generator
 *   (`region-1/zone-1a/sz-1`), equal weights.
 */
export function parseLocalitySpread(s: string): WeightedLocality[] {
  const grid = /^\s*(\d+)x(\d+)x(\d+)\s*$/.exec(s);
  if (grid) {
    const [r, z, sz] = [Number(grid[1]), Number(grid[2]), Number(grid[3])];
    if (r < 1 || z < 1 || sz < 1 || z > 26 || r * z * sz > 10_000) {
      throw new FleetConfigError(`localities: grid ${s} out of range (each >= 1, zones <= 26, at most 10000 cells)`);
    }
    const out: WeightedLocality[] = [];
    for (let i = 1; i <= r; i++) {
      for (let j = 0; j < z; j++) {
        for (let k = 1; k <= sz; k++) {
          out.push({ locality: { region: `region-${i}`, zone: `zone-${i}${String.fromCharCode(97 + j)}`, subZone: `sz-${k}` }, weight: 1 });
        }
      }
    }
    return out;
  }
  const out: WeightedLocality[] = [];
  for (const item of s.split(',')) {
    if (item.trim() === '') continue;
    const idx = item.lastIndexOf(':');
    const loc = idx >= 0 ? item.slice(0, idx) : item;
    const weight = idx >= 0 ? Number(item.slice(idx + 1)) : 1;
    if (!(weight > 0) || !Number.isFinite(weight)) throw new FleetConfigError(`localities: bad weight in "${item}"`);
    out.push({ locality: parseAgentLocality(loc), weight });
  }
  if (out.length === 0) throw new FleetConfigError(`localities: empty spread "${s}"`);
  return out;
}

/** The locality of agent `index` of `count`: contiguous blocks in exact proportion to the weights. */
export function localityFor(spread: readonly WeightedLocality[], index: number, count: number): AgentLocality | undefined {
  if (spread.length === 0) return undefined;
  const total = spread.reduce((s, w) => s + w.weight, 0);
  const x = ((index + 0.5) / Math.max(1, count)) * total;
  let acc = 0;
  for (const w of spread) {
    acc += w.weight;
    if (x < acc) return w.locality;
  }
  return spread[spread.length - 1]!.locality;
}

export function parseIpv4(s: string): number {
  const parts = s.trim().split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new FleetConfigError(`ip-base: expected an IPv4 address like 10.200.0.0; got "${s}"`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIpv4(n: number): string {
  return [Math.floor(n / 16777216) % 256, Math.floor(n / 65536) % 256, Math.floor(n / 256) % 256, n % 256].join('.');
}

/**
 * The IP of agent `index` in its `generation` (each IP change moves to the next generation, so an
 * agent never reuses an address another agent had): base + 1 + generation x count + index.
 * The +1 skips the network address (x.x.0.0).
 */
export function agentIp(base: number, count: number, index: number, generation: number): string {
  const n = base + 1 + generation * count + index;
  if (n > 0xffffffff) throw new FleetConfigError(`ip-base: agent ${index} generation ${generation} runs past 255.255.255.255`);
  return formatIpv4(n);
}
