// Compares what two control planes sent for one resource and names each difference by kind, so
// the suite can tell a known, documented difference (docs/istiod-differences.md) from a new one.
import { isDeepStrictEqual } from 'node:util';
import type { Json } from './official-json.js';

export interface Difference {
  /** Stable id, e.g. `eds.priority`; docs/istiod-differences.md lists the ones kept on purpose. */
  kind: string;
  /** Which resource (and proxy) it was seen on. */
  where: string;
  detail: string;
}

type Obj = { [key: string]: Json };
const obj = (v: Json | undefined): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? v : {});
const arr = (v: Json | undefined): Json[] => (Array.isArray(v) ? v : []);
const show = (v: unknown): string => JSON.stringify(v ?? null);

function localityString(l: Json | undefined): string {
  const o = obj(l);
  return `${o['region'] ?? ''}/${o['zone'] ?? ''}/${o['sub_zone'] ?? ''}`;
}

interface FlatEndpoint {
  locality: string;
  priority: number;
  groupWeight: number | null;
  weight: number | null;
  health: string;
  metadata: Json | null;
  rest: Obj;
}

function endpointKey(lb: Obj): string {
  const sa = obj(obj(obj(lb['endpoint'])['address'])['socket_address']);
  return `${sa['address'] ?? '?'}:${sa['port_value'] ?? 0}`;
}

function flatten(cla: Json): Map<string, FlatEndpoint[]> {
  const out = new Map<string, FlatEndpoint[]>();
  for (const g of arr(obj(cla)['endpoints'])) {
    const group = obj(g);
    for (const e of arr(group['lb_endpoints'])) {
      const lb = obj(e);
      const { endpoint: _e, load_balancing_weight, health_status, metadata, ...rest } = lb;
      const { address: _a, ...endpointRest } = obj(lb['endpoint']);
      const key = endpointKey(lb);
      const list = out.get(key) ?? [];
      list.push({
        locality: localityString(group['locality']),
        priority: Number(group['priority'] ?? 0),
        groupWeight: group['load_balancing_weight'] == null ? null : Number(obj(group['load_balancing_weight'])['value'] ?? group['load_balancing_weight']),
        weight: load_balancing_weight == null ? null : Number(obj(load_balancing_weight)['value'] ?? load_balancing_weight),
        health: String(health_status ?? 'UNKNOWN'),
        metadata: metadata ?? null,
        rest: { ...rest, ...(Object.keys(endpointRest).length ? { endpoint: endpointRest } : {}) },
      });
      out.set(key, list);
    }
  }
  return out;
}

/** Group-level fields other than endpoints, sorted: what each (locality, priority) carries. */
function groups(cla: Json): string[] {
  return arr(obj(cla)['endpoints'])
    .map((g) => {
      const { lb_endpoints: _l, ...rest } = obj(g);
      return show({ ...rest, endpoints: arr(obj(g)['lb_endpoints']).length });
    })
    .sort();
}

/** EDS: every endpoint's placement, weights, health and metadata, then everything else. */
export function compareClusterLoadAssignment(where: string, ours: Json, theirs: Json): Difference[] {
  const d: Difference[] = [];
  const a = flatten(ours);
  const b = flatten(theirs);
  const missing = [...b.keys()].filter((k) => !a.has(k));
  const extra = [...a.keys()].filter((k) => !b.has(k));
  if (missing.length || extra.length) d.push({ kind: 'eds.endpoint-set', where, detail: `xdsim lacks [${missing.join(', ')}], has extra [${extra.join(', ')}]` });
  for (const [key, xs] of a) {
    const ys = b.get(key);
    if (!ys) continue;
    const fmt = (e: FlatEndpoint[], f: (x: FlatEndpoint) => unknown) => show(e.map(f).sort());
    const fields: [string, (x: FlatEndpoint) => unknown][] = [
      ['eds.locality', (x) => x.locality],
      ['eds.priority', (x) => `${x.locality}@${x.priority}`],
      ['eds.locality-weight', (x) => `${x.locality}@${x.priority}:${x.groupWeight}`],
      ['eds.endpoint-weight', (x) => x.weight],
      ['eds.health-status', (x) => x.health],
      ['eds.endpoint-metadata', (x) => show(x.metadata)],
      ['eds.endpoint-other', (x) => show(x.rest)],
    ];
    for (const [kind, f] of fields) {
      const x = fmt(xs, f);
      const y = fmt(ys, f);
      if (x !== y) {
        d.push({ kind, where: `${where} ${key}`, detail: `xdsim ${x} istiod ${y}` });
        break; // the first field that differs explains the rest (a priority change moves weights)
      }
    }
  }
  if (d.length === 0) {
    const ga = groups(ours);
    const gb = groups(theirs);
    if (!isDeepStrictEqual(ga, gb)) d.push({ kind: 'eds.groups', where, detail: `xdsim ${show(ga)} istiod ${show(gb)}` });
  }
  const { endpoints: _x, ...restA } = obj(ours);
  const { endpoints: _y, ...restB } = obj(theirs);
  if (!isDeepStrictEqual(restA, restB)) d.push({ kind: 'eds.other', where, detail: `xdsim ${show(restA)} istiod ${show(restB)}` });
  return d;
}

/** Top-level fields of two messages, each differing field its own difference `<prefix>.<field>`. */
export function compareFields(prefix: string, where: string, ours: Json, theirs: Json, fields?: readonly string[]): Difference[] {
  const a = obj(ours);
  const b = obj(theirs);
  const keys = fields ?? [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const d: Difference[] = [];
  for (const k of keys) {
    if (!isDeepStrictEqual(a[k], b[k])) d.push({ kind: `${prefix}.${k}`, where, detail: `xdsim ${show(a[k])} istiod ${show(b[k])}` });
  }
  return d;
}

/** Names one side has and the other lacks. */
export function compareNames(kind: string, where: string, ours: Iterable<string>, theirs: Iterable<string>): Difference[] {
  const a = new Set(ours);
  const b = new Set(theirs);
  const missing = [...b].filter((n) => !a.has(n)).sort();
  const extra = [...a].filter((n) => !b.has(n)).sort();
  if (!missing.length && !extra.length) return [];
  return [{ kind, where, detail: `xdsim lacks [${missing.join(', ')}], has extra [${extra.join(', ')}]` }];
}
