// meshNetworks as istiod reads it: validation with file:line, and the gateway set split horizon uses.
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { NetworkGateways, parseMeshNetworks } from '../../src/model/mesh-networks.js';

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
