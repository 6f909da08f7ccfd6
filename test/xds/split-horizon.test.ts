// Split-horizon EDS over a real xDS stream: a control plane started with meshNetworks sends each
// proxy what its network sees (node metadata NETWORK, REQUESTED_NETWORK_VIEW), and a meshNetworks
// file with errors stops the start with file:line.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../src/proto/index.js';
import { svc, we } from '../helpers/mesh.js';
import { acked, admin, node, planePerTest, SotwClient, startPlane } from './helpers.js';

const scope = planePerTest();
const HOST = 'a.pay.svc.cluster.local';
const C = `outbound|80||${HOST}`;

type Cla = { endpoints?: { load_balancing_weight?: { value: number }; lb_endpoints?: { endpoint: { address: { socket_address: { address: string; port_value: number } } }; load_balancing_weight: { value: number } }[] }[] };
const hosts = (c: Cla) => (c.endpoints ?? []).flatMap((g) => (g.lb_endpoints ?? []).map((e) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}*${e.load_balancing_weight.value}`));

const resources = [
  svc('a', { app: 'a' }, [{ name: 'http', port: 80 }]),
  we('c1', { address: '10.0.0.1', locality: 'r1/z1', network: 'cluster', serviceAccount: 'sa', labels: { app: 'a' } }),
  we('v1', { address: '10.1.0.1', locality: 'r1/z1', network: 'vm-network', serviceAccount: 'sa', labels: { app: 'a' } }),
  we('v2', { address: '10.1.0.2', locality: 'r1/z1', network: 'vm-network', serviceAccount: 'sa', weight: 2, labels: { app: 'a' } }),
];
const meshNetworks = { networks: { 'vm-network': { gateways: [{ address: '192.0.2.7', port: 15443 }] }, cluster: { endpoints: [{ fromRegistry: 'Kubernetes' }] } } };

async function eds(port: number, metadata: Record<string, unknown>): Promise<Cla> {
  const c = new SotwClient(port);
  scope.cleanups.push(() => c.close());
  c.send({ node: node(`sidecar~10.9.9.${Object.keys(metadata).length}~p.pay~pay.svc.cluster.local`, 'r1/z1', metadata), type_url: TYPE_URL.ENDPOINT, resource_names: [C] });
  const r = await c.recv();
  return (r.resources as Cla[])[0]!;
}

describe('split-horizon EDS over xDS', () => {
  it('per proxy network: own endpoints, the VM network through its gateway, a view narrowing what is seen', async () => {
    const plane = (scope.plane = await startPlane(resources, { meshNetworks }));
    expect(hosts(await eds(plane.xdsPort, { NETWORK: 'cluster' }))).toEqual(['10.0.0.1:80*1', '192.0.2.7:15443*3']);
    expect(hosts(await eds(plane.xdsPort, { NETWORK: 'vm-network' }))).toEqual(['10.0.0.1:80*1', '10.1.0.1:80*1', '10.1.0.2:80*2']);
    // No network: the VM network (which has a gateway) through it; the cluster network (none) directly.
    expect(hosts(await eds(plane.xdsPort, {}))).toEqual(['10.0.0.1:80*1', '192.0.2.7:15443*3']);
    expect(hosts(await eds(plane.xdsPort, { NETWORK: 'cluster', REQUESTED_NETWORK_VIEW: 'cluster' }))).toEqual(['10.0.0.1:80*1']);
  });

  it('a Service labeled with a network is its gateway: applying it folds the VM network, deleting it lets the endpoints through again', async () => {
    const plane = (scope.plane = await startPlane(resources));
    const c = new SotwClient(plane.xdsPort);
    scope.cleanups.push(() => c.close());
    const subscribe = { node: node('sidecar~10.9.9.20~p.pay~pay.svc.cluster.local', 'r1/z1', { NETWORK: 'cluster' }), type_url: TYPE_URL.ENDPOINT, resource_names: [C] };
    c.send(subscribe);
    const first = await c.recv();
    expect(hosts((first.resources as Cla[])[0]!)).toEqual(['10.0.0.1:80*1', '10.1.0.1:80*1', '10.1.0.2:80*2']);
    c.ack(first.raw, [C]);
    await acked(plane, first.raw.nonce!);

    const gateway = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'istio-eastwestgateway', namespace: 'istio-system', labels: { 'topology.istio.io/network': 'vm-network' } },
      spec: { type: 'LoadBalancer', ports: [{ name: 'tls', port: 15443 }] },
      status: { loadBalancer: { ingress: [{ ip: '192.0.2.60' }] } },
    };
    expect((await admin(plane, '/apply', { method: 'POST', body: JSON.stringify(gateway) })).status).toBe(200);
    const folded = await c.recv();
    expect(hosts((folded.resources as Cla[])[0]!)).toEqual(['10.0.0.1:80*1', '192.0.2.60:15443*3']);
    c.ack(folded.raw, [C]);
    await acked(plane, folded.raw.nonce!);

    expect((await admin(plane, '/delete', { method: 'POST', body: JSON.stringify(gateway) })).status).toBe(200);
    const back = await c.recv();
    expect(hosts((back.resources as Cla[])[0]!)).toEqual(['10.0.0.1:80*1', '10.1.0.1:80*1', '10.1.0.2:80*2']);
  });

  it('a meshNetworks file with an error stops the start, naming file and line', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'xdsim-mn-'));
    scope.cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'networks.yaml');
    writeFileSync(file, 'networks:\n  vm:\n    gateways:\n    - {address: 192.0.2.7, port: 0}\n');
    await expect(startPlane(resources, { meshNetworksFile: file })).rejects.toThrow(/networks\.yaml:4 MeshNetworks networks\.vm\.gateways\[0\]\.port: expected an integer 1\.\.65535, got 0/);
  });
});
