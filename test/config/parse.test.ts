import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, type Diagnostic } from '../../src/config/diagnostics.js';
import { parseManifests, UNUSED_MESSAGE } from '../../src/config/parse.js';
import type { DestinationRule, KubeService, WorkloadEntry, WorkloadGroup } from '../../src/config/resources.js';

const FIXTURES = 'test/fixtures/config';

function parseFixture(name: string) {
  return parseManifests(readFileSync(`${FIXTURES}/${name}`, 'utf8'), name);
}

const lines = (ds: readonly Diagnostic[]) => ds.map(formatDiagnostic);
const names = (r: ReturnType<typeof parseManifests>) =>
  r.resources.map((l) => `${l.resource.kind}/${l.resource.metadata.namespace}/${l.resource.metadata.name}`);

describe('schema errors', () => {
  const result = parseFixture('schema-errors.yaml');
  const out = lines(result.diagnostics);

  it.each([
    ['wrong type', 'schema-errors.yaml:9 WorkloadEntry pay/we-bad spec.weight: expected an integer 0..4294967295, got "heavy"'],
    ['below range', 'schema-errors.yaml:18 (document 2) WorkloadEntry pay/we-negative spec.weight: expected an integer 0..4294967295, got -1'],
    ['port above range', 'schema-errors.yaml:20 (document 2) WorkloadEntry pay/we-negative spec.ports.http: expected an integer 1..65535, got 70000'],
    ['number for a string', 'schema-errors.yaml:22 (document 2) WorkloadEntry pay/we-negative spec.labels.app: expected a string, got 12'],
    ['empty list', 'schema-errors.yaml:30 (document 3) ServiceEntry pay/se-bad spec.hosts: expected a non-empty list, got an empty list'],
    ['enum', 'schema-errors.yaml:31 (document 3) ServiceEntry pay/se-bad spec.resolution: expected one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, got "FOO"'],
    ['enum (location)', 'schema-errors.yaml:32 (document 3) ServiceEntry pay/se-bad spec.location: expected one of MESH_EXTERNAL, MESH_INTERNAL, got "OUTSIDE"'],
    ['missing field in a list item', 'schema-errors.yaml:34 (document 3) ServiceEntry pay/se-bad spec.ports[0].name: required field missing'],
    ['missing name: parent mapping line', 'schema-errors.yaml:39 (document 4) Service metadata.name: required field missing'],
    ['int-or-string collapsed to one message', 'schema-errors.yaml:43 (document 4) Service spec.ports[0].targetPort: expected an integer 1..65535 or a port name, got 0'],
    ['apiVersion', 'schema-errors.yaml:45 (document 5) DestinationRule pay/dr-bad apiVersion: expected one of networking.istio.io/v1, networking.istio.io/v1beta1, networking.istio.io/v1alpha3, got "networking.istio.io/v2"'],
    ['lb enum', 'schema-errors.yaml:54 (document 5) DestinationRule pay/dr-bad spec.trafficPolicy.loadBalancer.simple: expected one of UNSPECIFIED, LEAST_CONN, RANDOM, PASSTHROUGH, ROUND_ROBIN, LEAST_REQUEST, got "FASTEST"'],
    ['YAML 1.2 "yes" is a string', 'schema-errors.yaml:56 (document 5) DestinationRule pay/dr-bad spec.trafficPolicy.loadBalancer.localityLbSetting.enabled: expected a boolean (true or false), got "yes"'],
    ['empty value: key line', 'schema-errors.yaml:65 (document 6) WorkloadGroup pay/wg-bad spec.template.weight: expected an integer 0..4294967295, got an empty value'],
    ['missing nested field', 'schema-errors.yaml:68 (document 6) WorkloadGroup pay/wg-bad spec.probe.httpGet.port: required field missing'],
    ['mapping expected', 'schema-errors.yaml:75 (document 7) DestinationRule pay/dr-nospec spec: expected a mapping, got "just-a-string"'],
  ])('%s', (_label, expected) => {
    expect(out).toContain(expected);
  });

  it('reports nothing else, all as errors, and loads no broken document', () => {
    expect(out).toHaveLength(16);
    expect(result.diagnostics.every((d) => d.severity === 'error')).toBe(true);
    expect(result.resources).toEqual([]);
  });

  it('fills the structured fields', () => {
    expect(result.diagnostics[0]).toEqual({
      severity: 'error',
      file: 'schema-errors.yaml',
      line: 9,
      column: 11,
      document: 1,
      kind: 'WorkloadEntry',
      name: 'pay/we-bad',
      path: 'spec.weight',
      message: 'expected an integer 0..4294967295, got "heavy"',
    });
  });

  it('keeps the spelling of numbers as written', () => {
    const r = parseManifests(
      'apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: w}\nspec:\n  address: 1.2.3.4\n  labels: {version: 1.0}\n',
      'x.yaml',
    );
    expect(lines(r.diagnostics)).toEqual(['x.yaml:6 WorkloadEntry default/w spec.labels.version: expected a string, got 1.0']);
  });
});

describe('semantic checks', () => {
  const result = parseFixture('semantic-errors.yaml');
  const out = lines(result.diagnostics);
  const LB = 'spec.trafficPolicy.loadBalancer.localityLbSetting';

  it.each([
    ['name not DNS-1123', `semantic-errors.yaml:5 WorkloadEntry Pay/Bad_Name metadata.name: must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.'; starting and ending with a letter or digit; at most 253 characters), got "Bad_Name"`],
    ['namespace not DNS-1123', `semantic-errors.yaml:6 WorkloadEntry Pay/Bad_Name metadata.namespace: must be a DNS-1123 label (lowercase letters, digits and '-'; starting and ending with a letter or digit; at most 63 characters), got "Pay"`],
    ['address missing', 'semantic-errors.yaml:16 (document 2) WorkloadEntry pay/we-noaddr spec.address: required field missing'],
    ['locality with 4 parts', 'semantic-errors.yaml:16 (document 2) WorkloadEntry pay/we-noaddr spec.locality: expected at most 3 parts region/zone/subzone, got 4 in "us-east/us-east-1a/rack1/shelf2"'],
    ['address empty', 'semantic-errors.yaml:25 (document 3) WorkloadEntry pay/we-emptyaddr spec.address: must not be empty'],
    ['distribute sum', `semantic-errors.yaml:40 (document 4) DestinationRule pay/dr-locality ${LB}.distribute[0].to: percentages must sum to 100, got 90`],
    ['distribute from missing', `semantic-errors.yaml:42 (document 4) DestinationRule pay/dr-locality ${LB}.distribute[1].from: required field missing`],
    ['wildcard inside a part', `semantic-errors.yaml:43 (document 4) DestinationRule pay/dr-locality ${LB}.distribute[1].to["*/zone*"]: '*' may only stand alone as the last part, got "*/zone*"`],
    ['distribute and failover', `semantic-errors.yaml:44 (document 4) DestinationRule pay/dr-locality ${LB}.failover: warning: both distribute and failover are set: istiod's validation rejects this; xdsim applies distribute and ignores failover`],
    ['failover from == to', `semantic-errors.yaml:46 (document 4) DestinationRule pay/dr-locality ${LB}.failover[0].to: must differ from "from" (both are "us-east")`],
    ['failover from not a region', `semantic-errors.yaml:47 (document 4) DestinationRule pay/dr-locality ${LB}.failover[1].from: expected a region (no '/' or '*'), got "us-east/us-east-1a"`],
    ['failover to missing', `semantic-errors.yaml:47 (document 4) DestinationRule pay/dr-locality ${LB}.failover[1].to: required field missing`],
    ['failover from missing', `semantic-errors.yaml:48 (document 4) DestinationRule pay/dr-locality ${LB}.failover[2].from: required field missing`],
    ['failoverPriority entry', `semantic-errors.yaml:52 (document 4) DestinationRule pay/dr-locality ${LB}.failoverPriority[2]: expected "label" or "label=value", got "=oops"`],
    ['duplicate subset', 'semantic-errors.yaml:56 (document 4) DestinationRule pay/dr-locality spec.subsets[1].name: duplicate subset name "v1" (also spec.subsets[0])'],
    ['failover without outlierDetection (port-level settings do not inherit it)', 'semantic-errors.yaml:73 (document 5) DestinationRule pay/dr-subset-lb spec.subsets[0].trafficPolicy.portLevelSettings[0].loadBalancer.localityLbSetting.failover: warning: has no effect without outlierDetection in the same traffic policy: istiod then sets no failover priorities'],
    ['subset port-level setting', 'semantic-errors.yaml:75 (document 5) DestinationRule pay/dr-subset-lb spec.subsets[0].trafficPolicy.portLevelSettings[0].loadBalancer.localityLbSetting.failover[0].to: must differ from "from" (both are "us-west")'],
    ['Service name DNS-1035', `semantic-errors.yaml:80 (document 6) Service pay/9reviews metadata.name: must be a DNS-1035 label (lowercase letters, digits and '-'; starting with a letter, ending with a letter or digit; at most 63 characters), got "9reviews"`],
    ['headless Service note', 'semantic-errors.yaml:83 (document 6) Service pay/9reviews spec.clusterIP: warning: headless Service accepted; xdsim builds no clusters or endpoints from it'],
    ['quoted targetPort', 'semantic-errors.yaml:88 (document 6) Service pay/9reviews spec.ports[0].targetPort: a port number must not be quoted, got "9080"'],
    ['duplicate port name', 'semantic-errors.yaml:89 (document 6) Service pay/9reviews spec.ports[1].name: duplicate port name "http" (also spec.ports[0])'],
    ['duplicate port', 'semantic-errors.yaml:90 (document 6) Service pay/9reviews spec.ports[1].port: duplicate port 9080 (also spec.ports[0])'],
    ['bad port name', `semantic-errors.yaml:91 (document 6) Service pay/9reviews spec.ports[1].targetPort: expected a port name (lowercase letters, digits and '-', at least one letter, at most 15 characters), got "Http_Port"`],
    ['selector and endpoints', 'semantic-errors.yaml:100 (document 7) ServiceEntry pay/se-both spec.workloadSelector: workloadSelector and endpoints are mutually exclusive'],
    ['endpoint locality', 'semantic-errors.yaml:104 (document 7) ServiceEntry pay/se-both spec.endpoints[0].locality: expected at most 3 parts region/zone/subzone, got 4 in "a/b/c/d"'],
    ['endpoint address missing', 'semantic-errors.yaml:105 (document 7) ServiceEntry pay/se-both spec.endpoints[1].address: required field missing'],
    ['address in a template', 'semantic-errors.yaml:114 (document 8) WorkloadGroup pay/wg-addr spec.template.address: warning: ignored in a template: auto-registration takes the address from the connecting VM'],
    ['namespace on a Namespace', 'semantic-errors.yaml:120 (document 9) Namespace pay metadata.namespace: warning: ignored: Namespace is cluster-scoped'],
  ])('%s', (_label, expected) => {
    expect(out).toContain(expected);
  });

  it('reports nothing else; only documents with warnings alone are loaded', () => {
    expect(out).toHaveLength(28);
    expect(names(result)).toEqual(['WorkloadGroup/pay/wg-addr', 'Namespace//pay']);
  });

  it('accepts label and label=value priorities, and a distribute rule summing to 100', () => {
    const r = parseManifests(
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr, namespace: pay}
spec:
  host: reviews
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 5}
    loadBalancer:
      localityLbSetting:
        distribute:
          - from: us-east/us-east-1a/*
            to: {"us-east/us-east-1a/*": 80, "us-east/us-east-1b/*": 15, "us-west": 5}
        failoverPriority: [topology.istio.io/network, "topology.kubernetes.io/region=us-east", app]
`,
      'ok.yaml',
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.resources).toHaveLength(1);
  });
});

describe('unknown fields', () => {
  const result = parseFixture('unknown-fields.yaml');

  it('are warnings with the key line and a suggestion when one is close', () => {
    expect(lines(result.diagnostics)).toEqual([
      'unknown-fields.yaml:9 WorkloadEntry pay/we-typo metadata.labelz: warning: unknown field, ignored (did you mean "labels"?)',
      'unknown-fields.yaml:13 WorkloadEntry pay/we-typo spec.wieght: warning: unknown field, ignored (did you mean "weight"?)',
      'unknown-fields.yaml:21 WorkloadEntry pay/we-typo extra: warning: unknown field, ignored',
      'unknown-fields.yaml:38 (document 2) DestinationRule pay/reviews spec.trafficPolicy.loadBalancer.localityLbSetting.distibute: warning: unknown field, ignored (did you mean "distribute"?)',
      'unknown-fields.yaml:72 (document 4) WorkloadGroup pay/wg spec.probe.httpGet.pathh: warning: unknown field, ignored (did you mean "path"?)',
    ]);
    expect(result.diagnostics.every((d) => d.severity === 'warning')).toBe(true);
  });

  it('are dropped; the resources load; server-owned metadata and uninterpreted parts are silent', () => {
    expect(names(result)).toEqual([
      'WorkloadEntry/pay/we-typo',
      'DestinationRule/pay/reviews',
      'Service/pay/reviews',
      'WorkloadGroup/pay/wg',
    ]);
    const we = result.resources[0]!.resource as WorkloadEntry;
    expect(we).toEqual({
      apiVersion: 'networking.istio.io/v1',
      kind: 'WorkloadEntry',
      metadata: { name: 'we-typo', namespace: 'pay' },
      spec: { address: '10.0.0.1', ports: { http: 9080 } },
      status: { conditions: [{ type: 'Healthy', status: 'True', lastTransitionTime: '2025-01-01T00:00:00Z' }] },
    });
    const dr = result.resources[1]!.resource as DestinationRule;
    expect(dr.spec.trafficPolicy?.connectionPool).toEqual({ tcp: { maxConnections: 100 } });
    expect(dr.spec.trafficPolicy?.tls).toEqual({ mode: 'SIMPLE', anything: 'goes' });
    expect(dr.spec.trafficPolicy?.loadBalancer?.localityLbSetting).toEqual({});
    expect('status' in dr).toBe(false);
    const svc = result.resources[2]!.resource as KubeService;
    expect(svc.spec.type).toBe('ClusterIP');
    // Kept: a LoadBalancer's ingress addresses make a network gateway.
    expect((svc as { status?: unknown }).status).toEqual({ loadBalancer: {} });
    const wg = result.resources[3]!.resource as WorkloadGroup;
    expect(wg.spec.probe?.httpGet).toEqual({ port: 9080 });
  });
});

describe('kinds xdsim does not read', () => {
  const kinds: [string, string][] = [
    ['networking.istio.io/v1', 'VirtualService'],
    ['networking.istio.io/v1', 'Gateway'],
    ['networking.istio.io/v1', 'Sidecar'],
    ['security.istio.io/v1', 'AuthorizationPolicy'],
    ['security.istio.io/v1', 'RequestAuthentication'],
    ['telemetry.istio.io/v1', 'Telemetry'],
    ['networking.istio.io/v1alpha3', 'EnvoyFilter'],
    ['extensions.istio.io/v1alpha1', 'WasmPlugin'],
    ['networking.istio.io/v1beta1', 'ProxyConfig'],
    ['install.istio.io/v1alpha1', 'IstioOperator'],
    ['v1', 'ConfigMap'],
    ['v1', 'Secret'],
    ['v1', 'Pod'],
    ['apps/v1', 'Deployment'],
    ['serving.knative.dev/v1', 'Service'],
    ['example.com/v1', 'Anything'],
  ];

  it.each(kinds)('%s %s is reported as unused, with kind and name', (apiVersion, kind) => {
    const text = `# leading comment\napiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: thing\n  namespace: pay\nspec:\n  whatever: [1, 2]\n`;
    const r = parseManifests(text, 'other.yaml');
    expect(r.resources).toEqual([]);
    expect(r.diagnostics).toEqual([
      { severity: 'unused', file: 'other.yaml', line: 2, column: 1, document: 1, kind, name: 'pay/thing', message: UNUSED_MESSAGE },
    ]);
    expect(formatDiagnostic(r.diagnostics[0]!)).toBe(`other.yaml:2 ${kind} pay/thing: not used by xdsim`);
  });

  it('does not need metadata to be reported', () => {
    const r = parseManifests('apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec: {}\n', 'iop.yaml');
    expect(lines(r.diagnostics)).toEqual(['iop.yaml:1 IstioOperator: not used by xdsim']);
  });
});

describe('multi-document files', () => {
  const result = parseFixture('mixed.yaml');

  it('keep every valid document around broken ones', () => {
    expect(names(result)).toEqual([
      'WorkloadEntry/pay/we-1',
      'Service/pay/reviews',
      'DestinationRule/pay/reviews',
      'WorkloadEntry/default/we-3',
    ]);
    expect(result.resources.map((r) => r.source)).toEqual([
      { file: 'mixed.yaml', line: 1, document: 1 },
      { file: 'mixed.yaml', line: 17, document: 3 },
      { file: 'mixed.yaml', line: 39, document: 7 },
      { file: 'mixed.yaml', line: 64, document: 12 },
    ]);
  });

  it('report YAML syntax, schema, shape and unused-kind problems per document', () => {
    const out = lines(result.diagnostics);
    expect(out.filter((l) => l.includes('(document 2)')).length).toBeGreaterThan(0);
    expect(out.every((l) => !l.includes('(document 2)') || /^mixed\.yaml:1[56] \(document 2\): YAML: /.test(l))).toBe(true);
    expect(out.filter((l) => !l.includes('(document 2)'))).toEqual([
      'mixed.yaml:34 (document 4) WorkloadEntry pay/we-2 spec.weight: expected an integer 0..4294967295, got "heavy"',
      'mixed.yaml:47 (document 8): expected a Kubernetes object (a mapping with apiVersion and kind), got "just a string"',
      'mixed.yaml:49 (document 9) kind: required field missing',
      'mixed.yaml:53 (document 10): expected a Kubernetes object (a mapping with apiVersion and kind), got a list',
      'mixed.yaml:56 (document 11) VirtualService pay/reviews: not used by xdsim',
    ]);
  });

  it('skip empty and comment-only documents silently', () => {
    expect(result.diagnostics.some((d) => d.document === 5 || d.document === 6)).toBe(false);
    expect(parseManifests('', 'empty.yaml')).toEqual({ resources: [], diagnostics: [] });
    expect(parseManifests('# nothing\n---\n---\n', 'empty.yaml')).toEqual({ resources: [], diagnostics: [] });
  });

  it('survive a syntax error in the middle of the file', () => {
    const text = [
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}',
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n   bad: indent',
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: c, name: d}',
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: e}',
    ].join('\n---\n');
    const r = parseManifests(text, 'syntax.yaml');
    expect(names(r)).toEqual(['Namespace//a', 'Namespace//e']);
    const errs = r.diagnostics.filter((d) => d.severity === 'error');
    expect(new Set(errs.map((d) => `${d.document}:${d.line}`))).toEqual(new Set(['2:8', '3:13']));
    expect(errs.every((d) => d.message.startsWith('YAML: '))).toBe(true);
    expect(errs.find((d) => d.document === 3)!.message).toBe('YAML: Map keys must be unique');
  });

  it('resolve anchors, aliases and merge keys', () => {
    const text = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: we
  namespace: pay
  labels: &common {app: reviews}
spec:
  address: 10.0.0.2
  labels:
    <<: *common
    version: v2
  network: *common
`;
    const r = parseManifests(text, 'anchors.yaml');
    // A bad value reached through an alias is reported where the alias is used.
    expect(lines(r.diagnostics)).toEqual(['anchors.yaml:12 WorkloadEntry pay/we spec.network: expected a string, got a mapping']);
    const ok = parseManifests(text.replace('  network: *common\n', ''), 'anchors.yaml');
    expect(ok.diagnostics).toEqual([]);
    expect((ok.resources[0]!.resource as WorkloadEntry).spec.labels).toEqual({ app: 'reviews', version: 'v2' });
  });
});

describe('kind: List', () => {
  const result = parseFixture('list.yaml');

  it('is expanded item by item; a bad item does not sink the others', () => {
    expect(names(result)).toEqual(['WorkloadEntry/pay/we-a', 'Service/pay/reviews']);
    expect(result.resources.map((r) => r.source.line)).toEqual([4, 24]);
    expect(lines(result.diagnostics)).toEqual([
      'list.yaml:18 WorkloadEntry pay/we-b spec.weight: expected an integer 0..4294967295, got 1.5',
      'list.yaml:19 Gateway pay/gw: not used by xdsim',
    ]);
  });
});

describe('normalisation', () => {
  it('defaults the namespace, but not for cluster-scoped Namespace', () => {
    const r = parseManifests(
      'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: pay}\n',
      'ns.yaml',
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.resources.map((l) => l.resource.metadata)).toEqual([
      { name: 'sa', namespace: 'default' },
      { name: 'pay', namespace: '' },
    ]);
  });

  it('reads JSON files too', () => {
    const r = parseFixture('entry.json');
    expect(lines(r.diagnostics)).toEqual([
      'entry.json:7 WorkloadEntry pay/we-json spec.weight: expected an integer 0..4294967295, got "2"',
    ]);
  });

  it('keeps the later of two definitions in one file, with a warning naming both places', () => {
    const doc = (addr: string) =>
      `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: we, namespace: pay}\nspec: {address: ${addr}}\n`;
    const r = parseManifests(`${doc('10.0.0.1')}---\n${doc('10.0.0.2')}`, 'dup.yaml');
    expect(r.resources).toHaveLength(1);
    expect((r.resources[0]!.resource as WorkloadEntry).spec.address).toBe('10.0.0.2');
    expect(lines(r.diagnostics)).toEqual([
      'dup.yaml:6 (document 2) WorkloadEntry pay/we: warning: defined again: replaces the definition at dup.yaml:1 (the later one wins)',
    ]);
  });
});
