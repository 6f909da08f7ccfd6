// PeerAuthentication resolution as istiod does it: pilot/pkg/model/authentication.go
// (initAuthenticationPolicies / addPeerAuthentication: creation-time order, first namespace-wide
// policy per namespace; getConfigsForWorkload: selector labels a subset of the workload's) and
// pilot/pkg/security/authn/policy_applier.go (ComposePeerAuthentication: mesh -> namespace ->
// workload, UNSET inherits, oldest workload policy wins; GetMutualTLSModeForPort). Case names
// follow istiod's TestComposePeerAuthentication where they mirror one.
import { describe, expect, it } from 'vitest';
import type { PeerAuthentication } from '../../src/config/resources.js';
import { effectiveMtlsMode, type EffectiveMtlsMode, type StampedPeerAuthentication } from '../../src/model/peer-authentication.js';

const ROOT = 'istio-system';
const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:00:01.000Z';
const T2 = '2026-01-01T00:00:02.000Z';

function pa(
  namespace: string,
  name: string,
  spec: PeerAuthentication['spec'],
  created = T0,
): StampedPeerAuthentication {
  return { resource: { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name, namespace }, spec }, created };
}
const mode = (m: 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT') => ({ mtls: { mode: m } });

const APP = { app: 'pay' };
// [case, policies, workload namespace, workload labels, endpoint port, expected]
type Case = [string, StampedPeerAuthentication[], string, Record<string, string>, number, EffectiveMtlsMode];

const cases: Case[] = [
  ['no config: PERMISSIVE', [], 'pay', APP, 80, 'PERMISSIVE'],
  // The one mesh-wide case: the differential's random meshes share istio-system, so they make none.
  ['mesh only (mesh-wide DISABLE in the root namespace)', [pa(ROOT, 'default', mode('DISABLE'))], 'pay', APP, 80, 'DISABLE'],
  ['mesh UNSET is PERMISSIVE', [pa(ROOT, 'default', mode('UNSET'))], 'pay', APP, 80, 'PERMISSIVE'],
  ['mesh vs namespace: namespace wins', [pa(ROOT, 'default', mode('STRICT')), pa('pay', 'ns', mode('DISABLE'))], 'pay', APP, 80, 'DISABLE'],
  ['namespace policy of another namespace does not apply', [pa('other', 'ns', mode('DISABLE'))], 'pay', APP, 80, 'PERMISSIVE'],
  ['ignore non-empty selector in root namespace', [pa(ROOT, 'sel', { selector: { matchLabels: APP }, ...mode('DISABLE') })], 'pay', APP, 80, 'PERMISSIVE'],
  ['workload vs namespace config: workload wins', [pa('pay', 'ns', mode('DISABLE')), pa('pay', 'wl', { selector: { matchLabels: APP }, ...mode('STRICT') })], 'pay', APP, 80, 'STRICT'],
  ['workload vs mesh config', [pa(ROOT, 'default', mode('STRICT')), pa('pay', 'wl', { selector: { matchLabels: APP }, ...mode('DISABLE') })], 'pay', APP, 80, 'DISABLE'],
  ['selector not matching: namespace mode', [pa('pay', 'ns', mode('DISABLE')), pa('pay', 'wl', { selector: { matchLabels: { app: 'other' } }, ...mode('STRICT') })], 'pay', APP, 80, 'DISABLE'],
  ['selector in another namespace does not apply', [pa('other', 'wl', { selector: { matchLabels: APP }, ...mode('DISABLE') })], 'pay', APP, 80, 'PERMISSIVE'],
  ['selector needs every label', [pa('pay', 'wl', { selector: { matchLabels: { ...APP, version: 'v1' } }, ...mode('DISABLE') })], 'pay', APP, 80, 'PERMISSIVE'],
  ['selector on a topology label (endpoint labels are augmented)', [pa('pay', 'wl', { selector: { matchLabels: { 'topology.kubernetes.io/region': 'r1' } }, ...mode('DISABLE') })], 'pay', { ...APP, 'topology.kubernetes.io/region': 'r1' }, 80, 'DISABLE'],
  ['empty selector labels: namespace-wide', [pa('pay', 'ns', { selector: {}, ...mode('DISABLE') })], 'pay', APP, 80, 'DISABLE'],
  ['multiple mesh policy: the oldest', [pa(ROOT, 'a', mode('STRICT'), T1), pa(ROOT, 'b', mode('DISABLE'), T0)], 'pay', APP, 80, 'DISABLE'],
  ['multiple namespace policy: the oldest', [pa('pay', 'a', mode('DISABLE'), T1), pa('pay', 'b', mode('STRICT'), T0)], 'pay', APP, 80, 'STRICT'],
  ['multiple namespace policy, same time: the first by name', [pa('pay', 'b', mode('STRICT')), pa('pay', 'a', mode('DISABLE'))], 'pay', APP, 80, 'DISABLE'],
  ['ignored later namespace policy does not fill in an UNSET', [pa(ROOT, 'm', mode('DISABLE')), pa('pay', 'a', mode('UNSET'), T0), pa('pay', 'b', mode('STRICT'), T1)], 'pay', APP, 80, 'DISABLE'],
  ['multiple workload policy: the oldest', [pa('pay', 'a', { selector: { matchLabels: APP }, ...mode('STRICT') }, T2), pa('pay', 'b', { selector: { matchLabels: APP }, ...mode('DISABLE') }, T1)], 'pay', APP, 80, 'DISABLE'],
  ['multiple workload policy, same time: the first by name', [pa('pay', 'z', { selector: { matchLabels: APP }, ...mode('DISABLE') }), pa('pay', 'y', { selector: { matchLabels: APP }, ...mode('STRICT') })], 'pay', APP, 80, 'STRICT'],
  ['oldest matching workload policy: a non-matching older one is skipped', [pa('pay', 'a', { selector: { matchLabels: { app: 'x' } }, ...mode('STRICT') }, T0), pa('pay', 'b', { selector: { matchLabels: APP }, ...mode('DISABLE') }, T1)], 'pay', APP, 80, 'DISABLE'],
  ['inheritance: default mesh (workload UNSET, nothing above)', [pa('pay', 'wl', { selector: { matchLabels: APP }, ...mode('UNSET') })], 'pay', APP, 80, 'PERMISSIVE'],
  ['inheritance: mesh to workload', [pa(ROOT, 'm', mode('DISABLE')), pa('pay', 'wl', { selector: { matchLabels: APP } })], 'pay', APP, 80, 'DISABLE'],
  ['inheritance: namespace to workload', [pa('pay', 'ns', mode('DISABLE')), pa('pay', 'wl', { selector: { matchLabels: APP }, mtls: {} })], 'pay', APP, 80, 'DISABLE'],
  ['inheritance: mesh to namespace to workload', [pa(ROOT, 'm', mode('DISABLE')), pa('pay', 'ns', {}), pa('pay', 'wl', { selector: { matchLabels: APP }, ...mode('UNSET') })], 'pay', APP, 80, 'DISABLE'],
  ['port level: the endpoint port', [pa('pay', 'wl', { selector: { matchLabels: APP }, ...mode('STRICT'), portLevelMtls: { '8080': { mode: 'DISABLE' } } })], 'pay', APP, 8080, 'DISABLE'],
  ['port level: another port keeps the workload mode', [pa('pay', 'wl', { selector: { matchLabels: APP }, ...mode('STRICT'), portLevelMtls: { '8080': { mode: 'DISABLE' } } })], 'pay', APP, 80, 'STRICT'],
  ['port level UNSET inherits the workload mode, itself inherited', [pa('pay', 'ns', mode('DISABLE')), pa('pay', 'wl', { selector: { matchLabels: APP }, portLevelMtls: { '8080': { mode: 'UNSET' } } })], 'pay', APP, 8080, 'DISABLE'],
  ['port level PERMISSIVE re-enables a DISABLE namespace', [pa('pay', 'ns', mode('DISABLE')), pa('pay', 'wl', { selector: { matchLabels: APP }, portLevelMtls: { '8080': { mode: 'PERMISSIVE' } } })], 'pay', APP, 8080, 'PERMISSIVE'],
  ['port level of a newer workload policy does not count', [pa('pay', 'a', { selector: { matchLabels: APP }, ...mode('STRICT') }, T0), pa('pay', 'b', { selector: { matchLabels: APP }, portLevelMtls: { '8080': { mode: 'DISABLE' } } }, T1)], 'pay', APP, 8080, 'STRICT'],
  ['a workload in the root namespace: the mesh policy only', [pa(ROOT, 'm', mode('DISABLE')), pa(ROOT, 'sel', { selector: { matchLabels: APP }, ...mode('STRICT') })], ROOT, APP, 80, 'DISABLE'],
];

describe('effective PeerAuthentication mTLS mode (istiod ComposePeerAuthentication + GetMutualTLSModeForPort)', () => {
  it.each(cases)('%s', (_, policies, namespace, labels, port, expected) => {
    expect(effectiveMtlsMode(policies, ROOT, namespace, labels, port)).toBe(expected);
  });

  it('does not depend on the order policies are given in', () => {
    for (const [, policies, namespace, labels, port, expected] of cases) {
      expect(effectiveMtlsMode([...policies].reverse(), ROOT, namespace, labels, port)).toBe(expected);
    }
  });
});
