// The reference encoder itself, checked against a hand-written expectation decoded with the
// upstream Envoy protos, so the oracle of equivalence.test.ts is not checked only against itself.
import type protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { encodeReference, referenceClaObject, type ReferenceGroup } from '../../src/encode/reference.js';
import { workloadFromInlineEndpoint } from '../../src/model/workload.js';
import { loadOfficialRoot } from '../proto/official.js';

const CLA: protobuf.Type = loadOfficialRoot().lookupType('envoy.config.endpoint.v3.ClusterLoadAssignment');
const decode = (b: Uint8Array) => CLA.toObject(CLA.decode(b), { longs: String, enums: String, defaults: false });

const workload = workloadFromInlineEndpoint('pay', 'se', 0, { address: '10.0.0.1', labels: { app: 'pay', version: 'v1' }, serviceAccount: 'sa' });
const ep = (address: string, weight: number, unhealthy = false) => ({ endpoint: { address, port: 8080, weight, unhealthy, workload } });
const metadata = {
  filter_metadata: {
    'envoy.transport_socket_match': { fields: { tlsMode: { stringValue: 'istio' } } },
    istio: { fields: { workload: { stringValue: 'se-0;pay;pay;v1;Kubernetes' } } },
  },
};

describe('referenceClaObject + encodeReference', () => {
  it('encodes localities, endpoints, health, weights and priorities as istiod does', () => {
    const groups: ReferenceGroup[] = [
      {
        source: { locality: { region: 'r1', zone: 'z1', subZone: 's1' } },
        endpoints: [ep('10.0.0.1', 3), ep('10.0.0.2', 0xffffffff, true)],
        weight: 0xffffffff,
        priority: 0,
      },
      { source: { locality: { region: 'r2', zone: '', subZone: '' } }, endpoints: [], weight: 7, priority: 2 },
    ];
    const socket = (address: string) => ({ address: { socket_address: { address, port_value: 8080 } } });
    expect(decode(encodeReference(referenceClaObject('outbound|80||a.b.svc.cluster.local', groups)))).toStrictEqual({
      cluster_name: 'outbound|80||a.b.svc.cluster.local',
      endpoints: [
        {
          locality: { region: 'r1', zone: 'z1', sub_zone: 's1' },
          lb_endpoints: [
            { endpoint: socket('10.0.0.1'), metadata, load_balancing_weight: { value: 3 } },
            { endpoint: socket('10.0.0.2'), health_status: 'UNHEALTHY', metadata, load_balancing_weight: { value: 0xffffffff } },
          ],
          load_balancing_weight: { value: 0xffffffff },
        },
        // Priority 0 and empty strings are proto3 defaults: not on the wire.
        { locality: { region: 'r2' }, load_balancing_weight: { value: 7 }, priority: 2 },
      ],
    });
  });

  it('encodes an empty cluster as just its name', () => {
    expect(decode(encodeReference(referenceClaObject('c', [])))).toStrictEqual({ cluster_name: 'c' });
  });
});
