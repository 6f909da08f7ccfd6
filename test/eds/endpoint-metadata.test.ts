// LbEndpoint metadata as istiod writes it (endpoints/endpoint_builder.go buildEnvoyLbEndpoint,
// networking/util/util.go AppendLbEndpointMetadata, serviceentry/conversion.go for the inputs:
// getTLSModeFromWorkloadEntry, WorkloadNameFromWorkloadEntry, `<se>-<i>` for inline endpoints,
// endpoints/mtls_checker.go for the DestinationRule's say), read back from the served bytes.
import { describe, expect, it } from 'vitest';
import type { Resource, WorkloadEntrySpec } from '../../src/config/resources.js';
import { encodeCounters } from '../../src/eds/cluster-endpoints.js';
import { toCanonicalJson } from '../../src/proto/index.js';
import { dr, mesh, proxy, se, svc, we } from '../helpers/mesh.js';

const CLUSTER = 'outbound|80||pay.pay.svc.cluster.local';
const service = svc('pay', { app: 'pay' }, [{ name: 'http', port: 80 }]);

interface Meta {
  istio?: { workload: string };
  'envoy.transport_socket_match'?: { tlsMode: string };
}

function metadataOf(resources: Resource[], cluster = CLUSTER): Meta[] {
  const { eds, registry } = mesh(resources);
  const json = toCanonicalJson('ClusterLoadAssignment', eds.view(cluster, proxy(''))!.bytes) as unknown as {
    endpoints: { lbEndpoints: { metadata: { filterMetadata: Meta } }[] }[];
  };
  eds.close();
  registry.close();
  return json.endpoints.flatMap((g) => g.lbEndpoints.map((e) => e.metadata.filterMetadata));
}

const entry = (spec: Partial<WorkloadEntrySpec>, extra: Parameters<typeof we>[2] = {}) =>
  we('vm-1', { address: '10.0.0.1', ...spec, labels: { app: 'pay', ...spec.labels } }, extra);
const tls = { 'envoy.transport_socket_match': { tlsMode: 'istio' } };

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
});
