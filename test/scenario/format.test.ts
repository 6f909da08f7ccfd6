// Scenario files: the precise errors (file:line, path, expected vs got, unknown fields as
// warnings), the checks across sections, and what a valid file turns into.
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { loadScenario, parseScenario } from '../../src/scenario/load.js';
import { parseDuration, parseFraction, parseRate } from '../../src/scenario/units.js';

const F = 'test/scenario/fixtures';
const lines = async (file: string) => (await loadScenario(`${F}/${file}`)).diagnostics.map(formatDiagnostic);

describe('schema errors', async () => {
  const out = await lines('schema-errors.yaml');
  it.each([
    ['unknown field with a suggestion', 'schema-errors.yaml:5 Scenario broken metadata.descripton: warning: unknown field, ignored (did you mean "description"?)'],
    ['duration spelling', 'schema-errors.yaml:7 Scenario broken fleet.duration: expected a duration like "500ms", "10s" or "1m30s", got "20 s"'],
    ['rate', 'schema-errors.yaml:8 Scenario broken fleet.ramp: expected a rate like "100/s" or "600/m", or a number per second, got "fast"'],
    ['range', 'schema-errors.yaml:11 Scenario broken fleet.agents[0].count: expected an integer >= 1, got 0'],
    ['unknown field', 'schema-errors.yaml:12 Scenario broken fleet.agents[0].colour: warning: unknown field, ignored'],
    ['union', 'schema-errors.yaml:13 Scenario broken fleet.agents[0].localities: expected a list of localities or a mapping locality -> weight, got "region-1"'],
    ['a number where a duration goes', 'schema-errors.yaml:15 Scenario broken timeline[0].at: expected a duration like "500ms", "10s" or "1m30s", got 5'],
    ['negative count', 'schema-errors.yaml:18 Scenario broken expectations[0].nacks: expected an integer >= 0, got -1'],
    ['string for a number', 'schema-errors.yaml:19 Scenario broken expectations[1].convergence.p99Ms: expected a number > 0, got "fast"'],
    ['enum', 'schema-errors.yaml:23 Scenario broken expectations[2].lbShares.client: expected one of envoy, grpc, got "curl"'],
  ])('%s', (_label, line) => {
    expect(out).toContain(`${F}/${line}`);
  });

  it('reports nothing else and loads nothing', async () => {
    expect(out).toHaveLength(10);
    expect((await loadScenario(`${F}/schema-errors.yaml`)).scenario).toBeUndefined();
  });
});

describe('checks across sections', async () => {
  const out = await lines('semantic-errors.yaml');
  it.each([
    ['missing mesh file', 'semantic-errors.yaml:6 Scenario semantic mesh.files[0]: cannot read "test/scenario/fixtures/missing-dir": no such file or directory'],
    ['inline manifest, reported as config', 'semantic-errors.yaml:19 WorkloadEntry ns-1/we-x spec.weight: expected an integer 0..4294967295, got "heavy"'],
    ['unused kind', 'semantic-errors.yaml:20 VirtualService ns-1/vs: not used by xdsim'],
    ['slow ramp', 'semantic-errors.yaml:31 Scenario semantic fleet.ramp: warning: ramping 50 agents at 1/s takes 50s, longer than the duration (20s)'],
    ['unknown group', 'semantic-errors.yaml:33 Scenario semantic fleet.agents[0].group: no WorkloadGroup ns-1/ap in the mesh or the timeline (did you mean "ns-1/app"?)'],
    ['locality with four parts', 'semantic-errors.yaml:35 Scenario semantic fleet.agents[0].localities[0]: expected a locality like "region/zone/subzone", got "region-1/zone-1a/sz-1/extra"'],
    ['churn key a model needs', 'semantic-errors.yaml:37 Scenario semantic fleet.churn[0].at: required field missing for model storm'],
    ['churn key a model ignores', 'semantic-errors.yaml:38 Scenario semantic fleet.churn[1].every: warning: not used by model flap, ignored'],
    ['two actions', 'semantic-errors.yaml:40 Scenario semantic timeline[0]: one action per entry, got drop and unhealthy'],
    ['no action', 'semantic-errors.yaml:43 Scenario semantic timeline[1]: no action: give one of apply, applyFile, delete, drop, unhealthy, healthy, restore, reconnect, partition'],
    ['after the end', 'semantic-errors.yaml:44 Scenario semantic timeline[2].at: is not before the end of the run (fleet duration 20s)'],
    ['over 100%', 'semantic-errors.yaml:45 Scenario semantic timeline[2].drop.agents: expected at most 100%, got "150%"'],
    ['locality where whole sets are picked', 'semantic-errors.yaml:47 Scenario semantic timeline[3].reconnect.locality: reconnect picks agents across a whole group; select by group, or use unhealthy/healthy for a locality'],
    ['group without agents', 'semantic-errors.yaml:49 Scenario semantic timeline[4].unhealthy.group: no agents of group ns-1/other in the fleet'],
    ['unknown cluster', 'semantic-errors.yaml:52 Scenario semantic expectations[0].lbShares.cluster: unknown cluster "outbound|80||svc-1.ns-1.svc.cluster.locl" (did you mean "outbound|80||svc-1.ns-1.svc.cluster.local"?)'],
    ['shares missing', 'semantic-errors.yaml:55 Scenario semantic expectations[1].lbShares: give the expected shares: localities, priorities or both'],
    ['two checks', 'semantic-errors.yaml:58 Scenario semantic expectations[2]: one check per entry, got nacks and errors'],
    ['no check', 'semantic-errors.yaml:60 Scenario semantic expectations[3]: nothing to check: give one of lbShares, convergence, registered, connected, endpoints, nacks, errors, leakedEntries'],
    ['at on a whole-run check', 'semantic-errors.yaml:61 Scenario semantic expectations[4].at: leakedEntries is checked over the whole run; "at" does not apply'],
    ['check after the end', 'semantic-errors.yaml:63 Scenario semantic expectations[5].at: is after the fleet stops (duration 20s)'],
    ['empty window', 'semantic-errors.yaml:65 Scenario semantic expectations[6].convergence.until: must come after from'],
    ['min above max', 'semantic-errors.yaml:66 Scenario semantic expectations[7].registered.min: is above max (5)'],
  ])('%s', (_label, line) => {
    expect(out).toContain(`${F}/${line}`);
  });

  it('reports nothing else, in line order', () => {
    expect(out).toHaveLength(22);
    const nums = out.filter((l) => l.startsWith(`${F}/semantic`)).map((l) => Number(/:(\d+) /.exec(l)![1]));
    expect(nums).toEqual([...nums].sort((a, b) => a - b));
  });
});

describe('file-level problems', () => {
  it('a missing file', async () => {
    expect((await lines('nope.yaml'))).toEqual([`${F}/nope.yaml:1: cannot read: no such file`]);
  });
  it('YAML syntax', async () => {
    const r = await parseScenario('kind: Scenario\nfleet: [a\n', 'x.yaml');
    expect(r.diagnostics[0]?.severity).toBe('error');
    expect(formatDiagnostic(r.diagnostics[0]!)).toMatch(/^x\.yaml:\d+: YAML: /);
  });
  it('a second document', async () => {
    const r = await parseScenario(`${VALID}---\nkind: Other\n`, 'x.yaml');
    const n = VALID.split('\n').length + 1;
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([`x.yaml:${n} (document 2): a scenario file holds one document; this one is extra`]);
    expect(r.scenario).toBeUndefined();
  });
  it('the wrong kind', async () => {
    const r = await parseScenario(VALID.replace('kind: Scenario', 'kind: Scenery'), 'x.yaml');
    expect(r.diagnostics.map(formatDiagnostic)).toEqual(['x.yaml:2 Scenario demo kind: expected "Scenario", got "Scenery"']);
  });
});

const VALID = `apiVersion: xdsim.io/v1alpha1
kind: Scenario
metadata: { name: demo, description: a valid one }
mesh:
  manifests:
    - apiVersion: v1
      kind: Service
      metadata: { name: app, namespace: ns-1 }
      spec: { selector: { app: app }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
workloadGroups:
  - apiVersion: networking.istio.io/v1
    kind: WorkloadGroup
    metadata: { name: app, namespace: ns-1 }
    spec: { template: { labels: { app: app } }, probe: { periodSeconds: 2, tcpSocket: { port: 8080 } } }
controlPlane: { gracePeriod: 3s, debounceAfter: 50ms }
fleet:
  duration: 1m30s
  ramp: 600/m
  subscribe: { clusters: ["outbound|80||app.ns-1.svc.cluster.local"] }
  agents:
    - group: ns-1/app
      count: 30
      localities: { r1/z1/s1: 2, r2/z1/s1: 1 }
      probe: { model: flapping, period: 4s, agents: 10% }
  churn:
    - { model: disconnect, agents: 5%, every: 10s, down: 2s }
    - { model: scale, at: 1m, to: 50% }
timeline:
  - at: 40s
    restore: {}
  - at: 10s
    unhealthy: { locality: r1, agents: 50% }
  - at: 10s
    delete: [WorkloadEntry/ns-1/x, Namespace/ns-2]
  - at: 20s
    reconnect: { group: ns-1/app, agents: 5, spread: 4s }
expectations:
  - lbShares:
      cluster: outbound|80||app.ns-1.svc.cluster.local
      proxy: { locality: r1/z1/s1 }
      localities: { r1: 100% }
      priorities: { "0": 1 }
  - at: 30s
    registered: all
  - convergence: { p99Ms: 500, from: 15s }
  - name: no leaks
    leakedEntries: 0
`;

describe('a valid scenario', async () => {
  const r = await parseScenario(VALID, 'scenarios/demo.yaml');
  const s = r.scenario!;

  it('loads without diagnostics', () => {
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(s.name).toBe('demo');
    expect(s.resources.map((l) => `${l.resource.kind}/${l.resource.metadata.name}`)).toEqual(['Service/app', 'WorkloadGroup/app']);
  });

  it('reads values into their units', () => {
    expect(s.controlPlane).toEqual({ validateIdentity: true, gracePeriodMs: 3000, debounceAfterMs: 50, debounceMaxMs: 10_000, edsDebounce: true, sendUnhealthyEndpoints: false, autoSendUnhealthyEndpoints: true });
    expect(s.fleet).toMatchObject({ durationMs: 90_000, rampPerSecond: 10, mode: 'sotw', clusters: ['outbound|80||app.ns-1.svc.cluster.local'] });
    expect(s.fleet.agents[0]).toEqual({
      namespace: 'ns-1',
      group: 'app',
      count: 30,
      localities: [['r1/z1/s1', 2], ['r2/z1/s1', 1]],
      network: '',
      labels: {},
      probe: { model: { kind: 'flapping', periodMs: 4000 }, fraction: 0.1 },
    });
    expect(s.fleet.churn).toEqual([
      { kind: 'disconnect', fraction: 0.05, everyMs: 10_000, downMs: 2000, startMs: 10_000 },
      { kind: 'scale', atMs: 60_000, to: 0.5 },
    ]);
  });

  it('orders the timeline by time, file order at equal times, and describes each action', () => {
    expect(s.timeline.map((e) => [e.atMs, e.label, e.line])).toEqual([
      [10_000, 'mark 50% of agents in r1 unhealthy', 31],
      [10_000, 'delete WorkloadEntry/ns-1/x, Namespace//ns-2', 33],
      [20_000, 'reconnect 5 agent(s) of ns-1/app over ~4s', 35],
      [40_000, 'restore all agents', 29],
    ]);
    expect(s.timeline[0]!.action).toEqual({ kind: 'unhealthy', selector: { fraction: 0.5, locality: 'r1' } });
    expect(s.timeline[1]!.action).toEqual({ kind: 'delete', keys: ['WorkloadEntry/ns-1/x', 'Namespace//ns-2'] });
    expect(s.timeline[2]!.action).toEqual({ kind: 'reconnect', selector: { count: 5, group: 'ns-1/app', spreadMs: 4000 } });
  });

  it('names expectations and converts their values', () => {
    expect(s.expectations.map((x) => [x.name, x.atMs, x.line])).toEqual([
      ['envoy at r1/z1/s1 -> outbound|80||app.ns-1.svc.cluster.local: r1 100%, P0 100%', undefined, 38],
      ['registered >= 30', 30_000, 43],
      ['convergence p99 <= 500ms (pushes from 15s)', undefined, 45],
      ['no leaks', undefined, 46],
    ]);
    expect(s.expectations[0]!.spec).toEqual({
      kind: 'lbShares',
      cluster: 'outbound|80||app.ns-1.svc.cluster.local',
      proxy: { locality: 'r1/z1/s1', network: '', labels: {} },
      client: 'envoy',
      localities: [['r1', 1]],
      priorities: [[0, 1]],
      tolerance: 0.01,
      failing: [],
    });
    expect(s.expectations[1]!.spec).toEqual({ kind: 'registered', min: 30 });
    expect(s.expectations[2]!.spec).toEqual({ kind: 'convergence', bounds: { p99Ms: 500 }, fromMs: 15_000 });
  });

  it('reads inline timeline manifests and files relative to the scenario', async () => {
    const text = VALID.replace(
      '  - at: 40s\n    restore: {}\n',
      '  - at: 40s\n    applyFile: fixtures/extra.yaml\n  - at: 41s\n    apply:\n      apiVersion: networking.istio.io/v1\n      kind: WorkloadEntry\n      metadata: { name: w, namespace: ns-1 }\n      spec: { address: 10.1.1.1, weight: -1 }\n',
    );
    const bad = await parseScenario(text, 'test/scenario/demo.yaml');
    expect(bad.diagnostics.map(formatDiagnostic)).toEqual([
      'test/scenario/demo.yaml:30 Scenario demo timeline[0].applyFile: cannot read "test/scenario/fixtures/extra.yaml": no such file',
      'test/scenario/demo.yaml:36 WorkloadEntry ns-1/w spec.weight: expected an integer 0..4294967295, got -1',
    ]);
  });
});

describe('value syntax', () => {
  it.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
  ])('duration %s', (s, ms) => expect(parseDuration(s)).toBe(ms));
  it('rejects what the schema rejects', () => {
    expect(() => parseDuration('10')).toThrow();
    expect(() => parseDuration('10 s')).toThrow();
    expect(() => parseFraction('10')).toThrow();
    expect(() => parseRate('fast')).toThrow();
  });
  it('fractions and rates', () => {
    expect(parseFraction('12.5%')).toBe(0.125);
    expect(parseFraction(0.3)).toBe(0.3);
    expect(parseRate('100/s')).toBe(100);
    expect(parseRate('60/m')).toBe(1);
    expect(parseRate(7)).toBe(7);
  });
});
