// PeerAuthentication: the schema (security.istio.io/v1 and v1beta1) and istiod's checks
// (pkg/config/validation/validation.go ValidatePeerAuthentication, validateWorkloadSelector).
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { parseManifests } from '../../src/config/parse.js';
import type { PeerAuthentication } from '../../src/config/resources.js';

/** A PeerAuthentication whose spec is `body` (YAML flow mapping); the spec sits on line 6. */
function policy(body: string, apiVersion = 'security.istio.io/v1'): string {
  return [`apiVersion: ${apiVersion}`, 'kind: PeerAuthentication', 'metadata:', '  name: mtls', '  namespace: pay', `spec: ${body}`, ''].join('\n');
}

const P = 'pa.yaml:6 PeerAuthentication pay/mtls spec';

describe('PeerAuthentication validation', () => {
  it.each<[string, string, string[]]>([
    ['namespace-wide, empty', '{}', []],
    ['namespace-wide DISABLE', '{ mtls: { mode: DISABLE } }', []],
    ['workload policy with port-level modes', '{ selector: { matchLabels: { app: pay } }, mtls: { mode: STRICT }, portLevelMtls: { 8080: { mode: DISABLE }, "9090": { mode: UNSET }, 9091: {} } }', []],
    ['an unknown mode', '{ mtls: { mode: OPTIONAL } }', [`${P}.mtls.mode: expected one of UNSET, DISABLE, PERMISSIVE, STRICT, got "OPTIONAL"`]],
    [
      'port-level mTLS without a selector',
      '{ mtls: { mode: STRICT }, portLevelMtls: { 8080: { mode: DISABLE } } }',
      [`${P}.portLevelMtls: mesh/namespace peer authentication cannot have port level mTLS (it needs a selector with labels)`],
    ],
    [
      'port-level mTLS with a selector without labels',
      '{ selector: {}, portLevelMtls: { 8080: { mode: DISABLE } } }',
      [
        `${P}.portLevelMtls: mesh/namespace peer authentication cannot have port level mTLS (it needs a selector with labels)`,
        `${P}.selector: warning: workload selector specified without labels: the policy applies to the whole namespace (the mesh, in the root namespace)`,
      ],
    ],
    ['empty port-level mTLS', '{ selector: { matchLabels: { app: pay } }, portLevelMtls: {} }', [`${P}.portLevelMtls: port level mTLS, if defined, must have at least one element`]],
    ['port 0', '{ selector: { matchLabels: { app: pay } }, portLevelMtls: { 0: { mode: DISABLE } } }', [`${P}.portLevelMtls["0"]: port must be in range 1..65535, got "0"`]],
    ['port 65536', '{ selector: { matchLabels: { app: pay } }, portLevelMtls: { 65536: { mode: DISABLE } } }', [`${P}.portLevelMtls["65536"]: port must be in range 1..65535, got "65536"`]],
    ['a port name', '{ selector: { matchLabels: { app: pay } }, portLevelMtls: { http: { mode: DISABLE } } }', [`${P}.portLevelMtls.http: port must be in range 1..65535, got "http"`]],
    ['wildcard in a selector value', '{ selector: { matchLabels: { app: "pay*" } } }', [`${P}.selector.matchLabels.app: wildcard is not supported in selector: "app=pay*"`]],
    ['empty selector key', '{ selector: { matchLabels: { "": pay } } }', [`${P}.selector.matchLabels[""]: empty key is not supported in selector`]],
    ['unknown field', '{ mtls: { mode: STRICT, strict: true } }', [`${P}.mtls.strict: warning: unknown field, ignored`]],
  ])('%s', (_label, body, want) => {
    const r = parseManifests(policy(body), 'pa.yaml');
    expect(r.diagnostics.map(formatDiagnostic)).toEqual(want);
    expect(r.resources).toHaveLength(want.some((w) => !w.includes(': warning: ')) ? 0 : 1);
  });

  it('reads v1beta1 too; a networking.istio.io apiVersion is an error', () => {
    const r = parseManifests(policy('{ mtls: { mode: DISABLE } }', 'security.istio.io/v1beta1'), 'pa.yaml');
    expect(r.diagnostics).toEqual([]);
    expect((r.resources[0]!.resource as PeerAuthentication).spec.mtls?.mode).toBe('DISABLE');
    const wrong = parseManifests(policy('{}', 'networking.istio.io/v1'), 'pa.yaml');
    expect(wrong.resources).toEqual([]);
    expect(wrong.diagnostics.map((d) => d.severity)).toEqual(['error']);
  });
});
