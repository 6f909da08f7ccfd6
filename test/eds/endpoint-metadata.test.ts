// LbEndpoint metadata as istiod writes it (endpoints/endpoint_builder.go buildEnvoyLbEndpoint,
// networking/util/util.go AppendLbEndpointMetadata, serviceentry/conversion.go for the inputs:
// getTLSModeFromWorkloadEntry, WorkloadNameFromWorkloadEntry, `<se>-<i>` for inline endpoints,
// endpoints/mtls_checker.go for the DestinationRule's say), read back from the served bytes.
import { describe, expect, it } from 'vitest';
import type { PeerAuthentication, Resource, WorkloadEntrySpec } from '../../src/config/resources.js';
import { encodeCounters } from '../../src/eds/cluster-endpoints.js';
import { toCanonicalJson } from '../../src/proto/index.js';
import { dr, mesh, proxy, se, svc, we } from '../helpers/mesh.js';

const CLUSTER = 'outbound|80||pay.pay.svc.cluster.local';
const service = svc('pay', { app: 'pay' }, [{ name: 'http', port: 80 }]);

interface Meta {
  istio?: { workload: string };
  'envoy.transport_socket_match'?: { tlsMode: string };
}

function metadataFrom(bytes: Uint8Array): Meta[] {
  const json = toCanonicalJson('ClusterLoadAssignment', bytes) as unknown as {
    endpoints: { lbEndpoints: { metadata: { filterMetadata: Meta } }[] }[];
  };
  return json.endpoints.flatMap((g) => g.lbEndpoints.map((e) => e.metadata.filterMetadata));
}

function metadataOf(resources: Resource[], cluster = CLUSTER): Meta[] {
  const { eds, registry } = mesh(resources);
  const out = metadataFrom(eds.view(cluster, proxy(''))!.bytes);
  eds.close();
  registry.close();
  return out;
}

const entry = (spec: Partial<WorkloadEntrySpec>, extra: Parameters<typeof we>[2] = {}) =>
  we('vm-1', { address: '10.0.0.1', ...spec, labels: { app: 'pay', ...spec.labels } }, extra);
const tls = { 'envoy.transport_socket_match': { tlsMode: 'istio' } };
const pa = (name: string, spec: PeerAuthentication['spec'], namespace = 'pay'): PeerAuthentication => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name, namespace },
  spec,
});
const telemetry = { istio: { workload: 'vm-1;pay;pay;;Kubernetes' } };

describe('endpoint metadata (istiod AppendLbEndpointMetadata)', () => {
  const cases: [string, Resource[], Meta][] = [
    ['no service account: telemetry only', [entry({})], { istio: { workload: 'vm-1;pay;pay;;Kubernetes' } }],
    ['a service account means mTLS', [entry({ serviceAccount: 'sa' })], { ...tls, istio: { workload: 'vm-1;pay;pay;;Kubernetes' } }],
    ['tlsMode label istio without a service account', [entry({ labels: { 'security.istio.io/tlsMode': 'istio' } })], { ...tls, istio: { workload: 'vm-1;pay;pay;;Kubernetes' } }],
    ['tlsMode label disabled beats the service account', [entry({ serviceAccount: 'sa', labels: { 'security.istio.io/tlsMode': 'disabled' } })], { istio: { workload: 'vm-1;pay;pay;;Kubernetes' } }],
    ['version label is the revision', [entry({ labels: { version: 'v2' } })], { istio: { workload: 'vm-1;pay;pay;v2;Kubernetes' } }],
    ['app.kubernetes.io labels before app/version', [entry({ labels: { 'app.kubernetes.io/name': 'kname', 'app.kubernetes.io/version': 'k1', version: 'v2' } })], { istio: { workload: 'vm-1;pay;kname;k1;Kubernetes' } }],
    ['canonical-name/revision labels first', [entry({ labels: { 'service.istio.io/canonical-name': 'cn', 'service.istio.io/canonical-revision': 'cr', 'app.kubernetes.io/name': 'k' } })], { istio: { workload: 'vm-1;pay;cn;cr;Kubernetes' } }],
    ['revision "latest" is left out', [entry({ labels: { version: 'latest' } })], { istio: { workload: 'vm-1;pay;pay;;Kubernetes' } }],
    ['metadata labels win over spec labels', [entry({ labels: { version: 'spec' } }, { labels: { version: 'meta' } })], { istio: { workload: 'vm-1;pay;pay;meta;Kubernetes' } }],
    ['auto-registration group annotation names the workload', [entry({}, { annotations: { 'istio.io/autoRegistrationGroup': 'grp' } })], { istio: { workload: 'grp;pay;pay;;Kubernetes' } }],
    ['workload-name label (metadata) names the workload', [entry({}, { labels: { 'service.istio.io/workload-name': 'wl' } })], { istio: { workload: 'wl;pay;pay;;Kubernetes' } }],
    ['workload-name in spec labels only does not', [entry({ labels: { 'service.istio.io/workload-name': 'wl' } })], { istio: { workload: 'vm-1;pay;pay;;Kubernetes' } }],
    // mtlsChecker: a DestinationRule TLS mode decides on its own.
    ['DR DISABLE drops tlsMode', [entry({ serviceAccount: 'sa' }), dr('d', { host: 'pay', trafficPolicy: { tls: { mode: 'DISABLE' } } })], { istio: { workload: 'vm-1;pay;pay;;Kubernetes' } }],
    ['DR SIMPLE drops tlsMode', [entry({ serviceAccount: 'sa' }), dr('d', { host: 'pay', trafficPolicy: { tls: { mode: 'SIMPLE' } } })], { istio: { workload: 'vm-1;pay;pay;;Kubernetes' } }],
    ['DR ISTIO_MUTUAL keeps istio', [entry({ serviceAccount: 'sa' }), dr('d', { host: 'pay', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } })], { ...tls, istio: { workload: 'vm-1;pay;pay;;Kubernetes' } }],
    ['DR ISTIO_MUTUAL does not add it to a disabled entry', [entry({}), dr('d', { host: 'pay', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } })], { istio: { workload: 'vm-1;pay;pay;;Kubernetes' } }],
    ['DR ISTIO_MUTUAL passes another label value through', [entry({ labels: { 'security.istio.io/tlsMode': 'custom' } }), dr('d', { host: 'pay', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } })], { 'envoy.transport_socket_match': { tlsMode: 'custom' }, istio: { workload: 'vm-1;pay;pay;;Kubernetes' } }],
    ['port-level TLS overrides the top level', [entry({ serviceAccount: 'sa' }), dr('d', { host: 'pay', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' }, portLevelSettings: [{ port: { number: 80 }, tls: { mode: 'DISABLE' } }] } })], { istio: { workload: 'vm-1;pay;pay;;Kubernetes' } }],
    // mtlsChecker.checkMtlsEnabled without a rule mode: PeerAuthentication DISABLE on the endpoint's port drops it.
    ['namespace PeerAuthentication DISABLE drops tlsMode', [entry({ serviceAccount: 'sa' }), pa('ns', { mtls: { mode: 'DISABLE' } })], telemetry],
    ['namespace PeerAuthentication STRICT keeps it', [entry({ serviceAccount: 'sa' }), pa('ns', { mtls: { mode: 'STRICT' } })], { ...tls, ...telemetry }],
    ['mesh-wide PeerAuthentication DISABLE (root namespace) drops it', [entry({ serviceAccount: 'sa' }), pa('default', { mtls: { mode: 'DISABLE' } }, 'istio-system')], telemetry],
    ['PeerAuthentication of another namespace: kept', [entry({ serviceAccount: 'sa' }), pa('ns', { mtls: { mode: 'DISABLE' } }, 'other')], { ...tls, ...telemetry }],
    ['workload PeerAuthentication STRICT beats a namespace DISABLE', [entry({ serviceAccount: 'sa' }), pa('ns', { mtls: { mode: 'DISABLE' } }), pa('wl', { selector: { matchLabels: { app: 'pay' } }, mtls: { mode: 'STRICT' } })], { ...tls, ...telemetry }],
    ['workload PeerAuthentication on a topology label', [entry({ serviceAccount: 'sa', locality: 'r1/z1' }), pa('wl', { selector: { matchLabels: { 'topology.kubernetes.io/zone': 'z1' } }, mtls: { mode: 'DISABLE' } })], telemetry],
    ['portLevelMtls by endpoint (target) port: the named entry port', [entry({ serviceAccount: 'sa', ports: { http: 8080 } }), pa('wl', { selector: { matchLabels: { app: 'pay' } }, portLevelMtls: { '8080': { mode: 'DISABLE' } } })], telemetry],
    ['portLevelMtls on the service port, not the endpoint port: kept', [entry({ serviceAccount: 'sa', ports: { http: 8080 } }), pa('wl', { selector: { matchLabels: { app: 'pay' } }, portLevelMtls: { '80': { mode: 'DISABLE' } } })], { ...tls, ...telemetry }],
    ['PeerAuthentication cannot add tlsMode to a disabled entry', [entry({}), pa('ns', { mtls: { mode: 'STRICT' } })], telemetry],
    ['a DR TLS mode decides alone: ISTIO_MUTUAL beats PeerAuthentication DISABLE', [entry({ serviceAccount: 'sa' }), pa('ns', { mtls: { mode: 'DISABLE' } }), dr('d', { host: 'pay', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } })], { ...tls, ...telemetry }],
  ];
  it.each(cases)('%s', (_, resources, expected) => {
    expect(metadataOf([service, ...resources])).toEqual([expected]);
  });

  it('ServiceEntry inline endpoints are named <ServiceEntry>-<index>, in its namespace; no app label: that name is the canonical name', () => {
    const entry = se('ext', {
      hosts: ['ext.example.com'],
      ports: [{ name: 'http', number: 80, protocol: 'HTTP' }],
      resolution: 'STATIC',
      endpoints: [{ address: '10.1.0.1' }, { address: '10.1.0.2', serviceAccount: 'sa', labels: { app: 'ext', version: 'v1' } }],
    });
    expect(metadataOf([entry], 'outbound|80||ext.example.com')).toEqual([
      { istio: { workload: 'ext-0;pay;ext-0;;Kubernetes' } },
      { ...tls, istio: { workload: 'ext-1;pay;ext;v1;Kubernetes' } },
    ]);
  });

  it('is encoded once per endpoint; a DestinationRule TLS change re-encodes the cluster', () => {
    const { store, eds, registry } = mesh([service, entry({ serviceAccount: 'sa' }), we('vm-2', { address: '10.0.0.2', labels: { app: 'pay' }, serviceAccount: 'sa' })]);
    const first = eds.view(CLUSTER, proxy(''))!;
    const encodes0 = encodeCounters.endpointEncodes;
    expect(eds.view(CLUSTER, proxy('r1/z1'))!.bytes).toBe(first.bytes);
    expect(encodeCounters.endpointEncodes).toBe(encodes0);
    store.apply(dr('d', { host: 'pay', trafficPolicy: { tls: { mode: 'DISABLE' } } }));
    const after = toCanonicalJson('ClusterLoadAssignment', eds.view(CLUSTER, proxy(''))!.bytes);
    expect(encodeCounters.endpointEncodes - encodes0).toBe(2);
    expect(JSON.stringify(after)).not.toContain('tlsMode');
    eds.close();
    registry.close();
  });

  it('a PeerAuthentication change re-encodes only the endpoints whose mTLS it turns on or off', () => {
    const other = svc('web', { app: 'web' }, [{ name: 'http', port: 80 }], 'web');
    const { store, eds, registry } = mesh([
      service,
      other,
      entry({ serviceAccount: 'sa' }),
      we('vm-2', { address: '10.0.0.2', labels: { app: 'pay', tier: 'db' }, serviceAccount: 'sa' }),
      we('vm-3', { address: '10.0.0.3', labels: { app: 'pay' } }),
      we('web-1', { address: '10.0.1.1', labels: { app: 'web' }, serviceAccount: 'sa' }, { namespace: 'web' }),
    ]);
    const WEB = 'outbound|80||web.web.svc.cluster.local';
    const changes: string[][] = [];
    eds.onChange((c) => changes.push([...c].sort()));
    for (const c of [CLUSTER, WEB]) eds.view(c, proxy(''));
    expect(registry.peerAuthentications).toBeUndefined();

    const encodes0 = encodeCounters.endpointEncodes;
    // A workload policy in `pay` for tier=db: vm-2 only. The `web` cluster is not touched.
    store.apply(pa('db', { selector: { matchLabels: { tier: 'db' } }, mtls: { mode: 'DISABLE' } }));
    expect(changes).toEqual([[CLUSTER]]);
    const after = metadataFrom(eds.view(CLUSTER, proxy(''))!.bytes);
    expect(encodeCounters.endpointEncodes - encodes0).toBe(1);
    expect(after).toEqual([{ ...tls, ...telemetry }, { istio: { workload: 'vm-2;pay;pay;;Kubernetes' } }, { istio: { workload: 'vm-3;pay;pay;;Kubernetes' } }]);

    // A STRICT namespace policy changes nobody's outcome: no push, no encoding.
    const encodes1 = encodeCounters.endpointEncodes;
    store.apply(pa('ns', { mtls: { mode: 'STRICT' } }));
    expect(changes).toHaveLength(1);
    // Mesh-wide DISABLE: `pay` keeps its STRICT namespace policy, so only web-1 turns off.
    store.apply(pa('default', { mtls: { mode: 'DISABLE' } }, 'istio-system'));
    expect(changes).toEqual([[CLUSTER], [WEB]]);
    expect(metadataFrom(eds.view(WEB, proxy(''))!.bytes)).toEqual([{ istio: { workload: 'web-1;web;web;;Kubernetes' } }]);
    expect(encodeCounters.endpointEncodes - encodes1).toBe(1);
    // Deleting the namespace policy: vm-1 now inherits the mesh DISABLE.
    store.delete('PeerAuthentication/pay/ns');
    expect(changes[2]).toEqual([CLUSTER]);
    expect(metadataFrom(eds.view(CLUSTER, proxy(''))!.bytes).map((m) => 'envoy.transport_socket_match' in m)).toEqual([false, false, false]);
    // All gone: back to the entries' own modes.
    store.commit([{ op: 'delete', key: 'PeerAuthentication/pay/db' }, { op: 'delete', key: 'PeerAuthentication/istio-system/default' }]);
    expect(registry.peerAuthentications).toBeUndefined();
    expect(changes[3]).toEqual([CLUSTER, WEB]);
    expect(metadataFrom(eds.view(CLUSTER, proxy(''))!.bytes).map((m) => 'envoy.transport_socket_match' in m)).toEqual([true, true, false]);
    eds.close();
    registry.close();
  });
});
