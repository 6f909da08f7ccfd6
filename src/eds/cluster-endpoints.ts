// A cluster's endpoints grouped by locality, each endpoint encoded once and each locality's bytes
// cached, so that a change re-encodes one endpoint and re-joins one locality group.
import { encodeLbEndpointField, encodeLocalityField } from '../encode/fragments.js';
import { compareLocality, localityString, type Locality } from '../model/locality.js';
import type { Endpoint, EndpointDelta } from '../model/registry.js';
import { MAX_UINT32, type LocalityInput, type WeightedEndpoint } from './view-group.js';

/** Counters for benchmarks and the perf gate: how much encoding a change costs. */
export const encodeCounters = { endpointEncodes: 0, groupJoins: 0 };

export class EncodedEndpoint implements WeightedEndpoint {
  /** The `lb_endpoints` field (tag, length, LbEndpoint) ready to splice. */
  readonly field: Uint8Array;
  constructor(
    readonly endpoint: Endpoint,
    sendAsUnhealthy: boolean,
  ) {
    this.field = encodeLbEndpointField(endpoint, sendAsUnhealthy);
    encodeCounters.endpointEncodes++;
  }
  get weight(): number {
    return this.endpoint.weight;
  }
  get labels() {
    return this.endpoint.labels;
  }
}

export class LocalityGroup implements LocalityInput<EncodedEndpoint> {
  readonly key: string;
  readonly localityField: Uint8Array;
  private readonly members = new Map<string, EncodedEndpoint>();
  private sorted: EncodedEndpoint[] | undefined;
  private cachedBody: Uint8Array | undefined;
  private cachedWeight = -1;

  constructor(readonly locality: Locality) {
    this.key = localityString(locality);
    this.localityField = encodeLocalityField(locality);
  }

  get size(): number {
    return this.members.size;
  }

  get endpoints(): readonly EncodedEndpoint[] {
    if (!this.sorted) {
      this.sorted = [...this.members.values()].sort(compareEndpoints);
    }
    return this.sorted;
  }

  get weight(): number {
    if (this.cachedWeight < 0) {
      let w = 0;
      for (const e of this.members.values()) w += e.weight;
      this.cachedWeight = w > MAX_UINT32 ? MAX_UINT32 : w;
    }
    return this.cachedWeight;
  }

  /** The locality field followed by every endpoint field, joined once per change. */
  get body(): Uint8Array {
    if (!this.cachedBody) {
      const eps = this.endpoints;
      let n = this.localityField.length;
      for (const e of eps) n += e.field.length;
      const out = Buffer.allocUnsafeSlow(n);
      out.set(this.localityField, 0);
      let pos = this.localityField.length;
      for (const e of eps) {
        out.set(e.field, pos);
        pos += e.field.length;
      }
      this.cachedBody = out;
      encodeCounters.groupJoins++;
    }
    return this.cachedBody;
  }

  get(key: string): EncodedEndpoint | undefined {
    return this.members.get(key);
  }

  set(e: EncodedEndpoint): void {
    this.members.set(e.endpoint.key, e);
    this.invalidate();
  }

  delete(key: string): boolean {
    if (!this.members.delete(key)) return false;
    this.invalidate();
    return true;
  }

  private invalidate(): void {
    this.sorted = undefined;
    this.cachedBody = undefined;
    this.cachedWeight = -1;
  }
}

export interface ClusterEndpointsOptions {
  /** Send health-checked, unhealthy endpoints as UNHEALTHY instead of leaving them out (PILOT_SEND_UNHEALTHY_ENDPOINTS). */
  sendUnhealthy?: boolean;
}

export class ClusterEndpoints {
  private readonly groups = new Map<string, LocalityGroup>();
  /** endpoint key -> locality key, to find an endpoint's group when its locality changes. */
  private readonly groupOf = new Map<string, string>();
  private sortedGroups: LocalityGroup[] | undefined;

  constructor(private readonly options: ClusterEndpointsOptions = {}) {}

  get endpointCount(): number {
    return this.groupOf.size;
  }

  /** Non-empty locality groups, sorted by locality. */
  localities(): readonly LocalityGroup[] {
    if (!this.sortedGroups) {
      this.sortedGroups = [...this.groups.values()].filter((g) => g.size > 0).sort((a, b) => compareLocality(a.locality, b.locality));
    }
    return this.sortedGroups;
  }

  /** Replaces everything; returns whether anything changed. */
  reset(endpoints: readonly Endpoint[]): boolean {
    if (this.groupOf.size === 0) {
      let changed = false;
      for (const ep of endpoints) if (this.upsert(ep)) changed = true;
      return changed;
    }
    const keep = new Set<string>();
    let changed = false;
    for (const ep of endpoints) {
      if (this.upsert(ep)) changed = true;
      keep.add(ep.key);
    }
    for (const key of [...this.groupOf.keys()]) if (!keep.has(key) && this.remove(key)) changed = true;
    return changed;
  }

  /** Applies one registry delta; returns whether the encoded output can have changed. */
  apply(delta: EndpointDelta): boolean {
    let changed = false;
    for (const key of delta.removes) if (this.remove(key)) changed = true;
    for (const ep of delta.upserts.values()) if (this.upsert(ep)) changed = true;
    return changed;
  }

  private upsert(ep: Endpoint): boolean {
    const send = !ep.unhealthy || this.options.sendUnhealthy === true;
    if (!send) return this.remove(ep.key);
    const locKey = ep.localityKey;
    const prevLoc = this.groupOf.get(ep.key);
    if (prevLoc === locKey) {
      const prev = this.groups.get(locKey)!.get(ep.key)!;
      if (prev.endpoint.sameAs(ep)) return false;
    } else if (prevLoc !== undefined) {
      this.groups.get(prevLoc)!.delete(ep.key);
    }
    let g = this.groups.get(locKey);
    if (!g) {
      this.groups.set(locKey, (g = new LocalityGroup(ep.locality)));
    }
    if (g.size === 0 || prevLoc !== locKey) this.sortedGroups = undefined;
    g.set(new EncodedEndpoint(ep, ep.unhealthy));
    this.groupOf.set(ep.key, locKey);
    return true;
  }

  private remove(key: string): boolean {
    const locKey = this.groupOf.get(key);
    if (locKey === undefined) return false;
    const g = this.groups.get(locKey)!;
    g.delete(key);
    this.groupOf.delete(key);
    if (g.size === 0) {
      this.groups.delete(locKey);
      this.sortedGroups = undefined;
    }
    return true;
  }
}

/** Output order within a locality: address, then port, then workload key (deterministic). */
function compareEndpoints(x: EncodedEndpoint, y: EncodedEndpoint): number {
  const a = x.endpoint;
  const b = y.endpoint;
  if (a.address !== b.address) return a.address < b.address ? -1 : 1;
  if (a.port !== b.port) return a.port - b.port;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
