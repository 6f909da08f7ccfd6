// Locality strings and Istio's matching rules (SPEC §2, §4), as pure functions.

export interface Locality {
  region: string;
  zone: string;
  subZone: string;
}

export const NO_LOCALITY: Locality = Object.freeze({ region: '', zone: '', subZone: '' });

/**
 * Parsed localities, shared: a mesh has few distinct localities and many workloads, so every
 * workload in one locality points at one frozen object. Bounded so that a stream of unique
 * garbage strings cannot grow it without limit; past the bound, parses are simply not shared.
 */
const parsed = new Map<string, Locality>();
const MAX_SHARED_LOCALITIES = 10_000;

/** `region/zone/subzone` (Istio also accepts dots in label values); missing parts are empty. */
export function parseLocality(s: string | undefined): Locality {
  if (!s) return NO_LOCALITY;
  const hit = parsed.get(s);
  if (hit) return hit;
  const [region = '', zone = '', subZone = ''] = s.replaceAll('.', '/').split('/');
  const l: Locality = Object.freeze({ region, zone, subZone });
  if (parsed.size < MAX_SHARED_LOCALITIES) parsed.set(s, l);
  return l;
}

/** Canonical strings of the shared localities, so workloads in one locality share one key string. */
const canonical = new WeakMap<Locality, string>();

/** Canonical form used as a key and in reports: always three slash-separated parts. */
export function localityString(l: Locality): string {
  const hit = canonical.get(l);
  if (hit !== undefined) return hit;
  const s = `${l.region}/${l.zone}/${l.subZone}`;
  if (Object.isFrozen(l)) canonical.set(l, s);
  return s;
}

/** Human form: trailing empty parts dropped (`us-east/1a`, or `""` for none). */
export function localityLabel(l: Locality): string {
  if (l.subZone) return `${l.region}/${l.zone}/${l.subZone}`;
  if (l.zone) return `${l.region}/${l.zone}`;
  return l.region;
}

export function compareLocality(a: Locality, b: Locality): number {
  return cmp(a.region, b.region) || cmp(a.zone, b.zone) || cmp(a.subZone, b.subZone);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Istio's `LocalityMatch`: a rule part of `*` matches anything; a missing zone or subzone
 * matches anything; the region must be given (or `*`).
 */
export function localityMatches(l: Locality, pattern: string): boolean {
  const [region = '', zone = '', subZone = ''] = pattern.split('/');
  return (
    (region === '*' || region === l.region) &&
    (zone === '*' || zone === '' || zone === l.zone) &&
    (subZone === '*' || subZone === '' || subZone === l.subZone)
  );
}

/**
 * Proximity of an endpoint locality to the proxy's (Istio's `LbPriority`):
 * 0 same subzone, 1 same zone, 2 same region, 3 elsewhere.
 */
export function proximityPriority(proxy: Locality, endpoint: Locality): 0 | 1 | 2 | 3 {
  if (proxy.region !== endpoint.region) return 3;
  if (proxy.zone !== endpoint.zone) return 2;
  if (proxy.subZone !== endpoint.subZone) return 1;
  return 0;
}
