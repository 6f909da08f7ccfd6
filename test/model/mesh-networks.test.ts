// meshNetworks as istiod reads it: validation with file:line, and the gateway set split horizon uses.
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import type { KubeService } from '../../src/config/resources.js';
import { NetworkGateways, parseMeshNetworks } from '../../src/model/mesh-networks.js';
import { serviceGateways } from '../../src/model/service-gateways.js';

const lines = (text: string) => parseMeshNetworks(text, 'networks.yaml').diagnostics.map(formatDiagnostic);

describe('meshNetworks', () => {
  it('reads networks, their endpoints and gateways', () => {
    const { meshNetworks, diagnostics } = parseMeshNetworks(
      `networks:
  cluster:
    endpoints: [{fromRegistry: Kubernetes}]
  vm-network:
    endpoints: [{fromCidr: 10.1.0.0/16}]
    gateways:
    - {address: 192.0.2.1, port: 15443}
`,
      'networks.yaml',
    );
    expect(diagnostics).toEqual([]);
    expect(NetworkGateways.fromMeshNetworks(meshNetworks).all).toEqual([{ network: 'vm-network', cluster: '', address: '192.0.2.1', port: 15443 }]);
  });

  it.each([
    ['a port out of range', 'networks:\n  n1:\n    gateways:\n    - {address: 192.0.2.1, port: 70000}\n', ['networks.yaml:4 MeshNetworks networks.n1.gateways[0].port: expected an integer 1..65535, got 70000']],
    ['neither address nor service', 'networks:\n  n1:\n    gateways:\n    - port: 15443\n', ['networks.yaml:4 MeshNetworks networks.n1.gateways[0]: exactly one of address or registryServiceName']],
    ['a bad CIDR', 'networks:\n  n1:\n    endpoints:\n    - fromCidr: 10.0.0.0/33\n', ['networks.yaml:4 MeshNetworks networks.n1.endpoints[0].fromCidr: expected a CIDR such as 10.0.0.0/16, got "10.0.0.0/33"']],
    ['an address neither IP nor DNS name', 'networks:\n  n1:\n    gateways:\n    - {address: 203.0.1.1001, port: 15443}\n', ['networks.yaml:4 MeshNetworks networks.n1.gateways[0].address: expected an IP address or a DNS name, got "203.0.1.1001"']],
    ['a registry name that is no DNS label', 'networks:\n  n1:\n    endpoints:\n    - fromRegistry: my_cluster\n', ['networks.yaml:4 MeshNetworks networks.n1.endpoints[0].fromRegistry: expected a registry name (a DNS-1123 label), got "my_cluster"']],
    ['a typo', 'networks:\n  n1:\n    gatways: []\n', ['networks.yaml:3 MeshNetworks networks.n1.gatways: warning: unknown field, ignored (did you mean "gateways"?)']],
    [
      'a hostname gateway (istiod resolves it through DNS; xdsim does not)',
      'networks:\n  n1:\n    gateways:\n    - {address: gw.example.com, port: 15443}\n',
      ['networks.yaml:4 MeshNetworks networks.n1.gateways[0].address: warning: a hostname gateway is resolved by istiod through DNS, which xdsim does not do; ignored'],
    ],
  ])('%s', (_name, text, want) => {
    expect(lines(text)).toEqual(want);
  });

  it('gateways: duplicates merged, sorted as istiod sorts them, LCM scale over networks and (network, cluster)', () => {
    const g = new NetworkGateways([
      { network: 'b', cluster: '', address: '192.0.2.9', port: 15443 },
      { network: 'b', cluster: '', address: '192.0.2.10', port: 15443 },
      { network: 'b', cluster: '', address: '192.0.2.10', port: 15443 },
      { network: 'c', cluster: 'east', address: '198.51.100.1', port: 15443 },
      { network: 'c', cluster: 'west', address: '198.51.100.2', port: 15443 },
      { network: 'c', cluster: 'west', address: '198.51.100.3', port: 15443 },
    ]);
    expect(g.all.map((x) => x.address)).toEqual(['192.0.2.10', '192.0.2.9', '198.51.100.1', '198.51.100.2', '198.51.100.3']);
    // per network: b 2, c 3; per (network, cluster): 2, 1, 2 -> lcm 6
    expect(g.scaleFactor).toBe(6);
    expect(g.forEndpoint('c', 'west').map((x) => x.address)).toEqual(['198.51.100.2', '198.51.100.3']);
    expect(g.forEndpoint('c', 'Kubernetes').length).toBe(3);
    expect(g.forEndpoint('z', '')).toEqual([]);
    expect(NetworkGateways.fromMeshNetworks({ networks: { a: {} } }).enabled).toBe(false);
  });
});

describe('gateways found in the registry (Services)', () => {
  const gwSvc = (labels: Record<string, string>, spec: Partial<KubeService['spec']>, status?: unknown): KubeService =>
    ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'istio-eastwestgateway', namespace: 'istio-system', labels },
      spec: { ports: [{ name: 'tls', port: 15443 }], ...spec },
      ...(status ? { status } : {}),
    }) as KubeService;
  const lb = { loadBalancer: { ingress: [{ ip: '192.0.2.50' }, { ip: '192.0.2.51' }] } };
  const net = { 'topology.istio.io/network': 'vm-network' };

  it.each([
    ['labeled LoadBalancer: one gateway per ingress IP, cluster Kubernetes, port 15443', gwSvc(net, { type: 'LoadBalancer' }, lb), ['vm-network Kubernetes 192.0.2.50:15443', 'vm-network Kubernetes 192.0.2.51:15443']],
    ['externalIPs count on any type', gwSvc(net, { externalIPs: ['198.51.100.5'] } as never), ['vm-network Kubernetes 198.51.100.5:15443']],
    ['a gatewayPort label the Service exposes', gwSvc({ ...net, 'networking.istio.io/gatewayPort': '15444' }, { type: 'LoadBalancer', ports: [{ port: 15444 }] }, lb), ['vm-network Kubernetes 192.0.2.50:15444', 'vm-network Kubernetes 192.0.2.51:15444']],
    ['a gateway port the Service does not expose: no gateway for a sidecar', gwSvc(net, { type: 'LoadBalancer', ports: [{ port: 80 }] }, lb), []],
    ['LoadBalancer status on a ClusterIP Service is not an address', gwSvc(net, { type: 'ClusterIP' }, lb), []],
    ['no network label, not named by meshNetworks: no gateway', gwSvc({}, { type: 'LoadBalancer' }, lb), []],
  ])('%s', (_name, svc, want) => {
    expect(serviceGateways(svc, undefined).map((g) => `${g.network} ${g.cluster} ${g.address}:${g.port}`)).toEqual(want);
  });

  it('registryServiceName: a Service of that hostname, for networks listing this registry in fromRegistry', () => {
    const svc = gwSvc({}, { type: 'LoadBalancer' }, lb);
    const gw = { registryServiceName: 'istio-eastwestgateway.istio-system.svc.cluster.local', port: 15443 };
    const listed = { networks: { vm: { endpoints: [{ fromRegistry: 'Kubernetes' }], gateways: [gw] } } };
    expect(serviceGateways(svc, listed).map((g) => `${g.network} ${g.address}:${g.port}`)).toEqual(['vm 192.0.2.50:15443', 'vm 192.0.2.51:15443']);
    expect(serviceGateways(svc, { networks: { vm: { endpoints: [{ fromRegistry: 'other' }], gateways: [gw] } } })).toEqual([]);
    expect(lines('networks:\n  vm:\n    gateways:\n    - {registryServiceName: gw.istio-system.svc.cluster.local, port: 15443}\n')).toEqual([
      'networks.yaml:4 MeshNetworks networks.vm.gateways[0].registryServiceName: warning: istiod looks this Service up only in the registries the network lists in fromRegistry, and xdsim\'s one registry is "Kubernetes"; ignored',
    ]);
  });
});
