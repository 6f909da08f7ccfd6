import { describe, expect, it } from 'vitest';
import { buildNode, encodeNode, nodeId, nodeMetadata } from '../../src/agent/identity.js';
import { decode, fromStruct, toObject } from '../../src/proto/index.js';
import type { Node } from '../../src/proto/messages.js';
import { parseNode } from '../../src/xds/node.js';

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
      INTERCEPTION_MODE: 'REDIRECT',
    });
    expect(typeof md['ISTIO_VERSION']).toBe('string');
    const bare = nodeMetadata({ name: 'x', namespace: 'n', ip: '1.2.3.4' });
    for (const k of ['AUTO_REGISTER_GROUP', 'WORKLOAD_ENTRY', 'NETWORK', 'LABELS']) expect(bare).not.toHaveProperty(k);
  });

  it('encodes to a Node that decodes back with Struct metadata and locality', () => {
    const n = toObject<Node>('Node', decode('Node', encodeNode(vm)));
    expect(n.id).toBe(nodeId(vm));
    expect(n.locality).toEqual({ region: 'us-east', zone: 'us-east-1a', sub_zone: 'rack1' });
    const md = fromStruct(n.metadata);
    expect(md['LABELS']).toEqual({ app: 'payments', version: 'v2' });
    expect(md['AUTO_REGISTER_GROUP']).toBe('payments');
  });

  it('is read by the server side as the proxy it describes', () => {
    const p = parseNode(decode('Node', encodeNode(vm)));
    expect(p.namespace).toBe('pay');
    expect(p.ip).toBe('10.200.0.8');
    expect(p.network).toBe('net-a');
    expect(p.labels).toEqual({ app: 'payments', version: 'v2' });
    expect(p.locality).toEqual({ region: 'us-east', zone: 'us-east-1a', subZone: 'rack1' });
    expect(p.metadata['AUTO_REGISTER_GROUP']).toBe('payments');
  });

  it('no locality in the Node when none is given', () => {
    expect(buildNode({ name: 'a', namespace: 'b', ip: '1.1.1.1' }).locality).toBeUndefined();
  });
});
