import { describe, expect, it } from 'vitest';
import { agentLabels, buildNode, canonicalService, encodeNode, nodeId, nodeMetadata, sharedNode } from '../../src/agent/identity.js';
import { decode, fromStruct, toObject } from '../../src/proto/index.js';
import type { Node } from '../../src/proto/messages.js';
import { parseNode } from '../../src/xds/stream/node.js';

const vm = {
  name: 'vm-7',
  namespace: 'pay',
  ip: '10.200.0.8',
  group: 'payments',
  network: 'net-a',
  labels: { app: 'payments', version: 'v2' },
  locality: { region: 'us-east', zone: 'us-east-1a', subZone: 'rack1' },
  clusterId: 'vm-cluster',
};

describe('agent identity: the Node an istio-agent sends', () => {
  it('node id has the sidecar~ip~name.ns~ns.svc.domain shape', () => {
    expect(nodeId(vm)).toBe('sidecar~10.200.0.8~vm-7.pay~pay.svc.cluster.local');
    expect(nodeId({ ...vm, domain: 'corp.internal' })).toBe('sidecar~10.200.0.8~vm-7.pay~pay.svc.corp.internal');
  });

  it('metadata uses istiod NodeMetadata names; optional keys only when set', () => {
    const md = nodeMetadata({ ...vm, extraIps: ['192.168.1.8'], workloadEntry: 'pre-made' });
    expect(md).toMatchObject({
      NAME: 'vm-7',
      NAMESPACE: 'pay',
      AUTO_REGISTER_GROUP: 'payments',
      WORKLOAD_ENTRY: 'pre-made',
      NETWORK: 'net-a',
      LABELS: { app: 'payments', version: 'v2' },
      INSTANCE_IPS: '10.200.0.8,192.168.1.8',
      CLUSTER_ID: 'vm-cluster',
      WORKLOAD_NAME: 'payments',
      DNS_CAPTURE: 'true',
      ENVOY_STATUS_PORT: 15021,
      ENVOY_PROMETHEUS_PORT: 15090,
      PILOT_SAN: ['istiod.istio-system.svc'],
      METADATA_DISCOVERY: 'false',
    });
    // istioctl's ISTIO_METAJSON_LABELS: the labels plus the canonical service name and revision.
    expect(md['LABELS']).toEqual({ app: 'payments', version: 'v2', 'service.istio.io/canonical-name': 'payments', 'service.istio.io/canonical-revision': 'v2' });
    expect(md['STATIC_LABELS']).toEqual(md['LABELS']);
    // A VM's agent sets no interception mode (istiod defaults to REDIRECT).
    expect(md).not.toHaveProperty('INTERCEPTION_MODE');
    expect(md['ISTIO_VERSION']).toBe('1.31.0');
    const bare = nodeMetadata({ name: 'x', namespace: 'n', ip: '1.2.3.4' });
    for (const k of ['AUTO_REGISTER_GROUP', 'WORKLOAD_ENTRY', 'NETWORK', 'LABELS', 'WORKLOAD_NAME', 'SERVICE_ACCOUNT']) expect(bare).not.toHaveProperty(k);
  });

  it('PROXY_CONFIG is the ProxyConfig istioctl-configured VMs send, with the group probe as readinessProbe', () => {
    const probe = { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 5 };
    const md = nodeMetadata({ ...vm, serviceAccount: 'pay-sa', readinessProbe: probe, podPorts: { http: 8080 } });
    const pc = md['PROXY_CONFIG'] as Record<string, unknown>;
    expect(pc).toMatchObject({
      serviceCluster: 'payments.pay',
      discoveryAddress: 'istiod.istio-system.svc:15012',
      controlPlaneAuthPolicy: 'MUTUAL_TLS',
      drainDuration: '45s',
      statusPort: 15020,
      readinessProbe: probe,
      proxyMetadata: {
        ISTIO_META_CLUSTER_ID: 'vm-cluster',
        ISTIO_META_NETWORK: 'net-a',
        ISTIO_META_WORKLOAD_NAME: 'payments',
        ISTIO_META_AUTO_REGISTER_GROUP: 'payments',
        ISTIO_META_DNS_CAPTURE: 'true',
        ISTIO_META_POD_PORTS: '[{"name":"http","containerPort":8080}]',
        POD_NAMESPACE: 'pay',
        SERVICE_ACCOUNT: 'pay-sa',
        CANONICAL_SERVICE: 'payments',
        CANONICAL_REVISION: 'v2',
      },
    });
    expect(md['SERVICE_ACCOUNT']).toBe('pay-sa');
    expect(md['POD_PORTS']).toBe('[{"name":"http","containerPort":8080}]');
    // No probe in the group: none in the config, so istiod will not mark the entry health-checked.
    expect(nodeMetadata(vm)['PROXY_CONFIG']).not.toHaveProperty('readinessProbe');
  });

  it.each([
    [{}, 'grp', ['grp', 'latest']],
    [{ app: 'a', version: 'v1' }, 'grp', ['a', 'v1']],
    [{ 'app.kubernetes.io/name': 'k', app: 'a', 'app.kubernetes.io/version': '2' }, 'grp', ['k', '2']],
    [{ 'service.istio.io/canonical-name': 'c', app: 'a' }, 'grp', ['c', 'latest']],
  ])('canonicalService(%j, %s) = %j (istio pkg/kube/labels CanonicalService)', (labels, wl, want) => {
    expect(canonicalService(labels, wl)).toEqual(want);
    expect(agentLabels({ labels, group: wl })['service.istio.io/canonical-name']).toBe(want[0]);
  });

  it('the shared part encodes once; agents built with it send the same Node as without it', () => {
    const shared = sharedNode(vm);
    const a = toObject<Node>('Node', decode('Node', encodeNode({ ...vm, shared })));
    const b = toObject<Node>('Node', decode('Node', encodeNode(vm)));
    expect(fromStruct(a.metadata)).toEqual(fromStruct(b.metadata));
    expect(fromStruct(a.metadata)).toEqual(nodeMetadata(vm));
    expect(a.cluster).toBe('payments.pay');
    // Another agent of the same group reuses the same bytes.
    expect(sharedNode(vm).structBytes).not.toBe(shared.structBytes);
    expect(fromStruct(toObject<Node>('Node', decode('Node', encodeNode({ ...vm, name: 'vm-8', ip: '10.200.0.9', shared }))).metadata)['INSTANCE_IPS']).toBe('10.200.0.9');
  });

  it('encodes to a Node that decodes back with Struct metadata and locality', () => {
    const n = toObject<Node>('Node', decode('Node', encodeNode(vm)));
    expect(n.id).toBe(nodeId(vm));
    expect(n.locality).toEqual({ region: 'us-east', zone: 'us-east-1a', sub_zone: 'rack1' });
    const md = fromStruct(n.metadata);
    expect(md['LABELS']).toMatchObject({ app: 'payments', version: 'v2' });
    expect(md['AUTO_REGISTER_GROUP']).toBe('payments');
  });

  it('is read by the server side as the proxy it describes', () => {
    const p = parseNode(decode('Node', encodeNode(vm)));
    expect(p.namespace).toBe('pay');
    expect(p.ip).toBe('10.200.0.8');
    expect(p.network).toBe('net-a');
    expect(p.labels).toMatchObject({ app: 'payments', version: 'v2' });
    expect(p.locality).toEqual({ region: 'us-east', zone: 'us-east-1a', subZone: 'rack1' });
    expect(p.metadata['AUTO_REGISTER_GROUP']).toBe('payments');
  });

  it('no locality in the Node when none is given', () => {
    expect(buildNode({ name: 'a', namespace: 'b', ip: '1.1.1.1' }).locality).toBeUndefined();
  });
});
