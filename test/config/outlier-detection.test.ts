import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { parseManifests } from '../../src/config/parse.js';

/** A DestinationRule whose trafficPolicy.outlierDetection is `body` (YAML flow mapping); the field sits on line 8. */
function rule(body: string): string {
  return ['apiVersion: networking.istio.io/v1', 'kind: DestinationRule', 'metadata:', '  name: api', '  namespace: pay', 'spec:', '  host: api', `  trafficPolicy: { outlierDetection: ${body} }`, ''].join('\n');
}

const PREFIX = 'dr.yaml:8 DestinationRule pay/api spec.trafficPolicy.outlierDetection';

describe('DestinationRule outlierDetection validation', () => {
  it.each<[string, string, string | undefined]>([
    ['every field, valid', '{ consecutive5xxErrors: 5, consecutiveGatewayErrors: 3, consecutiveLocalOriginFailures: 2, splitExternalLocalOriginErrors: true, interval: 1m30s, baseEjectionTime: 500ms, maxEjectionPercent: 50, minHealthPercent: 30 }', undefined],
    ['duration without a unit', '{ interval: 10 }', `${PREFIX}.interval: expected a string, got 10`],
    ['duration in words', '{ interval: "10 seconds" }', `${PREFIX}.interval: expected a duration such as 10s, 1m30s or 500ms, got "10 seconds"`],
    ['duration below 1ms', '{ baseEjectionTime: 500us }', `${PREFIX}.baseEjectionTime: must be at least 1ms, got "500us"`],
    ['duration finer than 1ms', '{ baseEjectionTime: 1500us }', `${PREFIX}.baseEjectionTime: only whole milliseconds are supported, got "1500us"`],
    ['percent above 100', '{ maxEjectionPercent: 101 }', `${PREFIX}.maxEjectionPercent: expected an integer 0..100, got 101`],
    ['negative percent', '{ minHealthPercent: -1 }', `${PREFIX}.minHealthPercent: expected an integer 0..100, got -1`],
    ['negative count', '{ consecutive5xxErrors: -5 }', `${PREFIX}.consecutive5xxErrors: expected an integer 0..4294967295, got -5`],
    ['unknown field', '{ consecutive5xx: 5 }', `${PREFIX}.consecutive5xx: warning: unknown field, ignored`],
    ['deprecated field', '{ consecutiveErrors: 5 }', `${PREFIX}.consecutiveErrors: warning: deprecated and ignored by istiod: use consecutive5xxErrors or consecutiveGatewayErrors`],
  ])('%s', (_label, body, want) => {
    const r = parseManifests(rule(body), 'dr.yaml');
    const out = r.diagnostics.map(formatDiagnostic);
    if (want === undefined) {
      expect(out).toEqual([]);
      expect(r.resources).toHaveLength(1);
    } else {
      expect(out).toEqual([want]);
    }
  });
});
