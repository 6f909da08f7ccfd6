// The spliced ClusterLoadAssignment bytes (encode/cla.ts over cached fragments) against the
// plain protobufjs encode of the same message (encode/reference.ts), over randomized meshes, all
// decoded with the upstream Envoy protos; and the incremental promise: one endpoint change costs
// one endpoint encode and one locality re-join.
import type protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import type { PeerAuthentication, Resource, WorkloadEntry } from '../../src/config/resources.js';
import { ConfigStore, type ConfigOp } from '../../src/config/store.js';
import { encodeCounters } from '../../src/eds/cluster-endpoints.js';
import { EdsCache, registryGroups, type EncodedView } from '../../src/eds/eds-cache.js';
import { proxyView, type ProxyView } from '../../src/eds/proxy.js';
import { MAX_UINT32 } from '../../src/eds/view-group.js';
import { templateCounters } from '../../src/encode/cla-template.js';
import { encodeReference, referenceClaObject } from '../../src/encode/reference.js';
import { LABEL_NETWORK } from '../../src/model/labels.js';
import { parseLocality } from '../../src/model/locality.js';
import { Registry } from '../../src/model/registry.js';
import type { PeerAuthentications } from '../../src/model/peer-authentication.js';
import {
  Rng,
  generateMesh,
  meshLocalities,
  type DestinationRulePolicy,
  type MeshOptions,
} from '../../src/topology/generate.js';
import { loadOfficialRoot } from '../proto/official.js';

const OfficialCLA: protobuf.Type = loadOfficialRoot().lookupType('envoy.config.endpoint.v3.ClusterLoadAssignment');
const DECODE_OPTIONS: protobuf.IConversionOptions = { longs: String, enums: String, defaults: false };

function officialDecode(bytes: Uint8Array): Record<string, unknown> {
  return OfficialCLA.toObject(OfficialCLA.decode(bytes), DECODE_OPTIONS);
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** What the randomized meshes actually exercised; each must be hit at least once. */
const seen = {
  views: 0,
  emptyViews: 0,
  multiPriority: 0,
  saturatedGroupWeight: 0,
  emptiedGroups: 0,
  splitLocalities: 0,
  tlsModeSent: 0,
  tlsModeDroppedByRule: 0,
  tlsModeDroppedByPeerAuthentication: 0,
};

function checkView(cluster: string, view: EncodedView, ruleTlsMode?: string, peer?: PeerAuthentications): void {
  const v = { bytes: view.bytes, groups: registryGroups(view) };
  const ref = referenceClaObject(cluster, v.groups, ruleTlsMode, peer);
  const refBytes = encodeReference(ref);
  const ours = officialDecode(v.bytes);
  // Same message as protobufjs' encode of the reference object, as read by the upstream schema...
  expect(ours).toStrictEqual(officialDecode(refBytes));
  // ...and as the upstream schema itself encodes that object (guards our trimmed proto/ tree).
  expect(ours).toStrictEqual(officialDecode(OfficialCLA.encode(OfficialCLA.fromObject(ref)).finish()));
  // protobufjs writes fields in field-number order, as the splice does: the bytes are identical.
  expect(hex(v.bytes)).toBe(hex(refBytes));

  // Envoy and gRPC need contiguous priorities.
  const priorities = new Set(v.groups.map((g) => g.priority));
  for (let p = 0; p < priorities.size; p++) expect(priorities.has(p)).toBe(true);

  seen.views++;
  if (v.groups.length === 0) seen.emptyViews++;
  if (v.groups.some((g) => g.priority > 0)) seen.multiPriority++;
  if (v.groups.some((g) => g.weight === MAX_UINT32)) seen.saturatedGroupWeight++;
  // istiod never sends a WorkloadEntry that is not Healthy, whatever PILOT_SEND_UNHEALTHY_ENDPOINTS says.
  expect(v.groups.some((g) => g.endpoints.some((e) => e.endpoint.unhealthy))).toBe(false);
  if (v.groups.some((g) => g.endpoints.length === 0)) seen.emptiedGroups++;
  if (new Set(v.groups.map((g) => g.source)).size < v.groups.length) seen.splitLocalities++;
  const json = JSON.stringify(ours);
  if (json.includes('envoy.transport_socket_match')) seen.tlsModeSent++;
  if (ruleTlsMode && ruleTlsMode !== 'ISTIO_MUTUAL' && v.groups.some((g) => g.endpoints.some((e) => e.endpoint.workload.tlsMode === 'istio'))) seen.tlsModeDroppedByRule++;
  const w = (e: { endpoint: { workload: { tlsMode: string; namespace: string; priorityLabels: Record<string, string> }; port: number } }) => e.endpoint.workload;
  if (!ruleTlsMode && peer && v.groups.some((g) => g.endpoints.some((e) => w(e).tlsMode === 'istio' && peer.disables(w(e).namespace, w(e).priorityLabels, e.endpoint.port)))) seen.tlsModeDroppedByPeerAuthentication++;
}

/**
 * PeerAuthentications for the generated namespaces (`ns-<n>`): namespace-wide and selector
 * policies (on the generator's `app`/`version` labels, or a topology label), some with port-level
 * modes, and now and then a mesh-wide one. Its own Rng, so the meshes stay what they were.
 */
function randomPeerAuthentications(rng: Rng, namespaces: readonly string[], tag: string): PeerAuthentication[] {
  const out: PeerAuthentication[] = [];
  const modes = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const;
  const make = (namespace: string, name: string, spec: PeerAuthentication['spec']): PeerAuthentication => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name, namespace },
    spec,
  });
  if (rng.chance(0.15)) out.push(make('istio-system', `mesh-${tag}`, { mtls: { mode: rng.pick(modes) } }));
  for (const ns of namespaces) {
    if (rng.chance(0.4)) out.push(make(ns, `ns-${tag}`, rng.chance(0.2) ? {} : { mtls: { mode: rng.pick(modes) } }));
    for (let i = 0; i < rng.int(0, 2); i++) {
      const selector = rng.pick<Record<string, string>>([{ version: 'v1' }, { version: 'v2' }, { 'topology.kubernetes.io/region': 'region-1' }, { 'topology.istio.io/subzone': 'sz-1' }]);
      const spec: PeerAuthentication['spec'] = { selector: { matchLabels: selector } };
      if (rng.chance(0.7)) spec.mtls = { mode: rng.pick(modes) };
      if (rng.chance(0.4)) spec.portLevelMtls = { [String(rng.pick([80, 8080, 9080, 9000]))]: { mode: rng.pick(modes) } };
      out.push(make(ns, `wl-${tag}-${i}`, spec));
    }
  }
  return out;
}

const TLS_MODES = [undefined, 'ISTIO_MUTUAL', 'DISABLE', 'SIMPLE'] as const;

/**
 * What the generated meshes leave out but endpoint metadata reads: service accounts, the tlsMode
 * label, telemetry name labels and annotations, and DestinationRule TLS modes.
 */
function withMetadataInputs(rng: Rng, resources: Resource[]): Resource[] {
  return resources.map((r) => {
    if (r.kind === 'WorkloadEntry') {
      const we = structuredClone(r);
      if (rng.chance(0.5)) we.spec.serviceAccount = 'vm-sa';
      if (rng.chance(0.2)) we.spec.labels = { ...we.spec.labels, 'security.istio.io/tlsMode': rng.pick(['istio', 'disabled', 'mutual']) };
      if (rng.chance(0.2)) we.metadata.labels = { ...we.metadata.labels, 'service.istio.io/workload-name': 'wl' };
      if (rng.chance(0.2)) we.metadata.annotations = { ...we.metadata.annotations, 'istio.io/autoRegistrationGroup': 'grp' };
      if (rng.chance(0.2)) we.spec.labels = { ...we.spec.labels, 'app.kubernetes.io/version': 'latest' };
      return we;
    }
    if (r.kind === 'DestinationRule') {
      const mode = rng.pick(TLS_MODES);
      if (mode === undefined) return r;
      const dr = structuredClone(r);
      dr.spec.trafficPolicy = { ...dr.spec.trafficPolicy, tls: { mode } };
      return dr;
    }
    return r;
  });
}

const POLICIES: readonly DestinationRulePolicy[] = ['none', 'failover', 'distribute', 'failoverPriority', 'mixed'];
const MAX_WEIGHTS = [1, 3, 100, 2 ** 31, MAX_UINT32];

function randomMesh(seed: number): { options: MeshOptions; sendUnhealthy: boolean } {
  const rng = new Rng(seed * 7919 + 13);
  const options: MeshOptions = {
    regions: rng.int(1, 3),
    zonesPerRegion: rng.int(1, 3),
    subzonesPerZone: rng.int(1, 2),
    services: rng.int(1, 3),
    namespaces: rng.int(1, 2),
    weights: rng.chance(0.7) ? 'random' : 'none',
    maxWeight: rng.pick(MAX_WEIGHTS),
    healthChecked: rng.pick([0, 0.3, 1]),
    unhealthy: rng.pick([0, 0.5, 1]),
    // Every policy gets the same share of meshes.
    destinationRules: POLICIES[seed % POLICIES.length]!,
    subsets: rng.int(0, 2),
    networks: rng.int(0, 2),
    racks: rng.int(0, 3),
    emptyServices: rng.int(0, 1),
    serviceKind: rng.pick(['Service', 'ServiceEntry', 'mixed'] as const),
    seed,
  };
  if (rng.chance(0.5)) options.totalEntries = rng.int(0, 80);
  else options.entriesPerLocality = rng.pick([0, 1, 1, 2, 3]);
  return { options, sendUnhealthy: rng.chance(0.5) };
}

function randomProxies(rng: Rng, options: MeshOptions, n: number): ProxyView[] {
  const localities = [...meshLocalities(options), '', 'region-9/zone-9a/sz-1', 'region-1', 'region-1/zone-1a'];
  const out: ProxyView[] = [];
  for (let i = 0; i < n; i++) {
    const labels: Record<string, string> = {};
    if (rng.chance(0.6)) labels.rack = `rack-${rng.int(1, 3)}`;
    if (rng.chance(0.4)) labels.version = `v${rng.int(1, 2)}`;
    if (rng.chance(0.3)) labels[LABEL_NETWORK] = `network-${rng.int(1, 2)}`;
    out.push(
      proxyView({
        locality: parseLocality(rng.pick(localities)),
        network: rng.chance(0.5) ? `network-${rng.int(1, 2)}` : '',
        // Some proxies carry no labels at all: failoverPriority must then skip the split.
        labels: rng.chance(0.2) ? {} : labels,
      }),
    );
  }
  return out;
}

/** A few random edits of existing entries in one batch: weight, health, locality, removal. */
function randomEdits(rng: Rng, store: ConfigStore, options: MeshOptions): ConfigOp[] {
  const entries = store.list('WorkloadEntry');
  const localities = meshLocalities(options);
  const ops: ConfigOp[] = [];
  for (let i = 0; i < Math.min(5, entries.length); i++) {
    const we = rng.pick(entries);
    const next: WorkloadEntry = structuredClone(we);
    switch (rng.int(0, 3)) {
      case 0:
        next.spec.weight = rng.int(1, options.maxWeight ?? 100);
        break;
      case 1:
        next.metadata.annotations = { 'proxy.istio.io/health-checks-enabled': 'true' };
        next.status = { conditions: [{ type: 'Healthy', status: rng.chance(0.5) ? 'True' : 'False' }] };
        break;
      case 2:
        next.spec.locality = rng.pick(localities);
        if (rng.chance(0.5)) next.spec.serviceAccount = next.spec.serviceAccount ? undefined : 'vm-sa';
        break;
      default:
        ops.push({ op: 'delete', key: `WorkloadEntry/${we.metadata.namespace}/${we.metadata.name}` });
        continue;
    }
    ops.push({ op: 'apply', resource: next });
  }
  return ops;
}

describe('spliced ClusterLoadAssignment == protobufjs object encode', () => {
  it('matches on 240 randomized meshes, before and after incremental edits', () => {
    const rendered0 = templateCounters.renders;
    for (let seed = 1; seed <= 240; seed++) {
      const { options, sendUnhealthy } = randomMesh(seed);
      const store = new ConfigStore();
      const rng = new Rng(seed);
      const generated = withMetadataInputs(rng, generateMesh(options));
      const paRng = new Rng(seed * 131 + 7);
      const namespaces = generated.filter((r) => r.kind === 'Namespace').map((r) => r.metadata.name);
      const policies = paRng.chance(0.5) ? randomPeerAuthentications(paRng, namespaces, 'a') : [];
      store.commit([...generated, ...policies].map((resource) => ({ op: 'apply', resource })));
      const registry = new Registry(store);
      const eds = new EdsCache(registry, { sendUnhealthy });
      const proxies = randomProxies(rng, options, 5);
      const clusters = eds.clusterNames();
      const tls = (c: string) => registry.cluster(c)?.policy.tlsMode;
      expect(clusters.length).toBeGreaterThan(0);
      for (const c of clusters) for (const p of proxies) checkView(c, eds.view(c, p)!, tls(c), registry.peerAuthentications);

      // Incremental state must encode exactly like a cache built from scratch on the same store;
      // PeerAuthentications come and go in the same batch as entry edits.
      const paOps: ConfigOp[] = [];
      if (paRng.chance(0.6)) {
        for (const p of policies) if (paRng.chance(0.5)) paOps.push({ op: 'delete', key: `PeerAuthentication/${p.metadata.namespace}/${p.metadata.name}` });
        for (const p of randomPeerAuthentications(paRng, namespaces, 'b')) paOps.push({ op: 'apply', resource: p });
      }
      store.commit([...randomEdits(rng, store, options), ...paOps]);
      const freshRegistry = new Registry(store);
      const fresh = new EdsCache(freshRegistry, { sendUnhealthy });
      expect(eds.clusterNames()).toEqual(fresh.clusterNames());
      for (const c of eds.clusterNames()) {
        for (const p of proxies) {
          const v = eds.view(c, p)!;
          checkView(c, v, tls(c), registry.peerAuthentications);
          expect(hex(v.bytes)).toBe(hex(fresh.view(c, p)!.bytes));
        }
      }
      fresh.close();
      freshRegistry.close();
      eds.close();
      registry.close();
    }
    expect(seen.views).toBeGreaterThan(1000);
    // Failover views come from the cluster template, the others are spliced: both are checked.
    expect(templateCounters.renders - rendered0).toBeGreaterThan(100);
    expect(templateCounters.renders - rendered0).toBeLessThan(seen.views - 100);
    for (const [what, n] of Object.entries(seen)) expect(n, `randomized meshes never produced: ${what}`).toBeGreaterThan(0);
  });
});

describe('incremental encoding', () => {
  it('one endpoint change re-encodes one endpoint and re-joins one locality group', () => {
    const options: MeshOptions = {
      regions: 3,
      zonesPerRegion: 3,
      subzonesPerZone: 3,
      services: 1,
      namespaces: 1,
      entriesPerLocality: 10,
      weights: 'random',
      destinationRules: 'failover',
      seed: 42,
    };
    const store = new ConfigStore();
    store.commit(generateMesh(options).map((resource) => ({ op: 'apply', resource })));
    const registry = new Registry(store);
    const eds = new EdsCache(registry);
    const [cluster] = eds.clusterNames();
    const proxy = proxyView({ locality: parseLocality('region-1/zone-1a/sz-1') });
    const before = eds.view(cluster!, proxy)!;
    expect(before.groups).toHaveLength(27);
    const bodiesBefore = new Map(registryGroups(before).map((g) => [g.source.key, g.source.body]));

    const target = store.list('WorkloadEntry').find((we) => we.spec.locality === 'region-2/zone-2b/sz-3')!;
    const encodes0 = encodeCounters.endpointEncodes;
    const joins0 = encodeCounters.groupJoins;
    store.commit([{ op: 'apply', resource: { ...target, spec: { ...target.spec, weight: (target.spec.weight ?? 1) + 1 } } }]);
    // Encoding and joining are lazy: nothing happens until a view needs the bytes.
    expect(encodeCounters.endpointEncodes - encodes0).toBe(0);
    expect(encodeCounters.groupJoins - joins0).toBe(0);

    const after = eds.view(cluster!, proxy)!;
    expect(after).not.toBe(before);
    expect(encodeCounters.groupJoins - joins0).toBe(1);
    expect(encodeCounters.endpointEncodes - encodes0).toBe(1);
    for (const g of registryGroups(after)) {
      if (g.source.key === 'region-2/zone-2b/sz-3') expect(g.source.body).not.toBe(bodiesBefore.get(g.source.key));
      else expect(g.source.body).toBe(bodiesBefore.get(g.source.key));
    }
    checkView(cluster!, after);
    eds.close();
    registry.close();
  });
});
