// localityLbSetting checks beyond the schema, as istiod's validation makes them (or, where the
// SPEC defines what happens anyway, as warnings that say istiod would refuse the rule).
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { parseManifests } from '../../src/config/parse.js';

/** A DestinationRule with `spec` given as YAML flow mappings, one per line after `spec:`. */
function rule(specLines: string[]): string {
  return ['apiVersion: networking.istio.io/v1', 'kind: DestinationRule', 'metadata: { name: api, namespace: pay }', 'spec:', '  host: api', ...specLines.map((l) => `  ${l}`), ''].join('\n');
}

const OD = 'outlierDetection: { consecutive5xxErrors: 5 }';
const LB = 'spec.trafficPolicy.loadBalancer.localityLbSetting';
const AT = 'dr.yaml:6 DestinationRule pay/api';

describe('localityLbSetting validation', () => {
  it.each<[string, string[], string[]]>([
    ['failover with outlierDetection: fine', [`trafficPolicy: { ${OD}, loadBalancer: { localityLbSetting: { failover: [{ from: r1, to: r2 }] } } }`], []],
    [
      'failover without outlierDetection does nothing',
      ['trafficPolicy: { loadBalancer: { localityLbSetting: { failover: [{ from: r1, to: r2 }] } } }'],
      [`${AT} ${LB}.failover: warning: has no effect without outlierDetection in the same traffic policy: istiod then sets no failover priorities`],
    ],
    [
      'failoverPriority without outlierDetection does nothing',
      ['trafficPolicy: { loadBalancer: { localityLbSetting: { failoverPriority: [tier] } } }'],
      [`${AT} ${LB}.failoverPriority: warning: has no effect without outlierDetection in the same traffic policy: istiod then sets no failover priorities`],
    ],
    [
      'a subset inherits the top-level outlierDetection',
      [`trafficPolicy: { ${OD} }`, 'subsets: [{ name: v1, labels: { v: "1" }, trafficPolicy: { loadBalancer: { localityLbSetting: { failover: [{ from: r1, to: r2 }] } } } }]'],
      [],
    ],
    [
      'a region label with failover',
      [`trafficPolicy: { ${OD}, loadBalancer: { localityLbSetting: { failover: [{ from: r1, to: r2 }], failoverPriority: [tier, topology.kubernetes.io/region] } } }`],
      [`${AT} ${LB}.failoverPriority[1]: topology.kubernetes.io/region cannot be used together with failover (istiod rejects it: failover already orders by locality)`],
    ],
    ['a region label without failover: fine', [`trafficPolicy: { ${OD}, loadBalancer: { localityLbSetting: { failoverPriority: [topology.kubernetes.io/region] } } }`], []],
    [
      'a distribute weight of 0',
      ['trafficPolicy: { loadBalancer: { localityLbSetting: { distribute: [{ from: "r1/*", to: { "r1/*": 100, "r2/*": 0 } }] } } }'],
      [`${AT} ${LB}.distribute[0].to["r2/*"]: expected a percentage 1..100, got 0`],
    ],
    [
      'overlapping to patterns',
      ['trafficPolicy: { loadBalancer: { localityLbSetting: { distribute: [{ from: "r1/*", to: { "r1/*": 60, "r1/z1/*": 40 } }] } } }'],
      [`${AT} ${LB}.distribute[0].to["r1/z1/*"]: warning: "r1/z1/*" overlaps "r1/*": istiod's validation rejects overlapping localities; xdsim takes the first pattern that matches`],
    ],
    [
      'overlapping from patterns',
      ['trafficPolicy: { loadBalancer: { localityLbSetting: { distribute: [{ from: "r1/z1/*", to: { "r1/*": 100 } }, { from: "*", to: { "r2/*": 100 } }] } } }'],
      [`${AT} ${LB}.distribute[1].from: warning: "*" overlaps "r1/z1/*": istiod's validation rejects overlapping localities; xdsim takes the first rule that matches`],
    ],
    ['disjoint patterns: fine', ['trafficPolicy: { loadBalancer: { localityLbSetting: { distribute: [{ from: "r1/z1/*", to: { "r1/z1/*": 70, "r1/z2": 20, "r2": 10 } }] } } }'], []],
  ])('%s', (_label, spec, want) => {
    const r = parseManifests(rule(spec), 'dr.yaml');
    expect(r.diagnostics.map(formatDiagnostic)).toEqual(want);
  });
});
