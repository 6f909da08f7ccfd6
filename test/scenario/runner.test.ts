// The runner with a fake fleet: timeline actions hit the real control plane's store, timed
// checks see their effect, the report is complete. Fast and deterministic (no agents).
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../src/scenario/load.js';
import type { FleetDriver } from '../../src/scenario/fleet-driver.js';
import { runScenario } from '../../src/scenario/runner.js';

const TEXT = `apiVersion: xdsim.io/v1alpha1
kind: Scenario
metadata: { name: fake-fleet }
mesh:
  manifests:
    - apiVersion: v1
      kind: Service
      metadata: { name: app, namespace: pay }
      spec: { selector: { app: app }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
    - apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: app, namespace: pay }
      spec:
        host: app.pay.svc.cluster.local
        trafficPolicy:
          outlierDetection: { consecutive5xxErrors: 5 }
          loadBalancer: { localityLbSetting: { enabled: true } }
    - { apiVersion: networking.istio.io/v1, kind: WorkloadEntry, metadata: { name: a1, namespace: pay }, spec: { address: 10.0.0.1, labels: { app: app }, locality: r1/z1/s1 } }
    - { apiVersion: networking.istio.io/v1, kind: WorkloadEntry, metadata: { name: a2, namespace: pay }, spec: { address: 10.0.0.2, labels: { app: app }, locality: r1/z1/s1 } }
    - { apiVersion: networking.istio.io/v1, kind: WorkloadEntry, metadata: { name: b1, namespace: pay }, spec: { address: 10.0.0.3, labels: { app: app }, locality: r1/z2/s1 } }
workloadGroups:
  - { apiVersion: networking.istio.io/v1, kind: WorkloadGroup, metadata: { name: app, namespace: pay }, spec: { template: { labels: { app: app } } } }
controlPlane: { gracePeriod: 1s }
fleet:
  duration: 1500ms
  agents: [{ group: pay/app, count: 10 }]
timeline:
  - at: 300ms
    unhealthy: { locality: r1/z1 }
  - at: 600ms
    apply: { apiVersion: networking.istio.io/v1, kind: WorkloadEntry, metadata: { name: c1, namespace: pay }, spec: { address: 10.0.0.4, labels: { app: app }, locality: r1/z2/s1 } }
  - at: 700ms
    delete: [WorkloadEntry/pay/b1, WorkloadEntry/pay/nope]
  - at: 800ms
    drop: { agents: 50% }
  - at: 900ms
    restore: { locality: r1/z1 }
expectations:
  - name: local first
    at: 100ms
    lbShares: &s { cluster: outbound|80||app.pay.svc.cluster.local, proxy: { locality: r1/z1/s1 }, localities: { r1/z1: 100% } }
  - name: failed over
    at: 500ms
    lbShares: { <<: *s, localities: { r1/z2: 100% } }
  - name: endpoints after apply and delete
    at: 750ms
    endpoints: { cluster: outbound|80||app.pay.svc.cluster.local, equals: 1 }
  - name: back home
    lbShares: *s
  - name: wrong on purpose
    connected: { min: 11 }
  - name: kept to other control planes
    onlyAgainst: remote
    connected: { min: 99 }
  - errors: 0
`;

function fakeFleet(): FleetDriver & { acts: string[]; configChanges: string[] } {
  const acts: string[] = [];
  const configChanges: string[] = [];
  return {
    acts,
    configChanges,
    start: async () => Date.now(),
    progress: () => ({ target: 10, started: 10, connected: 10, visible: 10, failed: 0, errors: 0 }),
    act: async (kind, sel) => {
      acts.push(`${kind} ${JSON.stringify(sel)}`);
      return `${kind} done`;
    },
    configChanged: (_at, label) => {
      configChanges.push(label);
    },
    stop: async () => undefined,
  };
}

describe('runner with a fake fleet', async () => {
  const loaded = await parseScenario(TEXT, 'test/fake.yaml');
  const fleet = fakeFleet();
  const events: string[] = [];
  let xdsPort = 0;
  const report = await runScenario(loaded.scenario!, {
    fleetFactory: () => fleet,
    sampleIntervalMs: 200,
    onEvent: (l) => events.push(l),
    onControlPlane: (cp) => {
      xdsPort = cp.xdsPort;
    },
    logLevel: 'silent',
  });

  it('loads, and shows the running control plane to the hook', () => {
    expect(loaded.diagnostics).toEqual([]);
    expect(xdsPort).toBeGreaterThan(0);
  });

  it('checks each expectation at its time, after the actions due by then', () => {
    expect(report.expectations.map((e) => [e.name, e.pass])).toEqual([
      ['local first', true],
      ['failed over', true],
      ['endpoints after apply and delete', true],
      ['back home', true],
      ['wrong on purpose', false],
      ['kept to other control planes', true],
      ['errors <= 0', true],
    ]);
    expect(report.expectations[5]).toMatchObject({ skipped: true, detail: 'not checked against embedded xdsim: the scenario keeps it to other control planes' });
    expect(report.expectations[4]!.detail).toBe('connected agents: expected at least 11, got 10');
    expect(report.pass).toBe(false);
    for (const e of report.expectations.slice(0, 3)) expect(e.atMs).toBeGreaterThanOrEqual(100);
  });

  it('runs the timeline in order and records what each action did', () => {
    expect(report.timeline.map((t) => [t.atMs, t.label, t.result, t.ok])).toEqual([
      [300, 'mark all agents in r1/z1 unhealthy', '2 of 2 selected entr(ies) marked unhealthy', true],
      [600, 'apply WorkloadEntry/c1', 'applied 1 resource(s), 1 changed', true],
      [700, 'delete WorkloadEntry/pay/b1, WorkloadEntry/pay/nope', 'deleted 1; not found: WorkloadEntry/pay/nope', true],
      [800, 'drop 50% of agents', 'drop done', true],
      [900, 'restore all agents in r1/z1', '2 entr(ies) healthy again', true],
    ]);
    for (const t of report.timeline) expect(t.ranAtMs).toBeGreaterThanOrEqual(t.atMs);
    // A restore with a locality only restores health: the fleet is not asked.
    expect(fleet.acts).toEqual(['drop {"fraction":0.5}']);
    expect(report.notes).toEqual(['timeline delete WorkloadEntry/pay/b1, WorkloadEntry/pay/nope: not found: WorkloadEntry/pay/nope']);
    expect(events.some((e) => e.includes('PASS failed over'))).toBe(true);
  });

  it('fills the report', () => {
    expect(report).toMatchObject({ kind: 'xdsim-run-report', version: 1, shards: 1, durationMs: 1500, scenario: { name: 'fake-fleet', file: 'test/fake.yaml' } });
    expect(report.agents).toMatchObject({ total: 10, registered: 0, connectedPeak: 10 });
    expect(report.leakedEntries).toBeNull();
    expect(report.server.cpu.scope).toBe('main-thread');
    expect(report.server.rssBytes).toBeGreaterThan(0);
    expect(report.series.t.length).toBeGreaterThanOrEqual(5);
    expect(report.series.t[0]).toBeLessThan(100);
    const n = report.series.t.length;
    for (const k of ['connected', 'streams', 'registered', 'pushesPerSec', 'convergenceP50Ms', 'cpuPercent', 'rssBytes', 'heapUsedBytes'] as const) expect(report.series[k]).toHaveLength(n);
  });
});
