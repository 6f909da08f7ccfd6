// Validation of the node metadata an agent sends before it is auto-registered: one table per
// rule, valid and invalid cases.
import { describe, expect, it } from 'vitest';
import type { WorkloadGroup } from '../../src/config/resources.js';
import { parseLocality } from '../../src/model/locality.js';
import { entryFromGroup } from '../../src/registration/autoregistration.js';
import type { ConnectedProxy } from '../../src/registration/connected-proxy.js';
import {
  checkAutoRegistration,
  checkGeneratedEntry,
  labelKeyProblem,
  labelValueProblem,
  MAX_INSTANCE_IPS,
  MAX_LABELS,
  wantsAutoRegistration,
  type RefusalKind,
} from '../../src/registration/validation.js';

const long = (n: number, c = 'a') => c.repeat(n);

describe('Kubernetes label keys', () => {
  it.each([
    'app',
    'a',
    'A-b_c.d',
    'app.kubernetes.io/name',
    'topology.istio.io/network',
    'example.com/x',
    `${long(63)}.${long(63)}.${long(63)}.${long(61)}/x`,
    long(63),
    '9',
  ])('valid: %s', (k) => {
    expect(labelKeyProblem(k)).toBeUndefined();
  });

  it.each([
    ['', /name part must be non-empty/],
    ['/app', /prefix part must be non-empty/],
    ['example.com/', /name part must be non-empty/],
    [long(64), /no more than 63 characters/],
    ['-app', /must start and end with an alphanumeric/],
    ['app-', /must start and end with an alphanumeric/],
    ['a b', /alphanumeric characters/],
    ['app=web', /alphanumeric characters/],
    ['Example.com/app', /prefix part must be a lowercase RFC 1123 subdomain/],
    ['ex_ample.com/app', /prefix part must be a lowercase RFC 1123 subdomain/],
    [`${long(254)}/app`, /prefix part must be a lowercase RFC 1123 subdomain/],
    ['a/b/c', /qualified name/],
    ['ünïcode', /alphanumeric characters/],
  ])('invalid: %j', (k, why) => {
    expect(labelKeyProblem(k)).toMatch(why);
  });
});

describe('Kubernetes label values', () => {
  it.each(['', 'v1', 'A', 'us-east-1a', 'r1.z1.s1', 'a_b-c.d', long(63), 'Kubernetes'])('valid: %j', (v) => {
    expect(labelValueProblem(v)).toBeUndefined();
  });

  it.each([
    [long(64), /no more than 63 characters/],
    ['-v1', /start and end with an alphanumeric/],
    ['v1.', /start and end with an alphanumeric/],
    ['r1/z1', /alphanumeric/],
    ['a b', /alphanumeric/],
    ['*', /alphanumeric/],
    ['x\n', /alphanumeric/],
  ])('invalid: %j', (v, why) => {
    expect(labelValueProblem(v)).toMatch(why);
  });
});

/** A proxy that passes every rule; each case changes one thing. */
function vm(more: Partial<ConnectedProxy> = {}, metadata: Record<string, unknown> = {}): ConnectedProxy {
  const md: Record<string, unknown> = {
    AUTO_REGISTER_GROUP: 'payments',
    NAMESPACE: 'pay',
    INSTANCE_IPS: '10.1.0.1',
    LABELS: { app: 'pay' },
    CLUSTER_ID: 'Kubernetes',
    SERVICE_ACCOUNT: 'pay-sa',
    ...metadata,
  };
  return {
    connectionId: 'c1',
    nodeId: 'sidecar~10.1.0.1~vm1.pay~pay.svc.cluster.local',
    namespace: 'pay',
    group: 'payments',
    network: '',
    ip: '10.1.0.1',
    labels: { app: 'pay' },
    locality: parseLocality('us-east/us-east-1a/rack1'),
    metadata: md,
    ...more,
  };
}

describe('checkAutoRegistration', () => {
  const valid: [string, ConnectedProxy][] = [
    ['the baseline', vm()],
    ['IPv6', vm({ ip: 'fd00::1' }, { INSTANCE_IPS: 'fd00::1' })],
    ['several IPs (first is the address, the rest checked)', vm({}, { INSTANCE_IPS: '10.1.0.1,fd00::1,192.168.0.1' })],
    [`${MAX_INSTANCE_IPS} IPs`, vm({}, { INSTANCE_IPS: Array.from({ length: MAX_INSTANCE_IPS }, (_, i) => `10.1.0.${i + 1}`).join(',') })],
    ['no INSTANCE_IPS (IP from the node id)', vm({}, { INSTANCE_IPS: undefined })],
    ['a network', vm({ network: 'vm-net.1' }, { NETWORK: 'vm-net.1' })],
    ['prefixed label keys, empty values', vm({ labels: { 'app.kubernetes.io/name': 'pay', 'topology.istio.io/subzone': '', version: 'v1.2_3' } })],
    ['istio-locality with slashes (stored with dots)', vm({ labels: { 'istio-locality': 'r1/z1/s1' } })],
    [`${MAX_LABELS} labels`, vm({ labels: Object.fromEntries(Array.from({ length: MAX_LABELS }, (_, i) => [`k${i}`, 'v'])) })],
    ['no locality', vm({ locality: parseLocality('') })],
    ['null metadata values count as absent', vm({}, { NETWORK: null, LABELS: null })],
    ['no raw metadata (driven directly)', vm({ metadata: undefined })],
    ['a long but valid group name', vm({ group: `${long(63)}.${long(63)}.${long(63)}.${long(40)}` })],
  ];
  it.each(valid)('valid: %s', (_, p) => {
    expect(checkAutoRegistration(p)).toBeUndefined();
  });

  const invalid: [string, ConnectedProxy, RefusalKind, RegExp][] = [
    // metadata types (istiod cannot parse these into its NodeMetadata either)
    ['INSTANCE_IPS a number', vm({}, { INSTANCE_IPS: 7 }), 'metadata_type', /^INSTANCE_IPS must be a string, got a number$/],
    ['AUTO_REGISTER_GROUP a bool', vm({ group: undefined }, { AUTO_REGISTER_GROUP: true }), 'metadata_type', /AUTO_REGISTER_GROUP must be a string, got a boolean/],
    ['NAMESPACE a list', vm({}, { NAMESPACE: ['a'] }), 'metadata_type', /NAMESPACE must be a string, got a list/],
    ['NETWORK false', vm({}, { NETWORK: false }), 'metadata_type', /NETWORK must be a string/],
    ['CLUSTER_ID a map', vm({}, { CLUSTER_ID: { a: 1 } }), 'metadata_type', /CLUSTER_ID must be a string, got a map/],
    ['SERVICE_ACCOUNT a number', vm({}, { SERVICE_ACCOUNT: 1 }), 'metadata_type', /SERVICE_ACCOUNT must be a string/],
    ['LABELS a string', vm({}, { LABELS: 'app=web' }), 'metadata_type', /LABELS must be a map of strings, got a string/],
    ['LABELS a list', vm({}, { LABELS: [1, 2] }), 'metadata_type', /LABELS must be a map of strings, got a list/],
    ['a LABELS value nested', vm({}, { LABELS: { app: { nested: true } } }), 'metadata_type', /LABELS\["app"\] must be a string, got a map/],
    ['a LABELS value a number', vm({}, { LABELS: { n: 1 } }), 'metadata_type', /LABELS\["n"\] must be a string, got a number/],
    // INSTANCE_IPS
    ['not an IP', vm({}, { INSTANCE_IPS: 'not-an-ip' }), 'instance_ips', /^INSTANCE_IPS\[0\] "not-an-ip" is not an IPv4 or IPv6 address$/],
    ['a bad second IP', vm({}, { INSTANCE_IPS: '10.1.0.1,10.1.2.999' }), 'instance_ips', /INSTANCE_IPS\[1\] "10.1.2.999" is not an IPv4/],
    ['an empty entry', vm({}, { INSTANCE_IPS: '10.1.0.1,' }), 'instance_ips', /INSTANCE_IPS\[1\] is empty/],
    ['only commas', vm({}, { INSTANCE_IPS: ',,,' }), 'instance_ips', /INSTANCE_IPS\[0\] is empty/],
    ['spaces', vm({}, { INSTANCE_IPS: '10.1.0.1, 10.1.0.2' }), 'instance_ips', /INSTANCE_IPS\[1\] " 10.1.0.2"/],
    ['leading zeros', vm({}, { INSTANCE_IPS: '010.1.0.1' }), 'instance_ips', /not an IPv4 or IPv6 address/],
    ['an IPv6 zone', vm({}, { INSTANCE_IPS: 'fe80::1%eth0' }), 'instance_ips', /has an IPv6 zone/],
    ['too many IPs', vm({}, { INSTANCE_IPS: Array.from({ length: MAX_INSTANCE_IPS + 1 }, () => '10.1.0.1').join(',') }), 'instance_ips', /more than 16 addresses/],
    ['a million commas', vm({}, { INSTANCE_IPS: ','.repeat(1_000_000) }), 'instance_ips', /more than 16 addresses/],
    ['a giant string, clipped in the message', vm({}, { INSTANCE_IPS: long(100_000, 'x') }), 'instance_ips', /^INSTANCE_IPS\[0\] "x{80}\.\.\." is not/],
    // the address itself (here from the node id: INSTANCE_IPS absent)
    ['a node-id IP that is not one', vm({ ip: 'vm1' }, { INSTANCE_IPS: undefined }), 'ip', /address "vm1" is not an IPv4 or IPv6 address/],
    // names
    ['group with uppercase', vm({ group: 'Payments' }, { AUTO_REGISTER_GROUP: 'Payments' }), 'group', /AUTO_REGISTER_GROUP "Payments" must be a lowercase RFC 1123 subdomain/],
    ['group with a space', vm({ group: 'pay ments' }), 'group', /RFC 1123 subdomain/],
    ['group too long', vm({ group: long(254) }), 'group', /at most 253 characters/],
    ['namespace with a dot', vm({ namespace: 'pay.ns' }), 'namespace', /NAMESPACE "pay.ns" must be a lowercase RFC 1123 label/],
    ['namespace too long', vm({ namespace: long(64) }), 'namespace', /at most 63 characters/],
    ['network with a space', vm({ network: 'vm net' }), 'network', /NETWORK "vm net" must be empty or consist of alphanumeric/],
    ['network too long', vm({ network: long(64) }), 'network', /NETWORK .* no more than 63 characters/],
    ['cluster id with a slash', vm({}, { CLUSTER_ID: 'a/b' }), 'cluster_id', /CLUSTER_ID "a\/b"/],
    ['service account with uppercase', vm({}, { SERVICE_ACCOUNT: 'Pay' }), 'service_account', /SERVICE_ACCOUNT "Pay" must be a lowercase RFC 1123 subdomain/],
    // labels
    ['a label key with a space', vm({ labels: { 'a b': 'x' } }), 'labels', /LABELS key "a b": name part must consist of alphanumeric/],
    ['a label key too long', vm({ labels: { [long(64)]: 'x' } }), 'labels', /name part must be no more than 63 characters/],
    ['a label prefix with uppercase', vm({ labels: { 'Example.com/app': 'x' } }), 'labels', /prefix part/],
    ['a label value too long', vm({ labels: { app: long(64) } }), 'labels', /LABELS\["app"\] value "a+": must be no more than 63 characters/],
    ['a label value with a slash', vm({ labels: { app: 'a/b' } }), 'labels', /must be empty or consist of alphanumeric/],
    ['an empty label key', vm({ labels: { '': 'x' } }), 'labels', /name part must be non-empty/],
    ['too many labels', vm({ labels: Object.fromEntries(Array.from({ length: MAX_LABELS + 1 }, (_, i) => [`k${i}`, 'v'])) }), 'labels', /65 entries, more than 64/],
    ['too many raw labels', vm({}, { LABELS: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, 'v'])) }), 'labels', /more than 64 entries/],
    // locality (parts become endpoint label values)
    ['a region with a slash', vm({ locality: { region: 'a/b', zone: '', subZone: '' } }), 'locality', /locality region "a\/b" must not contain '\/'/],
    ['a wildcard region', vm({ locality: parseLocality('*/z1') }), 'locality', /locality region "\*"/],
    ['a zone too long', vm({ locality: parseLocality(`r1/${long(64)}`) }), 'locality', /locality zone .* no more than 63/],
    ['a sub_zone with a space', vm({ locality: parseLocality('r1/z1/s 1') }), 'locality', /locality sub_zone "s 1"/],
    // the entry name they make: valid parts, invalid whole
    ['IPv6 in uppercase', vm({ ip: 'FD00::1' }, { INSTANCE_IPS: 'FD00::1' }), 'entry_name', /WorkloadEntry name "payments-FD00--1"/],
    ['a network with uppercase', vm({ network: 'Net1' }), 'entry_name', /"payments-10.1.0.1-Net1" .* RFC 1123 subdomain/],
    ['a network with an underscore', vm({ network: 'vm_net' }), 'entry_name', /RFC 1123 subdomain/],
    // 247-character group + "-10.1.0.1-n": cut to the last 253 characters, it starts with '.'.
    ['a name cut from the front to a dot', vm({ group: `${long(5, 'b')}.${long(63)}.${long(63)}.${long(63)}.${long(49)}`, network: 'n' }), 'entry_name', /WorkloadEntry name "\.a+/],
  ];
  it.each(invalid)('invalid: %s', (_, p, kind, why) => {
    const r = checkAutoRegistration(p);
    expect(r?.kind).toBe(kind);
    expect(r?.message).toMatch(why);
    // Messages stay short whatever the client sent.
    expect(r!.message.length).toBeLessThan(400);
  });
});

describe('wantsAutoRegistration', () => {
  it.each([
    [vm(), true],
    [vm({ group: undefined }, { AUTO_REGISTER_GROUP: 3.5 }), true],
    [vm({ group: undefined }, { AUTO_REGISTER_GROUP: '' }), false],
    [vm({ group: undefined }, { AUTO_REGISTER_GROUP: null }), false],
    [vm({ group: undefined }, { AUTO_REGISTER_GROUP: undefined }), false],
  ])('%#', (p, want) => {
    expect(wantsAutoRegistration(p)).toBe(want);
  });
});

describe('checkGeneratedEntry (the config validation a YAML WorkloadEntry gets)', () => {
  const group = (spec: Partial<WorkloadGroup['spec']> = {}): WorkloadGroup => ({
    apiVersion: 'networking.istio.io/v1',
    kind: 'WorkloadGroup',
    metadata: { name: 'payments', namespace: 'pay' },
    spec: { metadata: { labels: { app: 'pay' } }, template: { ports: { http: 8080 }, serviceAccount: 'pay-sa' }, ...spec },
  });
  const entry = (g: WorkloadGroup, p: ConnectedProxy = vm(), name = 'payments-10.1.0.1') => entryFromGroup(name, p, g, 'xdsim', '2026-11-23T00:00:00Z', 'group-uid');

  it('an entry from a valid group and proxy passes', () => {
    expect(checkGeneratedEntry(entry(group()))).toBeUndefined();
  });

  it.each([
    // Group content that only the merged entry shows (the group itself came from config).
    ['a template port out of range', group({ template: { ports: { http: 0 } } }), undefined, /spec\.ports\.http: expected an integer 1\.\.65535/],
    ['a group label key Kubernetes refuses', group({ metadata: { labels: { 'bad key': 'x' } } }), undefined, /metadata\.labels key "bad key"/],
    ['a template label value Kubernetes refuses', group({ template: { labels: { tier: 'a/b' } } }), undefined, /metadata\.labels\["tier"\] value "a\/b"/],
    ['an invalid name (semantic check)', group(), 'Payments-10.1.0.1', /metadata\.name: must be a DNS-1123 subdomain/],
  ])('%s', (_, g, name, why) => {
    const r = checkGeneratedEntry(entry(g, vm(), name));
    expect(r?.kind).toBe('entry');
    expect(r?.message).toMatch(why);
  });

  it('a 4-part locality is refused by the semantic check', () => {
    const e = entry(group());
    const r = checkGeneratedEntry({ ...e, spec: { ...e.spec, locality: 'a/b/c/d' } });
    expect(r?.message).toMatch(/spec\.locality: expected at most 3 parts/);
  });
});
