import { describe, expect, it } from 'vitest';
import {
  addressNeedle,
  claClusterName,
  claEndpoints,
  clusterInfo,
  containsNeedle,
  decodeDeltaResponse,
  decodeSotwResponse,
  encodeDeltaRequest,
  encodeSotwRequest,
} from '../../src/agent/wire.js';
import { encode, packAny, toObject, TYPE_URL } from '../../src/proto/index.js';
import type { DeltaDiscoveryRequest, DiscoveryRequest } from '../../src/proto/messages.js';

const cla = (name: string, ips: string[], health = 0) =>
  encode('ClusterLoadAssignment', {
    cluster_name: name,
    endpoints: [
      {
        locality: { region: 'r1' },
        lb_endpoints: ips.map((ip) => ({
          endpoint: { address: { socket_address: { address: ip, port_value: 8080 } } },
          health_status: health,
        })),
      },
    ],
  });

describe('agent wire: hand-written xDS framing', () => {
  it('SotW request round-trips through protobufjs, including an empty NACK status', () => {
    const node = encode('Node', { id: 'sidecar~1.2.3.4~a.b~b.svc.cluster.local' });
    const req = toObject<DiscoveryRequest>(
      'DiscoveryRequest',
      encodeSotwRequest({ versionInfo: 'v1', node, resourceNames: ['a', ''], typeUrl: TYPE_URL.ENDPOINT, responseNonce: 'n1', errorDetail: { code: 13, message: 'bad' } }),
    );
    expect(req).toMatchObject({ version_info: 'v1', resource_names: ['a', ''], type_url: TYPE_URL.ENDPOINT, response_nonce: 'n1', error_detail: { code: 13, message: 'bad' } });
    expect(req.node?.id).toBe('sidecar~1.2.3.4~a.b~b.svc.cluster.local');
    const health = toObject<DiscoveryRequest>('DiscoveryRequest', encodeSotwRequest({ typeUrl: TYPE_URL.HEALTH_INFO }));
    expect(health.error_detail).toBeUndefined();
    expect(health.type_url).toBe(TYPE_URL.HEALTH_INFO);
  });

  it('delta request round-trips (subscribe, unsubscribe, initial versions)', () => {
    const req = toObject<DeltaDiscoveryRequest>(
      'DeltaDiscoveryRequest',
      encodeDeltaRequest({ typeUrl: TYPE_URL.CLUSTER, subscribe: ['x'], unsubscribe: ['y'], initialVersions: new Map([['x', '7']]), responseNonce: 'n' }),
    );
    expect(req).toMatchObject({ type_url: TYPE_URL.CLUSTER, resource_names_subscribe: ['x'], resource_names_unsubscribe: ['y'], initial_resource_versions: { x: '7' }, response_nonce: 'n' });
  });

  it('reads DiscoveryResponse, Cluster and ClusterLoadAssignment fields', () => {
    const c = encode('Cluster', { name: 'outbound|80||a.ns.svc.cluster.local', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } });
    const s = encode('Cluster', { name: 'static', type: 'STATIC' });
    const named = encode('Cluster', { name: 'c', type: 'EDS', eds_cluster_config: { service_name: 'svc-c' } });
    const resp = encode('DiscoveryResponse', {
      version_info: '12',
      resources: [packAny('Cluster', { name: 'outbound|80||a.ns.svc.cluster.local', type: 'EDS' })],
      type_url: TYPE_URL.CLUSTER,
      nonce: 'abc',
      control_plane: { identifier: 'xdsim' },
    });
    const r = decodeSotwResponse(resp);
    expect(r).toMatchObject({ versionInfo: '12', typeUrl: TYPE_URL.CLUSTER, nonce: 'abc', controlPlane: 'xdsim' });
    expect(clusterInfo(r.resources[0]!)).toEqual({ name: 'outbound|80||a.ns.svc.cluster.local', edsName: 'outbound|80||a.ns.svc.cluster.local' });
    expect(clusterInfo(c).edsName).toBe('outbound|80||a.ns.svc.cluster.local');
    expect(clusterInfo(s).edsName).toBeUndefined();
    expect(clusterInfo(named).edsName).toBe('svc-c');
    const b = cla('outbound|80||a', ['10.0.0.1', '10.0.0.10'], 2);
    expect(claClusterName(b)).toBe('outbound|80||a');
    expect(claEndpoints(b)).toEqual([
      { address: '10.0.0.1', port: 8080, healthStatus: 2 },
      { address: '10.0.0.10', port: 8080, healthStatus: 2 },
    ]);
  });

  it('delta response: resources with names and versions, removed names', () => {
    const resp = encode('DeltaDiscoveryResponse', {
      system_version_info: 's1',
      type_url: TYPE_URL.ENDPOINT,
      nonce: 'n9',
      resources: [{ name: 'c1', version: 'v3', resource: packAny('ClusterLoadAssignment', { cluster_name: 'c1' }) }],
      removed_resources: ['c2'],
    });
    const r = decodeDeltaResponse(resp);
    expect(r).toMatchObject({ systemVersionInfo: 's1', typeUrl: TYPE_URL.ENDPOINT, nonce: 'n9', removed: ['c2'] });
    expect(r.resources.map((x) => [x.name, x.version, claClusterName(x.value)])).toEqual([['c1', 'v3', 'c1']]);
  });

  it('own-IP needle: exact address only (10.0.0.1 does not match 10.0.0.10)', () => {
    expect(containsNeedle(cla('c', ['10.0.0.10', '10.0.0.11']), addressNeedle('10.0.0.1'))).toBe(false);
    expect(containsNeedle(cla('c', ['10.0.0.10', '10.0.0.1']), addressNeedle('10.0.0.1'))).toBe(true);
    expect(containsNeedle(cla('c', []), addressNeedle('10.0.0.1'))).toBe(false);
  });

  it('rejects truncated messages instead of reading past the end', () => {
    const b = cla('c', ['10.0.0.1']);
    expect(() => claEndpoints(b.subarray(0, b.length - 3))).toThrow();
  });
});
