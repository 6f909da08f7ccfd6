// DestinationRule connectionPool and loadBalancer (consistentHash, warmup): istiod's checks
// (pkg/config/validation/validation.go validateConnectionPool, validateLoadBalancer).
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { parseManifests } from '../../src/config/parse.js';

/** A DestinationRule whose trafficPolicy is `body` (YAML flow mapping); the policy sits on line 8. */
function rule(body: string): string {
  return ['apiVersion: networking.istio.io/v1', 'kind: DestinationRule', 'metadata:', '  name: api', '  namespace: pay', 'spec:', '  host: api', `  trafficPolicy: ${body}`, ''].join('\n');
}

const P = 'dr.yaml:8 DestinationRule pay/api spec.trafficPolicy';

describe('DestinationRule connectionPool and loadBalancer validation', () => {
  it.each<[string, string, string[]]>([
    [
      'every typed pool field, valid',
      '{ connectionPool: { tcp: { maxConnections: 100, connectTimeout: 250ms, idleTimeout: 1h }, http: { http1MaxPendingRequests: 1, http2MaxRequests: 2, maxRequestsPerConnection: 3, maxRetries: 4, maxConcurrentStreams: 5, h2UpgradePolicy: UPGRADE } } }',
      [],
    ],
    ['empty pool', '{ connectionPool: {} }', [`${P}.connectionPool: connection pool must have at least one field (tcp or http)`]],
    ['negative count', '{ connectionPool: { tcp: { maxConnections: -1 } } }', [`${P}.connectionPool.tcp.maxConnections: expected an integer 0..2147483647, got -1`]],
    ['connect timeout below 1ms', '{ connectionPool: { tcp: { connectTimeout: 100us } } }', [`${P}.connectionPool.tcp.connectTimeout: must be at least 1ms, got "100us"`]],
    ['unknown pool field', '{ connectionPool: { http: { maxRetry: 3 } } }', [`${P}.connectionPool.http.maxRetry: warning: unknown field, ignored`]],
    ['ring hash and maglev sizes, valid', '{ loadBalancer: { consistentHash: { httpHeaderName: x-user, maglev: { tableSize: 65537 } } } }', []],
    ['maglev table size not prime', '{ loadBalancer: { consistentHash: { maglev: { tableSize: 1000 } } } }', [`${P}.loadBalancer.consistentHash.maglev.tableSize: must be a prime number for maglev, got 1000`]],
    ['maglev without a table size', '{ loadBalancer: { consistentHash: { maglev: {} } } }', [`${P}.loadBalancer.consistentHash.maglev: tableSize must be set for maglev`]],
    [
      'deprecated minimumRingSize next to ringHash',
      '{ loadBalancer: { consistentHash: { minimumRingSize: 1024, ringHash: { minimumRingSize: 2048 } } } }',
      [
        `${P}.loadBalancer.consistentHash.minimumRingSize: warning: deprecated: use consistentHash.ringHash.minimumRingSize`,
        `${P}.loadBalancer.consistentHash.minimumRingSize: only one of minimumRingSize or maglev/ringHash can be set`,
      ],
    ],
    ['warmup, valid', '{ loadBalancer: { simple: ROUND_ROBIN, warmup: { duration: 30s, minimumPercent: 20, aggression: 1.5 } } }', []],
    ['warmup without a duration', '{ loadBalancer: { warmup: { aggression: 2 } } }', [`${P}.loadBalancer.warmup: duration is required`]],
    ['warmup percent above 100', '{ loadBalancer: { warmup: { duration: 30s, minimumPercent: 101 } } }', [`${P}.loadBalancer.warmup.minimumPercent: must be at most 100, got 101`]],
    ['warmup aggression 0', '{ loadBalancer: { warmup: { duration: 30s, aggression: 0 } } }', [`${P}.loadBalancer.warmup.aggression: must be greater than 0, got 0`]],
    ['empty traffic policy (validateTrafficPolicy)', '{}', [`${P}: traffic policy must have at least one field`]],
    ['a port-level policy with only its port', '{ portLevelSettings: [{ port: { number: 80 } }] }', [`${P}.portLevelSettings[0]: port traffic policy must have at least one field`]],
    ['warmupDurationSecs not a duration', '{ loadBalancer: { warmupDurationSecs: soon } }', [`${P}.loadBalancer.warmupDurationSecs: expected a duration such as 10s, 1m30s or 500ms, got "soon"`]],
  ])('%s', (_label, body, want) => {
    const r = parseManifests(rule(body), 'dr.yaml');
    expect(r.diagnostics.map(formatDiagnostic)).toEqual(want);
  });
});
