// Churn models, declared up front and turned into a bounded, deterministic schedule.
//
// Spec string (`--churn`): models separated by `;`, each `<kind>:<key>=<value>,...`:
//   disconnect:fraction=10%,every=10s,down=2s[,start=5s][,times=3]   drop and come back
//   ip-change:fraction=5%,every=15s[,down=1s]                          come back with a new IP (new identity)
//   scale:at=10s,to=50%                                                active agents become 50% of the target
//   flap:fraction=10%,period=4s[,at=0s]                                probes start flapping
//   storm:at=15s[,fraction=100%][,down=0s]                             many disconnect and reconnect at once
// or the same as JSON (an array of objects with `kind` and the same keys, durations in ms).
import { FleetConfigError, parseDuration, parseFraction, parsePositiveInt } from './parse.js';
import type { Rng } from '../util/random.js';

export type ChurnSpec =
  | { kind: 'disconnect'; fraction: number; everyMs: number; downMs: number; startMs: number; times?: number }
  | { kind: 'ip-change'; fraction: number; everyMs: number; downMs: number; startMs: number; times?: number }
  | { kind: 'scale'; atMs: number; to: number }
  | { kind: 'flap'; fraction: number; periodMs: number; atMs: number }
  | { kind: 'storm'; atMs: number; fraction: number; downMs: number };

export type ChurnKind = ChurnSpec['kind'];

const KEYS: Record<ChurnKind, { required: string[]; optional: string[] }> = {
  disconnect: { required: ['fraction', 'every'], optional: ['down', 'start', 'times'] },
  'ip-change': { required: ['fraction', 'every'], optional: ['down', 'start', 'times'] },
  scale: { required: ['at', 'to'], optional: [] },
  flap: { required: ['fraction', 'period'], optional: ['at'] },
  storm: { required: ['at'], optional: ['fraction', 'down'] },
};

function isKind(k: string): k is ChurnKind {
  return Object.hasOwn(KEYS, k);
}

/** Parses the `--churn` syntax (or JSON); throws FleetConfigError naming the bad part. */
export function parseChurn(spec: string): ChurnSpec[] {
  const trimmed = spec.trim();
  if (trimmed === '' || trimmed === 'none') return [];
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) return parseChurnJson(trimmed);
  const out: ChurnSpec[] = [];
  for (const part of trimmed.split(';')) {
    if (part.trim() === '') continue;
    const colon = part.indexOf(':');
    const kind = (colon >= 0 ? part.slice(0, colon) : part).trim();
    if (!isKind(kind)) throw new FleetConfigError(`churn: unknown model "${kind}" (expected ${Object.keys(KEYS).join(', ')})`);
    const kv = new Map<string, string>();
    for (const item of (colon >= 0 ? part.slice(colon + 1) : '').split(',')) {
      if (item.trim() === '') continue;
      const eq = item.indexOf('=');
      if (eq < 0) throw new FleetConfigError(`churn ${kind}: expected key=value, got "${item.trim()}"`);
      kv.set(item.slice(0, eq).trim(), item.slice(eq + 1).trim());
    }
    out.push(fromKeyValues(kind, kv));
  }
  return out;
}

function fromKeyValues(kind: ChurnKind, kv: Map<string, string>): ChurnSpec {
  const { required, optional } = KEYS[kind];
  for (const k of kv.keys()) {
    if (!required.includes(k) && !optional.includes(k)) {
      throw new FleetConfigError(`churn ${kind}: unknown key "${k}" (allowed: ${[...required, ...optional].join(', ')})`);
    }
  }
  for (const k of required) if (!kv.has(k)) throw new FleetConfigError(`churn ${kind}: missing ${k}=`);
  const dur = (k: string, def: number): number => (kv.has(k) ? parseDuration(kv.get(k)!, `churn ${kind} ${k}`) : def);
  const frac = (k: string, def: number): number => (kv.has(k) ? parseFraction(kv.get(k)!, `churn ${kind} ${k}`) : def);
  switch (kind) {
    case 'disconnect':
    case 'ip-change': {
      const everyMs = dur('every', 0);
      if (everyMs <= 0) throw new FleetConfigError(`churn ${kind}: every= must be > 0`);
      return {
        kind,
        fraction: frac('fraction', 0),
        everyMs,
        downMs: dur('down', kind === 'disconnect' ? 1000 : 0),
        startMs: dur('start', everyMs),
        ...(kv.has('times') ? { times: parsePositiveInt(kv.get('times')!, `churn ${kind} times`) } : {}),
      };
    }
    case 'scale':
      return { kind, atMs: dur('at', 0), to: frac('to', 1) };
    case 'flap': {
      const periodMs = dur('period', 0);
      if (periodMs <= 0) throw new FleetConfigError('churn flap: period= must be > 0');
      return { kind, fraction: frac('fraction', 0), periodMs, atMs: dur('at', 0) };
    }
    case 'storm':
      return { kind, atMs: dur('at', 0), fraction: frac('fraction', 1), downMs: dur('down', 0) };
  }
}

function parseChurnJson(text: string): ChurnSpec[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new FleetConfigError(`churn: invalid JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((item, i) => {
    if (!item || typeof item !== 'object') throw new FleetConfigError(`churn[${i}]: expected an object`);
    const { kind, ...rest } = item as Record<string, unknown>;
    if (typeof kind !== 'string' || !isKind(kind)) throw new FleetConfigError(`churn[${i}]: unknown kind ${JSON.stringify(kind)}`);
    // JSON durations are milliseconds; fractions numbers. Map to the string grammar's keys.
    const kv = new Map<string, string>();
    for (const [k, v] of Object.entries(rest)) {
      const key = k.replace(/Ms$/, '');
      kv.set(key, typeof v === 'number' && ['every', 'down', 'start', 'at', 'period'].includes(key) ? `${v}ms` : String(v));
    }
    return fromKeyValues(kind, kv);
  });
}

/** One point in the churn schedule. */
export interface ChurnEvent {
  atMs: number;
  spec: number;
  occurrence: number;
}

/** At most this many events per model, whatever the duration: the schedule is always bounded. */
export const MAX_OCCURRENCES = 10_000;

/** Every event of `specs` within [0, durationMs), in time order (ties: spec order). */
export function scheduleChurn(specs: readonly ChurnSpec[], durationMs: number): ChurnEvent[] {
  const out: ChurnEvent[] = [];
  specs.forEach((s, spec) => {
    if (s.kind === 'disconnect' || s.kind === 'ip-change') {
      const limit = Math.min(s.times ?? MAX_OCCURRENCES, MAX_OCCURRENCES);
      for (let k = 0; k < limit; k++) {
        const atMs = s.startMs + k * s.everyMs;
        if (atMs >= durationMs) break;
        out.push({ atMs, spec, occurrence: k });
      }
    } else if (s.atMs < durationMs) {
      out.push({ atMs: s.atMs, spec, occurrence: 0 });
    }
  });
  return out.sort((a, b) => a.atMs - b.atMs || a.spec - b.spec);
}

/**
 * Picks round(fraction x candidates) of the candidates (partial Fisher-Yates with the run's
 * seeded RNG), so a run can be replayed. Result in candidate order.
 */
export function pickFraction<T>(candidates: readonly T[], fraction: number, rng: Rng): T[] {
  const n = Math.round(Math.min(1, Math.max(0, fraction)) * candidates.length);
  if (n >= candidates.length) return [...candidates];
  const idx = candidates.map((_, i) => i);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rng() * (idx.length - i));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx
    .slice(0, n)
    .sort((a, b) => a - b)
    .map((i) => candidates[i]!);
}
