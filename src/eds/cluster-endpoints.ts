// A cluster's endpoints grouped by locality. Each locality's bytes are cached as one body, with
// every endpoint's field inside it, so a change re-encodes one endpoint and re-joins one group,
// and a loaded mesh holds one buffer per locality group rather than one per endpoint.
import { appendLbEndpoint, encodeLbEndpointField, encodeLocalityField, takeAppended } from '../encode/fragments.js';
import { workloadEndpointTlsMode } from '../encode/endpoint-metadata.js';
import { TLS_MODE_ISTIO } from '../model/labels.js';
import { copyRange } from '../encode/wire.js';
import { compareLocality, localityString, type Locality } from '../model/locality.js';
import { Endpoint } from '../model/endpoint.js';
import type { EndpointDelta } from '../model/registry.js';
import type { PeerAuthentications } from '../model/peer-authentication.js';
import { MAX_UINT32, type LocalityInput, type WeightedEndpoint } from './view-group.js';

/** Counters for benchmarks and the perf gate: how much encoding a change costs. */
export const encodeCounters = { endpointEncodes: 0, groupJoins: 0 };

/**
 * An endpoint of one locality group, and where its encoded `lb_endpoints` field sits in that
 * group's body. It is an Endpoint itself (rather than wrapping the registry's) so that each
 * endpoint of a loaded mesh is one long-lived object.
 */
export class EncodedEndpoint extends Endpoint implements WeightedEndpoint {
  /** Offset of the field in the group's current body; -1 until the group joins it in. */
  fieldOffset = -1;
  fieldLength = 0;

  constructor(from: Endpoint) {
    super(from.workload, from.port);
  }

  /** The endpoint it encodes: itself. */
  get endpoint(): Endpoint {
    return this;
  }
  get network(): string {
    return this.workload.network;
  }
  get clusterId(): string {
    return this.workload.clusterId;
  }
}

/** What a cluster's endpoints are encoded with beyond themselves; shared by its groups. */
export interface ClusterEncoding {
  /** The DestinationRule's TLS mode for the cluster: decides the endpoints' tlsMode metadata. */
  ruleTlsMode: string | undefined;
  /**
   * The mesh's PeerAuthentications now (undefined: none), which decide it without a rule mode.
   * Read once per group join, never per endpoint.
   */
  readonly peerAuthn?: () => PeerAuthentications | undefined;
}

export class LocalityGroup implements LocalityInput<EncodedEndpoint> {
  readonly key: string;
  readonly localityField: Uint8Array;
  /** A set of objects, not a map by key: the cluster's `byKey` finds endpoints by key. */
  private readonly members = new Set<EncodedEndpoint>();
  private sorted: EncodedEndpoint[] | undefined;
  /** The last joined body; kept while stale because unchanged endpoints are copied out of it. */
  private joined: Uint8Array | undefined;
  private stale = true;
  private cachedWeight = -1;

  constructor(
    readonly locality: Locality,
    private readonly encoding: ClusterEncoding = { ruleTlsMode: undefined },
  ) {
    this.key = localityString(locality);
    this.localityField = encodeLocalityField(locality);
  }

  get size(): number {
    return this.members.size;
  }

  get endpoints(): readonly EncodedEndpoint[] {
    if (!this.sorted) {
      this.sorted = [...this.members].sort(compareEndpoints);
    }
    return this.sorted;
  }

  get weight(): number {
    if (this.cachedWeight < 0) {
      let w = 0;
      for (const e of this.members) w += e.weight;
      this.cachedWeight = w > MAX_UINT32 ? MAX_UINT32 : w;
    }
    return this.cachedWeight;
  }

  /**
   * The locality field followed by every endpoint field, joined once per change. Reading it also
   * makes every member's `fieldOffset` point into it.
   */
  get body(): Uint8Array {
    if (this.stale) {
      this.joined = this.join();
      this.stale = false;
    }
    return this.joined!;
  }

  add(e: EncodedEndpoint): void {
    this.members.add(e);
    this.invalidate();
  }

  delete(e: EncodedEndpoint): boolean {
    if (!this.members.delete(e)) return false;
    this.invalidate();
    return true;
  }

  /** Every endpoint encoded afresh on the next join (the cluster's encoding changed). */
  reencode(): void {
    for (const e of this.members) e.fieldOffset = -1;
    this.invalidate();
  }

  /** One member encoded afresh on the next join; the others are copied as they are. */
  reencodeMember(e: EncodedEndpoint): void {
    e.fieldOffset = -1;
    this.stale = true;
  }

  private invalidate(): void {
    this.sorted = undefined;
    this.stale = true;
    this.cachedWeight = -1;
  }

  /**
   * New endpoints are encoded back to back in one batch; the others are copied from the previous
   * body. One allocation for the body, whatever the number of changes.
   */
  private join(): Uint8Array {
    const eps = this.endpoints;
    const previous = this.joined;
    let size = this.localityField.length;
    let encoded = 0;
    const ruleTlsMode = this.encoding.ruleTlsMode;
    // A rule's TLS mode decides alone; otherwise the PeerAuthentications, if the mesh has any.
    const peer = ruleTlsMode === undefined ? this.encoding.peerAuthn?.() : undefined;
    for (const e of eps) {
      if (e.fieldOffset < 0) {
        // Until the copy below, fieldOffset holds -1 - (the field's end in the batch).
        const end = appendLbEndpoint(e, e.unhealthy, ruleTlsMode, peer);
        e.fieldLength = end - encoded;
        e.fieldOffset = -1 - end;
        encoded = end;
        encodeCounters.endpointEncodes++;
      }
      size += e.fieldLength;
    }
    const batch = encoded > 0 ? takeAppended() : undefined;
    const out = Buffer.allocUnsafeSlow(size);
    out.set(this.localityField, 0);
    let pos = this.localityField.length;
    if (encoded === size - pos) {
      // All new (a first build, a rebuilt cluster): the batch is the endpoints in order already.
      out.set(batch!, pos);
      for (const e of eps) {
        e.fieldOffset = pos;
        pos += e.fieldLength;
      }
    } else {
      for (const e of eps) {
        const from = e.fieldOffset < 0 ? batch! : previous!;
        const start = e.fieldOffset < 0 ? -1 - e.fieldOffset - e.fieldLength : e.fieldOffset;
        copyRange(from, start, e.fieldLength, out, pos);
        e.fieldOffset = pos;
        pos += e.fieldLength;
      }
    }
    encodeCounters.groupJoins++;
    return out;
  }
}

/**
 * istiod's unhealthy-endpoint switches. They do not change EDS here: every xdsim endpoint is a
 * WorkloadEntry (or a ServiceEntry's inline endpoint, always healthy), and istiod drops a
 * health-checked WorkloadEntry that is not Healthy before EDS whatever they say (its
 * ServiceEntry controller, under PILOT_ENABLE_WORKLOAD_ENTRY_HEALTHCHECKS). They are carried
 * here for the CDS Cluster's panic threshold (`src/xds/resources/cluster.ts`).
 */
export interface ClusterEndpointsOptions {
  /** PILOT_SEND_UNHEALTHY_ENDPOINTS (default false). */
  sendUnhealthy?: boolean;
  /** PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS (default true). */
  autoSendUnhealthy?: boolean;
}

export class ClusterEndpoints {
  private readonly groups = new Map<string, LocalityGroup>();
  /** Every endpoint by key; its `localityKey` names its group. */
  private readonly byKey = new Map<string, EncodedEndpoint>();
  private sortedGroups: LocalityGroup[] | undefined;
  private readonly encoding: ClusterEncoding;

  /** `peerAuthn` gives the mesh's PeerAuthentications at encoding time (none: never looked up). */
  constructor(peerAuthn?: () => PeerAuthentications | undefined) {
    this.encoding = { ruleTlsMode: undefined, ...(peerAuthn && { peerAuthn }) };
  }

  /** Sets the cluster's DestinationRule TLS mode; a change re-encodes every endpoint. Returns whether it changed. */
  setRuleTlsMode(mode: string | undefined): boolean {
    if (this.encoding.ruleTlsMode === mode) return false;
    this.encoding.ruleTlsMode = mode;
    for (const g of this.groups.values()) g.reencode();
    return this.byKey.size > 0;
  }

  get endpointCount(): number {
    return this.byKey.size;
  }

  /** Whether `e` is sent with tlsMode istio, i.e. reachable through a network gateway (split horizon). */
  mtls(e: EncodedEndpoint): boolean {
    const rule = this.encoding.ruleTlsMode;
    return workloadEndpointTlsMode(e.workload, rule, e.port, rule === undefined ? this.encoding.peerAuthn?.() : undefined) === TLS_MODE_ISTIO;
  }

  /** `e`'s field encoded with another weight (split horizon scales every weight). */
  encodeWithWeight(e: EncodedEndpoint, weight: number): Uint8Array {
    const rule = this.encoding.ruleTlsMode;
    return encodeLbEndpointField({ address: e.address, port: e.port, weight, workload: e.workload }, false, rule, rule === undefined ? this.encoding.peerAuthn?.() : undefined);
  }

  /**
   * Re-encodes the endpoints with these keys on the next view build (a PeerAuthentication change
   * turned their mTLS on or off); returns whether any is here. Unknown keys (an endpoint left
   * out, e.g. unhealthy) are skipped.
   */
  reencode(keys: Iterable<string>): boolean {
    let any = false;
    for (const key of keys) {
      const e = this.byKey.get(key);
      if (e === undefined) continue;
      this.groups.get(e.localityKey)!.reencodeMember(e);
      any = true;
    }
    return any;
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
    if (this.byKey.size === 0) {
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
    for (const key of [...this.byKey.keys()]) if (!keep.has(key) && this.remove(key)) changed = true;
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
    // A WorkloadEntry that is not healthy is not an endpoint at all, as in istiod.
    if (ep.unhealthy) return this.remove(ep.key);
    const prev = this.byKey.get(ep.key);
    if (prev !== undefined) {
      if (prev.localityKey === ep.localityKey && prev.sameAs(ep)) return false;
      this.leaveGroup(prev);
    }
    const locKey = ep.localityKey;
    let g = this.groups.get(locKey);
    if (!g) {
      this.groups.set(locKey, (g = new LocalityGroup(ep.locality, this.encoding)));
      this.sortedGroups = undefined;
    }
    const e = new EncodedEndpoint(ep);
    g.add(e);
    this.byKey.set(ep.key, e);
    return true;
  }

  private remove(key: string): boolean {
    const e = this.byKey.get(key);
    if (e === undefined) return false;
    this.byKey.delete(key);
    this.leaveGroup(e);
    return true;
  }

  /** Takes `e` out of its group, and the group out of the cluster once empty. */
  private leaveGroup(e: EncodedEndpoint): void {
    const g = this.groups.get(e.localityKey)!;
    g.delete(e);
    if (g.size === 0) {
      this.groups.delete(e.localityKey);
      this.sortedGroups = undefined;
    }
  }
}

/** Output order within a locality: address, then port, then workload key (deterministic). */
function compareEndpoints(a: EncodedEndpoint, b: EncodedEndpoint): number {
  if (a.address !== b.address) return a.address < b.address ? -1 : 1;
  if (a.port !== b.port) return a.port - b.port;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
